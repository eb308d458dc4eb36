"""Test support: a station PKI (root -> station intermediate in the node's keys) and a real `markaz edge serve`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.telemetry.broker import free_port


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


class EdgeServe:
    """`markaz edge serve` as its own process on free ports, with the given extra arguments and MARKAZ_* variables."""

    def __init__(
        self, data: Path, station: str = "st-1", args: list[str] | None = None, env: dict[str, str] | None = None
    ) -> None:
        self.data = Path(data)
        self.station = station
        self.args = args or []
        self.env = env or {}
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> EdgeServe:
        self.log = open(self.data.parent / f"edge-{self.port}.log", "ab")  # noqa: SIM115 (lives with the process)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "markaz.cli",
                "edge",
                "serve",
                "--data",
                str(self.data),
                "--port",
                str(self.port),
                "--station",
                self.station,
                *self.args,
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=dict(os.environ, **self.env),
        )
        deadline = time.monotonic() + 90  # a loaded machine (2 cores, many test runs)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"edge node exited with {self.proc.returncode}: see {self.log.name}")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("edge node did not become healthy")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
        self.log.close()
