"""The catalogue says which services need a verified identity; kiosks report their UI link in heartbeats."""

from __future__ import annotations

from tests.conftest import auth


def test_sample_catalogue_marks_report_as_needing_identity_and_offers_reception(client, tokens) -> None:
    r = client.get("/api/v1/services", headers=auth(tokens["kiosk"]))
    assert r.status_code == 200
    services = {s["code"]: s for s in r.json()["services"]}
    assert services["report"]["needs_identity"] is True
    assert services["general"]["needs_identity"] is False
    assert services["reception"]["name_en"] == "Reception"
    ticket = client.post("/api/v1/tickets", json={"service": "reception"}, headers=auth(tokens["kiosk"]))
    assert ticket.status_code == 201 and ticket.json()["number"].startswith("S")


def test_catalogue_update_can_change_needs_identity(client, tokens) -> None:
    body = {
        "services": [
            {
                "code": "general",
                "name_ar": "خدمات عامة",
                "name_en": "General",
                "prefix": "A",
                "target_wait_s": 900,
                "needs_identity": True,
            }
        ]
    }
    r = client.put("/api/v1/catalogue", json=body, headers=auth(tokens["admin"]))
    assert r.status_code == 200
    general = next(s for s in r.json()["services"] if s["code"] == "general")
    assert general["needs_identity"] is True


def test_a_kiosk_can_report_its_screen_disconnected(client, tokens) -> None:
    r = client.post(
        "/api/v1/devices/heartbeat",
        json={"reader_present": True, "camera_fps": 14.5, "printer_paper": "ok", "faults": ["ui_disconnected"]},
        headers=auth(tokens["kiosk"]),
    )
    assert r.status_code == 200, r.text
    assert "ui_disconnected" in r.json()["faults"]
    bad = client.post("/api/v1/devices/heartbeat", json={"faults": ["on_fire"]}, headers=auth(tokens["kiosk"]))
    assert bad.status_code == 422
