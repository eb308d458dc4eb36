"""A hypothesis state machine over the procedure: random filings, transitions, returns, assignments, statements,
shares and reads, checked against an oracle of its own (it does not import the procedure table)."""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from edge.audit.verify import verify_chain
from edge.auth.principal import Principal
from edge.errors import DomainError
from edge.node import EdgeNode
from edge.reports.service import PartyIn
from edge.reports.vocabulary import PartyRole
from edge.settings import EdgeSettings
from markaz.config import load_settings
from tests.conftest import FakeClock
from tests.reports.conftest import AGENCIES, THEFT

ACTORS = {
    "officer": Principal("staff", "officer", "officer"),
    "officer2": Principal("staff", "officer2", "officer"),
    "supervisor": Principal("staff", "supervisor", "supervisor"),
}
AGENCY = Principal("staff", "agency_viewer", "agency_viewer")
ACTIONS = ["receive", "investigate", "return", "resume", "refer", "close"]
OUTCOMES = [None, "resolved", "withdrawn", "rejected", "transferred"]


def oracle(action, state, role, actor, officer, outcome) -> str | None:
    """The procedure as the issue states it, written again here: the next state, or None when illegal."""
    sup = role == "supervisor"
    mine = sup or actor == officer
    if action == "close":
        return "closed" if sup and state != "closed" and outcome is not None else None
    if outcome is not None:
        return None
    rules = {
        "receive": (state == "submitted", "received"),
        "investigate": (state == "received" and officer is not None and mine, "under_investigation"),
        "return": (state in ("under_investigation", "referred") and sup and officer is not None, "returned"),
        "resume": (state == "returned" and mine, "under_investigation"),
        "refer": (state == "under_investigation" and mine, "referred"),
    }
    ok, target = rules[action]
    return target if ok else None


