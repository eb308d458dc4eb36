"""`markaz central serve` as a real process: ingest from the broker and the JSON view over HTTP."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import httpx

from central.commands import send_command
from edge.node import EdgeNode
from edge.settings import EdgeSettings
from markaz.config import load_settings
from tests.telemetry.broker import free_port


def test_central_serve_shows_a_live_station(tmp_path, broker):
    cert = broker.pki.client("central.markaz")
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "markaz.cli",
            "central",
            "serve",
            "--mqtt",
            broker.url,
            "--mqtt-ca",
            str(broker.pki.ca.cert),
            "--mqtt-cert",
            str(cert.cert),
            "--mqtt-key",
            str(cert.key),
            "--db",
            str(tmp_path / "central.sqlite"),
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    station_cert = broker.pki.client("st-4")
    node = EdgeNode(
        load_settings(
            EdgeSettings,
            data_dir=tmp_path / "node",
            sample_data=True,
            station_id="st-4",
            mqtt={"url": broker.url, "ca": broker.pki.ca.cert, "cert": station_cert.cert, "key": station_cert.key},
        )
    )
    base = f"http://127.0.0.1:{port}"

    def poll(fetch, check, timeout=30.0):
        """Bounded wait for the process to answer what we expect (only to avoid hanging)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                value = fetch()
                if check(value):
                    return value
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            time.sleep(0.1)
        raise AssertionError("central did not show it in time")

    try:
        poll(lambda: httpx.get(f"{base}/api/stations", timeout=1).json(), lambda v: v == [])
        node.start()
        stations = poll(
            lambda: httpx.get(f"{base}/api/stations", timeout=1).json(), lambda v: v and v[0]["state"] == "online"
        )
        assert stations[0]["station"] == "st-4"
        tool = broker.pki.client("central-1.markaz")  # the command tool has a certificate of its own beside ingest's
        ack = send_command(broker.url, broker.pki.ca.cert, tool.cert, tool.key, "st-4", "telemetry.snapshot", {})
        assert ack.ok
        detail = poll(
            lambda: httpx.get(f"{base}/api/stations/st-4", timeout=1).json(), lambda v: "telemetry.queue" in v["latest"]
        )
        assert detail["latest"]["telemetry.queue"]["data"]["services"]
        assert "st-4" in httpx.get(f"{base}/", timeout=5).text
    finally:
        if node.started:
            node.stop()
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
