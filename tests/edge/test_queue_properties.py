"""Random sequences of queue operations (hypothesis state machine) against the real core on a real SQLite file.

After every step: no ticket in two places, numbering without gaps or duplicates, transfers linked both ways,
KPIs consistent with the history, and the audit chain intact."""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from edge.audit.verify import verify_chain
from edge.auth.principal import Principal
from edge.errors import Conflict, NotFound, RateLimited
from edge.node import EdgeNode
from edge.queue.states import TRANSITIONS
from edge.settings import EdgeSettings
from markaz.config import load_settings
from tests.conftest import FakeClock

KIOSK = Principal("device", "kiosk-1", "kiosk")
OFFICER = Principal("staff", "officer", "officer")
SERVICES = ["general", "report", "follow-up", "priority"]
COUNTERS = ["1", "2", "3"]


class QueueMachine(RuleBasedStateMachine):
    @initialize()
    def setup(self):
        self.dir = Path(tempfile.mkdtemp(prefix="markaz-prop-"))
        self.clock = FakeClock()
        self.node = EdgeNode(load_settings(EdgeSettings, data_dir=self.dir, sample_data=True, timezone="Asia/Riyadh"), clock=self.clock)
        self.node.start()
        self.q = self.node.queue

    def teardown(self):
        if hasattr(self, "node"):
            self.node.stop()
            shutil.rmtree(self.dir, ignore_errors=True)

    def _ticket_ids(self):
        return [r["id"] for r in self.node.store.query("SELECT id FROM tickets")]

    def _expect(self, operation: str, ticket_id: int, call):
        status = self.node.store.query_one("SELECT status FROM tickets WHERE id = ?", [ticket_id])["status"]
        legal = status in {s.value for s in TRANSITIONS[operation][0]}
        try:
            call()
        except Conflict:
            assert not legal or operation == "transfer", f"{operation} from {status} refused"
            return
        except RateLimited:
            assert operation == "recall"
            return
        assert legal, f"{operation} from {status} was allowed"

    @rule(service=st.sampled_from(SERVICES))
    def issue(self, service):
        t = self.q.issue(service, KIOSK)
        assert t.status == "waiting"

    @rule(counter=st.sampled_from(COUNTERS))
    def call_next(self, counter):
        try:
            t = self.q.call_next(counter, OFFICER)
        except Conflict:
            return
        if t is not None:
            assert t.status == "called" and t.counter == counter

    @rule(data=st.data(), op=st.sampled_from(["start", "finish", "no_show", "cancel", "recall"]))
    def operate(self, data, op):
        ids = self._ticket_ids()
        if not ids:
            return
        tid = data.draw(st.sampled_from(ids))
        self._expect(op, tid, lambda: getattr(self.q, op)(tid, OFFICER))

    @rule(data=st.data(), service=st.sampled_from(SERVICES))
    def transfer(self, data, service):
        ids = self._ticket_ids()
        if not ids:
            return
        tid = data.draw(st.sampled_from(ids))
        self._expect("transfer", tid, lambda: self.q.transfer(tid, service, OFFICER))

    @rule(counter=st.sampled_from(COUNTERS), is_open=st.booleans())
    def open_close(self, counter, is_open):
        try:
            self.q.set_counter_open(counter, is_open, OFFICER)
        except Conflict:
            assert not is_open

    @rule(minutes=st.sampled_from([0.1, 1, 7, 60, 600]))
    def time_passes(self, minutes):
        self.clock.advance(minutes=minutes)

    @rule()
    def unknown_things_are_not_found(self):
        for call in (lambda: self.q.issue("nope", KIOSK), lambda: self.q.call_next("99", OFFICER), lambda: self.q.start(10**9, OFFICER)):
            try:
                call()
                raise AssertionError("accepted an unknown service, counter or ticket")
            except NotFound:
                pass

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
    max_examples=30, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestQueueMachine = QueueMachine.TestCase
