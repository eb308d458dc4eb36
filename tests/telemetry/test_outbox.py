"""The outbox on its own: seq survives restarts (even when empty), the size bound drops only old snapshots."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from edge.store import Store
from edge.telemetry.outbox import Outbox
from markaz.cli import app
from markaz.contracts import mqtt as contract

FAULT = contract.DeviceFault(device="kiosk-1", fault="camera_down", state="raised")
SNAPSHOT = contract.QueueSnapshot(business_day="2026-01-01", reason="periodic", services=[])


def test_seq_survives_restart_and_an_empty_outbox(tmp_path):
    store = Store(tmp_path / "edge.sqlite")
    outbox = Outbox(store, "st-1")
    assert [outbox.enqueue("events.device_fault", FAULT) for _ in range(3)] == [1, 2, 3]
    outbox.delete([r.id for r in outbox.pending()])  # all acknowledged: the table is empty
    store.close()
    store = Store(tmp_path / "edge.sqlite")
    outbox = Outbox(store, "st-1")
    assert outbox.enqueue("events.device_fault", FAULT) == 4
    store.close()
    store = Store(tmp_path / "edge.sqlite")  # restart with rows still waiting
    assert Outbox(store, "st-1").enqueue("telemetry.queue", SNAPSHOT) == 5
    assert [r.seq for r in Outbox(store, "st-1").pending()] == [4, 5]
    store.close()


def test_a_rolled_back_transaction_gives_its_seq_again(tmp_path):
    store = Store(tmp_path / "edge.sqlite")
    outbox = Outbox(store, "st-1")
    outbox.enqueue("events.device_fault", FAULT)
    try:
        with store.write():
            outbox.enqueue("events.device_fault", FAULT)
            raise RuntimeError("the command failed")
    except RuntimeError:
        pass
    assert outbox.enqueue("events.device_fault", FAULT) == 2  # no hole for central to mistake for a loss
    store.close()


def test_bound_drops_oldest_snapshots_never_events(tmp_path):
    store = Store(tmp_path / "edge.sqlite")
    outbox = Outbox(store, "st-1", max_rows=100)
    for i in range(300):
        if i % 3 == 0:
            outbox.enqueue("events.device_fault", FAULT)
        else:
            outbox.enqueue("telemetry.queue", SNAPSHOT)
    outbox.announce_drops()
    rows = outbox.pending(limit=1000)
    kinds = [contract.parse_topic(r.topic).key for r in rows]
    assert kinds.count("events.device_fault") == 100  # every event kept
    notices = [json.loads(r.payload)["data"] for r in rows if r.topic.endswith("/events/outbox_dropped")]
    stats = outbox.stats()
    assert stats["dropped_total"] == sum(n["count"] for n in notices) == 200 - kinds.count("telemetry.queue")
    assert len(notices) == 2  # the first drop at once, the rest in one notice: notices must not refill the outbox
    kept = [r.seq for r in rows if r.topic.endswith("/telemetry/queue")]
    faults = [r.seq for r in rows if r.topic.endswith("/events/device_fault")]
    assert len(kept) == 1 and kept[0] > faults[-1]  # the newest snapshot of a topic always stays
    seqs = [r.seq for r in rows]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    missing = set(range(1, max(seqs) + 1)) - set(seqs)
    assert len(missing) == stats["dropped_total"]
    assert all(any(n["first_seq"] <= m <= n["last_seq"] for n in notices) for m in missing)
    store.close()

    result = CliRunner().invoke(app, ["edge", "outbox", "--data", str(tmp_path), "--show", "2"])
    assert result.exit_code == 0, result.output
    assert f"station st-1: {len(rows)} waiting" in result.output
    assert f"snapshots dropped by the size bound: {stats['dropped_total']}" in result.output
    assert result.output.count("markaz/v1/st-1/") == 2


def test_outbox_cli_without_a_database(tmp_path):
    result = CliRunner().invoke(app, ["edge", "outbox", "--data", str(tmp_path / "nowhere")])
    assert result.exit_code == 2


def test_reconnect_backoff_is_exponential_with_full_jitter():
    import random

    from edge.telemetry.link import backoff_delay

    rng = random.Random(7)
    for failures, ceiling in ((0, 0.5), (1, 1.0), (3, 4.0), (7, 60.0), (500, 60.0)):
        delays = [backoff_delay(failures, 0.5, 60.0, rng) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > 0.8 * ceiling and min(delays) < 0.2 * ceiling  # spread over the whole range


def test_rows_the_link_deletes_in_another_process_free_the_bound(tmp_path):
    """The node counts what it enqueues; the link, a process of its own, deletes on PUBACK: the bound must see that."""
    node_store, link_store = Store(tmp_path / "edge.sqlite"), Store(tmp_path / "edge.sqlite")
    node_side, link_side = Outbox(node_store, "st-1", max_rows=100), Outbox(link_store, "st-1", max_rows=100)
    for _ in range(90):
        node_side.enqueue("telemetry.queue", SNAPSHOT)
    link_side.delete([r.id for r in link_side.pending(limit=1000)])  # all acknowledged, over there
    for _ in range(60):
        node_side.enqueue("telemetry.queue", SNAPSHOT)
    assert node_side.stats()["dropped_total"] == 0 and node_side.health().backlog == 60
    node_store.close()
    link_store.close()
