"""Queue operations: issue, call next, recall, start, finish, no-show, transfer, cancel, open/close counters.

Each operation is one write transaction that checks the rule, changes the rows and appends the audit entry, so a
concurrent caller either sees all of it or none of it. Two counters calling next at once are serialised by the
store's single writer: they can never receive the same ticket. Every state written comes from the transition table
in `states.py`; the SQL here never spells a state."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import sqlite_utils

from edge.audit.log import AuditLog
from edge.auth.principal import SYSTEM, Principal
from edge.errors import Conflict, NotFound, RateLimited
from edge.events import EventBus
from edge.queue import estimate, kpis
from edge.queue.catalogue import Catalogue, apply_catalogue
from edge.queue.identity import verified_identity
from edge.queue.models import Counter, CounterLoad, Kpis, QueueSnapshot, Service, Ticket, WaitingTicket
from edge.queue.states import AT_COUNTER, INITIAL, OPEN_STATES, TicketStatus, check_transition, format_number, sql_in
from edge.settings import EdgeSettings
from edge.store import Store
from edge.store.db import fetch_all, fetch_one
from markaz.clock import business_day, iso, parse_iso, utcnow

Clock = Callable[[], datetime]

_COLUMNS = (
    "id", "number", "service", "business_day", "status", "priority", "arrived_at AS issued_at", "queued_at",
    "called_at", "serving_at", "ended_at", "counter", "recalls", "transferred_from", "transferred_to",
)  # fmt: skip
TICKET_FIELDS = ", ".join(_COLUMNS)
_T_FIELDS = ", ".join("t." + c for c in _COLUMNS)

# The state literals below come from the enum, written into the SQL once at import: SQLite can use the partial
# index on waiting tickets only when the state is a literal, not a bound parameter.
_WAITING = sql_in([TicketStatus.WAITING])
_OPEN = sql_in(OPEN_STATES)


class QueueService:
    def __init__(
        self, store: Store, audit: AuditLog, settings: EdgeSettings, events: EventBus, clock: Clock = utcnow
    ) -> None:
        self.store = store
        self.audit = audit
        self.settings = settings
        self.events = events
        self.clock = clock
        self._rolled_day: date | None = None
        self._estimates_lock = threading.Lock()
        # The inputs of the estimate, read once per queue change; the estimate itself also depends on the time,
        # so it is kept only for the second it was made in.
        self._snapshot: tuple[int, QueueSnapshot] | None = None
        self._estimates: tuple[int, int, dict[int, float | None]] | None = None  # (change, second, id -> s)
        self._changes = 0
        self.service_times = estimate.ServiceTimes(
            store, settings.queue.service_time_window, settings.queue.default_service_time_s, self.today
        )

    # -- time --------------------------------------------------------------------------------------------------
    def today(self, now: datetime | None = None) -> date:
        return business_day(now or self.clock(), self.settings.tz, self.settings.day_rollover_hour)

    def _roll_over(self, db: sqlite_utils.Database, today: date, now: datetime) -> None:
        """On the first write of a new business day, close what the previous days left open (audited), so counters
        start free and yesterday's waiting tickets are not called today. History stays in place. Part of the
        caller's transaction: the caller marks the day done (`_rolled_day`) only once that transaction committed,
        or a refused operation would roll the expiry back and leave yesterday's tickets open for good."""
        if self._rolled_day == today:
            return
        stale = [
            Ticket.model_validate(r)
            for r in fetch_all(
                db.conn,
                f"SELECT {TICKET_FIELDS} FROM tickets WHERE business_day < ? AND status IN ({_OPEN})",
                [today.isoformat()],
            )
        ]
        for t in stale:
            target = check_transition("expire", t.number, t.status)
            db.execute("UPDATE tickets SET status = ?, ended_at = ? WHERE id = ?", [target, iso(now), t.id])
            self.audit.append(
                SYSTEM, "ticket.expire", "ticket", str(t.id),
                {"status": t.status}, {"status": target, "reason": "business day ended"}, db=db,
            )  # fmt: skip
        if stale:
            db.execute(
                "UPDATE counters SET current_ticket = NULL "
                "WHERE current_ticket IN (SELECT id FROM tickets WHERE business_day < ?)",
                [today.isoformat()],
            )

    # -- helpers -----------------------------------------------------------------------------------------------
    @staticmethod
    def _one(db: sqlite_utils.Database, sql: str, params: list[Any]) -> dict[str, Any] | None:
        return fetch_one(db.conn, sql, params)

    def _ticket(self, db: sqlite_utils.Database, ticket_id: int) -> Ticket:
        row = self._one(db, f"SELECT {TICKET_FIELDS} FROM tickets WHERE id = ?", [ticket_id])
        if row is None:
            raise NotFound(f"no ticket {ticket_id}")
        return Ticket.model_validate(row)

    def _update(self, db: sqlite_utils.Database, assignments: str, params: list[Any], ticket_id: int) -> Ticket:
        """Change one ticket and read it back in the same statement (RETURNING): one round trip, not two."""
        row = self._one(
            db, f"UPDATE tickets SET {assignments} WHERE id = ? RETURNING {TICKET_FIELDS}", [*params, ticket_id]
        )
        if row is None:
            raise NotFound(f"no ticket {ticket_id}")
        return Ticket.model_validate(row)

    def _service(self, db: sqlite_utils.Database, code: str) -> dict[str, Any]:
        row = self._one(db, "SELECT * FROM services WHERE code = ?", [code])
        if row is None or not row["active"]:
            raise NotFound(f"no service {code!r}")
        return row

    def _counter(self, db: sqlite_utils.Database, code: str) -> dict[str, Any]:
        row = self._one(db, "SELECT * FROM counters WHERE code = ?", [code])
        if row is None:
            raise NotFound(f"no counter {code!r}")
        return row

    def _changed(self, ticket: Ticket | None = None) -> None:
        with self._estimates_lock:
            self._changes += 1
        self.events.publish(
            "queue.changed",
            {"ticket": ticket.number if ticket else None, "status": ticket.status.value if ticket else None},
        )

    @staticmethod
    def _state(t: Ticket) -> dict[str, Any]:
        return {"status": t.status, "counter": t.counter}

    # -- operations --------------------------------------------------------------------------------------------
    def issue(self, service_code: str, actor: Principal, verification_id: int | None = None) -> Ticket:
        """Issue a ticket; a kiosk's ticket for a service that needs identity stands on one recent face match."""
        now = self.clock()
        today = self.today(now)
        with self.store.write() as db:
            self._roll_over(db, today, now)
            service = self._service(db, service_code)
            verified = verified_identity(
                db, service, actor, verification_id, now, self.settings.queue.identity_window_s
            )
            row = self._one(
                db,
                "INSERT INTO ticket_sequences (service, business_day, last_seq) VALUES (?, ?, 1) "
                "ON CONFLICT(service, business_day) DO UPDATE SET last_seq = last_seq + 1 RETURNING last_seq",
                [service_code, today.isoformat()],
            )
            assert row is not None  # RETURNING always yields the row it wrote
            seq = row["last_seq"]
            number = format_number(service["prefix"], seq)
            stamp = iso(now)
            inserted = self._one(
                db,
                "INSERT INTO tickets (number, service, business_day, seq, status, priority, arrived_at, queued_at, "
                f"issued_by, verification_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {TICKET_FIELDS}",
                [
                    number, service_code, today.isoformat(), seq, INITIAL, service["priority"], stamp, stamp,
                    actor.label, verified,
                ],
            )  # fmt: skip
            ticket = Ticket.model_validate(inserted)
            after: dict[str, Any] = {"number": number, "service": service_code, "status": INITIAL}
            if verified is not None:
                after["verification"] = verified
            self.audit.append(actor, "ticket.issue", "ticket", str(ticket.id), None, after, db=db)
        self._rolled_day = today
        self._changed(ticket)
        return ticket

    def call_next(self, counter_code: str, actor: Principal) -> Ticket | None:
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
                if current.status == TicketStatus.CALLED:
                    raise Conflict(
                        f"counter {counter_code} has ticket {current.number} called and not started; "
                        "start it, mark it no-show or transfer it first",
                        counter=counter_code, ticket=current.number, ticket_id=current.id, status=current.status,
                    )  # fmt: skip
                if current.status == TicketStatus.SERVING:
                    self._finish(db, current, actor, now)
            row = self._one(
                db,
                f"SELECT {_T_FIELDS} FROM tickets t "
                "JOIN counter_services cs ON cs.service = t.service AND cs.counter = ? "
                f"WHERE t.status = {_WAITING} AND t.business_day = ? "
                "ORDER BY t.priority DESC, t.arrived_at ASC, t.id ASC LIMIT 1",
                [counter_code, today.isoformat()],
            )
            called: Ticket | None = None
            if row is None:
                db.execute("UPDATE counters SET current_ticket = NULL WHERE code = ?", [counter_code])
            else:
                nxt = Ticket.model_validate(row)
                target = check_transition("call", nxt.number, nxt.status)
                stamp = iso(now)
                called = self._update(
                    db, "status = ?, called_at = ?, last_announced_at = ?, counter = ?",
                    [target, stamp, stamp, counter_code], nxt.id,
                )  # fmt: skip
                db.execute("UPDATE counters SET current_ticket = ? WHERE code = ?", [nxt.id, counter_code])
                self.audit.append(
                    actor, "ticket.call", "ticket", str(nxt.id), self._state(nxt), self._state(called), db=db
                )
        self._rolled_day = today
        self._changed(called)
        return called

    def recall(self, ticket_id: int, actor: Principal) -> Ticket:
        now = self.clock()
        with self.store.write() as db:
            t = self._ticket(db, ticket_id)
            check_transition("recall", t.number, t.status)
            row = self._one(db, "SELECT last_announced_at FROM tickets WHERE id = ?", [ticket_id])
            last = row["last_announced_at"] if row else None
            if last is not None:
                since = (now - parse_iso(last)).total_seconds()
                wait = self.settings.queue.recall_min_interval_s - since
                if wait > 0:
                    raise RateLimited(
                        f"ticket {t.number} was announced {since:.0f} s ago; recall again in {wait:.0f} s", wait
                    )
            db.execute(
                "UPDATE tickets SET recalls = recalls + 1, last_announced_at = ? WHERE id = ?", [iso(now), ticket_id]
            )
            after = t.model_copy(update={"recalls": t.recalls + 1})
            self.audit.append(
                actor,
                "ticket.recall",
                "ticket",
                str(ticket_id),
                {"recalls": t.recalls},
                {"recalls": after.recalls},
                db=db,
            )
        self._changed(after)
        return after

    def start(self, ticket_id: int, actor: Principal) -> Ticket:
        now = self.clock()
        with self.store.write() as db:
            t = self._ticket(db, ticket_id)
            target = check_transition("start", t.number, t.status)
            after = self._update(db, "status = ?, serving_at = ?", [target, iso(now)], ticket_id)
            if t.called_at is not None:
                self.service_times.record_handover((now - t.called_at).total_seconds())
            self.audit.append(
                actor, "ticket.start", "ticket", str(ticket_id), self._state(t), self._state(after), db=db
            )
        self._changed(after)
        return after

    def _finish(self, db: sqlite_utils.Database, t: Ticket, actor: Principal, now: datetime) -> Ticket:
        target = check_transition("finish", t.number, t.status)
        after = self._update(db, "status = ?, ended_at = ?", [target, iso(now)], t.id)
        db.execute("UPDATE counters SET current_ticket = NULL WHERE current_ticket = ?", [t.id])
        if t.serving_at is not None:
            # Recorded after commit would be purer; a rolled-back finish only nudges an estimate, never a record.
            self.service_times.record(t.service, (now - t.serving_at).total_seconds())
        self.audit.append(actor, "ticket.finish", "ticket", str(t.id), self._state(t), self._state(after), db=db)
        return after

    def finish(self, ticket_id: int, actor: Principal) -> Ticket:
        now = self.clock()
        with self.store.write() as db:
            after = self._finish(db, self._ticket(db, ticket_id), actor, now)
        self._changed(after)
        return after

    def _close(self, operation: str, ticket_id: int, actor: Principal) -> Ticket:
        now = self.clock()
        with self.store.write() as db:
            t = self._ticket(db, ticket_id)
            target = check_transition(operation, t.number, t.status)
            after = self._update(db, "status = ?, ended_at = ?", [target, iso(now)], ticket_id)
            db.execute("UPDATE counters SET current_ticket = NULL WHERE current_ticket = ?", [ticket_id])
            self.audit.append(
                actor, f"ticket.{operation}", "ticket", str(ticket_id), self._state(t), self._state(after), db=db
            )
        self._changed(after)
        return after

    def no_show(self, ticket_id: int, actor: Principal) -> Ticket:
        return self._close("no_show", ticket_id, actor)

    def cancel(self, ticket_id: int, actor: Principal) -> Ticket:
        return self._close("cancel", ticket_id, actor)

    def transfer(self, ticket_id: int, to_service: str, actor: Principal) -> Ticket:
        """Close the ticket as transferred and queue the visitor at `to_service` under the same number, keeping the
        original arrival time so they are not sent to the back of the line."""
        now = self.clock()
        with self.store.write() as db:
            t = self._ticket(db, ticket_id)
            target_state = check_transition("transfer", t.number, t.status)
            target = self._service(db, to_service)
            if to_service == t.service:
                raise Conflict(f"ticket {t.number} is already in service {to_service!r}")
            stamp = iso(now)
            cur = db.execute(
                "INSERT INTO tickets (number, service, business_day, seq, status, priority, arrived_at, queued_at, "
                "transferred_from, issued_by) "
                "SELECT number, ?, business_day, NULL, ?, ?, arrived_at, ?, id, ? FROM tickets WHERE id = ?",
                [to_service, INITIAL, target["priority"], stamp, actor.label, ticket_id],
            )
            new_id = cur.lastrowid
            db.execute(
                "UPDATE tickets SET status = ?, ended_at = ?, transferred_to = ? WHERE id = ?",
                [target_state, stamp, new_id, ticket_id],
            )
            db.execute("UPDATE counters SET current_ticket = NULL WHERE current_ticket = ?", [ticket_id])
            assert new_id is not None
            new = self._ticket(db, new_id)
            self.audit.append(
                actor, "ticket.transfer", "ticket", str(ticket_id), {**self._state(t), "service": t.service},
                {"status": target_state, "service": to_service, "new_ticket_id": new_id}, db=db,
            )  # fmt: skip
        self._changed(new)
        return new

    def set_counter_open(self, counter_code: str, is_open: bool, actor: Principal) -> Counter:
        with self.store.write() as db:
            c = self._counter(db, counter_code)
            if not is_open and c["current_ticket"] is not None:
                cur = self._ticket(db, c["current_ticket"])
                if cur.status in AT_COUNTER:
                    raise Conflict(
                        f"counter {counter_code} still has ticket {cur.number} {cur.status}; finish it first",
                        counter=counter_code, ticket=cur.number, status=cur.status,
                    )  # fmt: skip
            db.execute("UPDATE counters SET is_open = ? WHERE code = ?", [int(is_open), counter_code])
            self.audit.append(
                actor, "counter.open" if is_open else "counter.close", "counter", counter_code,
                {"is_open": bool(c["is_open"])}, {"is_open": is_open}, db=db,
            )  # fmt: skip
        self._changed()
        return self.counter(counter_code)

    def apply_catalogue(self, catalogue: Catalogue, actor: Principal = SYSTEM) -> bool:
        """Add or update services and counters (audited); the queue announces the change when there is one, so
        estimates, displays and telemetry follow."""
        changed = apply_catalogue(self.store, self.audit, catalogue, actor)
        if changed:
            self._changed()
        return changed

    # -- reads -------------------------------------------------------------------------------------------------
    def services(self) -> list[Service]:
        rows = self.store.query("SELECT * FROM services ORDER BY priority DESC, code")
        return [Service.model_validate(r) for r in rows]

    def counters(self) -> list[Counter]:
        rows = self.store.query(
            "SELECT c.code, c.name, c.is_open, c.current_ticket AS current_ticket_id, t.number AS current_ticket "
            "FROM counters c LEFT JOIN tickets t ON t.id = c.current_ticket ORDER BY c.code"
        )
        services: dict[str, list[str]] = {}
        for link in self.store.query("SELECT counter, service FROM counter_services ORDER BY service"):
            services.setdefault(link["counter"], []).append(link["service"])
        return [Counter.model_validate({**r, "services": services.get(r["code"], [])}) for r in rows]

    def counter(self, code: str) -> Counter:
        for c in self.counters():
            if c.code == code:
                return c
        raise NotFound(f"no counter {code!r}")

    def get(self, ticket_id: int) -> Ticket:
        row = self.store.query_one(f"SELECT {TICKET_FIELDS} FROM tickets WHERE id = ?", [ticket_id])
        if row is None:
            raise NotFound(f"no ticket {ticket_id}")
        return Ticket.model_validate(row)

    def tickets_today(self, status: TicketStatus | None = None) -> list[Ticket]:
        today = self.today().isoformat()
        if status:
            rows = self.store.query(
                f"SELECT {TICKET_FIELDS} FROM tickets WHERE business_day = ? AND status = ? ORDER BY id",
                [today, TicketStatus(status)],
            )
        else:
            rows = self.store.query(f"SELECT {TICKET_FIELDS} FROM tickets WHERE business_day = ? ORDER BY id", [today])
        return [Ticket.model_validate(r) for r in rows]

    def _read_snapshot(self, today: date) -> QueueSnapshot:
        # No read transaction around the three reads: a change in between is announced right after its commit, and
        # its new change count makes `estimates` read again, so reads that straddle a change live a moment only.
        db = self.store.read()
        waiting = [
            WaitingTicket(r[0], r[1], r[2], r[3])
            for r in db.conn.execute(
                f"SELECT id, service, priority, arrived_at FROM tickets WHERE business_day = ? AND status = {_WAITING}",
                [today.isoformat()],
            )
        ]
        counters = [
            CounterLoad(
                r[0],
                bool(r[1]),
                None if r[2] is None else TicketStatus(r[2]),
                r[3],
                None if r[4] is None else parse_iso(r[4]),
                None if r[5] is None else parse_iso(r[5]),
            )
            for r in db.conn.execute(
                "SELECT c.code, c.is_open, t.status, t.service, t.called_at, t.serving_at FROM counters c "
                "LEFT JOIN tickets t ON t.id = c.current_ticket"
            )
        ]
        links: dict[str, set[str]] = {}
        for r in db.conn.execute("SELECT counter, service FROM counter_services"):
            links.setdefault(r[0], set()).add(r[1])
        return QueueSnapshot(waiting, counters, {k: frozenset(v) for k, v in links.items()})

    def estimates(self) -> dict[int, float | None]:
        """Estimated wait of every waiting ticket. The queue is read again only after it changed; the estimate is
        made again when the queue changed or the clock moved on to another second."""
        now = self.clock()
        second = int(now.timestamp())
        with self._estimates_lock:
            version = self._changes
            if self._estimates is not None and self._estimates[:2] == (version, second):
                return self._estimates[2]
            snapshot = self._snapshot[1] if self._snapshot is not None and self._snapshot[0] == version else None
        if snapshot is None:
            snapshot = self._read_snapshot(self.today(now))
        means = self.service_times.means()
        result = estimate.estimate_snapshot(snapshot, means, now, self.settings.queue.default_service_time_s)
        with self._estimates_lock:
            if self._changes == version:  # a change while we read: do not keep what may already be stale
                self._snapshot = (version, snapshot)
                self._estimates = (version, second, result)
        return result

    def with_estimate(self, ticket: Ticket) -> Ticket:
        est = self.estimates().get(ticket.id) if ticket.status == TicketStatus.WAITING else None
        return ticket.model_copy(update={"estimated_wait_s": None if est is None else round(est)})

    def day_waits(self, day: date | None = None) -> tuple[date, list[dict[str, Any]]]:
        """The business day and, per service, its called tickets' waits, served and no-shows (for central)."""
        day = day or self.today(self.clock())
        return day, kpis.day_waits(self.store, day)

    def kpis(self, day: date | None = None) -> Kpis:
        now = self.clock()
        return kpis.compute(self.store, day or self.today(now), now, self.settings)
