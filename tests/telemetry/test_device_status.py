"""Device heartbeats through the edge API, and a node without a broker keeping its outbox."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from edge.api.app import create_app
from edge.node import EdgeNode
from edge.settings import EdgeSettings
from markaz.config import load_settings


def test_heartbeat_is_kept_and_queued_for_central_without_a_broker(tmp_path):
    node = EdgeNode(load_settings(EdgeSettings, data_dir=tmp_path, sample_data=True, station_id="st-1"))
    token = node.auth.add_device("kiosk-1", "kiosk")
    node.auth.add_user("boss", "a long enough password", "admin")
    with TestClient(create_app(node)) as http:
        assert node.telemetry.link is None  # no --mqtt: the node serves, the outbox keeps everything
        before = node.telemetry.outbox.stats()["backlog"]
        r = http.post(
            "/api/v1/devices/heartbeat",
            headers={"Authorization": f"Bearer {token}"},
            json={"reader_present": True, "camera_fps": 24.5, "printer_paper": "out"},
        )
        assert r.status_code == 200, r.text
        state = r.json()
        assert (state["device"], state["online"], state["camera_fps"], state["faults"]) == (
            "kiosk-1",
            True,
            24.5,
            ["printer_paper_out"],
        )
        rows = node.telemetry.outbox.pending(limit=1000)
        topics = [row.topic for row in rows]
        assert "markaz/v1/st-1/telemetry/devices/kiosk-1" in topics
        fault = [json.loads(row.payload)["data"] for row in rows if row.topic.endswith("/events/device_fault")]
        assert fault == [{"device": "kiosk-1", "fault": "printer_paper_out", "state": "raised"}]
        assert node.telemetry.outbox.stats()["backlog"] > before

        staff_token, _, _ = node.auth.login("boss", "a long enough password")
        refused = http.post("/api/v1/devices/heartbeat", headers={"Authorization": f"Bearer {staff_token}"}, json={})
        assert refused.status_code == 403  # only devices report their own status
        bad = http.post(
            "/api/v1/devices/heartbeat",
            headers={"Authorization": f"Bearer {token}"},
            json={"camera_fps": 10, "visitor_name": "x"},
        )
        assert bad.status_code == 422  # readings only, nothing else accepted
