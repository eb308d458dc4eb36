"""The lint and type gate for kiosk/card (issue 14): mypy --strict and ruff check/format pass on the package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=240)


def test_kiosk_card_passes_mypy_strict():
    result = _run(str(BIN / "mypy"), "--strict", "kiosk/card")
    assert result.returncode == 0, result.stdout + result.stderr


def test_kiosk_card_passes_ruff():
    lint = _run(str(BIN / "ruff"), "check", "kiosk/card")
    assert lint.returncode == 0, lint.stdout
    formatted = _run(str(BIN / "ruff"), "format", "--check", "kiosk/card")
    assert formatted.returncode == 0, formatted.stdout
