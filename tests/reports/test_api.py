"""Reports through the HTTP API: who may do what, every read audited, the visitor's narrow view."""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from edge.api.app import create_app
from tests.conftest import auth
from tests.reports.conftest import AGENCIES, THEFT, VISITOR, verified_at_kiosk

COMPLAINANT = {
    "name": VISITOR.name,
    "document_type": "passport",
    "document_number": VISITOR.document_number,
    "nationality": "SAU",
    "birth_date": "1990-04-12",
}


@pytest.fixture
def api(make_node, station_template, tmp_path):
    template, tokens = station_template
    data = tmp_path / "api-node"
    shutil.copytree(template, data)
    node = make_node(data_dir=data, reports={"agencies": AGENCIES, "station_code": "OLY"})
    with TestClient(create_app(node)) as client:
        yield client, node, dict(tokens)


def file_at_kiosk(client, node, tokens):
    verified_at_kiosk(node)
    r = client.post(
        "/api/v1/reports",
        json={"type": "theft", "details": THEFT, "complainant": COMPLAINANT},
        headers=auth(tokens["kiosk"]),
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_kiosk_files_and_the_visitor_tracks_with_reference_and_pin(api):
    client, node, tokens = api
    types = client.get("/api/v1/reports/types", headers=auth(tokens["kiosk"])).json()["types"]
    assert "harassment" not in {t["code"] for t in types} and "theft" in {t["code"] for t in types}
    filed = file_at_kiosk(client, node, tokens)
    assert filed["reference"].startswith("OLY-") and len(filed["pin"]) == 6
    r = client.post(
        "/api/v1/reports/track",
        json={"reference": filed["reference"], "pin": filed["pin"]},
        headers=auth(tokens["kiosk"]),
    )
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["state"] == "submitted" and view["next_step_ar"] and view["case_number"] is None
    assert set(view) == {
        "reference",
        "type",
        "type_name_ar",
        "type_name_en",
        "state",
        "outcome",
        "filed_at",
        "state_since",
        "steps",
        "next_step_ar",
        "next_step_en",
        "referral",
        "case_number",
    }
    wrong = client.post(
        "/api/v1/reports/track",
        json={"reference": filed["reference"], "pin": "000000" if filed["pin"] != "000000" else "111111"},
        headers=auth(tokens["kiosk"]),
    )
    assert wrong.status_code == 401
    typo = filed["reference"][:-1] + str((int(filed["reference"][-1]) + 1) % 10)
    bad = client.post(
        "/api/v1/reports/track", json={"reference": typo, "pin": filed["pin"]}, headers=auth(tokens["kiosk"])
    )
    assert bad.status_code == 422 and "typing mistake" in bad.json()["detail"]


def test_kiosk_without_a_face_match_is_refused_and_desk_only_types_stay_at_the_desk(api):
    client, node, tokens = api
    r = client.post(
        "/api/v1/reports",
        json={"type": "theft", "details": THEFT, "complainant": COMPLAINANT},
        headers=auth(tokens["kiosk"]),
    )
    assert r.status_code == 403 and "face match" in r.json()["detail"]
    verified_at_kiosk(node)
    r = client.post(
        "/api/v1/reports",
        json={
            "type": "harassment",
            "complainant": COMPLAINANT,
            "details": {"occurred_at": "2026-11-22T21:30:00+03:00", "ongoing": True, "description": "x"},
        },
        headers=auth(tokens["kiosk"]),
    )
    assert r.status_code == 403 and "desk" in r.json()["detail"]
    r = client.post(
        "/api/v1/reports",
        json={"type": "theft", "details": {**THEFT, "value": "lots"}, "complainant": COMPLAINANT},
        headers=auth(tokens["kiosk"]),
    )
    assert r.status_code == 422 and "value" in r.json()["detail"]


def test_roles_kiosks_do_not_read_and_officers_do_not_share(api):
    client, node, tokens = api
    ref = file_at_kiosk(client, node, tokens)["reference"]
    assert client.get("/api/v1/reports", headers=auth(tokens["kiosk"])).status_code == 403
    assert client.get(f"/api/v1/reports/{ref}", headers=auth(tokens["technician"])).status_code == 403
    until = (node.clock() + timedelta(days=2)).isoformat()
    r = client.post(
        f"/api/v1/reports/{ref}/shares",
        json={"agency_user": "agency_viewer", "purpose": "review", "until": until},
        headers=auth(tokens["officer"]),
    )
    assert r.status_code == 403
    assert (
        client.post(
            "/api/v1/reports/track", json={"reference": ref, "pin": "123456"}, headers=auth(tokens["officer"])
        ).status_code
        == 403
    )


def test_officer_works_the_report_and_the_visitor_sees_it_move(api):
    client, node, tokens = api
    filed = file_at_kiosk(client, node, tokens)
    ref, officer, sup = filed["reference"], auth(tokens["officer"]), auth(tokens["supervisor"])
    assert (
        client.post(
            f"/api/v1/reports/{ref}/transitions", json={"action": "receive", "reason": "taken in"}, headers=officer
        ).json()["state"]
        == "received"
    )
    assert (
        client.post(
            f"/api/v1/reports/{ref}/assign", json={"officer": "officer", "reason": "mine"}, headers=officer
        ).json()["officer"]
        == "officer"
    )
    client.post(f"/api/v1/reports/{ref}/transitions", json={"action": "investigate", "reason": "open"}, headers=officer)
    page = client.get(f"/api/v1/reports/{ref}", headers=officer).json()
    party = page["parties"][0]
    assert party["name"] == VISITOR.name and party["verified"] is True
    r = client.post(
        f"/api/v1/reports/{ref}/statements",
        json={"party_id": party["id"], "text": "I parked at nine.", "acknowledgement": "signed"},
        headers=officer,
    )
    assert r.status_code == 201 and r.json()["version"] == 1
    client.post(
        f"/api/v1/reports/{ref}/notes",
        json={"text": "CCTV asked of the mall", "action": "cctv_requested"},
        headers=officer,
    )
    client.post(f"/api/v1/reports/{ref}/notes", json={"text": "internal remark"}, headers=officer)
    illegal = client.post(
        f"/api/v1/reports/{ref}/transitions", json={"action": "resume", "reason": "x" * 5}, headers=officer
    )
    assert illegal.status_code == 409
    moved = client.post(
        f"/api/v1/reports/{ref}/transitions", json={"action": "refer", "reason": "to the prosecution"}, headers=officer
    )
    assert moved.json()["state"] == "referred"
    view = client.post(
        "/api/v1/reports/track", json={"reference": ref, "pin": filed["pin"]}, headers=auth(tokens["kiosk"])
    ).json()
    assert view["state"] == "referred" and view["referral"] == "pending"
    assert [s["state"] for s in view["steps"]] == ["submitted", "received", "under_investigation", "referred"]
    package = client.get(f"/api/v1/reports/{ref}/referral", headers=sup).json()
    assert package["package"]["statements"][0]["text"] == "I parked at nine."
    assert package["signature"]["alg"] == "Ed25519"


def test_agency_reads_only_what_was_shared_and_lists_its_reads(api):
    client, node, tokens = api
    shared = file_at_kiosk(client, node, tokens)["reference"]
    private = file_at_kiosk(client, node, tokens)["reference"]
    agency, sup = auth(tokens["agency_viewer"]), auth(tokens["supervisor"])
    assert client.get(f"/api/v1/reports/{shared}", headers=agency).status_code == 403
    until = (node.clock() + timedelta(days=2)).isoformat()
    r = client.post(
        f"/api/v1/reports/{shared}/shares",
        json={"agency_user": "agency_viewer", "purpose": "prosecution review", "until": until},
        headers=sup,
    )
    assert r.status_code == 201 and r.json()["sees"] == "statements"
    assert [x["reference"] for x in client.get("/api/v1/reports", headers=agency).json()["reports"]] == [shared]
    page = client.get(f"/api/v1/reports/{shared}", headers=agency).json()
    assert page["scope"] == "statements" and page["notes"] == [] and page["shares"] == []
    assert client.get(f"/api/v1/reports/{private}", headers=agency).status_code == 403
    reads = client.get("/api/v1/reports/reads/mine", headers=agency).json()["reads"]
    got = {(x["reference"], x["outcome"]) for x in reads if x["action"] == "report.read"}
    assert got == {(shared, "denied"), (shared, "ok"), (private, "denied")}
    assert all(x["source"] == "testclient" for x in reads)
    client.delete(f"/api/v1/reports/{shared}/shares/{r.json()['id']}", headers=sup)
    assert client.get(f"/api/v1/reports/{shared}", headers=agency).status_code == 403


def test_reading_the_audit_log_is_itself_audited(api):
    client, node, tokens = api
    before = node.store.query_one("SELECT count(*) AS n FROM audit_log WHERE action = 'audit.read'")["n"]
    assert client.get("/api/v1/audit", headers=auth(tokens["supervisor"])).status_code == 200
    rows = node.store.query("SELECT actor, after FROM audit_log WHERE action = 'audit.read'")
    assert len(rows) == before + 1 and rows[-1]["actor"] == "supervisor" and "testclient" in rows[-1]["after"]


def test_an_incident_in_the_future_is_refused_in_both_languages_beyond_five_minutes_of_clock_skew(api):
    from datetime import UTC, datetime

    client, node, tokens = api
    officer = auth(tokens["officer"])
    desk = {"name": "Desk Visitor"}
    later = (datetime.now(UTC) + timedelta(hours=2)).astimezone().isoformat(timespec="seconds")
    r = client.post("/api/v1/reports", headers=officer,
                    json={"type": "theft", "details": {**THEFT, "occurred_at": later}, "complainant": desk})  # fmt: skip
    body = r.json()
    assert r.status_code == 422 and body["error"] == "invalid"
    assert (body["field"], body["problem"]) == ("occurred_at", "future")
    assert "future" in body["detail"] and "5 minutes" in body["detail"]
    assert "المستقبل" in body["detail_ar"] and "5 دقائق" in body["detail_ar"]
    assert node.store.query_one("SELECT count(*) AS n FROM reports")["n"] == 0, "nothing filed"
    ahead = (datetime.now(UTC) + timedelta(minutes=2)).isoformat(timespec="seconds")  # a PC's clock a bit fast
    r = client.post("/api/v1/reports", headers=officer,
                    json={"type": "theft", "details": {**THEFT, "occurred_at": ahead}, "complainant": desk})  # fmt: skip
    assert r.status_code == 201, r.text
