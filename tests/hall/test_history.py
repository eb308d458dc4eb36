"""The supervisor's day chart comes from the tickets' own time stamps."""

from __future__ import annotations

from datetime import UTC, datetime

from edge.auth.principal import Principal
from tests.conftest import FakeClock, auth

OFFICER = Principal("staff", "officer", "officer")
KIOSK = Principal("device", "kiosk-1", "kiosk")


def test_waiting_and_waits_through_the_day_are_rebuilt_from_the_tickets(make_node):
    clock = FakeClock(datetime(2026, 11, 23, 5, 0, tzinfo=UTC))  # 08:00 in Riyadh, business day from 03:00
    node = make_node(clock=clock, hall={"history_step_min": 15})
    node.start()
    try:
        for _ in range(3):
            node.queue.issue("general", KIOSK)  # three arrive at 08:00
        clock.advance(minutes=20)
        node.queue.call_next("1", OFFICER)  # 08:20: the first is called after 20 min
        clock.advance(minutes=20)
        node.queue.call_next("2", OFFICER)  # 08:40: the second after 40 min
        clock.advance(minutes=5)
        points = {p.at[11:16]: p for p in node.hall.history().points}  # UTC hh:mm
        assert list(points)[:1] == ["05:00"] and list(points)[-1] == "05:45"
        assert points["05:00"].waiting == 3 and points["05:15"].waiting == 3
        assert points["05:30"].waiting == 2 and points["05:30"].calls == 1 and points["05:30"].mean_wait_s == 1200
        assert points["05:45"].waiting == 1 and points["05:45"].mean_wait_s == 2400
        assert points["05:45"].longest_wait_s == 45 * 60
    finally:
        node.stop()


def test_an_empty_day_has_no_points_and_the_api_is_for_supervisors(client, tokens):
    r = client.get("/api/v1/hall/history", headers=auth(tokens["supervisor"]))
    assert r.status_code == 200 and r.json()["points"] == []
    assert client.get("/api/v1/hall/history", headers=auth(tokens["officer"])).status_code == 403
