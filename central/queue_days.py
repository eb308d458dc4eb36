"""Each station's queue day per service, rolled up for the comparison of stations from the newest
`telemetry.queue_day` of the day (the store's `daily` row): the counts, the waits within target (by
`measures.within_target`) and the waits themselves as packed float64s. A week of 500 stations is about a million waits:
read as JSON that is most of a second of parsing, read packed it is a copy.

Rolled up when read (`refresh`, called by every reader here): a `daily` row of the period whose seq is not the one
rolled up (new, or replaced by a newer message of the same day) is rolled up first, so the figures are never older
than `daily`, the ingest does no extra work, and a store from before these tables fills them on its first
comparison. Only `queue_days` and `queue_day_services` are written (never `daily`, never a station's row), so a
refresh takes no lock the ingest holds; two refreshes at once write the same rows (upserts), and one that read an
older `daily` row than the other leaves a seq that differs, redone on the next read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
from numpy.typing import NDArray

from central.store import CentralStore
from markaz import measures
from markaz.contracts import mqtt as contract

WAIT = np.dtype("<f8")  # one wait in seconds, as packed: little-endian float64, the same value JSON carried


@dataclass(frozen=True)
class DayFigures:
    """One station's figures of one service on one business day."""

    station: str
    business_day: str
    service: str
    served: int
    no_shows: int
    called: int
    within_target: int
    waits: NDArray[np.float64]


def _period(start: date, end: date) -> tuple[str, str]:
    return start.isoformat(), end.isoformat()


def refresh(store: CentralStore, start: date, end: date) -> int:
    """Roll up the period's days whose `daily` row is not the one rolled up; how many days were rolled up."""
    stale = store.query(
        "SELECT d.station, d.business_day, d.seq, d.data FROM daily d LEFT JOIN queue_days q "
        "ON q.station = d.station AND q.business_day = d.business_day "
        "WHERE d.channel = 'telemetry.queue_day' AND d.business_day >= ? AND d.business_day <= ? "
        "AND (q.seq IS NULL OR q.seq <> d.seq) ORDER BY d.station, d.business_day",
        _period(start, end),
    )
    if not stale:
        return 0
    services: list[tuple[Any, ...]] = []
    for row in stale:
        for position, s in enumerate(contract.QueueDay.model_validate_json(row["data"]).services):
            services.append((
                row["station"], row["business_day"], s.service, position, s.target_wait_s, s.served, s.no_shows,
                len(s.waits_s), measures.within_target_count(s.waits_s, s.target_wait_s),
                np.asarray(s.waits_s, dtype=WAIT).tobytes(),
            ))  # fmt: skip
    with store.db.transaction() as tx:
        tx.executemany(
            "DELETE FROM queue_day_services WHERE station = ? AND business_day = ?",
            [(r["station"], r["business_day"]) for r in stale],
        )
        if services:
            tx.executemany(
                "INSERT INTO queue_day_services (station, business_day, service, position, target_wait_s, served, "
                "no_shows, called, within_target, waits) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (station, business_day, service) DO UPDATE SET position = excluded.position, "
                "target_wait_s = excluded.target_wait_s, served = excluded.served, no_shows = excluded.no_shows, "
                "called = excluded.called, within_target = excluded.within_target, waits = excluded.waits",
                services,
            )
        tx.executemany(
            "INSERT INTO queue_days (station, business_day, seq) VALUES (?, ?, ?) "
            "ON CONFLICT (station, business_day) DO UPDATE SET seq = excluded.seq",
            [(r["station"], r["business_day"], r["seq"]) for r in stale],
        )
    return len(stale)


def days(store: CentralStore, start: date, end: date) -> dict[str, int]:
    """Per station, the business days of the period with queue figures (a day without services counts)."""
    refresh(store, start, end)
    rows = store.query(
        "SELECT station, count(*) AS n FROM queue_days WHERE business_day >= ? AND business_day <= ? GROUP BY station",
        _period(start, end),
    )
    return {r["station"]: int(r["n"]) for r in rows}


def service_days(store: CentralStore, start: date, end: date, service: str | None = None) -> list[DayFigures]:
    """The period's figures per station, day and service (`service`: that one only), in the order the stations sent
    them (by day, then as listed in the day's message). Call `refresh` (or `days`) first."""
    rows = store.query(
        "SELECT station, business_day, service, served, no_shows, called, within_target, waits "
        "FROM queue_day_services WHERE business_day >= ? AND business_day <= ?"
        + (" AND service = ?" if service is not None else "")
        + " ORDER BY station, business_day, position",
        (*_period(start, end), *((service,) if service is not None else ())),
    )
    return [
        DayFigures(
            r["station"],
            r["business_day"],
            r["service"],
            int(r["served"]),
            int(r["no_shows"]),
            int(r["called"]),
            int(r["within_target"]),
            np.frombuffer(bytes(r["waits"]), dtype=WAIT),
        )
        for r in rows
    ]


def services(store: CentralStore, start: date, end: date) -> list[str]:
    """The services any station reported in the period."""
    refresh(store, start, end)
    rows = store.query(
        "SELECT DISTINCT service FROM queue_day_services WHERE business_day >= ? AND business_day <= ? ORDER BY service",
        _period(start, end),
    )
    return [r["service"] for r in rows]
