"""The counter screen's API: availability with reasons, one action per press, stale screens shown the truth."""

from __future__ import annotations

from tests.conftest import auth


def issue(client, tokens, service="general"):
    r = client.post("/api/v1/tickets", json={"service": service}, headers=auth(tokens["officer"]))  # at the desk
    assert r.status_code == 201, r.text
    return r.json()


def actions(view):
    return {a["name"]: a for a in view["actions"]}


def act(client, tokens, counter, action, **body):
    return client.post(f"/api/v1/hall/counters/{counter}/actions/{action}", json=body, headers=auth(tokens["officer"]))


def test_an_idle_counter_offers_only_what_it_can_do_and_says_why_not(client, tokens):
    view = client.get("/api/v1/hall/counters/1", headers=auth(tokens["officer"])).json()
    a = actions(view)
    assert view["ticket"] is None and view["waiting"] == []
    assert a["call_next"] == {
        "name": "call_next",
        "enabled": False,
        "reason": "nobody_waiting",
        "retry_in_s": None,
        "key": "KeyN",
    }
    for name in ("recall", "start", "finish", "no_show", "transfer"):
        assert a[name]["enabled"] is False and a[name]["reason"] == "no_ticket"
    assert a["open"]["reason"] == "already_open" and a["close"]["enabled"] is True


def test_officer_walks_a_ticket_through_call_start_finish(client, tokens):
    first, second = issue(client, tokens), issue(client, tokens, "report")
    view = client.get("/api/v1/hall/counters/1", headers=auth(tokens["officer"])).json()
    assert [w["number"] for w in view["waiting"]] == [first["number"], second["number"]]
    assert all(w["estimated_wait_s"] is not None for w in view["waiting"])

    r = act(client, tokens, "1", "call_next")
    assert r.status_code == 200 and r.json()["called"] == first["number"]
    view = r.json()["view"]
    assert view["ticket"]["status"] == "called" and [w["number"] for w in view["waiting"]] == [second["number"]]
    a = actions(view)
    assert a["call_next"]["reason"] == "called_not_started"
    assert a["finish"]["reason"] == "not_serving"
    assert a["recall"]["reason"] == "recall_too_soon" and a["recall"]["retry_in_s"] > 0
    assert a["close"]["reason"] == "ticket_at_counter"

    view = act(client, tokens, "1", "start", ticket_id=first["id"]).json()["view"]
    assert view["ticket"]["status"] == "serving" and actions(view)["call_next"]["enabled"]
    view = act(client, tokens, "1", "finish", ticket_id=first["id"]).json()["view"]
    assert view["ticket"] is None
    assert client.get(f"/api/v1/tickets/{first['id']}", headers=auth(tokens["officer"])).json()["status"] == "done"


def test_a_disabled_action_is_refused_with_its_reason_and_changes_nothing(client, tokens):
    issue(client, tokens)
    r = act(client, tokens, "1", "finish")
    assert r.status_code == 409
    body = r.json()
    assert body["done"] is False and body["notice"]["code"] == "no_ticket"
    assert len(body["view"]["waiting"]) == 1


def test_a_stale_screen_is_told_and_shown_the_truth(client, tokens):
    t = issue(client, tokens)
    called = act(client, tokens, "1", "call_next").json()["view"]["ticket"]
    # someone else (a supervisor at the API) marks it no-show while this screen still shows it called
    assert client.post(f"/api/v1/tickets/{t['id']}/no-show", headers=auth(tokens["supervisor"])).status_code == 200
    r = act(client, tokens, "1", "start", ticket_id=called["id"])
    assert r.status_code == 409
    assert r.json()["notice"]["code"] == "stale"
    assert r.json()["view"]["ticket"] is None
    assert client.get(f"/api/v1/tickets/{t['id']}", headers=auth(tokens["officer"])).json()["status"] == "no_show"


def test_transfer_needs_a_target_and_keeps_the_number(client, tokens):
    t = issue(client, tokens)
    act(client, tokens, "1", "call_next")
    r = act(client, tokens, "1", "transfer", ticket_id=t["id"])
    assert r.status_code == 422
    view = act(client, tokens, "1", "transfer", ticket_id=t["id"], service="report").json()["view"]
    assert view["ticket"] is None
    assert [(w["number"], w["service"]) for w in view["waiting"]] == [(t["number"], "report")]


def test_recall_within_the_rate_limit_is_held_back(client, tokens):
    t = issue(client, tokens)
    act(client, tokens, "1", "call_next")
    r = act(client, tokens, "1", "recall", ticket_id=t["id"])
    assert r.status_code == 409 and r.json()["notice"]["code"] == "recall_too_soon"
    assert r.json()["notice"]["retry_in_s"] >= 1


def test_open_and_close_need_the_counter_permission(client, tokens, node):
    token = node.auth.add_device("terminal-1", "counter_terminal")
    r = client.post("/api/v1/hall/counters/1/actions/close", headers=auth(token))
    assert r.status_code == 403
    r = act(client, tokens, "1", "close")
    assert r.status_code == 200 and r.json()["view"]["counter"]["is_open"] is False
    assert actions(r.json()["view"])["call_next"]["reason"] == "counter_closed"


def test_unknown_counter_is_404(client, tokens):
    assert client.get("/api/v1/hall/counters/nope", headers=auth(tokens["officer"])).status_code == 404
    assert act(client, tokens, "nope", "call_next").status_code == 404
