"""Test support: a station PKI (root -> station intermediate in the node's keys) and a real `markaz edge serve`."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import ServerProcess


def install_station_ca(tmp: Path, data: Path, station: str = "st-1") -> Path:
    """Root CA in tmp/pki/root, the station's intermediate installed into data/keys; returns the root path."""
    from typer.testing import CliRunner

    from markaz.cli import app

    run = CliRunner().invoke
    root = tmp / "pki" / "root"
    res = run(app, ["provision", "root", "--out", str(root)])
    assert res.exit_code == 0, res.output
    res = run(app, ["provision", "station-ca", "--station", station, "--root", str(root), "--data", str(data)])
    assert res.exit_code == 0, res.output
    return root


class EdgeServe(ServerProcess):
    """`markaz edge serve --station S` with the given extra arguments and MARKAZ_* variables."""

    def __init__(
        self, data: Path, station: str = "st-1", args: list[str] | None = None, env: dict[str, str] | None = None
    ) -> None:
        super().__init__(data, "--station", station, *(args or []), env=env)
        self.station = station
