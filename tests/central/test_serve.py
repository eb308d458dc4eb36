"""`markaz central serve` as a real process: ingest from the broker, the JSON view over HTTP for signed-in staff."""

from __future__ import annotations

import httpx

from central.commands import send_command
from edge.node import EdgeNode
from edge.settings import EdgeSettings
from markaz.config import load_settings
from tests.central.process import CentralProcess, poll


def test_central_serve_shows_a_live_station(tmp_path, broker, central_db):
    central = CentralProcess(broker, central_db, {"vera": "central_viewer"}).start()
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
    try:
        assert httpx.get(f"{central.base}/api/stations", timeout=5).status_code == 401  # no session, nothing
        http = central.client("vera")
        poll(lambda: http.get("/api/stations").json(), lambda v: v == [])
        node.start()
        stations = poll(lambda: http.get("/api/stations").json(), lambda v: v and v[0]["state"] == "online")
        assert stations[0]["station"] == "st-4"
        tool = broker.pki.client("central-1.markaz")  # the command tool has a certificate of its own beside ingest's
        ack = send_command(broker.url, broker.pki.ca.cert, tool.cert, tool.key, "st-4", "telemetry.snapshot", {})
        assert ack.ok
        detail = poll(lambda: http.get("/api/stations/st-4").json(), lambda v: "telemetry.queue" in v["latest"])
        assert detail["latest"]["telemetry.queue"]["data"]["services"]
        assert 'data-station="st-4"' in http.get("/").text
    finally:
        if node.started:
            node.stop()
        central.stop()
