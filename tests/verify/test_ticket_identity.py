"""A kiosk's ticket for a service that needs identity stands on one recent face match made at that kiosk.

The verifications are real (ONNX models on real photos, through POST /api/v1/verifications); the edge, not only the
kiosk, refuses a ticket without one, with another kiosk's, with a stale one, or with one already used."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from edge.auth.principal import Principal
from edge.errors import Forbidden
from tests.conftest import FakeClock, auth
from tests.verify.test_api import URL, form

TICKETS = "/api/v1/tickets"


def verify(client, headers, live: str = "obama_2.jpg", number: str = "A1234567") -> dict:
    r = client.post(URL, headers=headers, **form(live=(live,), number=number))
    assert r.status_code == 200, r.text
    return r.json()


def test_a_kiosk_needs_a_face_match_for_a_service_that_needs_identity(kiosk) -> None:
    client, node, headers = kiosk()
    refused = client.post(TICKETS, json={"service": "report"}, headers=headers)
    assert refused.status_code == 403 and "verified identity" in refused.json()["detail"]

    match = verify(client, headers)
    assert match["decision"] == "match"
    ticket = client.post(
        TICKETS, json={"service": "report", "verification_id": match["verification_id"]}, headers=headers
    )
    assert ticket.status_code == 201, ticket.text
    assert ticket.json()["number"].startswith("R")

    entry = node.store.query_one("SELECT after FROM audit_log WHERE action = 'ticket.issue' ORDER BY seq DESC LIMIT 1")
    assert json.loads(entry["after"])["verification"] == match["verification_id"]

    again = client.post(
        TICKETS, json={"service": "report", "verification_id": match["verification_id"]}, headers=headers
    )
    assert again.status_code == 409 and ticket.json()["number"] in again.json()["detail"]
    # nothing was issued by the refused requests
    assert len(node.store.query("SELECT id FROM tickets WHERE service = 'report'")) == 1


def test_a_no_match_is_no_identity_and_a_service_without_the_need_takes_a_match_too(kiosk) -> None:
    client, _, headers = kiosk()
    miss = verify(client, headers, live="biden_2.jpg", number="B1")
    assert miss["decision"] == "no_match"
    r = client.post(TICKETS, json={"service": "report", "verification_id": miss["verification_id"]}, headers=headers)
    assert r.status_code == 403 and "not a face match" in r.json()["detail"]
    unknown = client.post(TICKETS, json={"service": "report", "verification_id": 10**12}, headers=headers)
    assert unknown.status_code == 403
    assert client.post(TICKETS, json={"service": "general"}, headers=headers).status_code == 201
    match = verify(client, headers)
    linked = client.post(
        TICKETS, json={"service": "general", "verification_id": match["verification_id"]}, headers=headers
    )
    assert linked.status_code == 201
    spent = client.post(
        TICKETS, json={"service": "report", "verification_id": match["verification_id"]}, headers=headers
    )
    assert spent.status_code == 409


def test_another_kiosks_match_and_a_stale_match_are_refused(kiosk) -> None:
    clock = FakeClock()
    client, node, headers = kiosk(clock=clock)
    match = verify(client, headers)["verification_id"]
    other = Principal("device", "kiosk-2", "kiosk")
    try:
        node.queue.issue("report", other, match)
        raise AssertionError("kiosk-2 took a ticket on kiosk-1's verification")
    except Forbidden as exc:
        assert "this kiosk" in str(exc)
    clock.advance(seconds=node.settings.queue.identity_window_s + 1)
    r = client.post(TICKETS, json={"service": "report", "verification_id": match}, headers=headers)
    assert r.status_code == 403 and "verify the visitor again" in r.json()["detail"]


def test_staff_issue_at_the_desk_without_a_verification_and_may_not_link_one(kiosk, station_template) -> None:
    client, _, headers = kiosk()
    officer = auth(station_template[1]["officer"])
    assert client.post(TICKETS, json={"service": "report"}, headers=officer).status_code == 201
    match = verify(client, headers)["verification_id"]
    r = client.post(TICKETS, json={"service": "report", "verification_id": match}, headers=officer)
    assert r.status_code == 422 and "only a kiosk" in r.json()["detail"]
    for bad in (0, -1, "x", 2**63):
        assert (
            client.post(TICKETS, json={"service": "report", "verification_id": bad}, headers=headers).status_code == 422
        )


def test_one_match_gives_one_ticket_even_when_requests_race(kiosk) -> None:
    client, node, headers = kiosk()
    match = verify(client, headers)["verification_id"]
    body = {"service": "report", "verification_id": match}
    with ThreadPoolExecutor(8) as pool:
        codes = sorted(pool.map(lambda _: client.post(TICKETS, json=body, headers=headers).status_code, range(8)))
    assert codes == [201] + [409] * 7
    assert len(node.store.query("SELECT id FROM tickets WHERE verification_id = ?", [match])) == 1