class Procedure(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="reports-machine-"))
        self.clock = FakeClock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
        s = load_settings(
            EdgeSettings, data_dir=self.tmp, sample_data=True, reports={"agencies": AGENCIES, "station_code": "OLY"}
        )
        self.node = EdgeNode(s, clock=self.clock)
        with self.node.store.write() as db:  # staff rows only for role lookups; nobody signs in here
            for user, role in (
                ("officer", "officer"),
                ("officer2", "officer"),
                ("supervisor", "supervisor"),
                ("agency_viewer", "agency_viewer"),
            ):
                db.execute(
                    "INSERT INTO staff (username, password_hash, role, created_at) VALUES (?, 'x', ?, '2026')",
                    [user, role],
                )
        self.model: dict[str, dict] = {}
        self.transitions = 0
        self.reads = 0
        self.statements: dict[int, tuple] = {}

    def teardown(self):
        self.node.store.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    refs = st.integers(0, 2)

    def _ref(self, i):
        keys = sorted(self.model)
        return keys[i % len(keys)] if keys else None

    @rule()
    def file(self):
        if len(self.model) >= 3:
            return
        ref = self.node.reports.file("theft", THEFT, PartyIn(PartyRole.COMPLAINANT, "Visitor Name"), ACTORS["officer"])[
            "reference"
        ]
        self.model[ref] = {"state": "submitted", "officer": None, "shared_until": None}

    @rule(
        i=refs, action=st.sampled_from(ACTIONS), who=st.sampled_from(sorted(ACTORS)), outcome=st.sampled_from(OUTCOMES)
    )
    def move(self, i, action, who, outcome):
        ref = self._ref(i)
        if ref is None:
            return
        m, actor = self.model[ref], ACTORS[who]
        outcome = outcome if action == "close" else None  # (an outcome on another action is a unit test's job)
        expected = oracle(action, m["state"], actor.role, actor.subject, m["officer"], outcome)
        try:
            self.node.reports.transition(ref, action, "a reason given", actor, outcome=outcome)
        except DomainError:
            assert expected is None, f"{action} from {m['state']} by {who} should have succeeded"
            return
        assert expected is not None, f"illegal {action} from {m['state']} by {who} succeeded"
        m["state"] = expected
        self.transitions += 1

    @rule(i=refs, to=st.sampled_from(["officer", "officer2"]), who=st.sampled_from(sorted(ACTORS)))
    def assign(self, i, to, who):
        ref = self._ref(i)
        if ref is None:
            return
        m, actor = self.model[ref], ACTORS[who]
        legal = m["state"] not in ("referred", "closed") and (
            actor.role == "supervisor" or (m["officer"] is None and to == actor.subject)
        )
        try:
            self.node.reports.assign(ref, to, "assignment reason", actor)
        except DomainError:
            assert not legal
            return
        assert legal
        m["officer"] = to

    @rule(i=refs, who=st.sampled_from(sorted(ACTORS)))
    def statement(self, i, who):
        ref = self._ref(i)
        if ref is None:
            return
        with __import__("contextlib").suppress(DomainError):
            party = self.node.store.query_one(
                "SELECT p.id FROM report_parties p JOIN reports r ON r.id = p.report_id WHERE r.reference = ?", [ref]
            )["id"]
            self.node.reports.record_statement(ref, party, "what the party said", "signed", ACTORS[who])

    @rule(i=refs, days=st.integers(1, 5))
    def share(self, i, days):
        ref = self._ref(i)
        if ref is None:
            return
        until = self.clock.now + timedelta(days=days)
        self.node.reports.share(ref, "agency_viewer", "prosecution review", until, ACTORS["supervisor"])
        m = self.model[ref]
        m["shared_until"] = max(filter(None, [m["shared_until"], until]))

    @rule(hours=st.integers(1, 72))
    def time_passes(self, hours):
        self.clock.advance(hours=hours)

    @rule(i=refs, who=st.sampled_from([*sorted(ACTORS), "agency"]))
    def read(self, i, who):
        ref = self._ref(i)
        if ref is None:
            return
        actor = AGENCY if who == "agency" else ACTORS[who]
        until = self.model[ref]["shared_until"]
        allowed = who != "agency" or (until is not None and until > self.clock.now)
        self.reads += 1
        try:
            page = self.node.reports.get(ref, actor)
        except DomainError:
            assert not allowed, f"{who} was refused a read it may make"
            return
        assert allowed, "an agency read a report not shared with it (or after the date)"
        assert page["state"] == self.model[ref]["state"]

    @invariant()
    def store_matches_model(self):
        for ref, m in self.model.items():
            row = self.node.store.query_one("SELECT state, officer FROM reports WHERE reference = ?", [ref])
            assert (row["state"], row["officer"]) == (m["state"], m["officer"])

    @invariant()
    def every_transition_and_read_is_audited(self):
        n = {
            r["action"]: r["n"]
            for r in self.node.store.query("SELECT action, count(*) AS n FROM audit_log GROUP BY action")
        }
        assert n.get("report.transition", 0) == self.transitions
        assert n.get("report.read", 0) == self.reads
        outcomes = [
            json.loads(r["after"])["outcome"]
            for r in self.node.store.query("SELECT after FROM audit_log WHERE action = 'report.read'")
        ]
        assert all(o in ("ok", "denied", "not_found") for o in outcomes)

    @invariant()
    def statements_never_change(self):
        rows = self.node.store.query(
            "SELECT id, party_id, version, corrects, text_ct, recorded_at FROM report_statements"
        )
        for r in rows:
            snap = tuple(r.values())
            assert self.statements.setdefault(r["id"], snap) == snap
        assert len(rows) >= len(self.statements)

    @invariant()
    def audit_chain_verifies(self):
        rows = self.node.store.query("SELECT * FROM audit_log ORDER BY seq")
        assert verify_chain(rows, [], self.node.keys.anchor_public_key).ok


Procedure.TestCase.settings = settings(
    max_examples=30, stateful_step_count=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestProcedure = Procedure.TestCase


PATHS = {  # how to bring a fresh report to each state: (action, actor) steps, assignment to "officer" first
    "submitted": [],
    "received": [("receive", "officer")],
    "under_investigation": [("receive", "officer"), ("investigate", "officer")],
    "returned": [("receive", "officer"), ("investigate", "officer"), ("return", "supervisor")],
    "referred": [("receive", "officer"), ("investigate", "officer"), ("refer", "officer")],
    "closed": [("close", "supervisor")],
}


def test_every_state_action_and_actor_agrees_with_the_oracle():
    """Exhaustive over the table: each state x action x actor, on a fresh report brought to that state."""
    machine = Procedure()
    try:
        for state, path in PATHS.items():
            for action in ACTIONS:
                for who in sorted(ACTORS):
                    machine.model.clear()
                    machine.file()
                    ref = next(iter(machine.model))
                    machine.node.reports.assign(ref, "officer", "assignment reason", ACTORS["supervisor"])
                    machine.model[ref]["officer"] = "officer"
                    for step, actor in path:
                        machine.move(0, step, actor, "resolved" if step == "close" else None)
                    assert machine.model[ref]["state"] == state
                    machine.move(0, action, who, "withdrawn" if action == "close" else None)
    finally:
        machine.teardown()
