"""Wait estimates follow the call rule: counters, service times and priorities."""

from __future__ import annotations

from datetime import UTC, datetime

from edge.queue.estimate import estimate_waits
from edge.queue.models import CounterLoad, WaitingTicket
from edge.queue.states import TicketStatus
from markaz.clock import parse_iso

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _t(i, service="general", priority=0, minute=0):
    return WaitingTicket(i, service, priority, f"2026-11-23T08:{minute:02d}:00+00:00")


def _counter(code, is_open=True, status=None, service=None, serving_at=None):
    return CounterLoad(
        code, is_open, None if status is None else TicketStatus(status), service, None,
        None if serving_at is None else parse_iso(serving_at),
    )  # fmt: skip


def _links(pairs):
    services_of = {}
    for link in pairs:
        services_of.setdefault(link["counter"], set()).add(link["service"])
    return {k: frozenset(v) for k, v in services_of.items()}


def test_two_free_counters_take_the_first_two_then_share_the_rest():
    waiting = [_t(i, minute=i) for i in range(1, 6)]
    links = [{"counter": "1", "service": "general"}, {"counter": "2", "service": "general"}]
    est = estimate_waits(waiting, [_counter("1"), _counter("2")], _links(links), {"general": 100.0}, NOW, 300)
    assert [est[i] for i in range(1, 6)] == [0, 0, 100, 100, 200]


def test_a_busy_counter_frees_after_the_expected_remainder():
    links = [{"counter": "1", "service": "general"}]
    serving = _counter("1", status="serving", service="general", serving_at="2026-11-23T08:59:00+00:00")
    est = estimate_waits([_t(1)], [serving], _links(links), {"general": 100.0}, NOW, 300)
    assert est[1] == 40.0


def test_priority_goes_first_and_closed_or_missing_counters_give_no_estimate():
    links = [
        {"counter": "1", "service": "general"},
        {"counter": "1", "service": "priority"},
        {"counter": "2", "service": "report"},
    ]
    waiting = [_t(1, minute=1), _t(2, "priority", 10, minute=5), _t(3, "report", minute=0)]
    est = estimate_waits(waiting, [_counter("1"), _counter("2", is_open=False)], _links(links), {}, NOW, 300)
    assert est[2] == 0 and est[1] == 300 and est[3] is None
