"""Random sequences of queue operations (hypothesis state machine) against the real core on a real SQLite file.

The machine keeps its own small model of the queue (the oracle below, written from docs/queue.md, not from the
production transition table) and checks every answer and every ticket's state against it. After every step also:
no ticket in two places, numbering without gaps or duplicates, transfers linked both ways, KPIs consistent with the
history, and the audit chain intact."""

from __future__ import annotations

import copy
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from edge.audit.verify import verify_chain
from edge.auth.principal import Principal
from edge.errors import Conflict, NotFound, RateLimited
from edge.node import EdgeNode
from edge.settings import EdgeSettings
from markaz.config import load_settings
from tests.conftest import FakeClock

KIOSK = Principal("device", "kiosk-1", "kiosk")
OFFICER = Principal("staff", "officer", "officer")
SERVICES = ["general", "report", "follow-up", "priority"]
COUNTERS = ["1", "2", "3"]

# -- the oracle: the queue's rules as docs/queue.md states them, written again here on purpose --------------------
ALLOWED_FROM = {
    "start": {"called"},
    "finish": {"serving"},
    "no_show": {"called"},
    "cancel": {"waiting", "called"},
    "recall": {"called"},
    "transfer": {"waiting", "called", "serving"},
}
LEADS_TO = {
    "start": "serving",
    "finish": "done",
    "no_show": "no_show",
    "cancel": "cancelled",
    "transfer": "transferred",
}
OPEN = {"waiting", "called", "serving"}
PRIORITY = {"general": 0, "report": 0, "follow-up": 0, "priority": 10}
SERVES = {"1": set(SERVICES), "2": set(SERVICES), "3": {"report", "follow-up"}}
RECALL_INTERVAL_S = 10.0


@dataclass
class ModelTicket:
    id: int
    service: str
    status: str
    day: date
    arrived: datetime
    counter: str | None = None
    announced: datetime | None = None


@dataclass
class Model:
    tickets: dict[int, ModelTicket] = field(default_factory=dict)
    is_open: dict[str, bool] = field(default_factory=lambda: {"1": True, "2": True, "3": False})
    holding: dict[str, int | None] = field(default_factory=lambda: dict.fromkeys(COUNTERS))
    rolled: date | None = None

    def free(self, ticket_id: int) -> None:
        for code, held in self.holding.items():
            if held == ticket_id:
                self.holding[code] = None

    def roll_over(self, today: date) -> None:
        """The first issue or call of a business day closes what earlier days left open."""
        if self.rolled == today:
            return
        stale = [t for t in self.tickets.values() if t.day < today and t.status in OPEN]
        for t in stale:
            t.status = "cancelled"
        if stale:
            for code, held in self.holding.items():
                if held is not None and self.tickets[held].day < today:
                    self.holding[code] = None
        self.rolled = today

    def next_for(self, counter: str, today: date) -> ModelTicket | None:
        candidates = [
            t
            for t in self.tickets.values()
            if t.status == "waiting" and t.day == today and t.service in SERVES[counter]
        ]
        return min(candidates, key=lambda t: (-PRIORITY[t.service], t.arrived, t.id), default=None)


