"""Retention of the time series: raw queue, device and verification snapshots are rolled up per 5 minutes and per
hour, then pruned after a configured time; the rollups are kept longer and pruned in turn. Events are not pruned here.

Rolling up is additive and counts each raw row once, by when central received it (`received_at` up to a watermark),
so the backlog a station drains after a WAN outage still lands in the buckets of its own timestamps. Raw rows are
pruned only once both rollups have counted them.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from central.store import CentralStore
from markaz.clock import iso, parse_iso, utcnow

BUCKETS = (300, 3600)
RAW_SCHEMAS = ("markaz.telemetry.queue/1", "markaz.telemetry.devices/1", "markaz.telemetry.verification/1")
VERIFICATION_OUTCOMES = ("match", "no_match", "retry", "spoof")
SETTLE = timedelta(seconds=60)  # rows received this recently may still be committing on another worker


@dataclass(frozen=True)
class RetentionPolicy:
    raw: timedelta = timedelta(days=7)
    five_minutes: timedelta = timedelta(days=90)
    hourly: timedelta = timedelta(days=730)


@dataclass(frozen=True)
class RetentionRun:
    rolled_up: int  # raw rows counted (per bucket size, summed)
    raw_pruned: int
    rollups_pruned: int


def bucket_start(ts: str, size: int) -> str:
    t = parse_iso(ts).astimezone(UTC)
    return iso(datetime.fromtimestamp(t.timestamp() // size * size, UTC))


def samples(schema: str, data: dict[str, Any]) -> list[tuple[str, str, float]]:
    """(series, key, value) of one raw snapshot."""
    if schema == RAW_SCHEMAS[0]:
        out = []
        for s in data["services"]:
            out += [
                ("queue.waiting", s["service"], float(s["waiting"])),
                ("queue.longest_wait_s", s["service"], float(s["longest_wait_s"])),
                ("queue.served", s["service"], float(s["served"])),
            ]
        return out
    if schema == RAW_SCHEMAS[2]:  # counters of the business day: a bucket's max is the day's count at its end
        return [(f"verification.{o}", "all", float(data[o])) for o in VERIFICATION_OUTCOMES]
    return [
        ("device.online", data["device"], 1.0 if data["online"] else 0.0),
        ("device.faults", data["device"], float(len(data.get("faults") or []))),
    ]


def roll_up(store: CentralStore, now: datetime | None = None, settle: timedelta = SETTLE) -> int:
    """Add the raw snapshots received since the last run to both rollups; the number of (row, bucket size) counted.
    The watermark only moves forward, so a run with an earlier clock counts nothing twice."""
    until = iso((now or utcnow()) - settle)
    counted = 0
    marks = ",".join("?" * len(RAW_SCHEMAS))
    for size in BUCKETS:
        with store.db.transaction() as tx:
            row = tx.execute(
                "SELECT counted_until FROM rollup_state WHERE bucket_s = ?" + store.db.lock_row, (size,)
            ).fetchone()
            since = row[0] if row else ""
            if until <= since:
                continue
            rows = tx.execute(
                f"SELECT station, schema, ts, data FROM messages WHERE schema IN ({marks}) "
                "AND received_at >= ? AND received_at < ?",
                (*RAW_SCHEMAS, since, until),
            ).fetchall()
            sums: dict[tuple[str, str, str, str], list[float]] = defaultdict(lambda: [0, 0.0, float("-inf")])
            for station, schema, ts, data in rows:
                for series, key, value in samples(schema, json.loads(data)):
                    acc = sums[(station, series, key, bucket_start(ts, size))]
                    acc[0] += 1
                    acc[1] += value
                    acc[2] = max(acc[2], value)
            for (station, series, key, start), (n, total, peak) in sums.items():
                tx.execute(
                    "INSERT INTO rollups (station, series, key, bucket_s, bucket_start, samples, value_sum, value_max) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (station, series, key, bucket_s, bucket_start) "
                    "DO UPDATE SET samples = rollups.samples + excluded.samples, "
                    "value_sum = rollups.value_sum + excluded.value_sum, "
                    "value_max = CASE WHEN rollups.value_max > excluded.value_max THEN rollups.value_max "
                    "ELSE excluded.value_max END",
                    (station, series, key, size, start, int(n), total, peak),
                )
            tx.execute(
                "INSERT INTO rollup_state (bucket_s, counted_until) VALUES (?, ?) "
                "ON CONFLICT (bucket_s) DO UPDATE SET counted_until = excluded.counted_until",
                (size, until),
            )
            counted += len(rows)
    return counted


def prune(store: CentralStore, policy: RetentionPolicy, now: datetime | None = None) -> tuple[int, int]:
    """Delete raw snapshots older than policy.raw (only those both rollups counted) and rollups past their time."""
    now = now or utcnow()
    marks = ",".join("?" * len(RAW_SCHEMAS))
    with store.db.transaction() as tx:
        marks_rows = tx.execute("SELECT counted_until FROM rollup_state").fetchall()
        counted = min((r[0] for r in marks_rows), default="") if len(marks_rows) == len(BUCKETS) else ""
        raw = tx.execute(
            f"DELETE FROM messages WHERE schema IN ({marks}) AND ts < ? AND received_at < ?",
            (*RAW_SCHEMAS, iso(now - policy.raw), counted),
        ).rowcount
        rolled = 0
        for size, keep in ((300, policy.five_minutes), (3600, policy.hourly)):
            rolled += tx.execute(
                "DELETE FROM rollups WHERE bucket_s = ? AND bucket_start < ?", (size, iso(now - keep))
            ).rowcount
    return raw, rolled


def run_retention(store: CentralStore, policy: RetentionPolicy, now: datetime | None = None) -> RetentionRun:
    """One retention job: roll up what arrived (by central's clock), then prune by `now` (the clock by default)."""
    counted = roll_up(store)
    raw, rolled = prune(store, policy, now)
    return RetentionRun(counted, raw, rolled)
