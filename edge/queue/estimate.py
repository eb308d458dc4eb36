"""Estimated waits: replay the call rule forward in time with recent service times (method in docs/queue.md).

Each open counter becomes free when its current visitor is expected to finish; the counter that frees first takes
the next ticket it would really call (priority, then arrival, among its own services). A ticket's estimate is the
moment a counter takes it. Services with no open counter get no estimate (None): nobody can say."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from markaz.clock import parse_iso
from edge.store import Store


def recent_service_times(store: Store, window: int, default_s: float, days: int = 7) -> dict[str, float]:
    """Mean of each service's last `window` completed services (start to finish) over the last `days` days."""
    rows = store.query(
        "SELECT service, AVG(d) AS mean_s, COUNT(*) AS n FROM ("
        "  SELECT service, (julianday(ended_at) - julianday(serving_at)) * 86400.0 AS d,"
        "         ROW_NUMBER() OVER (PARTITION BY service ORDER BY id DESC) AS rn"
        "  FROM tickets WHERE status = 'done' AND serving_at IS NOT NULL AND business_day >= date('now', ?)"
        ") WHERE rn <= ? GROUP BY service",
        [f"-{days} days", window],
    )
    means = {}
    for r in rows:
        # Few observations are noisy: blend with the default until the window is full.
        weight = min(1.0, r["n"] / window)
        means[r["service"]] = weight * max(r["mean_s"], 1.0) + (1 - weight) * default_s
    return means


def estimate_waits(
    waiting: list[dict[str, Any]],
    at_counters: list[dict[str, Any]],
    links: list[dict[str, Any]],
    mean_service_s: dict[str, float],
    now: datetime,
    default_s: float,
) -> dict[int, float | None]:
    """Seconds until each waiting ticket is expected to be called (None when no open counter serves it)."""

    def mean(service: str | None) -> float:
        return mean_service_s.get(service or "", default_s)

    services_of: dict[str, set[str]] = {}
    for link in links:
        services_of.setdefault(link["counter"], set()).add(link["service"])

    free_at: dict[str, float] = {}
    for c in at_counters:
        if not c["is_open"]:
            continue
        busy = 0.0
        if c["status"] == "serving" and c["serving_at"]:
            elapsed = (now - parse_iso(c["serving_at"])).total_seconds()
            busy = max(mean(c["service"]) - elapsed, 0.0)
        elif c["status"] == "called":
            busy = mean(c["service"])
        free_at[c["code"]] = busy

    order = sorted(waiting, key=lambda t: (-t["priority"], t["arrived_at"], t["id"]))
    result: dict[int, float | None] = {t["id"]: None for t in waiting}
    pending = list(order)
    active = {code: services_of.get(code, set()) for code in free_at}
    while pending and active:
        code = min(active, key=lambda k: (free_at[k], k))
        served = active[code]
        pick = next((i for i, t in enumerate(pending) if t["service"] in served), None)
        if pick is None:
            del active[code]  # nothing left this counter can take
            continue
        ticket = pending.pop(pick)
        result[ticket["id"]] = free_at[code]
        free_at[code] += mean(ticket["service"])
    return result


def expected_call_time(now: datetime, seconds: float | None) -> datetime | None:
    return None if seconds is None else now + timedelta(seconds=seconds)