class QueueMachine(RuleBasedStateMachine):
    @initialize()
    def setup(self):
        self.dir = Path(tempfile.mkdtemp(prefix="markaz-prop-"))
        self.clock = FakeClock()
        self.node = EdgeNode(
            load_settings(EdgeSettings, data_dir=self.dir, sample_data=True, timezone="Asia/Riyadh"), clock=self.clock
        )
        self.node.start()
        self.q = self.node.queue
        self.model = Model()

    def _today(self) -> date:
        return self.clock.now.date()  # Asia/Riyadh (UTC+3) rolling over at 03:00 local: the UTC date

    def teardown(self):
        if hasattr(self, "node"):
            self.node.stop()
            shutil.rmtree(self.dir, ignore_errors=True)

    def _ticket_ids(self):
        return [r["id"] for r in self.node.store.query("SELECT id FROM tickets")]

    def _a_ticket(self, ids):
        """Mostly a ticket still open (where the rules differ by state), sometimes any ticket at all."""
        live = [i for i in ids if self.model.tickets[i].status in OPEN]
        return st.sampled_from(live) | st.sampled_from(ids) if live else st.sampled_from(ids)

    def _expect(self, operation: str, ticket_id: int, call, to_service: str | None = None):
        status = self.node.store.query_one("SELECT status FROM tickets WHERE id = ?", [ticket_id])["status"]
        mine = self.model.tickets[ticket_id]
        assert status == mine.status, f"ticket {ticket_id} is {status}, the model says {mine.status}"
        legal = status in ALLOWED_FROM[operation]
        now = self.clock.now
        same_service = operation == "transfer" and to_service == mine.service
        too_soon = (
            operation == "recall" and mine.announced is not None
            and (now - mine.announced).total_seconds() < RECALL_INTERVAL_S
        )  # fmt: skip
        try:
            result = call()
        except Conflict:
            assert not legal or operation == "transfer", f"{operation} from {status} refused"
            assert not legal or same_service, f"{operation} from {status} refused"
            return
        except RateLimited:
            assert operation == "recall"
            assert too_soon, "recall refused although the last announcement is old enough"
            return
        assert legal, f"{operation} from {status} was allowed"
        assert not same_service and not too_soon, f"{operation} allowed where the model refuses it"
        if operation == "recall":
            mine.announced = now
            return
        mine.status = LEADS_TO[operation]
        if operation != "start":
            self.model.free(ticket_id)
        if operation == "transfer":
            self.model.tickets[result.id] = ModelTicket(result.id, to_service, "waiting", mine.day, mine.arrived)

    @rule(service=st.sampled_from(SERVICES))
    def issue(self, service):
        t = self.q.issue(service, OFFICER)  # the desk: a kiosk needs a face match for "report" (test_ticket_identity)
        assert t.status == "waiting"
        self.model.roll_over(self._today())
        self.model.tickets[t.id] = ModelTicket(t.id, service, "waiting", self._today(), self.clock.now)

    @rule(counter=st.sampled_from(COUNTERS))
    def call_next(self, counter):
        today = self._today()
        m = copy.deepcopy(self.model)  # the roll-over belongs to the call: it is kept only if the call is
        m.roll_over(today)
        held = m.tickets[m.holding[counter]] if m.holding[counter] is not None else None
        refused = not m.is_open[counter] or (held is not None and held.status == "called")
        try:
            t = self.q.call_next(counter, OFFICER)
        except Conflict:
            assert refused, f"counter {counter} refused to call although the model lets it"
            return
        assert not refused, f"counter {counter} called although closed or blocked by a called ticket"
        self.model = m
        if held is not None and held.status == "serving":
            held.status = "done"
        m.holding[counter] = None
        expected = m.next_for(counter, today)
        if expected is None:
            assert t is None, "called a ticket where the model has nobody waiting"
            return
        assert t is not None and t.id == expected.id, f"called {t and t.id}, the model calls {expected.id}"
        if t is not None:
            assert t.status == "called" and t.counter == counter
        expected.status, expected.counter, expected.announced = "called", counter, self.clock.now
        m.holding[counter] = expected.id

    def _operate(self, data, op):
        ids = self._ticket_ids()
        if not ids:
            return
        tid = data.draw(self._a_ticket(ids))
        self._expect(op, tid, lambda: getattr(self.q, op)(tid, OFFICER))

    # one rule per operation, so each gets its share of the steps
    @precondition(lambda self: bool(self.model.tickets))
    @rule(data=st.data())
    def start(self, data):
        self._operate(data, "start")

    @precondition(lambda self: bool(self.model.tickets))
    @rule(data=st.data())
    def finish(self, data):
        self._operate(data, "finish")

    @precondition(lambda self: bool(self.model.tickets))
    @rule(data=st.data())
    def no_show(self, data):
        self._operate(data, "no_show")

    @precondition(lambda self: bool(self.model.tickets))
    @rule(data=st.data())
    def cancel(self, data):
        self._operate(data, "cancel")

    @precondition(lambda self: bool(self.model.tickets))
    @rule(data=st.data())
    def recall(self, data):
        self._operate(data, "recall")

    @precondition(lambda self: any(t.status == "called" for t in self.model.tickets.values()))
    @rule(data=st.data())
    def serve_someone_called(self, data):
        """Start a called visitor: reaches `serving`, where most of the rules differ, more often than chance."""
        called = [i for i, t in self.model.tickets.items() if t.status == "called"]
        if not called:
            return
        tid = data.draw(st.sampled_from(called))
        self._expect("start", tid, lambda: self.q.start(tid, OFFICER))

    @precondition(lambda self: bool(self.model.tickets))
    @rule(data=st.data(), service=st.sampled_from(SERVICES))
    def transfer(self, data, service):
        ids = self._ticket_ids()
        if not ids:
            return
        tid = data.draw(self._a_ticket(ids))
        self._expect("transfer", tid, lambda: self.q.transfer(tid, service, OFFICER), to_service=service)

    @rule(counter=st.sampled_from(COUNTERS), is_open=st.booleans())
    def open_close(self, counter, is_open):
        held = self.model.holding[counter]
        busy = held is not None and self.model.tickets[held].status in ("called", "serving")
        try:
            self.q.set_counter_open(counter, is_open, OFFICER)
        except Conflict:
            assert not is_open
            assert busy, f"counter {counter} refused to close though it holds nobody"
            return
        assert is_open or not busy, f"counter {counter} closed while holding a visitor"
        self.model.is_open[counter] = is_open

    @rule(minutes=st.sampled_from([0.1, 1, 7, 60, 600]))
    def time_passes(self, minutes):
        self.clock.advance(minutes=minutes)

    @rule()
    def unknown_things_are_not_found(self):
        for call in (
            lambda: self.q.issue("nope", KIOSK),
            lambda: self.q.call_next("99", OFFICER),
            lambda: self.q.start(10**9, OFFICER),
        ):
            try:
                call()
                raise AssertionError("accepted an unknown service, counter or ticket")
            except NotFound:
                pass

    @invariant()
    def every_ticket_and_counter_as_the_model_says(self):
        if not hasattr(self, "node"):
            return
        real = {r["id"]: r["status"] for r in self.node.store.query("SELECT id, status FROM tickets")}
        assert real == {i: t.status for i, t in self.model.tickets.items()}
        for c in self.node.store.query("SELECT code, is_open, current_ticket FROM counters"):
            assert bool(c["is_open"]) == self.model.is_open[c["code"]], f"counter {c['code']} open state"
            held = self.model.holding[c["code"]]
            assert c["current_ticket"] == held, f"counter {c['code']} holds {c['current_ticket']}, the model {held}"

    @invariant()
    def no_ticket_in_two_places(self):
        if not hasattr(self, "node"):
            return
        rows = self.node.store.query("SELECT id, status, counter FROM tickets")
        counters = self.node.store.query("SELECT code, current_ticket FROM counters")
        current = [c["current_ticket"] for c in counters if c["current_ticket"] is not None]
        assert len(current) == len(set(current)), "one ticket at two counters"
        by_id = {r["id"]: r for r in rows}
        for c in counters:
            if c["current_ticket"] is not None:
                t = by_id[c["current_ticket"]]
                if t["status"] in ("called", "serving"):
                    assert t["counter"] == c["code"]
        at_counter = [r["id"] for r in rows if r["status"] in ("called", "serving")]
        today = self.q.today().isoformat()
        todays = {r["id"] for r in self.node.store.query("SELECT id FROM tickets WHERE business_day = ?", [today])}
        for tid in at_counter:
            if tid in todays:
                assert tid in current, "a called or serving ticket that no counter holds"

    @invariant()
    def numbering_has_no_gaps_or_duplicates(self):
        if not hasattr(self, "node"):
            return
        rows = self.node.store.query("SELECT service, business_day, seq, number FROM tickets WHERE seq IS NOT NULL")
        groups: dict[tuple[str, str], list[int]] = {}
        for r in rows:
            groups.setdefault((r["service"], r["business_day"]), []).append(r["seq"])
            assert r["number"].endswith(f"{r['seq']:03d}")
        for seqs in groups.values():
            assert sorted(seqs) == list(range(1, len(seqs) + 1))

    @invariant()
    def transfers_are_linked_and_keep_arrival(self):
        if not hasattr(self, "node"):
            return
        rows = {r["id"]: r for r in self.node.store.query("SELECT * FROM tickets")}
        for r in rows.values():
            if r["status"] == "transferred":
                nxt = rows[r["transferred_to"]]
                assert nxt["transferred_from"] == r["id"]
                assert nxt["number"] == r["number"] and nxt["arrived_at"] == r["arrived_at"]

    @invariant()
    def kpis_match_the_history(self):
        if not hasattr(self, "node"):
            return
        k = self.q.kpis()
        rows = self.node.store.query(
            "SELECT service, status, seq FROM tickets WHERE business_day = ?", [k.business_day.isoformat()]
        )
        by_status = Counter(r["status"] for r in rows)
        st_ = k.station
        assert st_.served == by_status["done"]
        assert st_.waiting == by_status["waiting"]
        assert st_.no_shows == by_status["no_show"]
        assert st_.issued == sum(1 for r in rows if r["seq"] is not None)
        assert sum(s.served for s in k.services) == st_.served
        assert sum(s.waiting for s in k.services) == st_.waiting
        share = st_.within_target_share
        assert share is None or 0.0 <= share <= 1.0
        if st_.p90_wait_s is not None:
            assert st_.p90_wait_s >= 0 and st_.mean_wait_s >= 0

    @invariant()
    def audit_chain_intact(self):
        if not hasattr(self, "node"):
            return
        rows = self.node.store.query("SELECT * FROM audit_log ORDER BY seq")
        assert verify_chain(rows, [], self.node.keys.anchor_public_key).ok


QueueMachine.TestCase.settings = settings(
    max_examples=50, stateful_step_count=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestQueueMachine = QueueMachine.TestCase
