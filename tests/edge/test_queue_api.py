"""The visitor queue through the public API: the flows staff and kiosks use, and every refusal they can meet."""

from __future__ import annotations

from tests.conftest import auth


def issue(client, token, service="general"):
    r = client.post("/api/v1/tickets", json={"service": service}, headers=auth(token))
    assert r.status_code == 201, r.text
    return r.json()


def test_tickets_are_numbered_per_service_with_their_prefix(client, tokens):
    numbers = [issue(client, tokens["kiosk"], "general")["number"] for _ in range(3)]
    numbers += [issue(client, tokens["officer"], "report")["number"] for _ in range(2)]
    assert numbers == ["A001", "A002", "A003", "R001", "R002"]


def test_ticket_object_has_the_contract_fields(client, tokens):
    t = issue(client, tokens["kiosk"])
    for key in ("id", "number", "service", "status", "issued_at", "estimated_wait_s"):
        assert key in t
    assert t["status"] == "waiting"
    assert t["service"] == "general"
    assert isinstance(t["estimated_wait_s"], int)


def test_full_service_flow_call_start_finish(client, tokens):
    t = issue(client, tokens["kiosk"])
    officer = auth(tokens["officer"])
    called = client.post("/api/v1/counters/1/call-next", headers=officer).json()
    assert called["id"] == t["id"] and called["status"] == "called" and called["counter"] == "1"
    started = client.post(f"/api/v1/tickets/{t['id']}/start", headers=officer).json()
    assert started["status"] == "serving"
    done = client.post(f"/api/v1/tickets/{t['id']}/finish", headers=officer).json()
    assert done["status"] == "done"
    listed = client.get("/api/v1/tickets?status=done", headers=officer).json()["tickets"]
    assert [x["number"] for x in listed] == ["A001"]


def test_call_next_with_nobody_waiting_is_404(client, tokens):
    r = client.post("/api/v1/counters/1/call-next", headers=auth(tokens["officer"]))
    assert r.status_code == 404
    assert "no ticket waiting" in r.json()["detail"]


def test_call_next_takes_priority_then_longest_waiting(client, tokens):
    a1 = issue(client, tokens["kiosk"], "general")
    r1 = issue(client, tokens["officer"], "report")
    p1 = issue(client, tokens["kiosk"], "priority")  # priority service: called first though it came last
    officer = auth(tokens["officer"])
    order = []
    for _ in range(3):
        t = client.post("/api/v1/counters/1/call-next", headers=officer).json()
        order.append(t["number"])
        client.post(f"/api/v1/tickets/{t['id']}/start", headers=officer)
    assert order == [p1["number"], a1["number"], r1["number"]]


def test_call_next_finishes_the_ticket_being_served(client, tokens):
    first = issue(client, tokens["kiosk"])
    issue(client, tokens["kiosk"])
    officer = auth(tokens["officer"])
    client.post("/api/v1/counters/1/call-next", headers=officer)
    client.post(f"/api/v1/tickets/{first['id']}/start", headers=officer)
    second = client.post("/api/v1/counters/1/call-next", headers=officer).json()
    assert second["number"] == "A002"
    assert client.get(f"/api/v1/tickets/{first['id']}", headers=officer).json()["status"] == "done"


def test_call_next_refuses_while_a_called_ticket_is_not_handled(client, tokens):
    issue(client, tokens["kiosk"])
    issue(client, tokens["kiosk"])
    officer = auth(tokens["officer"])
    client.post("/api/v1/counters/1/call-next", headers=officer)
    r = client.post("/api/v1/counters/1/call-next", headers=officer)
    assert r.status_code == 409
    assert "A001" in r.json()["detail"] and r.json()["status"] == "called"
    assert r.json()["ticket_id"] == 1, "the counter terminal can act on the blocking ticket"


def test_counter_serves_only_its_services(client, tokens):
    issue(client, tokens["kiosk"], "general")
    officer = auth(tokens["officer"])
    client.post("/api/v1/counters/3/open", headers=officer)
    r = client.post("/api/v1/counters/3/call-next", headers=officer)  # counter 3 serves report and follow-up only
    assert r.status_code == 404


def test_closed_counter_cannot_call(client, tokens):
    issue(client, tokens["kiosk"])
    r = client.post("/api/v1/counters/3/call-next", headers=auth(tokens["officer"]))
    assert r.status_code == 409 and "closed" in r.json()["detail"]


def test_invalid_transitions_are_409_naming_the_state(client, tokens):
    t = issue(client, tokens["kiosk"])
    officer = auth(tokens["officer"])
    r = client.post(f"/api/v1/tickets/{t['id']}/finish", headers=officer)
    assert r.status_code == 409
    assert "waiting" in r.json()["detail"] and r.json()["status"] == "waiting"
    r = client.post(f"/api/v1/tickets/{t['id']}/no-show", headers=officer)
    assert r.status_code == 409 and "waiting" in r.json()["detail"]
    client.post(f"/api/v1/tickets/{t['id']}/cancel", headers=officer)
    r = client.post(f"/api/v1/tickets/{t['id']}/start", headers=officer)
    assert r.status_code == 409 and "cancelled" in r.json()["detail"]


