"""`markaz kiosk run` refuses bad settings at start, naming the file, the key and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_markaz


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ("warning_s = 5", "[kiosk] warning_s"),
        ('printer = "lpt1"', "use tcp://host:port, usb:VID:PID or file:/path"),
        ('camera = "/nonexistent/video.avi"', "no such video file"),
        ("[timeouts]\nmrz_entry = -3", "timeouts"),
        ('colour = "blue"', "colour"),
    ],
)
def test_bad_settings_stop_the_agent_with_a_clear_message(tmp_path: Path, settings: str, expected: str) -> None:
    token = tmp_path / "token"
    token.write_text("abc")
    config = tmp_path / "kiosk.toml"
    lines = [f'device_token_file = "{token}"']
    key = settings.split("=")[0].strip()
    if key != "printer":
        lines.append(f'printer = "file:{tmp_path / "p"}"')
    if key != "camera":
        lines.append('camera = "0"')
    body = "[kiosk]\n" + "\n".join(lines) + "\n"
    body = body + (f"[kiosk.{settings[1:]}" if settings.startswith("[") else settings) + "\n"
    config.write_text(body)
    r = run_markaz("kiosk", "run", "--config", str(config), "--port", "0")
    assert r.returncode == 2, r.stdout + r.stderr
    assert expected in r.stderr


def test_a_missing_token_file_is_named(tmp_path: Path) -> None:
    r = run_markaz("kiosk", "run", "--device-token-file", str(tmp_path / "none"), "--port", "0")
    assert r.returncode == 2
    assert "device token file cannot be read" in r.stderr and str(tmp_path / "none") in r.stderr
