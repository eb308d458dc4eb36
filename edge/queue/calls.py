"""The day's calls as the hall sees them, read from the tickets: who was called, by which counter, when.

Every call and every accepted recall stamps `last_announced_at` on the ticket (the recall rate limit refuses the
others), so an announcement is exactly one (ticket, recalls) pair: nothing else has to record them, and a display
that reconnects can be told what it missed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from edge.queue.history import HistoryPoint, series
from edge.store import Store


@dataclass(frozen=True)
class Call:
    ticket_id: int
    number: str
    service: str
    counter: str
    status: str
    recalls: int
    called_at: str
    announced_at: str


@dataclass(frozen=True)
class WaitingCount:
    service: str
    prefix: str
    name_ar: str
    name_en: str
    waiting: int


@dataclass(frozen=True)
class WaitingTicket:
    ticket_id: int
    number: str
    service: str
    priority: int
    arrived_at: str
    queued_at: str


_CALL_FIELDS = "id, number, service, counter, status, recalls, called_at, last_announced_at"


def _call(row: dict[str, Any]) -> Call:
    return Call(row["id"], row["number"], row["service"], row["counter"], row["status"], row["recalls"],
                row["called_at"], row["last_announced_at"])  # fmt: skip


class CallLog:
    def __init__(self, store: Store) -> None:
        self.store = store

    def announced_since(self, day: date, stamp: str | None) -> list[Call]:
        """Calls and recalls announced at or after `stamp` (all of the day's when None), oldest first."""
        rows = self.store.query(
            f"SELECT {_CALL_FIELDS} FROM tickets WHERE business_day = ? AND last_announced_at IS NOT NULL "
            "AND counter IS NOT NULL AND last_announced_at >= ? ORDER BY last_announced_at, id",
            [day.isoformat(), stamp or ""],
        )
        return [_call(r) for r in rows]

    def recent(self, day: date, limit: int) -> list[Call]:
        """The day's last `limit` calls, newest first: each ticket once, at the counter that called it."""
        rows = self.store.query(
            f"SELECT {_CALL_FIELDS} FROM tickets WHERE business_day = ? AND called_at IS NOT NULL "
            "AND counter IS NOT NULL ORDER BY last_announced_at DESC, id DESC LIMIT ?",
            [day.isoformat(), limit],
        )
        return [_call(r) for r in rows]

    def waiting_per_service(self, day: date) -> list[WaitingCount]:
        rows = self.store.query(
            "SELECT s.code, s.prefix, s.name_ar, s.name_en, count(t.id) AS n FROM services s "
            "LEFT JOIN tickets t ON t.service = s.code AND t.status = 'waiting' AND t.business_day = ? "
            "WHERE s.active = 1 GROUP BY s.code ORDER BY s.priority DESC, s.code",
            [day.isoformat()],
        )
        return [WaitingCount(r["code"], r["prefix"], r["name_ar"], r["name_en"], r["n"]) for r in rows]

    def waiting_for_counter(self, day: date, counter: str) -> list[WaitingTicket]:
        """Waiting tickets of the counter's services, in the order call-next takes them."""
        rows = self.store.query(
            "SELECT t.id, t.number, t.service, t.priority, t.arrived_at, t.queued_at FROM tickets t "
            "JOIN counter_services cs ON cs.service = t.service AND cs.counter = ? "
            "WHERE t.status = 'waiting' AND t.business_day = ? ORDER BY t.priority DESC, t.arrived_at, t.id",
            [counter, day.isoformat()],
        )
        return [
            WaitingTicket(r["id"], r["number"], r["service"], r["priority"], r["arrived_at"], r["queued_at"])
            for r in rows
        ]

    def last_announced_at(self, ticket_id: int) -> str | None:
        row = self.store.query_one("SELECT last_announced_at FROM tickets WHERE id = ?", [ticket_id])
        return None if row is None else row["last_announced_at"]

    def day_series(self, day: date, start: datetime, end: datetime, step: timedelta) -> list[HistoryPoint]:
        return series(self.store, day, start, end, step)
