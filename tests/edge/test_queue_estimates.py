"""Wait estimates stay current: they move as time passes, follow catalogue changes, and read history by the
queue's own clock (never the database's idea of today)."""

from __future__ import annotations

from datetime import UTC, datetime

from edge.auth.principal import Principal
from edge.queue.catalogue import SAMPLE_CATALOGUE, Catalogue, CounterDef
from tests.conftest import FakeClock

KIOSK = Principal("device", "kiosk-1", "kiosk")
OFFICER = Principal("staff", "officer", "officer")


def _one_counter_serving(node, clock):
    """Counter 1 alone open, serving one visitor; a second visitor waits for it."""
    q = node.queue
    q.set_counter_open("2", False, OFFICER)
    first = q.issue("general", KIOSK)
    q.call_next("1", OFFICER)
    q.start(first.id, OFFICER)
    return q.issue("general", KIOSK)


def test_estimates_fall_as_time_passes_without_any_queue_event(make_node):
    clock = FakeClock()
    node = make_node(clock=clock)
    node.start()
    try:
        waiting = _one_counter_serving(node, clock)
        before = node.queue.with_estimate(node.queue.get(waiting.id)).estimated_wait_s
        assert before == 300, "nothing served yet: the default service time"
        clock.advance(seconds=60)
        assert node.queue.with_estimate(node.queue.get(waiting.id)).estimated_wait_s == 240
        clock.advance(seconds=400)
        assert node.queue.with_estimate(node.queue.get(waiting.id)).estimated_wait_s == 0, "overdue: next any moment"
    finally:
        node.stop()


def test_a_called_visitor_not_yet_started_also_counts_down(make_node):
    clock = FakeClock()
    node = make_node(clock=clock)
    node.start()
    try:
        q = node.queue
        q.set_counter_open("2", False, OFFICER)
        q.issue("general", KIOSK)
        q.call_next("1", OFFICER)
        waiting = q.issue("general", KIOSK)
        assert q.with_estimate(waiting).estimated_wait_s == 300
        clock.advance(seconds=100)
        assert q.with_estimate(waiting).estimated_wait_s == 200
    finally:
        node.stop()


def test_a_catalogue_change_renews_the_estimates(make_node):
    clock = FakeClock()
    node = make_node(clock=clock)
    node.start()
    try:
        waiting = _one_counter_serving(node, clock)
        assert node.queue.with_estimate(waiting).estimated_wait_s == 300
        extra = CounterDef(code="9", services=["general"], open=True)
        changed = node.queue.apply_catalogue(
            Catalogue(services=SAMPLE_CATALOGUE.services, counters=[*SAMPLE_CATALOGUE.counters, extra])
        )
        assert changed
        assert node.queue.with_estimate(waiting).estimated_wait_s == 0, "the new open counter 9 is free now"
    finally:
        node.stop()


def test_service_times_are_read_by_the_queue_clock(make_node, tmp_path):
    # A station whose clock is years behind the machine's: history of "the last days" is the queue's days.
    clock = FakeClock(datetime(2020, 3, 2, 9, 0, tzinfo=UTC))
    data = tmp_path / "station"
    node = make_node(clock=clock, data_dir=data, queue={"service_time_window": 2})
    node.start()
    q = node.queue
    q.set_counter_open("2", False, OFFICER)
    for _ in range(2):
        t = q.issue("general", KIOSK)
        q.call_next("1", OFFICER)
        q.start(t.id, OFFICER)
        clock.advance(seconds=100)
        q.finish(t.id, OFFICER)
    node.stop()

    restarted = make_node(clock=clock, data_dir=data, queue={"service_time_window": 2})
    restarted.start()
    try:
        assert round(restarted.queue.service_times.means()["general"], 3) == 100.0, "loaded from the station's own days"
    finally:
        restarted.stop()


def test_putting_the_catalogue_announces_a_queue_change(client, node, tokens):
    from tests.conftest import auth

    seen: list[dict] = []
    node.events.subscribe("queue.changed", lambda kind, payload: seen.append(payload))
    body = SAMPLE_CATALOGUE.model_dump()
    body["services"][0]["target_wait_s"] = 1234
    r = client.put("/api/v1/catalogue", json=body, headers=auth(tokens["supervisor"]))
    assert r.status_code == 200, r.text
    assert seen == [{"ticket": None, "status": None}], "displays, estimates and telemetry must hear of it"
    assert client.put("/api/v1/catalogue", json=body, headers=auth(tokens["supervisor"])).status_code == 200
    assert len(seen) == 1, "nothing changed the second time: nothing announced"
