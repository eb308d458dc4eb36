"""The day's queue as a time series, rebuilt from the tickets' own time stamps (nothing is sampled or typed in).

At each step: how many people were waiting at that instant, the longest of their waits so far, and the mean wait of
the calls made during the step. A transferred visitor waits again in the new service's queue, as in the KPIs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from edge.store import Store
from markaz.clock import iso, parse_iso


@dataclass(frozen=True)
class HistoryPoint:
    at: str
    waiting: int
    longest_wait_s: float
    calls: int
    mean_wait_s: float | None


def series(store: Store, day: date, start: datetime, end: datetime, step: timedelta) -> list[HistoryPoint]:
    """Points every `step` from the first ticket of `day` (on the grid that starts at `start`) to `end`, at most 500."""
    rows = store.query(
        "SELECT queued_at, called_at, ended_at FROM tickets WHERE business_day = ? ORDER BY queued_at",
        [day.isoformat()],
    )
    if not rows:
        return []
    spans = []
    for r in rows:
        queued = parse_iso(r["queued_at"])
        called = parse_iso(r["called_at"]) if r["called_at"] else None
        ended = parse_iso(r["ended_at"]) if r["ended_at"] else None
        left = called or ended  # left the queue: called, or cancelled/transferred before a call
        spans.append((queued, left, called))
    first = spans[0][0]
    t = start + max(0, int((first - start) / step)) * step
    times: list[datetime] = []
    while t < end and len(times) < 499:
        times.append(t)
        t += step
    times.append(end)  # the last point is "now" (or the end of a past day)
    points: list[HistoryPoint] = []
    for t in times:
        waits = [(t - q).total_seconds() for q, left, _ in spans if q <= t and (left is None or left > t)]
        called_now = [(c - q).total_seconds() for q, _, c in spans if c is not None and t - step < c <= t]
        points.append(
            HistoryPoint(
                at=iso(t),
                waiting=len(waits),
                longest_wait_s=round(max(waits), 1) if waits else 0.0,
                calls=len(called_now),
                mean_wait_s=round(sum(called_now) / len(called_now), 1) if called_now else None,
            )
        )
    return points
