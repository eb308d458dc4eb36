"""Estimated waits: replay the call rule forward in time with recent service times (method in docs/queue.md).

Each open counter becomes free when its current visitor is expected to finish; the counter that frees first takes
the next ticket it would really call (priority, then arrival, among its own services). A ticket's estimate is the
moment a counter takes it. Services with no open counter get no estimate (None): nobody can say."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from datetime import date, datetime, timedelta

from edge.queue.models import CounterLoad, QueueSnapshot, WaitingTicket
from edge.queue.states import TicketStatus
from edge.store import Store


class ServiceTimes:
    """Each service's last `window` service durations (start to finish), loaded once from the last `days` business
    days (counted from the queue's own clock, never the database's) and then kept up to date by the queue as tickets
    finish, so estimating never rescans history."""

    def __init__(self, store: Store, window: int, default_s: float, today: Callable[[], date], days: int = 7) -> None:
        self.store = store
        self.window = window
        self.default_s = default_s
        self.today = today
        self.days = days
        self._recent: dict[str, deque[float]] | None = None
        self._handover: deque[float] = deque(maxlen=window)
        self._lock = threading.Lock()

    def _load(self) -> dict[str, deque[float]]:
        first_day = (self.today() - timedelta(days=self.days)).isoformat()
        rows = self.store.query(
            "SELECT service, d FROM ("
            "  SELECT service, id, (julianday(ended_at) - julianday(serving_at)) * 86400.0 AS d,"
            "         ROW_NUMBER() OVER (PARTITION BY service ORDER BY id DESC) AS rn"
            "  FROM tickets WHERE status = ? AND serving_at IS NOT NULL AND business_day >= ?"
            ") WHERE rn <= ? ORDER BY id",
            [TicketStatus.DONE.value, first_day, self.window],
        )
        recent: dict[str, deque[float]] = {}
        for r in rows:
            recent.setdefault(r["service"], deque(maxlen=self.window)).append(r["d"])
        handovers = self.store.query(
            "SELECT (julianday(serving_at) - julianday(called_at)) * 86400.0 AS d FROM tickets "
            "WHERE serving_at IS NOT NULL AND called_at IS NOT NULL AND business_day >= ? ORDER BY id DESC LIMIT ?",
            [first_day, self.window],
        )
        self._handover.extend(r["d"] for r in reversed(handovers))
        return recent

    def record_handover(self, seconds: float) -> None:
        """Time from the call to the start of service: the counter is taken, though nobody is being served yet."""
        with self._lock:
            self._handover.append(seconds)

    def record(self, service: str, seconds: float) -> None:
        with self._lock:
            if self._recent is None:
                return  # not loaded yet: the load will read it from the database
            self._recent.setdefault(service, deque(maxlen=self.window)).append(seconds)

    def means(self) -> dict[str, float]:
        with self._lock:
            if self._recent is None:
                self._recent = self._load()
            handover = sum(self._handover) / len(self._handover) if self._handover else 0.0
            means = {}
            for service, values in self._recent.items():
                # Few observations are noisy: blend with the default until the window is full.
                weight = len(values) / self.window
                means[service] = weight * max(sum(values) / len(values), 1.0) + (1 - weight) * self.default_s + handover
            return means


def _rank(t: WaitingTicket) -> tuple[int, str, int]:
    return (-t.priority, t.arrived_at, t.id)


def estimate_waits(
    waiting: list[WaitingTicket],
    at_counters: list[CounterLoad],
    services_of: dict[str, frozenset[str]],
    mean_service_s: dict[str, float],
    now: datetime,
    default_s: float,
) -> dict[int, float | None]:
    """Seconds until each waiting ticket is expected to be called (None when no open counter serves it).

    `services_of` maps each counter to the services it serves. A counter's current visitor has been there since
    the call (or the start of service): the time already spent is taken off, so estimates fall as time passes."""

    def mean(service: str | None) -> float:
        return mean_service_s.get(service or "", default_s)

    free_at: dict[str, float] = {}
    for c in at_counters:
        if not c.is_open:
            continue
        busy = 0.0
        if c.status == TicketStatus.SERVING and c.serving_at is not None:
            busy = max(mean(c.service) - (now - c.serving_at).total_seconds(), 0.0)
        elif c.status == TicketStatus.CALLED:
            since = (now - c.called_at).total_seconds() if c.called_at is not None else 0.0
            busy = max(mean(c.service) - since, 0.0)
        free_at[c.code] = busy

    # One queue per service, in call order; a counter takes the best head among its services, so each step costs
    # the number of services, not the length of the queue.
    queues: dict[str, deque[WaitingTicket]] = {}
    for t in sorted(waiting, key=_rank):
        queues.setdefault(t.service, deque()).append(t)
    result: dict[int, float | None] = {t.id: None for t in waiting}
    active = {code: services_of.get(code, frozenset()) for code in free_at}
    while active:
        code = min(active, key=lambda k: (free_at[k], k))
        heads = [queue[0] for s in active[code] if (queue := queues.get(s))]
        if not heads:
            del active[code]  # nothing left this counter can take
            continue
        ticket = min(heads, key=_rank)
        queues[ticket.service].popleft()
        result[ticket.id] = free_at[code]
        free_at[code] += mean(ticket.service)
    return result


def estimate_snapshot(
    snapshot: QueueSnapshot, mean_service_s: dict[str, float], now: datetime, default_s: float
) -> dict[int, float | None]:
    return estimate_waits(snapshot.waiting, snapshot.counters, snapshot.links, mean_service_s, now, default_s)
