"""The display's view: calls now with the counter that actually called, the last calls, waiting per service, hours."""

from __future__ import annotations

from datetime import UTC, datetime, time

from edge.auth.principal import Principal
from edge.hall.hours import is_open
from edge.hall.settings import HallSettings, Weekday
from tests.conftest import FakeClock

OFFICER = Principal("staff", "officer", "officer")


def test_now_calling_shows_the_counter_that_called_and_earlier_calls_follow(make_node):
    clock = FakeClock()
    node = make_node(clock=clock, hall={"recent_calls": 2})
    node.start()
    try:
        a, b, c, d = (node.queue.issue(s, OFFICER) for s in ("general", "general", "report", "follow-up"))
        node.queue.call_next("2", OFFICER)  # a at 2
        clock.advance(seconds=5)
        node.queue.start(a.id, OFFICER)
        node.queue.call_next("1", OFFICER)  # b at 1
        clock.advance(seconds=5)
        node.queue.start(b.id, OFFICER)
        node.queue.call_next("2", OFFICER)  # finishes a, calls c at 2
        clock.advance(seconds=5)
        node.queue.start(c.id, OFFICER)
        node.queue.call_next("1", OFFICER)  # finishes b, calls d at 1
        view = node.hall.display_view()
        assert [(x.number, x.counter) for x in view.now] == [(d.number, "1")]
        assert [(x.number, x.counter) for x in view.recent] == [(c.number, "2"), (b.number, "1")]  # 2 of 3
        waiting = {w.service: w.waiting for w in view.waiting}
        assert set(waiting) == {s.code for s in node.queue.services() if s.active} and not any(waiting.values())
        node.queue.issue("report", OFFICER)
        assert {w.service: w.waiting for w in node.hall.display_view().waiting}["report"] == 1
        assert view.open is True and view.announcements.last_seq == 4
    finally:
        node.stop()


def test_the_display_is_closed_outside_opening_hours(make_node):
    # Riyadh is UTC+3: 2026-11-23 is a Monday
    clock = FakeClock(datetime(2026, 11, 23, 4, 0, tzinfo=UTC))  # 07:00 local
    node = make_node(
        clock=clock, hall={"opens_at": "07:30", "closes_at": "14:30", "open_days": ["sun", "mon", "tue", "wed", "thu"]}
    )
    node.start()
    try:
        assert node.hall.display_view().open is False
        clock.advance(minutes=30)
        assert node.hall.display_view().open is True
        clock.advance(hours=7)  # 14:30
        assert node.hall.display_view().open is False
    finally:
        node.stop()


def test_opening_days_follow_the_station_calendar():
    from zoneinfo import ZoneInfo

    riyadh = ZoneInfo("Asia/Riyadh")
    week = HallSettings(open_days=[Weekday.SUN, Weekday.MON], opens_at=time(8), closes_at=time(12))
    friday_morning = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)  # 09:00 Friday in Riyadh
    assert is_open(week, friday_morning, riyadh) is False
    sunday_morning = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)
    assert is_open(week, sunday_morning, riyadh) is True
    assert is_open(HallSettings(), friday_morning, riyadh) is True  # no hours configured: always open


def test_bad_hours_are_refused_at_start():
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="closes_at must be later"):
        HallSettings(opens_at=time(14), closes_at=time(8))
    with pytest.raises(ValidationError, match="no phrasing for languages"):
        HallSettings(languages=["fr"])
