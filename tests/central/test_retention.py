"""Retention on both backends: raw snapshots rolled up per 5 minutes and per hour (each counted once, late ones
too), raw rows pruned after their time only once counted, rollups pruned after theirs; events never pruned here."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

from central.ingest import Ingest
from central.retention import RetentionPolicy, prune, roll_up, run_retention
from markaz.clock import iso, utcnow

T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


def _queue(seq: int, ts: datetime, waiting: int, longest: float) -> bytes:
    return json.dumps(
        {
            "schema": "markaz.telemetry.queue/1",
            "station": "st-1",
            "seq": seq,
            "ts": ts.isoformat(),
            "data": {
                "business_day": ts.date().isoformat(),
                "reason": "periodic",
                "services": [
                    {
                        "service": "passports",
                        "waiting": waiting,
                        "longest_wait_s": longest,
                        "served": seq,
                        "counters_open": 1,
                    }
                ],
            },
        }
    ).encode()


def _fault(seq: int, ts: datetime) -> bytes:
    return json.dumps(
        {
            "schema": "markaz.events.device_fault/1",
            "station": "st-1",
            "seq": seq,
            "ts": ts.isoformat(),
            "data": {"device": "k1", "fault": "printer_error", "state": "raised"},
        }
    ).encode()


def _settled(store) -> datetime:
    """A clock reading later (at central's millisecond precision) than every row received so far."""
    last = store.query("SELECT max(received_at) AS t FROM messages")[0]["t"] or ""
    while iso(utcnow()) <= last:
        time.sleep(0.001)
    return utcnow()


def _rollup(store, size, series="queue.waiting"):
    return [
        (r["bucket_start"], r["samples"], r["value_sum"], r["value_max"])
        for r in store.query(
            "SELECT bucket_start, samples, value_sum, value_max FROM rollups WHERE series = ? AND bucket_s = ? "
            "ORDER BY bucket_start",
            (series, size),
        )
    ]


def test_rollups_count_each_snapshot_once_and_prune_by_age(open_store):
    store = open_store()
    ingest = Ingest(store, "mqtts://127.0.0.1:1", None, None, None)
    # 10:00, 10:02, 10:07 and 11:01 on day 0; an event at 10:03
    ingest.handle("markaz/v1/st-1/telemetry/queue", _queue(1, T0, 2, 30))
    ingest.handle("markaz/v1/st-1/telemetry/queue", _queue(2, T0 + timedelta(minutes=2), 4, 90))
    ingest.handle("markaz/v1/st-1/events/device_fault", _fault(3, T0 + timedelta(minutes=3)))
    ingest.handle("markaz/v1/st-1/telemetry/queue", _queue(4, T0 + timedelta(minutes=7), 6, 10))
    ingest.handle("markaz/v1/st-1/telemetry/queue", _queue(5, T0 + timedelta(minutes=61), 1, 5))
    now = _settled(store)
    assert roll_up(store, now, settle=timedelta(0)) == 8  # 4 snapshots, each in both rollups
    assert roll_up(store, now, settle=timedelta(0)) == 0  # counted once: running again adds nothing
    assert roll_up(store, now - timedelta(hours=1), settle=timedelta(0)) == 0  # nor with an earlier clock
    assert _rollup(store, 300) == [
        (iso(T0), 2, 6.0, 4.0),
        (iso(T0 + timedelta(minutes=5)), 1, 6.0, 6.0),
        (iso(T0 + timedelta(minutes=60)), 1, 1.0, 1.0),
    ]
    assert _rollup(store, 3600) == [(iso(T0), 3, 12.0, 6.0), (iso(T0 + timedelta(hours=1)), 1, 1.0, 1.0)]
    assert _rollup(store, 3600, "queue.longest_wait_s")[0] == (iso(T0), 3, 130.0, 90.0)

    # a late snapshot (a backlog after a WAN outage) adds to the bucket of its own time
    ingest.handle("markaz/v1/st-1/telemetry/queue", _queue(6, T0 + timedelta(minutes=4), 10, 1))
    assert roll_up(store, _settled(store), settle=timedelta(0)) == 2
    assert _rollup(store, 300)[0] == (iso(T0), 3, 16.0, 10.0)

    policy = RetentionPolicy(raw=timedelta(days=7), five_minutes=timedelta(days=30), hourly=timedelta(days=365))
    # within the raw time nothing goes; 8 days on the raw snapshots go (the event stays), rollups stay
    assert prune(store, policy, T0 + timedelta(days=6)) == (0, 0)
    assert prune(store, policy, T0 + timedelta(days=8)) == (5, 0)
    left = store.query("SELECT schema FROM messages")
    assert [r["schema"] for r in left] == ["markaz.events.device_fault/1"]
    assert len(_rollup(store, 300)) == 3 and len(_rollup(store, 3600)) == 2
    # after 31 days the 5-minute rollups go (3 buckets x 3 queue series), the hourly ones stay a year
    run = run_retention(store, policy, T0 + timedelta(days=31))
    assert (run.raw_pruned, run.rollups_pruned) == (0, 9)
    assert _rollup(store, 300) == [] and len(_rollup(store, 3600)) == 2
    assert prune(store, policy, T0 + timedelta(days=366))[1] == 6
    # dedupe still holds for what was pruned: the station's counters are unchanged
    assert store.stations()[0]["max_seq"] == 6


def test_raw_rows_not_yet_rolled_up_are_never_pruned(open_store):
    store = open_store()
    ingest = Ingest(store, "mqtts://127.0.0.1:1", None, None, None)
    ingest.handle("markaz/v1/st-1/telemetry/queue", _queue(1, T0, 2, 30))
    policy = RetentionPolicy(raw=timedelta(days=1))
    assert prune(store, policy, T0 + timedelta(days=400)) == (0, 0)  # no rollup ran yet
    assert store.query("SELECT count(*) AS n FROM messages")[0]["n"] == 1
    assert roll_up(store, _settled(store), settle=timedelta(0)) == 2
    assert prune(store, policy, utcnow() + timedelta(days=400)) == (1, 6)  # and the rollups, long past too


def test_retention_command(central_db):
    from typer.testing import CliRunner

    from markaz.cli import app

    run = CliRunner().invoke
    ok = run(app, ["central", "retention", "--db", central_db])
    assert ok.exit_code == 0, ok.output
    assert "rolled up 0, pruned 0 raw snapshots and 0 rollups" in ok.output
    assert run(app, ["central", "retention", "--db", central_db, "--raw-days", "0"]).exit_code == 2
