"""Test support: a real `markaz edge serve` process connected to the test broker, to kill -9 and restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from edge.node import EdgeNode
from edge.settings import EdgeSettings
from markaz.config import load_settings
from tests.telemetry.broker import Broker, free_port


def register_kiosk(data_dir: Path, station: str, device: str = "kiosk-1") -> str:
    """Register a kiosk in the node's database before the node process runs; returns its API token."""
    node = EdgeNode(load_settings(EdgeSettings, data_dir=data_dir, station_id=station))
    try:
        return node.auth.add_device(device, "kiosk")
    finally:
        node.store.close()


class NodeProcess:
    def __init__(self, data_dir: Path, station: str, broker: Broker, keepalive: int = 30) -> None:
        self.data_dir = Path(data_dir)
        self.station = station
        self.broker = broker
        self.keepalive = keepalive
        self.proc: subprocess.Popen | None = None
        self.port = 0

    def start(self) -> NodeProcess:
        cert = self.broker.pki.client(self.station)
        self.port = free_port()
        env = dict(os.environ, MARKAZ_MQTT__BACKOFF_BASE_S="0.1", MARKAZ_MQTT__BACKOFF_MAX_S="0.5")
        self.log = open(self.data_dir.parent / f"node-{self.station}.log", "ab")  # noqa: SIM115 - lives with the process
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "markaz.cli",
                "edge",
                "serve",
                "--data",
                str(self.data_dir),
                "--port",
                str(self.port),
                "--station",
                self.station,
                "--sample-data",
                "--mqtt",
                self.broker.url,
                "--mqtt-ca",
                str(self.broker.pki.ca.cert),
                "--mqtt-cert",
                str(cert.cert),
                "--mqtt-key",
                str(cert.key),
                "--mqtt-keepalive",
                str(self.keepalive),
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        deadline = time.monotonic() + 60  # the node and its link process start on a shared, sometimes busy machine
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"edge node exited with {self.proc.returncode}")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("edge node did not become healthy")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def signal(self, sig) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def kill(self) -> None:
        """kill -9: no clean shutdown of anything."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None
