"""The systemd units shipped in provisioning/systemd/ pass `systemd-analyze verify` and start real markaz commands."""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parents[1] / "provisioning" / "systemd"
INSTALLED = "/opt/markaz/.venv/bin/markaz"  # where the units expect the project (see each unit's header)
MARKAZ = Path(sys.executable).with_name("markaz")
# the kiosk agent's `markaz kiosk run` comes with the kiosk issue; its unit is verified by systemd alone until then
NOT_YET = {"markaz-kiosk.service"}


def _units() -> list[Path]:
    return sorted(UNITS.glob("*.service"))


def _exec_start(unit: Path) -> list[str]:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(unit)
    return shlex.split(parser["Service"]["ExecStart"].replace("%i", "1"))


def test_every_part_has_a_unit():
    names = {u.name for u in _units()}
    assert names == {
        "markaz-edge.service",
        "markaz-edge-link.service",
        "markaz-kiosk.service",
        "markaz-central-ingest@.service",
        "markaz-central-dashboard.service",
    }


def test_units_pass_systemd_analyze_verify(tmp_path):
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze missing: `make test` installs Debian's systemd package"
    for unit in _units():  # the units point at this checkout's markaz instead of /opt/markaz
        (tmp_path / unit.name).write_text(unit.read_text().replace(INSTALLED, str(MARKAZ)))
    (tmp_path / "markaz-central-ingest@1.service").write_text((tmp_path / "markaz-central-ingest@.service").read_text())
    names = sorted(p.name for p in tmp_path.glob("*.service") if not p.name.endswith("@.service"))
    result = subprocess.run(
        [analyze, "verify", "--man=no", *names],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "SYSTEMD_LOG_LEVEL": "notice"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr  # unknown keys and other mistakes only warn


@pytest.mark.parametrize("unit", [u for u in _units() if u.name not in NOT_YET], ids=lambda u: u.name)
def test_each_unit_starts_a_markaz_command_with_options_it_knows(unit):
    argv = _exec_start(unit)
    assert argv[0] == INSTALLED
    result = subprocess.run([str(MARKAZ), *argv[1:], "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_node_unit_leaves_the_link_to_its_own_unit():
    node = (UNITS / "markaz-edge.service").read_text()
    link = (UNITS / "markaz-edge-link.service").read_text()
    assert "MARKAZ_MQTT__LINK=external" in node
    assert "BindsTo=markaz-edge.service" in link
