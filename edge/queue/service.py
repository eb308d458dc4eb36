"""Queue operations: issue, call next, recall, start, finish, no-show, transfer, cancel, open/close counters.

Each operation is one write transaction that checks the rule, changes the rows and appends the audit entry, so a
concurrent caller either sees all of it or none of it. Two counters calling next at once are serialised by the
store's single writer: they can never receive the same ticket."""

from __future__ import annotations

import threading
from datetime import date, datetime
from typing import Any

from edge.audit.log import AuditLog
from edge.auth.principal import Principal
from edge.errors import Conflict, NotFound, RateLimited
from edge.events import EventBus
from edge.queue import estimate, kpis
from edge.queue.states import AT_COUNTER, TicketStatus, check_transition, format_number
from edge.settings import EdgeSettings
from edge.store import Store
from edge.store.db import fetch_all, fetch_one
from markaz.clock import business_day, iso, parse_iso, utcnow

TICKET_FIELDS = (
    "id, number, service, business_day, status, priority, arrived_at, queued_at, called_at, serving_at, ended_at, "
    "counter, recalls, transferred_from, transferred_to"
)


class QueueService:
    def __init__(self, store: Store, audit: AuditLog, settings: EdgeSettings, events: EventBus, clock=utcnow) -> None:
        self.store = store
        self.audit = audit
        self.settings = settings
        self.events = events
        self.clock = clock
        self._rolled_day: date | None = None
        self._estimates_lock = threading.Lock()
        self._estimates: tuple[int, dict[int, float | None]] | None = None  # (change counter, ticket id -> s)
        self._changes = 0
        self.service_times = estimate.ServiceTimes(
            store, settings.queue.service_time_window, settings.queue.default_service_time_s
        )

    # -- time --------------------------------------------------------------------------------------------------
    def today(self, now: datetime | None = None) -> date:
        return business_day(now or self.clock(), self.settings.tz, self.settings.day_rollover_hour)

    def _roll_over(self, db, today: date, now: datetime) -> None:
        """On the first write of a new business day, close what the previous days left open (audited), so counters
        start free and yesterday's waiting tickets are not called today. History stays in place."""
        if self._rolled_day == today:
            return
        stale = fetch_all(
            db.conn,
            f"SELECT {TICKET_FIELDS} FROM tickets WHERE business_day < ? AND status IN ('waiting','called','serving')",
            [today.isoformat()],
        )
        for t in stale:
            db.execute(
                "UPDATE tickets SET status = 'cancelled', ended_at = ? WHERE id = ?", [iso(now), t["id"]]
            )
            self.audit.append(
                Principal("system", "node", "system"), "ticket.expire", "ticket", t["id"],
                {"status": t["status"]}, {"status": "cancelled", "reason": "business day ended"}, db=db,
            )
        if stale:
            db.execute("UPDATE counters SET current_ticket = NULL WHERE current_ticket IN (SELECT id FROM tickets WHERE business_day < ?)", [today.isoformat()])
        self._rolled_day = today

    # -- helpers -----------------------------------------------------------------------------------------------
    @staticmethod
    def _one(db, sql: str, params: list[Any]) -> dict[str, Any] | None:
        return fetch_one(db.conn, sql, params)

    def _ticket(self, db, ticket_id: int) -> dict[str, Any]:
        row = self._one(db, f"SELECT {TICKET_FIELDS} FROM tickets WHERE id = ?", [ticket_id])
        if row is None:
            raise NotFound(f"no ticket {ticket_id}")
        return row

    def _service(self, db, code: str) -> dict[str, Any]:
        row = self._one(db, "SELECT * FROM services WHERE code = ?", [code])
        if row is None or not row["active"]:
            raise NotFound(f"no service {code!r}")
        return row

    def _counter(self, db, code: str) -> dict[str, Any]:
        row = self._one(db, "SELECT * FROM counters WHERE code = ?", [code])
        if row is None:
            raise NotFound(f"no counter {code!r}")
        return row

    def _changed(self, ticket: dict[str, Any] | None = None) -> None:
        self._changes += 1
        self.events.publish("queue.changed", {"ticket": ticket["number"] if ticket else None})

    @staticmethod
    def _state(t: dict[str, Any]) -> dict[str, Any]:
        return {"status": t["status"], "counter": t["counter"]}

    # -- operations --------------------------------------------------------------------------------------------
    def issue(self, service_code: str, actor: Principal) -> dict[str, Any]:
        now = self.clock()
        today = self.today(now)
        with self.store.write() as db:
            self._roll_over(db, today, now)
            service = self._service(db, service_code)
            seq = self._one(
                db,
                "INSERT INTO ticket_sequences (service, business_day, last_seq) VALUES (?, ?, 1) "
                "ON CONFLICT(service, business_day) DO UPDATE SET last_seq = last_seq + 1 RETURNING last_seq",
                [service_code, today.isoformat()],
            )["last_seq"]
            number = format_number(service["prefix"], seq)
            stamp = iso(now)
            ticket = self._one(
                db,
                "INSERT INTO tickets (number, service, business_day, seq, status, priority, arrived_at, queued_at, issued_by) "
                f"VALUES (?, ?, ?, ?, 'waiting', ?, ?, ?, ?) RETURNING {TICKET_FIELDS}",
                [number, service_code, today.isoformat(), seq, service["priority"], stamp, stamp, actor.label],
            )
            self.audit.append(actor, "ticket.issue", "ticket", ticket["id"], None, {"number": number, "service": service_code, "status": "waiting"}, db=db)
        self._changed(ticket)
        return ticket

    def call_next(self, counter_code: str, actor: Principal) -> dict[str, Any] | None:
        """Call the next ticket for a counter: highest priority first, then the longest waiting among the counter's
        services. A ticket being served at the counter is finished first; one called but not started blocks (the
        officer must start, mark no-show or transfer it). Returns None when nobody waits."""
        now = self.clock()
        today = self.today(now)
        with self.store.write() as db:
            self._roll_over(db, today, now)
            counter = self._counter(db, counter_code)
            if not counter["is_open"]:
                raise Conflict(f"counter {counter_code} is closed; open it first", counter=counter_code)
            if counter["current_ticket"] is not None:
                current = self._ticket(db, counter["current_ticket"])
                if current["status"] == TicketStatus.CALLED:
                    raise Conflict(
                        f"counter {counter_code} has ticket {current['number']} called and not started; "
                        "start it, mark it no-show or transfer it first",
                        counter=counter_code, ticket=current["number"], ticket_id=current["id"], status=current["status"],
                    )
                if current["status"] == TicketStatus.SERVING:
                    self._finish(db, current, actor, now)
            nxt = self._one(
                db,
                f"SELECT {', '.join('t.' + f.strip() for f in TICKET_FIELDS.split(','))} FROM tickets t "
                "JOIN counter_services cs ON cs.service = t.service AND cs.counter = ? "
                "WHERE t.status = 'waiting' AND t.business_day = ? "
                "ORDER BY t.priority DESC, t.arrived_at ASC, t.id ASC LIMIT 1",
                [counter_code, today.isoformat()],
            )
            if nxt is None:
                db.execute("UPDATE counters SET current_ticket = NULL WHERE code = ?", [counter_code])
                called = None
            else:
                stamp = iso(now)
                db.execute(
                    "UPDATE tickets SET status = 'called', called_at = ?, last_announced_at = ?, counter = ? WHERE id = ?",
                    [stamp, stamp, counter_code, nxt["id"]],
                )
                db.execute("UPDATE counters SET current_ticket = ? WHERE code = ?", [nxt["id"], counter_code])
                called = self._ticket(db, nxt["id"])
                self.audit.append(actor, "ticket.call", "ticket", nxt["id"], self._state(nxt), self._state(called), db=db)
        self._changed(called)
        return called

    def recall(self, ticket_id: int, actor: Principal) -> dict[str, Any]:
        now = self.clock()
        with self.store.write() as db:
            t = self._ticket(db, ticket_id)
            check_transition("recall", t["number"], t["status"])
            last = self._one(db, "SELECT last_announced_at FROM tickets WHERE id = ?", [ticket_id])["last_announced_at"]
            if last is not None:
                since = (now - parse_iso(last)).total_seconds()
                wait = self.settings.queue.recall_min_interval_s - since
                if wait > 0:
                    raise RateLimited(f"ticket {t['number']} was announced {since:.0f} s ago; recall again in {wait:.0f} s", wait)
            db.execute(
                "UPDATE tickets SET recalls = recalls + 1, last_announced_at = ? WHERE id = ?", [iso(now), ticket_id]
            )
            after = self._ticket(db, ticket_id)
            self.audit.append(actor, "ticket.recall", "ticket", ticket_id, {"recalls": t["recalls"]}, {"recalls": after["recalls"]}, db=db)
        self._changed(after)
        return after

    def start(self, ticket_id: int, actor: Principal) -> dict[str, Any]:
        now = self.clock()
        with self.store.write() as db:
            t = self._ticket(db, ticket_id)
            check_transition("start", t["number"], t["status"])
            db.execute("UPDATE tickets SET status = 'serving', serving_at = ? WHERE id = ?", [iso(now), ticket_id])
            if t["called_at"]:
                self.service_times.record_handover((now - parse_iso(t["called_at"])).total_seconds())
            after = self._ticket(db, ticket_id)
            self.audit.append(actor, "ticket.start", "ticket", ticket_id, self._state(t), self._state(after), db=db)
        self._changed(after)
        return after

    def _finish(self, db, t: dict[str, Any], actor: Principal, now: datetime) -> dict[str, Any]:
        check_transition("finish", t["number"], t["status"])
        db.execute("UPDATE tickets SET status = 'done', ended_at = ? WHERE id = ?", [iso(now), t["id"]])
        db.execute("UPDATE counters SET current_ticket = NULL WHERE current_ticket = ?", [t["id"]])
        after = self._ticket(db, t["id"])
        if t["serving_at"]:
            # Recorded after commit would be purer; a rolled-back finish only nudges an estimate, never a record.
            self.service_times.record(t["service"], (now - parse_iso(t["serving_at"])).total_seconds())
        self.audit.append(actor, "ticket.finish", "ticket", t["id"], self._state(t), self._state(after), db=db)
        return after

    def finish(self, ticket_id: int, actor: Principal) -> dict[str, Any]:
        now = self.clock()
        with self.store.write() as db:
            after = self._finish(db, self._ticket(db, ticket_id), actor, now)
        self._changed(after)
        return after

    def _close(self, operation: str, ticket_id: int, actor: Principal, status: str) -> dict[str, Any]:
        now = self.clock()
        with self.store.write() as db:
            t = self._ticket(db, ticket_id)
            check_transition(operation, t["number"], t["status"])
            db.execute("UPDATE tickets SET status = ?, ended_at = ? WHERE id = ?", [status, iso(now), ticket_id])
            db.execute("UPDATE counters SET current_ticket = NULL WHERE current_ticket = ?", [ticket_id])
            after = self._ticket(db, ticket_id)
            self.audit.append(actor, f"ticket.{operation}", "ticket", ticket_id, self._state(t), self._state(after), db=db)
        self._changed(after)
        return after

    def no_show(self, ticket_id: int, actor: Principal) -> dict[str, Any]:
        return self._close("no_show", ticket_id, actor, TicketStatus.NO_SHOW)

    def cancel(self, ticket_id: int, actor: Principal) -> dict[str, Any]:
        return self._close("cancel", ticket_id, actor, TicketStatus.CANCELLED)

    def transfer(self, ticket_id: int, to_service: str, actor: Principal) -> dict[str, Any]:
        """Close the ticket as transferred and queue the visitor at `to_service` under the same number, keeping the
        original arrival time so they are not sent to the back of the line."""
        now = self.clock()
        with self.store.write() as db:
            t = self._ticket(db, ticket_id)
            check_transition("transfer", t["number"], t["status"])
            target = self._service(db, to_service)
            if to_service == t["service"]:
                raise Conflict(f"ticket {t['number']} is already in service {to_service!r}")
            stamp = iso(now)
            cur = db.execute(
                "INSERT INTO tickets (number, service, business_day, seq, status, priority, arrived_at, queued_at, "
                "transferred_from, issued_by) VALUES (?, ?, ?, NULL, 'waiting', ?, ?, ?, ?, ?)",
                [t["number"], to_service, t["business_day"], target["priority"], t["arrived_at"], stamp, ticket_id, actor.label],
            )
            new_id = cur.lastrowid
            db.execute(
                "UPDATE tickets SET status = 'transferred', ended_at = ?, transferred_to = ? WHERE id = ?",
                [stamp, new_id, ticket_id],
            )
            db.execute("UPDATE counters SET current_ticket = NULL WHERE current_ticket = ?", [ticket_id])
            new = self._ticket(db, new_id)
            self.audit.append(
                actor, "ticket.transfer", "ticket", ticket_id, {**self._state(t), "service": t["service"]},
                {"status": "transferred", "service": to_service, "new_ticket_id": new_id}, db=db,
            )
        self._changed(new)
        return new

    def set_counter_open(self, counter_code: str, is_open: bool, actor: Principal) -> dict[str, Any]:
        with self.store.write() as db:
            c = self._counter(db, counter_code)
            if not is_open and c["current_ticket"] is not None:
                cur = self._ticket(db, c["current_ticket"])
                if cur["status"] in AT_COUNTER:
                    raise Conflict(
                        f"counter {counter_code} still has ticket {cur['number']} {cur['status']}; finish it first",
                        counter=counter_code, ticket=cur["number"], status=cur["status"],
                    )
            db.execute("UPDATE counters SET is_open = ? WHERE code = ?", [int(is_open), counter_code])
            self.audit.append(actor, "counter.open" if is_open else "counter.close", "counter", counter_code,
                              {"is_open": bool(c["is_open"])}, {"is_open": is_open}, db=db)
        self._changed()
        return self.counter(counter_code)

    # -- reads -------------------------------------------------------------------------------------------------
    def services(self) -> list[dict[str, Any]]:
        return [{**s, "active": bool(s["active"])} for s in self.store.query("SELECT * FROM services ORDER BY priority DESC, code")]

    def counters(self) -> list[dict[str, Any]]:
        rows = self.store.query("SELECT code, name, is_open, current_ticket FROM counters ORDER BY code")
        links = self.store.query("SELECT counter, service FROM counter_services ORDER BY service")
        current_ids = [r["current_ticket"] for r in rows if r["current_ticket"] is not None]
        numbers = {}
        if current_ids:
            marks = ",".join("?" * len(current_ids))
            numbers = {r["id"]: r["number"] for r in self.store.query(f"SELECT id, number FROM tickets WHERE id IN ({marks})", current_ids)}
        return [
            {
                "code": r["code"],
                "name": r["name"],
                "is_open": bool(r["is_open"]),
                "services": [link["service"] for link in links if link["counter"] == r["code"]],
                "current_ticket": numbers.get(r["current_ticket"]),
                "current_ticket_id": r["current_ticket"],
            }
            for r in rows
        ]

    def counter(self, code: str) -> dict[str, Any]:
        for c in self.counters():
            if c["code"] == code:
                return c
        raise NotFound(f"no counter {code!r}")

    def get(self, ticket_id: int) -> dict[str, Any]:
        row = self.store.query_one(f"SELECT {TICKET_FIELDS} FROM tickets WHERE id = ?", [ticket_id])
        if row is None:
            raise NotFound(f"no ticket {ticket_id}")
        return row

    def tickets_today(self, status: str | None = None) -> list[dict[str, Any]]:
        today = self.today().isoformat()
        if status:
            return self.store.query(f"SELECT {TICKET_FIELDS} FROM tickets WHERE business_day = ? AND status = ? ORDER BY id", [today, status])
        return self.store.query(f"SELECT {TICKET_FIELDS} FROM tickets WHERE business_day = ? ORDER BY id", [today])

    def estimates(self) -> dict[int, float | None]:
        """Estimated wait of every waiting ticket, recomputed only when the queue changed."""
        with self._estimates_lock:
            version = self._changes
            if self._estimates is not None and self._estimates[0] == version:
                return self._estimates[1]
        now = self.clock()
        today = self.today(now).isoformat()
        waiting = self.store.query(
            "SELECT id, service, priority, arrived_at FROM tickets WHERE business_day = ? AND status = 'waiting'", [today]
        )
        at_counters = self.store.query(
            "SELECT c.code, c.is_open, t.service, t.status, t.called_at, t.serving_at FROM counters c "
            "LEFT JOIN tickets t ON t.id = c.current_ticket"
        )
        links = self.store.query("SELECT counter, service FROM counter_services")
        means = self.service_times.means()
        result = estimate.estimate_waits(waiting, at_counters, links, means, now, self.settings.queue.default_service_time_s)
        with self._estimates_lock:
            self._estimates = (version, result)
        return result

    def with_estimate(self, ticket: dict[str, Any]) -> dict[str, Any]:
        est = self.estimates().get(ticket["id"]) if ticket["status"] == TicketStatus.WAITING else None
        return {**ticket, "estimated_wait_s": None if est is None else round(est)}

    def kpis(self, day: date | None = None) -> dict[str, Any]:
        now = self.clock()
        day = day or self.today(now)
        return kpis.compute(self.store, day, now, self.settings)