def test_no_show_frees_the_counter(client, tokens):
    t = issue(client, tokens["kiosk"])
    issue(client, tokens["kiosk"])
    officer = auth(tokens["officer"])
    client.post("/api/v1/counters/1/call-next", headers=officer)
    assert client.post(f"/api/v1/tickets/{t['id']}/no-show", headers=officer).json()["status"] == "no_show"
    assert client.post("/api/v1/counters/1/call-next", headers=officer).json()["number"] == "A002"


def test_transfer_keeps_number_and_arrival_and_queues_ahead_of_later_arrivals(client, tokens):
    first = issue(client, tokens["kiosk"], "general")
    later = issue(client, tokens["officer"], "report")
    officer = auth(tokens["officer"])
    client.post("/api/v1/counters/1/call-next", headers=officer)
    client.post(f"/api/v1/tickets/{first['id']}/start", headers=officer)
    moved = client.post(f"/api/v1/tickets/{first['id']}/transfer", json={"service": "report"}, headers=officer).json()
    assert moved["number"] == "A001" and moved["service"] == "report" and moved["status"] == "waiting"
    assert moved["issued_at"] == first["issued_at"]
    assert moved["transferred_from"] == first["id"]
    old = client.get(f"/api/v1/tickets/{first['id']}", headers=officer).json()
    assert old["status"] == "transferred" and old["transferred_to"] == moved["id"]
    nxt = client.post("/api/v1/counters/2/call-next", headers=officer).json()
    assert nxt["id"] == moved["id"], "the transferred visitor arrived before R001 and must be called first"
    assert later["number"] == "R001"


def test_transfer_to_unknown_service_is_404(client, tokens):
    t = issue(client, tokens["kiosk"])
    r = client.post(f"/api/v1/tickets/{t['id']}/transfer", json={"service": "nope"}, headers=auth(tokens["officer"]))
    assert r.status_code == 404


def test_recall_is_rate_limited(client, tokens):
    t = issue(client, tokens["kiosk"])
    officer = auth(tokens["officer"])
    client.post("/api/v1/counters/1/call-next", headers=officer)
    r = client.post(f"/api/v1/tickets/{t['id']}/recall", headers=officer)
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) >= 1


def test_unknown_service_counter_and_ticket_are_404(client, tokens):
    assert client.post("/api/v1/tickets", json={"service": "nope"}, headers=auth(tokens["kiosk"])).status_code == 404
    assert client.post("/api/v1/counters/99/call-next", headers=auth(tokens["officer"])).status_code == 404
    assert client.get("/api/v1/tickets/12345", headers=auth(tokens["officer"])).status_code == 404


def test_malformed_bodies_are_422_without_internals(client, tokens):
    h = {**auth(tokens["kiosk"]), "content-type": "application/json"}
    for body in (
        b"{not json",
        b"[]",
        b'{"service": 12}',
        b'{"service": ""}',
        b"{}",
        b'{"service": "' + b"x" * 5000 + b'"}',
    ):
        r = client.post("/api/v1/tickets", content=body, headers=h)
        assert r.status_code == 422, body
        assert "Traceback" not in r.text and r.json()["error"] == "invalid_request"
    r = client.get("/api/v1/tickets?status=flying", headers=auth(tokens["officer"]))
    assert r.status_code == 422


def test_roles_are_checked_on_every_endpoint(client, tokens):
    assert client.post("/api/v1/tickets", json={"service": "general"}).status_code == 401
    assert client.post("/api/v1/tickets", json={"service": "general"}, headers=auth("mks_forged")).status_code == 401
    assert client.post("/api/v1/counters/1/call-next", headers=auth(tokens["kiosk"])).status_code == 403
    assert client.get("/api/v1/kpis", headers=auth(tokens["officer"])).status_code == 403
    assert client.get("/api/v1/kpis", headers=auth(tokens["supervisor"])).status_code == 200
    assert (
        client.post("/api/v1/tickets", json={"service": "general"}, headers=auth(tokens["agency_viewer"])).status_code
        == 403
    )
    assert client.get("/api/v1/staff", headers=auth(tokens["supervisor"])).status_code == 403
    assert client.get("/api/v1/devices", headers=auth(tokens["technician"])).status_code == 200
    assert client.get("/api/v1/audit", headers=auth(tokens["technician"])).status_code == 403


