"""Queue KPIs for a business day, per service and for the station, computed from the tickets themselves.

Waits run from entering a service's queue (issue, or transfer in) to the first call; service time from start to
finish. So a transferred visitor's time at the first service is not counted twice."""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

from edge.queue.models import Kpis, ServiceKpis, StationKpis
from edge.queue.states import TicketStatus
from edge.settings import EdgeSettings
from edge.store import Store
from edge.store.db import fetch_all
from markaz.clock import parse_iso


def _p90(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]  # nearest-rank


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _summarise(
    rows: list[dict[str, Any]], targets: dict[str, int], now: datetime, counters_open: int
) -> dict[str, Any]:
    """The fields of KpiFigures for these ticket rows."""
    waits: list[float] = []
    service_times: list[float] = []
    waiting_for: list[float] = []
    within = 0
    counts = dict.fromkeys(TicketStatus, 0)
    issued = 0
    for t in rows:
        counts[TicketStatus(t["status"])] += 1
        if t["transferred_from"] is None:
            issued += 1
        queued = parse_iso(t["queued_at"])
        if t["status"] == TicketStatus.WAITING:
            # `now` was read before the rows: a ticket issued in between must not show a negative wait.
            waiting_for.append(max(0.0, (now - queued).total_seconds()))
        if t["called_at"]:
            wait = (parse_iso(t["called_at"]) - queued).total_seconds()
            waits.append(wait)
            within += wait <= targets.get(t["service"], 0)
        if t["status"] == TicketStatus.DONE and t["serving_at"] and t["ended_at"]:
            service_times.append((parse_iso(t["ended_at"]) - parse_iso(t["serving_at"])).total_seconds())
    return {
        "issued": issued,
        "waiting": counts[TicketStatus.WAITING],
        "called": counts[TicketStatus.CALLED],
        "serving": counts[TicketStatus.SERVING],
        "served": counts[TicketStatus.DONE],
        "no_shows": counts[TicketStatus.NO_SHOW],
        "transferred_out": counts[TicketStatus.TRANSFERRED],
        "cancelled": counts[TicketStatus.CANCELLED],
        "longest_wait_s": _r(max(waiting_for)) if waiting_for else 0.0,
        "mean_wait_s": _r(_mean(waits)),
        "p90_wait_s": _r(_p90(waits)),
        "mean_service_s": _r(_mean(service_times)),
        "within_target_share": round(within / len(waits), 4) if waits else None,
        "counters_open": counters_open,
    }


def compute(store: Store, day: date, now: datetime, settings: EdgeSettings) -> Kpis:
    db = store.read()
    db.conn.execute("BEGIN")  # one consistent view of the catalogue, the tickets and the counters
    try:
        services = fetch_all(
            db.conn, "SELECT code, name_en, name_ar, target_wait_s FROM services WHERE active = 1 ORDER BY code"
        )
        rows = fetch_all(
            db.conn,
            "SELECT service, status, queued_at, called_at, serving_at, ended_at, transferred_from FROM tickets "
            "WHERE business_day = ?",
            [day.isoformat()],
        )
        open_links = fetch_all(
            db.conn,
            "SELECT cs.service, cs.counter FROM counter_services cs JOIN counters c ON c.code = cs.counter "
            "WHERE c.is_open = 1",
        )
        open_total = db.conn.execute("SELECT count(*) FROM counters WHERE is_open = 1").fetchone()[0]
    finally:
        db.conn.execute("COMMIT")
    targets = {s["code"]: s["target_wait_s"] for s in services}
    by_service: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_service.setdefault(r["service"], []).append(r)
    per_service = []
    for s in services:
        opened = len({link["counter"] for link in open_links if link["service"] == s["code"]})
        per_service.append(
            ServiceKpis(
                service=s["code"],
                name_en=s["name_en"],
                name_ar=s["name_ar"],
                target_wait_s=s["target_wait_s"],
                **_summarise(by_service.get(s["code"], []), targets, now, opened),
            )
        )
    return Kpis(
        business_day=day,
        generated_at=now,
        timezone=settings.timezone,
        station=StationKpis(station_id=settings.station_id, **_summarise(rows, targets, now, open_total)),
        services=per_service,
    )
