"""Hypothesis drives the session with random taps, card events, agent results and time: it never gets stuck."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from kiosk.session.machine import Rules, Session
from kiosk.session.messages import (
    Availability,
    CardInserted,
    CardRemoved,
    ChipFailed,
    ChipRead,
    Crash,
    EndSession,
    FaceResult,
    Identity,
    IssuedTicket,
    MrzScanned,
    PrintFailed,
    ReceiptPrinted,
    Service,
    Tap,
    Tick,
    TicketFailed,
    TicketIssued,
)
from kiosk.session.timeouts import Timeouts
from kiosk.session.vocabulary import BUSY_SCREENS, Action, ChipFailure, FaceOutcome, MrzField, Purpose, Screen

SERVICES = (
    Service("general", "خدمات عامة", "General", needs_identity=False),
    Service("report", "تقديم بلاغ", "Report", needs_identity=True),
    Service("reception", "الاستقبال", "Reception"),
)
HOME = {Screen.ATTRACT, Screen.CLOSED}
VALUES = st.sampled_from(
    [
        None,
        "ticket",
        "file_report",
        "follow_report",
        "general",
        "report",
        "nope",
        "ar",
        "en",
        "L",
        "8",
        "0",
        "7",
        "4",
        *[f.value for f in MrzField],
    ]
)


def _escape(session: Session, now: float) -> Screen:
    """What a visitor who walks away (time passing) leaves behind: replayed on a copy so the run goes on."""
    for _ in range(3):
        if session.screen in HOME:
            break
        assert session.deadline is not None, f"{session.screen} has no time-out"
        now = max(now, session.deadline)
        session.handle(Tick(), now)
    return session.screen


class SessionMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.session = Session(Rules(timeouts=Timeouts(warning_s=20)))
        self.session.handle(Availability(True, SERVICES), self.now)
        self.sessions_seen = 0

    def _apply(self, event: object) -> None:
        before = self.session.session
        effects = self.session.handle(event, self.now)  # type: ignore[arg-type]
        for effect in effects:
            if isinstance(effect, EndSession):
                assert self.session.screen in HOME
        assert self.session.session >= before

    @rule(action=st.sampled_from(list(Action)), value=VALUES)
    def tap(self, action: Action, value: str | None) -> None:
        self._apply(Tap(action, value))

    @rule(stale=st.booleans(), good=st.booleans())
    def document_camera(self, stale: bool, good: bool) -> None:
        birth = "740812" if good else "741399"
        self._apply(MrzScanned(self.session.session - int(stale), "L898902C3", birth, "340415"))

    @rule()
    def card_in(self) -> None:
        self._apply(CardInserted())

    @rule()
    def card_out(self) -> None:
        self._apply(CardRemoved())

    @rule(seconds=st.floats(min_value=0, max_value=200))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds
        self._apply(Tick())

    @rule(ok=st.booleans(), failure=st.sampled_from(list(ChipFailure)), stale=st.booleans())
    def chip_answer(self, ok: bool, failure: ChipFailure, stale: bool) -> None:
        job = (self.session.pending_job or 0) + (1 if stale else 0)
        if ok:
            self._apply(ChipRead(job, Identity("ERIKSSON", "ANNA", "L898902C3")))
        else:
            self._apply(ChipFailed(job, failure))

    @rule(outcome=st.sampled_from(list(FaceOutcome)), left=st.integers(0, 3))
    def face_answer(self, outcome: FaceOutcome, left: int) -> None:
        self._apply(
            FaceResult(self.session.pending_job or 0, outcome, left, 7 if outcome == FaceOutcome.MATCH else None)
        )

    @rule(ok=st.booleans())
    def ticket_answer(self, ok: bool) -> None:
        job = self.session.pending_job or 0
        ticket = IssuedTicket(1, "A001", "general", "T-1")
        self._apply(TicketIssued(job, ticket) if ok else TicketFailed(job))

    @rule(ok=st.booleans())
    def print_answer(self, ok: bool) -> None:
        job = self.session.pending_job or 0
        self._apply(ReceiptPrinted(job) if ok else PrintFailed(job))

    @rule(open_=st.booleans())
    def availability(self, open_: bool) -> None:
        self._apply(Availability(open_, SERVICES, "" if open_ else "disabled"))

    @rule()
    def crash(self) -> None:
        self._apply(Crash())
        assert self.session.screen in HOME

    @invariant()
    def every_screen_but_home_has_a_timeout(self) -> None:
        assert (self.session.deadline is None) == (self.session.screen in HOME)

    @invariant()
    def cancel_always_leads_home(self) -> None:
        probe = _copy(self.session)
        probe.handle(Tap(Action.CANCEL), self.now)
        assert probe.screen in HOME
        assert probe.visit.identity is None and probe.visit.field_value(MrzField.DOCUMENT_NUMBER) == ""

    @invariant()
    def walking_away_leads_home_with_nothing_kept(self) -> None:
        probe = _copy(self.session)
        assert _escape(probe, self.now) in HOME
        assert probe.visit.identity is None and probe.visit.verification_id is None

    @invariant()
    def busy_screens_wait_for_a_job(self) -> None:
        if self.session.screen in BUSY_SCREENS:
            assert self.session.pending_job is not None

    @invariant()
    def closed_only_when_unavailable(self) -> None:
        if self.session.screen == Screen.CLOSED:
            assert not self.session.available

    @invariant()
    def identity_only_while_identifying_or_after(self) -> None:
        if self.session.screen in HOME:
            assert self.session.visit.purpose is None and self.session.visit.identity is None

    @invariant()
    def a_service_needing_identity_is_issued_only_verified(self) -> None:
        visit = self.session.visit
        if self.session.screen == Screen.ISSUING and visit.assist_reason is None and visit.service == "report":
            assert visit.verification_id is not None
        if visit.purpose == Purpose.FOLLOW_REPORT:
            assert self.session.screen in {Screen.FOLLOW_PLACEHOLDER}


def _copy(session: Session) -> Session:
    probe = Session(session.rules)
    probe.__dict__.update(session.__dict__)
    return probe


SessionMachine.TestCase.settings = settings(
    max_examples=300, stateful_step_count=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_session_never_gets_stuck = SessionMachine.TestCase