def test_every_api_route_requires_a_token(client):
    spec = client.get("/api/v1/openapi.json").json()
    # signing in, and enrolling a device with its one-time claim code (the code is the credential)
    open_routes = {("/api/v1/auth/login", "post"), ("/api/v1/enrolment", "post")}
    for path, methods in spec["paths"].items():
        for method in methods:
            if (path, method) in open_routes or not path.startswith("/api/v1"):
                continue
            url = (
                path.replace("{ticket_id}", "1")
                .replace("{counter}", "1")
                .replace("{username}", "x")
                .replace("{device_id}", "x")
            )
            r = client.request(method.upper(), url)
            assert r.status_code == 401, f"{method} {path} answered {r.status_code} without a token"


def test_kpis_reflect_what_happened(client, tokens):
    officer, sup = auth(tokens["officer"]), auth(tokens["supervisor"])
    a = issue(client, tokens["kiosk"])
    b = issue(client, tokens["kiosk"])
    issue(client, tokens["officer"], "report")
    client.post("/api/v1/counters/1/call-next", headers=officer)
    client.post(f"/api/v1/tickets/{a['id']}/start", headers=officer)
    client.post(f"/api/v1/tickets/{a['id']}/finish", headers=officer)
    client.post("/api/v1/counters/1/call-next", headers=officer)
    client.post(f"/api/v1/tickets/{b['id']}/no-show", headers=officer)
    k = client.get("/api/v1/kpis", headers=sup).json()
    general = next(s for s in k["services"] if s["service"] == "general")
    report = next(s for s in k["services"] if s["service"] == "report")
    assert general["served"] == 1 and general["no_shows"] == 1 and general["waiting"] == 0 and general["issued"] == 2
    assert report["waiting"] == 1 and report["served"] == 0
    assert k["station"]["served"] == 1 and k["station"]["waiting"] == 1 and k["station"]["counters_open"] == 2
    assert general["within_target_share"] == 1.0
    assert general["counters_open"] == 2 and report["counters_open"] == 2


def test_staff_and_device_management(client, tokens):
    admin = auth(tokens["admin"])
    r = client.post(
        "/api/v1/staff", json={"username": "newbie", "password": "long-enough-pw", "role": "officer"}, headers=admin
    )
    assert r.status_code == 201
    assert (
        client.post(
            "/api/v1/staff", json={"username": "newbie", "password": "long-enough-pw", "role": "officer"}, headers=admin
        ).status_code
        == 409
    )
    assert (
        client.post(
            "/api/v1/staff", json={"username": "x", "password": "short", "role": "officer"}, headers=admin
        ).status_code
        == 422
    )
    tech = auth(tokens["technician"])
    created = client.post("/api/v1/devices", json={"id": "kiosk-2", "type": "kiosk"}, headers=tech).json()
    assert created["token"].startswith("mkd_")
    assert (
        client.post("/api/v1/tickets", json={"service": "general"}, headers=auth(created["token"])).status_code == 201
    )
    client.patch("/api/v1/devices/kiosk-2", json={"enabled": False}, headers=tech)
    assert (
        client.post("/api/v1/tickets", json={"service": "general"}, headers=auth(created["token"])).status_code == 401
    )


def test_openapi_documents_the_public_contract(client):
    spec = client.get("/api/v1/openapi.json").json()
    for path in ("/api/v1/auth/login", "/api/v1/tickets", "/api/v1/counters/{counter}/call-next", "/api/v1/kpis"):
        assert path in spec["paths"]
    ticket = spec["components"]["schemas"]["Ticket"]["properties"]
    assert {"id", "number", "service", "status", "issued_at", "estimated_wait_s"} <= set(ticket)
    assert client.get("/healthz").status_code == 200


def test_oversized_bodies_are_refused_with_413(client, tokens):
    h = {**auth(tokens["kiosk"]), "content-type": "application/json"}
    r = client.post("/api/v1/tickets", content=b'{"service": "' + b"x" * 200_000 + b'"}', headers=h)
    assert r.status_code == 413 and "Traceback" not in r.text

    def chunks():  # no Content-Length: the limit must hold while streaming too
        for _ in range(100):
            yield b"x" * 4096

    r = client.post("/api/v1/tickets", content=chunks(), headers=h)
    assert r.status_code == 413
    assert client.post("/api/v1/tickets", json={"service": "general"}, headers=auth(tokens["kiosk"])).status_code == 201


def test_metrics_count_requests_by_route_and_show_the_queue_without_personal_data(client, tokens):
    t = issue(client, tokens["kiosk"])
    client.get(f"/api/v1/tickets/{t['id']}", headers=auth(tokens["officer"]))
    text = client.get("/metrics").text
    assert 'markaz_http_requests_total{method="POST",route="/api/v1/tickets",status="201"} 1.0' in text
    assert 'route="/api/v1/tickets/{ticket_id}"' in text, "routes are templates, never raw paths"
    assert 'markaz_queue_waiting{service="general"} 1.0' in text
    assert t["number"] not in text
