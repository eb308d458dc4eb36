"""Business days: numbering restarts at the configured local hour, history stays, yesterday's open tickets close."""

from __future__ import annotations

from datetime import UTC, datetime

from edge.auth.principal import Principal
from tests.conftest import FakeClock

KIOSK = Principal("device", "kiosk-1", "kiosk")
OFFICER = Principal("staff", "officer", "officer")


def test_numbering_restarts_at_the_rollover_hour_in_the_station_zone(make_node):
    # Asia/Riyadh is UTC+3; roll-over at 03:00 local = 00:00 UTC.
    clock = FakeClock(datetime(2026, 11, 23, 23, 30, tzinfo=UTC))  # 02:30 local on the 24th: still the 23rd's day
    node = make_node(clock=clock, timezone="Asia/Riyadh", day_rollover_hour=3)
    node.start()
    try:
        late = node.queue.issue("general", KIOSK)
        assert late.number == "A001" and late.business_day.isoformat() == "2026-11-23"
        node.queue.issue("general", KIOSK)
        clock.advance(minutes=31)  # 03:01 local: a new business day
        fresh = node.queue.issue("general", KIOSK)
        assert fresh.number == "A001" and fresh.business_day.isoformat() == "2026-11-24"
        old = node.queue.get(late.id)
        assert old.status == "cancelled", "yesterday's waiting ticket is closed, not called today"
        assert node.store.query_one("SELECT count(*) AS n FROM tickets")["n"] == 3, "history kept"
        expired = node.store.query("SELECT entity_id FROM audit_log WHERE action = 'ticket.expire'")
        assert {e["entity_id"] for e in expired} == {str(late.id), str(late.id + 1)}
        assert [t.number for t in node.queue.tickets_today()] == ["A001"]
        k_yesterday = node.queue.kpis(datetime(2026, 11, 23).date())
        assert k_yesterday.station.issued == 2 and k_yesterday.station.cancelled == 2
    finally:
        node.stop()


def test_a_different_zone_and_hour_move_the_boundary(make_node):
    clock = FakeClock(datetime(2026, 11, 23, 4, 59, tzinfo=UTC))
    node = make_node(clock=clock, timezone="UTC", day_rollover_hour=5)
    node.start()
    try:
        assert node.queue.issue("report", OFFICER).business_day.isoformat() == "2026-11-22"
        clock.advance(minutes=2)
        t = node.queue.issue("report", OFFICER)
        assert t.business_day.isoformat() == "2026-11-23" and t.number == "R001"
    finally:
        node.stop()


def test_a_refused_first_call_of_the_day_does_not_skip_the_expiry(make_node):
    """Found by the queue machine's oracle: the roll-over rolled back with a refused call, yet the day was marked
    done, so yesterday's tickets stayed open for good."""
    from edge.errors import Conflict

    clock = FakeClock(datetime(2026, 11, 23, 20, 0, tzinfo=UTC))
    node = make_node(clock=clock, timezone="UTC", day_rollover_hour=3)
    node.start()
    try:
        yesterday = node.queue.issue("general", KIOSK)
        clock.advance(hours=8)  # 04:00 the next day
        try:
            node.queue.call_next("3", OFFICER)  # counter 3 is closed: refused
            raise AssertionError("a closed counter called")
        except Conflict:
            pass
        node.queue.issue("general", KIOSK)
        assert node.queue.get(yesterday.id).status == "cancelled"
    finally:
        node.stop()
