"""Queue KPIs for a business day, per service and for the station, computed from the tickets themselves.

Waits run from entering a service's queue (issue, or transfer in) to the first call; service time from start to
finish. So a transferred visitor's time at the first service is not counted twice."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from edge.queue.models import Kpis, ServiceKpis, StationKpis
from edge.queue.states import TicketStatus
from edge.settings import EdgeSettings
from edge.store import Store
from edge.store.db import fetch_all
from markaz import measures
from markaz.clock import parse_iso

# One definition of each measure, shared with central's comparison of stations (markaz/measures.py).
_p90, _mean, _r = measures.p90, measures.mean, measures.rounded


def _summarise(
    rows: list[dict[str, Any]], targets: dict[str, int], now: datetime, counters_open: int
) -> dict[str, Any]:
    """The fields of KpiFigures for these ticket rows."""
    waits: list[float] = []
    targeted: list[tuple[float, float | None]] = []
    service_times: list[float] = []
    waiting_for: list[float] = []
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
            targeted.append((wait, targets.get(t["service"], 0)))
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
        "within_target_share": measures.within_target_share(targeted),
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


def day_waits(store: Store, day: date) -> list[dict[str, Any]]:
    """Per active service, the day's raw figures the KPIs are computed from: every called ticket's wait (in order of
    queue entry), served and no-shows, and the target. Central recomputes the KPIs of any period from these."""
    db = store.read()
    db.conn.execute("BEGIN")
    try:
        services = fetch_all(db.conn, "SELECT code, target_wait_s, active FROM services ORDER BY code")
        rows = fetch_all(
            db.conn,
            "SELECT service, status, queued_at, called_at FROM tickets WHERE business_day = ? ORDER BY queued_at, id",
            [day.isoformat()],
        )
    finally:
        db.conn.execute("COMMIT")
    out = {s["code"]: {"service": s["code"], "target_wait_s": s["target_wait_s"], "waits_s": [], "served": 0,
                       "no_shows": 0} for s in services}  # fmt: skip
    for t in rows:
        entry = out[t["service"]]
        if t["called_at"]:
            entry["waits_s"].append((parse_iso(t["called_at"]) - parse_iso(t["queued_at"])).total_seconds())
        entry["served"] += t["status"] == TicketStatus.DONE
        entry["no_shows"] += t["status"] == TicketStatus.NO_SHOW
    active = {s["code"] for s in services if s["active"]}
    # an inactive service only with tickets of the day (the station's KPIs count them, its per-service list not)
    return [e for code, e in out.items() if code in active or e["waits_s"] or e["served"] or e["no_shows"]]
