"""Test support: a real `markaz edge serve` process connected to the test broker, to kill -9 and restart."""

from __future__ import annotations

from pathlib import Path

from edge.node import EdgeNode
from edge.settings import EdgeSettings
from markaz.config import load_settings
from tests.conftest import ServerProcess
from tests.telemetry.broker import Broker, free_port


def register_kiosk(data_dir: Path, station: str, device: str = "kiosk-1") -> str:
    """Register a kiosk in the node's database before the node process runs; returns its API token."""
    node = EdgeNode(load_settings(EdgeSettings, data_dir=data_dir, station_id=station))
    try:
        return node.auth.add_device(device, "kiosk")
    finally:
        node.store.close()


class NodeProcess(ServerProcess):
    """An edge node with its telemetry link to the test broker (its own client certificate), quick to reconnect."""

    def __init__(self, data_dir: Path, station: str, broker: Broker, keepalive: int = 30) -> None:
        super().__init__(data_dir, env={"MARKAZ_MQTT__BACKOFF_BASE_S": "0.1", "MARKAZ_MQTT__BACKOFF_MAX_S": "0.5"})
        self.data_dir = self.data
        self.station = station
        self.broker = broker
        self.keepalive = keepalive

    def arguments(self) -> list[str]:
        cert = self.broker.pki.client(self.station)
        return [
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
        ]

    def start(self) -> NodeProcess:
        self.port = free_port()  # a restarted node comes back on a new port, as after a crash the old may linger
        super().start()
        return self
