"""Comparison of stations over a period (business days, inclusive) and a service: served, mean and p90 wait, share
served within target, no-show rate, verification match rate, report SLA compliance; ranked, the best marked.

Computed from the stored telemetry with the edge's own definitions (`markaz/measures.py`): each station's
`telemetry.queue_day` carries every called ticket's wait of a day, so a period's p90 is the p90 of all its waits,
never an average of daily figures. For each day the newest message is used (the store keeps it in `daily`), read
rolled up per service with its waits packed (`central.queue_days`).
Verification counters are the station's, not a service's; report SLA compliance is read from the period's last
report counts (by their UTC date).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

import numpy as np
from pydantic import BaseModel

from central import queue_days
from central.store import CentralStore
from markaz import measures


class Period(StrEnum):
    """The periods the comparison page offers (custom: from and to dates)."""

    TODAY = "today"
    YESTERDAY = "yesterday"
    LAST_7 = "7d"
    LAST_30 = "30d"
    CUSTOM = "custom"


@dataclass(frozen=True)
class Measure:
    name: str
    higher_is_better: bool
    label: str


MEASURES: tuple[Measure, ...] = (
    Measure("served", True, "served"),
    Measure("mean_wait_s", False, "mean wait (s)"),
    Measure("p90_wait_s", False, "p90 wait (s)"),
    Measure("within_target_share", True, "served within target"),
    Measure("no_show_rate", False, "no-show rate"),
    Measure("match_rate", True, "verification match rate"),
    Measure("sla_compliance", True, "report SLA compliance"),
)
BY_NAME = {m.name: m for m in MEASURES}


class StationFigures(BaseModel):
    station: str
    rank: int | None = None  # by the ranking measure; None when the station has no figure for it
    days: int  # business days of the period with queue figures
    served: int
    no_shows: int
    called: int  # tickets with a wait (called at least once)
    mean_wait_s: float | None
    p90_wait_s: float | None
    within_target_share: float | None
    no_show_rate: float | None
    match_rate: float | None
    sla_compliance: float | None
    best: list[str] = []  # the measures this station is best at (ties: all of them)


class Comparison(BaseModel):
    period_from: date
    period_to: date
    service: str | None
    rank_by: str
    stations: list[StationFigures]


class ComparisonError(ValueError):
    pass


def _daily(store: CentralStore, channel: str, start: date, end: date) -> list[dict[str, Any]]:
    return store.query(
        "SELECT station, business_day, data FROM daily WHERE channel = ? AND business_day >= ? AND business_day <= ?",
        (channel, start.isoformat(), end.isoformat()),
    )


def compare(
    store: CentralStore, start: date, end: date, service: str | None = None, rank_by: str = "within_target_share"
) -> Comparison:
    """Every station with figures in the period, ranked by `rank_by` (best first), the best of each measure marked."""
    if end < start:
        raise ComparisonError("the period ends before it begins")
    if rank_by not in BY_NAME:
        raise ComparisonError(f"rank_by must be one of {', '.join(BY_NAME)}")
    days = queue_days.days(store, start, end)
    figures: dict[str, list[queue_days.DayFigures]] = {}
    for f in queue_days.service_days(store, start, end, service):
        figures.setdefault(f.station, []).append(f)
    verification: dict[str, list[int]] = {}
    for row in _daily(store, "telemetry.verification", start, end):
        c = json.loads(row["data"])
        totals = verification.setdefault(row["station"], [0, 0, 0])
        for i, key in enumerate(("match", "no_match", "spoof")):
            totals[i] += c[key]
    reports: dict[str, tuple[str, dict[str, Any]]] = {}
    for row in _daily(store, "telemetry.reports", start, end):
        if row["station"] not in reports or row["business_day"] > reports[row["station"]][0]:
            reports[row["station"]] = (row["business_day"], json.loads(row["data"]))

    out = []
    for st in sorted(set(days) | set(verification) | set(reports)):
        mine = figures.get(st, [])
        waits = np.concatenate([f.waits for f in mine]) if mine else np.empty(0)
        served, no_shows = sum(f.served for f in mine), sum(f.no_shows for f in mine)
        sla = None
        if st in reports:
            counts = reports[st][1]
            open_reports = sum(r["count"] for r in counts["by_type_state"] if r["state"] != "closed")
            sla = measures.sla_compliance(open_reports, counts["sla_breaches"])
        out.append(
            StationFigures(
                station=st,
                days=days.get(st, 0),
                served=served,
                no_shows=no_shows,
                called=len(waits),
                mean_wait_s=measures.rounded(measures.mean(waits.tolist())),
                p90_wait_s=measures.rounded(measures.p90_selected(waits)),
                within_target_share=measures.share(sum(f.within_target for f in mine), len(waits)),
                no_show_rate=measures.no_show_rate(served, no_shows),
                match_rate=measures.match_rate(*verification[st]) if st in verification else None,
                sla_compliance=sla,
            )
        )
    _mark_best(out)
    ranked = _rank(out, BY_NAME[rank_by])
    return Comparison(period_from=start, period_to=end, service=service, rank_by=rank_by, stations=ranked)


def _key(measure: Measure) -> Callable[[StationFigures], float]:
    sign = -1 if measure.higher_is_better else 1
    return lambda s: sign * float(getattr(s, measure.name))


def _mark_best(stations: list[StationFigures]) -> None:
    for m in MEASURES:
        having = [s for s in stations if getattr(s, m.name) is not None]
        if m.name == "served":
            having = [s for s in having if s.days]
        if not having:
            continue
        best = min(_key(m)(s) for s in having)
        for s in having:
            if _key(m)(s) == best:
                s.best.append(m.name)


def _rank(stations: list[StationFigures], measure: Measure) -> list[StationFigures]:
    """Best first; equal figures share a rank (1, 2, 2, 4); stations without the figure last, unranked."""
    having = sorted(
        (s for s in stations if getattr(s, measure.name) is not None), key=lambda s: (_key(measure)(s), s.station)
    )
    rest = [s for s in stations if getattr(s, measure.name) is None]
    previous, rank = None, 0
    for i, s in enumerate(having, 1):
        value = _key(measure)(s)
        if value != previous:
            rank, previous = i, value
        s.rank = rank
    return having + rest


CSV_COLUMNS = ("rank", "station", "days", "served", "no_shows", "called", *[m.name for m in MEASURES[1:]], "best")


def to_csv(comparison: Comparison) -> str:
    """One row per station in rank order; empty cells where a station has no figure; `best` lists measures."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for s in comparison.stations:
        row = s.model_dump()
        writer.writerow(["" if row[c] is None else (" ".join(row[c]) if c == "best" else row[c]) for c in CSV_COLUMNS])
    return buffer.getvalue()


def services_in(store: CentralStore, start: date, end: date) -> list[str]:
    """The services any station reported in the period (the comparison page's choice of service)."""
    return queue_days.services(store, start, end)
