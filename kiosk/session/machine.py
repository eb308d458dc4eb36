"""The visitor session state machine: events in, effects out, and a view for the screen. No I/O and no clock of its own.

Every screen but attract and closed has a time-out; interactive screens warn first and offer more time, busy screens
give up. Cancel works everywhere, the language toggles everywhere, taking the card out while being identified ends
the session, an unexpected error resets it. Results of work the agent was asked to do carry the job number they
were asked with: a late answer for a session that has moved on is ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from kiosk.card.mrz import MrzError, MrzKey
from kiosk.session import report_form
from kiosk.session.messages import (
    Availability,
    CardInserted,
    CardRemoved,
    ChipFailed,
    ChipProgress,
    ChipRead,
    Crash,
    Effect,
    EndSession,
    Event,
    FaceResult,
    FiledReport,
    FileReport,
    Identity,
    IssuedTicket,
    IssueTicket,
    MrzScanned,
    PrintFailed,
    PrintReceipt,
    PrintReportReceipt,
    ReadChip,
    ReceiptPrinted,
    ReportField,
    ReportFiled,
    ReportRefused,
    ReportTracked,
    ReportType,
    RulesChanged,
    Service,
    Tap,
    Tick,
    TicketFailed,
    TicketIssued,
    TrackedReport,
    TrackFailed,
    TrackReport,
    VerifyFace,
)
from kiosk.session.timeouts import Timeouts
from kiosk.session.vocabulary import (
    BUSY_SCREENS,
    CARD_BOUND_SCREENS,
    Action,
    AssistReason,
    ChipFailure,
    EndReason,
    FaceOutcome,
    FollowField,
    KeyboardLayout,
    MrzField,
    Notice,
    PrintState,
    Purpose,
    Screen,
    TrackFailure,
)
from markaz.web.languages import Language

FIELD_LENGTHS = {MrzField.DOCUMENT_NUMBER: 22, MrzField.BIRTH_DATE: 6, MrzField.EXPIRY_DATE: 6}
LATIN_CAPITALS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
DIGITS = frozenset("0123456789")
REFERENCE_CHARS = DIGITS | LATIN_CAPITALS | {"-"}
MAX_REFERENCE = 24
MAX_PIN = 10
MIN_PIN = 4


@dataclass(frozen=True)
class Rules:
    """Settings of the flow itself."""

    timeouts: Timeouts = field(default_factory=Timeouts)
    max_details_attempts: int = 3  # BAC refusals before the visitor is sent to reception
    max_face_attempts: int = 3  # the edge has its own limit too; the lower one wins
    assisted_service: str = "reception"
    # the station's local time now (a date-time answer may not be after it); the agent gives the station's zone
    station_now: Callable[[], datetime] = field(default=lambda: datetime.now().astimezone())
    # the kiosk's profile: the languages offered (a visit starts in the first) and what a visitor may do here
    languages: tuple[Language, ...] = (Language.AR, Language.EN)
    purposes: tuple[Purpose, ...] = tuple(Purpose)

    def __post_init__(self) -> None:
        if not self.languages or not self.purposes:
            raise ValueError("a kiosk offers at least one language and one purpose")


@dataclass(frozen=True)
class Visit:
    """What one visitor's session holds. Replaced whole at the end of the session: nothing carries over."""

    purpose: Purpose | None = None
    fields: tuple[tuple[MrzField, str], ...] = tuple((f, "") for f in MrzField)
    active_field: MrzField = MrzField.DOCUMENT_NUMBER
    details_failures: int = 0
    face_attempts: int = 0
    identity: Identity | None = None
    verification_id: int | None = None
    assist_reason: AssistReason | None = None
    service: str | None = None
    ticket: IssuedTicket | None = None
    print_state: PrintState | None = None
    notice: Notice | None = None
    guidance: str | None = None  # the edge's reason for a retry (e.g. "face_too_small"), shown as advice
    scan_used: bool = False  # the document camera's details were tried once this visit
    chip_progress: float = 0.0  # how far the chip read has got, 0..1
    # filing a report
    report_type: ReportType | None = None
    answers: tuple[tuple[str, report_form.Answer], ...] = ()
    field_index: int = 0
    entry: str = ""  # what is keyed into the current field so far
    layout: KeyboardLayout = KeyboardLayout.ARABIC
    reviewing: bool = False  # a field opened from the review screen goes back there
    filed: FiledReport | None = None
    detail: str = ""  # the edge's reason when it refused the report
    detail_ar: str = ""  # and in Arabic, when the edge gave it
    # following a report
    follow_reference: str = ""
    follow_pin: str = ""
    follow_field: FollowField = FollowField.REFERENCE
    tracked: TrackedReport | None = None
    retry_after_s: int = 0

    def __repr__(self) -> str:  # never the keyed-in details, the identity, the answers or the PIN
        return f"Visit(purpose={self.purpose}, verified={self.verification_id is not None})"

    @property
    def retry_after_min(self) -> int:
        """The edge's wait (Retry-After, seconds) in whole minutes, rounded up: a visitor reads "30 minutes",
        not "1800 seconds", and is never told a shorter wait than the edge will enforce."""
        return max(1, -(-self.retry_after_s // 60)) if self.retry_after_s > 0 else 0

    def answer(self, name: str) -> report_form.Answer | None:
        return dict(self.answers).get(name)

    def with_answer(self, name: str, value: report_form.Answer | None) -> Visit:
        kept = tuple((n, v) for n, v in self.answers if n != name)
        return replace(self, answers=kept if value in (None, "", ()) else (*kept, (name, value)))

    def field_value(self, name: MrzField) -> str:
        return dict(self.fields)[name]

    def with_field(self, name: MrzField, value: str) -> Visit:
        return replace(self, fields=tuple((f, value if f == name else v) for f, v in self.fields))


@dataclass(frozen=True)
class SessionView:
    """Everything a screen needs to render, and nothing else."""

    screen: Screen
    language: Language
    session: int
    warning: bool
    seconds_left: int | None
    visit: Visit
    services: tuple[Service, ...]
    card_present: bool
    closed_reason: str
    last_end: EndReason | None
    details_attempts_left: int
    assisted_service: str
    report_types: tuple[ReportType, ...] = ()
    station_now: datetime | None = None  # local, naive: what a date-time field's steppers measure against
    languages: tuple[Language, ...] = (Language.AR, Language.EN)  # offered, the first one a visit starts in
    purposes: tuple[Purpose, ...] = tuple(Purpose)  # what the choose screen offers

    @property
    def other_language(self) -> Language | None:
        """The language the toggle switches to (the next one offered), None when only one is offered."""
        if len(self.languages) < 2:
            return None
        index = self.languages.index(self.language) if self.language in self.languages else -1
        return self.languages[(index + 1) % len(self.languages)]


class Session:
    """One kiosk's visitor session. `handle(event, now)` returns the effects for the agent to carry out."""

    def __init__(self, rules: Rules | None = None, now: float = 0.0) -> None:
        self.rules = rules or Rules()
        self.screen = Screen.CLOSED
        self.language = self.rules.languages[0]
        self.visit = Visit()
        self.session = 0
        self.warning = False
        self.deadline: float | None = None
        self.pending_job: int | None = None
        self._jobs = 0
        self.available = False
        self.closed_reason = "starting"
        self.services: tuple[Service, ...] = ()
        self.report_types: tuple[ReportType, ...] = ()
        self.card_present = False
        self.last_end: EndReason | None = None
        self._now = now

    # ---- reading ---------------------------------------------------------------------------------------------

    def view(self, now: float | None = None) -> SessionView:
        now = self._now if now is None else now
        left = None if self.deadline is None else max(0, int(self.deadline - now + 0.999))
        return SessionView(
            screen=self.screen,
            language=self.language,
            session=self.session,
            warning=self.warning,
            seconds_left=left,
            visit=self.visit,
            services=self.services,
            card_present=self.card_present,
            closed_reason=self.closed_reason,
            last_end=self.last_end,
            details_attempts_left=max(0, self.rules.max_details_attempts - self.visit.details_failures),
            assisted_service=self.rules.assisted_service,
            report_types=self.report_types,
            station_now=self._station_now() if self.screen == Screen.REPORT_FIELD else None,
            languages=self.rules.languages,
            purposes=self.rules.purposes,
        )

    def apply_rules(self, rules: Rules) -> None:
        """New rules (the kiosk's profile changed): a visitor mid-visit keeps their language until the visit ends;
        a kiosk waiting for the next visitor shows the new first language at once."""
        self.rules = rules
        if self.screen in (Screen.ATTRACT, Screen.CLOSED) or self.language not in rules.languages:
            self.language = rules.languages[0]

    def _station_now(self) -> datetime:
        """The station's local time, naive, to the minute (what a date-time answer is compared with)."""
        return self.rules.station_now().replace(tzinfo=None, second=0, microsecond=0)

    def service(self, code: str | None) -> Service | None:
        return next((s for s in self.services if s.code == code), None)

    # ---- the transitions ---------------------------------------------------------------------------------------

    def handle(self, event: Event, now: float) -> list[Effect]:
        """Apply one event. Never raises for an event that does not fit the screen: it is ignored."""
        self._now = now
        if isinstance(event, Crash):
            return self._end(EndReason.ERROR)
        if isinstance(event, RulesChanged):
            self.apply_rules(event.rules)
            return []
        if isinstance(event, Availability):
            return self._availability(event)
        if isinstance(event, Tick):
            return self._tick(now)
        if isinstance(event, CardInserted):
            return self._card_inserted()
        if isinstance(event, CardRemoved):
            return self._card_removed()
        if isinstance(event, Tap):
            return self._tap(event)
        if isinstance(event, MrzScanned):
            return self._mrz_scanned(event)
        return self._result(event)

    def _availability(self, event: Availability) -> list[Effect]:
        self.available = event.open and bool(event.services)
        self.services = event.services
        self.report_types = event.report_types
        self.closed_reason = "" if self.available else (event.reason or "no_services")
        # a visitor mid-session finishes their visit; the kiosk closes when it is back at the attract screen
        if self.screen == Screen.ATTRACT and not self.available:
            self._go(Screen.CLOSED)
        elif self.screen == Screen.CLOSED and self.available:
            self._go(Screen.ATTRACT)
        return []

    def _tick(self, now: float) -> list[Effect]:
        if self.deadline is None or now < self.deadline:
            return []
        if self.screen in BUSY_SCREENS or self.warning:
            return self._end(EndReason.TIMED_OUT)
        self.warning = True
        self.deadline = now + self.rules.timeouts.warning_s
        return []

    def _card_inserted(self) -> list[Effect]:
        self.card_present = True
        if self.screen == Screen.ATTRACT:
            self._start()
        elif self.screen == Screen.INSERT_CARD:
            self._go(Screen.MRZ_ENTRY)
        return []

    def _card_removed(self) -> list[Effect]:
        self.card_present = False
        if self.screen in CARD_BOUND_SCREENS:
            return self._end(EndReason.CARD_REMOVED)
        return []

    def _tap(self, tap: Tap) -> list[Effect]:
        if self.screen not in BUSY_SCREENS and self.deadline is not None:
            self._touch()  # any tap is activity: the time-out starts again and a warning goes away
        if tap.action == Action.LANGUAGE:
            chosen = Language.parse(tap.value, self.language.other)
            if chosen in self.rules.languages:  # a language the profile does not offer is ignored
                self.language = chosen
            return []
        if tap.action == Action.MORE_TIME:
            return []
        if tap.action == Action.CANCEL:
            return [] if self.screen in (Screen.ATTRACT, Screen.CLOSED) else self._end(EndReason.CANCELLED)
        handler = _TAP_HANDLERS.get(self.screen)
        return handler(self, tap) if handler else []

    # ---- taps per screen ---------------------------------------------------------------------------------------

    def _tap_attract(self, tap: Tap) -> list[Effect]:
        if tap.action == Action.START:
            self._start()
        return []

    def _tap_choose(self, tap: Tap) -> list[Effect]:
        if tap.action != Action.CHOOSE or tap.value not in {p.value for p in self.rules.purposes}:
            return []
        purpose = Purpose(tap.value)
        self.visit = replace(self.visit, purpose=purpose)
        if purpose == Purpose.FOLLOW_REPORT:
            self._go(Screen.FOLLOW_ENTRY)
        else:
            self._go(Screen.MRZ_ENTRY if self.card_present else Screen.INSERT_CARD)
        return []

    def _tap_insert_card(self, tap: Tap) -> list[Effect]:
        if tap.action == Action.SKIP_IDENTITY and self.visit.purpose == Purpose.TICKET:
            self._go(Screen.CHOOSE_SERVICE)
        return []

    def _tap_mrz(self, tap: Tap) -> list[Effect]:
        visit = self.visit
        name = visit.active_field
        value = visit.field_value(name)
        if tap.action == Action.FIELD and tap.value in {f.value for f in MrzField}:
            self.visit = replace(visit, active_field=MrzField(tap.value), notice=None)
        elif tap.action == Action.KEY and tap.value and len(tap.value) == 1:
            allowed = DIGITS if name != MrzField.DOCUMENT_NUMBER else DIGITS | LATIN_CAPITALS
            char = tap.value.upper()
            if char in allowed and len(value) < FIELD_LENGTHS[name]:
                visit = visit.with_field(name, value + char)
                if name == MrzField.BIRTH_DATE and len(value) + 1 == FIELD_LENGTHS[name]:
                    visit = replace(visit, active_field=MrzField.EXPIRY_DATE)  # a full date moves on by itself
                self.visit = replace(visit, notice=None)
        elif tap.action == Action.BACKSPACE:
            self.visit = replace(visit.with_field(name, value[:-1]), notice=None)
        elif tap.action == Action.SUBMIT:
            return self._submit_details()
        return []

    def _mrz_scanned(self, event: MrzScanned) -> list[Effect]:
        """Scanned details count as keyed in, once per visit: on the details screen of this same session, before the
        visitor typed anything and unless scanned details were already refused (then the keyboard is the way)."""
        visit = self.visit
        typed = any(value for _, value in visit.fields)
        if event.session != self.session or self.screen != Screen.MRZ_ENTRY or typed or visit.scan_used:
            return []
        if event.can and not (event.document_number or event.birth_date or event.expiry_date):
            return self._read_with_can(event.can)
        filled = visit
        for name, value in (
            (MrzField.DOCUMENT_NUMBER, event.document_number),
            (MrzField.BIRTH_DATE, event.birth_date),
            (MrzField.EXPIRY_DATE, event.expiry_date),
        ):
            filled = filled.with_field(name, value)
        self.visit = replace(filled, scan_used=True)
        effects = self._submit_details(event.can)
        if not effects:  # not well formed after all: clear it, the keyboard takes over
            self.visit = replace(Visit(purpose=visit.purpose), scan_used=True, notice=self.visit.notice)
        self._touch()
        return effects

    def _read_with_can(self, can: str) -> list[Effect]:
        """Only a CAN was scanned (an ID card's photo side): the chip is read with it alone; refused, the visitor
        keys the details in (the scan is used up)."""
        if not (len(can) == 6 and can.isdigit()):
            return []
        self.visit = replace(self.visit, scan_used=True, chip_progress=0.0)
        job = self._job()
        self._go(Screen.READING_CHIP)
        self._touch()
        return [ReadChip(job, "", "", "", can)]

    def _submit_details(self, can: str | None = None) -> list[Effect]:
        visit = self.visit
        try:
            # the chip is only touched with details that are well formed: no retry storm on a typo
            key = MrzKey(
                visit.field_value(MrzField.DOCUMENT_NUMBER),
                visit.field_value(MrzField.BIRTH_DATE),
                visit.field_value(MrzField.EXPIRY_DATE),
            )
        except MrzError:
            self.visit = replace(visit, notice=Notice.MRZ_INVALID)
            return []
        job = self._job()
        self.visit = replace(self.visit, chip_progress=0.0)
        self._go(Screen.READING_CHIP)
        return [ReadChip(job, key.document_number, key.birth_date, key.expiry_date, can)]

    def _tap_face_retry(self, tap: Tap) -> list[Effect]:
        if tap.action == Action.TRY_AGAIN:
            return self._capture()
        return []

    def _tap_confirm(self, tap: Tap) -> list[Effect]:
        if tap.action == Action.NOT_ME:
            return self._end(EndReason.NOT_ME)
        if tap.action == Action.CONFIRM:
            if self.visit.purpose != Purpose.FILE_REPORT:
                self._go(Screen.CHOOSE_SERVICE)
            elif self.report_types:
                self._go(Screen.REPORT_TYPE)
            else:
                self.visit = replace(self.visit, notice=Notice.NO_REPORT_TYPES)
                self._go(Screen.PROBLEM)
        return []

    # ---- filing a report -----------------------------------------------------------------------------------------

    def _field(self) -> ReportField:
        assert self.visit.report_type is not None
        return self.visit.report_type.fields[self.visit.field_index]

    def _open_field(self, index: int, reviewing: bool = False) -> None:
        """Show field `index`, its earlier answer in the entry (a list's items stay in the answer)."""
        assert self.visit.report_type is not None
        spec = self.visit.report_type.fields[index]
        earlier = self.visit.answer(spec.name)
        entry = earlier if isinstance(earlier, str) and spec.kind != "yesno" else ""
        layout = report_form.layout_for(spec, self.language)
        self.visit = replace(self.visit, field_index=index, entry=entry, layout=layout, reviewing=reviewing,
                             notice=None, detail="", detail_ar="")  # fmt: skip
        self._go(Screen.REPORT_FIELD)

    def _tap_report_type(self, tap: Tap) -> list[Effect]:
        if tap.action != Action.REPORT_TYPE:
            return []
        rtype = next((t for t in self.report_types if t.code == tap.value), None)
        if rtype is None or self.visit.verification_id is None:
            return []
        self.visit = replace(self.visit, report_type=rtype, answers=(), notice=None)
        if rtype.fields:
            self._open_field(0)
        else:
            self._go(Screen.REPORT_REVIEW)
        return []

    def _commit(self) -> report_form.Answer | None:
        """The current field's answer as keyed in (a list: its items plus what is still in the entry)."""
        spec, visit = self._field(), self.visit
        if spec.kind == "items":
            items = visit.answer(spec.name) or ()
            assert isinstance(items, tuple)
            extra = visit.entry.strip()
            return (*items, extra) if extra else items
        if spec.kind == "yesno":
            return visit.answer(spec.name)
        return visit.entry.strip()

    def _tap_report_field(self, tap: Tap) -> list[Effect]:
        spec, visit = self._field(), self.visit
        if tap.action == Action.KEY and tap.value is not None and report_form.takes(spec, visit.entry, tap.value):
            self.visit = replace(visit, entry=visit.entry + tap.value, notice=None)
        elif tap.action == Action.BACKSPACE and spec.kind != "datetime":
            self.visit = replace(visit, entry=visit.entry[:-1], notice=None)
        elif tap.action == Action.LAYOUT and tap.value in {k.value for k in KeyboardLayout}:
            self.visit = replace(visit, layout=KeyboardLayout(tap.value))
        elif tap.action == Action.ANSWER and spec.kind == "yesno" and tap.value in ("yes", "no"):
            self.visit = visit.with_answer(spec.name, tap.value)
            return self._next_field()
        elif tap.action == Action.ADD_ITEM and spec.kind == "items" and visit.entry.strip():
            items = self._commit()
            if isinstance(items, tuple) and len(items) <= spec.max_length:
                self.visit = replace(visit.with_answer(spec.name, items), entry="", notice=None)
        elif tap.action == Action.REMOVE_ITEM and spec.kind == "items" and (tap.value or "").isdigit():
            items = visit.answer(spec.name) or ()
            index = int(tap.value or "0")
            if isinstance(items, tuple) and index < len(items):
                self.visit = visit.with_answer(spec.name, items[:index] + items[index + 1 :])
        elif tap.action == Action.STEP and spec.kind == "datetime":
            part, _, delta = (tap.value or "").partition(":")
            moved = report_form.step(visit.entry, part, int(delta) if delta in ("+1", "-1") else 0, self._station_now())
            if moved is not None:
                self.visit = replace(visit, entry=moved, notice=None)
        elif tap.action == Action.QUICK_DATE and spec.kind == "datetime":
            chosen = report_form.quick(visit.entry, tap.value or "", self._station_now())
            if chosen is not None:
                self.visit = replace(visit, entry=chosen, notice=None)
        elif tap.action == Action.CLEAR and spec.kind == "datetime":
            self.visit = replace(visit, entry="", notice=None)
        elif tap.action == Action.NEXT:
            return self._next_field()
        elif tap.action == Action.BACK:
            answer = self._commit()
            if report_form.check(spec, answer, self._station_now()) in (None, Notice.FIELD_REQUIRED):
                self.visit = self.visit.with_answer(spec.name, answer)
            if visit.reviewing:
                self._go(Screen.REPORT_REVIEW)
            elif visit.field_index > 0:
                self._open_field(visit.field_index - 1)
            else:
                self.visit = replace(self.visit, notice=None)
                self._go(Screen.REPORT_TYPE)
        return []

    def _next_field(self) -> list[Effect]:
        spec = self._field()
        answer = self._commit()
        notice = report_form.check(spec, answer, self._station_now())
        if notice is not None:
            self.visit = replace(self.visit, notice=notice)
            return []
        self.visit = replace(self.visit.with_answer(spec.name, answer), entry="", notice=None)
        assert self.visit.report_type is not None
        last = self.visit.field_index + 1 >= len(self.visit.report_type.fields)
        if self.visit.reviewing or last:
            self.visit = replace(self.visit, reviewing=False)
            self._go(Screen.REPORT_REVIEW)
        else:
            self._open_field(self.visit.field_index + 1)
        return []

    def _tap_review(self, tap: Tap) -> list[Effect]:
        rtype = self.visit.report_type
        assert rtype is not None
        if tap.action == Action.EDIT and (tap.value or "").isdigit() and int(tap.value or "0") < len(rtype.fields):
            self._open_field(int(tap.value or "0"), reviewing=True)
        elif tap.action == Action.BACK and rtype.fields:
            self._open_field(len(rtype.fields) - 1)
        elif tap.action == Action.SUBMIT:
            for index, spec in enumerate(rtype.fields):
                notice = report_form.check(spec, self.visit.answer(spec.name), self._station_now())
                if notice is not None:  # e.g. a required field left empty on the way back: show that field
                    self._open_field(index, reviewing=True)
                    self.visit = replace(self.visit, notice=notice)
                    return []
            job = self._job()
            self._go(Screen.FILING, keep_job=True)
            return [FileReport(job, rtype, self.visit.answers)]
        return []

    # ---- following a report ----------------------------------------------------------------------------------------

    def _tap_follow(self, tap: Tap) -> list[Effect]:
        visit = self.visit
        if tap.action == Action.FIELD and tap.value in {f.value for f in FollowField}:
            self.visit = replace(visit, follow_field=FollowField(tap.value), notice=None)
        elif tap.action == Action.KEY and tap.value and len(tap.value) == 1:
            char = tap.value.upper()
            if visit.follow_field == FollowField.REFERENCE:
                if char in REFERENCE_CHARS and len(visit.follow_reference) < MAX_REFERENCE:
                    self.visit = replace(visit, follow_reference=visit.follow_reference + char, notice=None)
            elif char in DIGITS and len(visit.follow_pin) < MAX_PIN:
                self.visit = replace(visit, follow_pin=visit.follow_pin + char, notice=None)
        elif tap.action == Action.BACKSPACE:
            if visit.follow_field == FollowField.REFERENCE:
                self.visit = replace(visit, follow_reference=visit.follow_reference[:-1], notice=None)
            else:
                self.visit = replace(visit, follow_pin=visit.follow_pin[:-1], notice=None)
        elif tap.action == Action.SUBMIT:
            if not visit.follow_reference or len(visit.follow_pin) < MIN_PIN:
                self.visit = replace(visit, notice=Notice.FIELD_REQUIRED)
                return []
            return self._track()
        return []

    def _track(self) -> list[Effect]:
        job = self._job()
        self._go(Screen.FOLLOWING, keep_job=True)
        return [TrackReport(job, self.visit.follow_reference, self.visit.follow_pin)]

    def _tap_follow_result(self, tap: Tap) -> list[Effect]:
        if tap.action == Action.REFRESH:
            return self._track()
        return self._tap_done(tap)

    def _tap_service(self, tap: Tap) -> list[Effect]:
        if tap.action != Action.SERVICE:
            return []
        service = self.service(tap.value)
        if service is None:
            return []
        if service.needs_identity and self.visit.verification_id is None:
            self.visit = replace(self.visit, notice=Notice.SERVICE_NEEDS_IDENTITY)
            return []
        return self._issue(service.code, None)

    def _tap_done(self, tap: Tap) -> list[Effect]:
        if tap.action == Action.DONE:
            return self._end(EndReason.DONE)
        return []

    # ---- results of the agent's work ------------------------------------------------------------------------------

    def _result(self, event: Event) -> list[Effect]:
        job = getattr(event, "job", None)
        if job is None or job != self.pending_job:
            return []  # late answer for a job the session no longer waits for
        if isinstance(event, ChipProgress) and self.screen == Screen.READING_CHIP:
            done = min(1.0, max(self.visit.chip_progress, event.done))  # never backwards, never past the end
            self.visit = replace(self.visit, chip_progress=done)
            return []
        if isinstance(event, ChipRead) and self.screen == Screen.READING_CHIP:
            self.visit = replace(self.visit, identity=event.identity, notice=None)
            return self._capture()
        if isinstance(event, ChipFailed) and self.screen == Screen.READING_CHIP:
            return self._chip_failed(event.failure)
        if isinstance(event, FaceResult) and self.screen == Screen.FACE_CAPTURE:
            return self._face(event)
        if isinstance(event, TicketIssued) and self.screen == Screen.ISSUING:
            self.visit = replace(self.visit, ticket=event.ticket, print_state=PrintState.PENDING)
            job = self._job()
            self._go(Screen.TICKET, keep_job=True)
            return [PrintReceipt(job, event.ticket)]
        if isinstance(event, TicketFailed) and self.screen == Screen.ISSUING:
            self.visit = replace(self.visit, notice=Notice.TICKET_FAILED)
            self._go(Screen.PROBLEM)
            return []
        if isinstance(event, ReportFiled) and self.screen == Screen.FILING:
            self.visit = replace(self.visit, filed=event.report, print_state=PrintState.PENDING, answers=())
            job = self._job()
            self._go(Screen.REPORT_FILED, keep_job=True)
            return [PrintReportReceipt(job, event.report, self.visit.report_type)]
        if isinstance(event, ReportRefused) and self.screen == Screen.FILING:
            if event.reachable:  # the answers stay: the visitor can correct what the edge refused
                self.visit = replace(self.visit, notice=Notice.REPORT_REFUSED, detail=event.detail[:300],
                                     detail_ar=event.detail_ar[:300])  # fmt: skip
                self._go(Screen.REPORT_REVIEW)
            else:
                self.visit = replace(self.visit, notice=Notice.REPORT_FAILED)
                self._go(Screen.PROBLEM)
            return []
        if isinstance(event, ReportTracked) and self.screen == Screen.FOLLOWING:
            self.visit = replace(self.visit, tracked=event.report, notice=None)
            self._go(Screen.FOLLOW_RESULT)
            return []
        if isinstance(event, TrackFailed) and self.screen == Screen.FOLLOWING:
            notice = {
                TrackFailure.WRONG: Notice.TRACK_WRONG,
                TrackFailure.MISTYPED: Notice.REFERENCE_MISTYPED,
                TrackFailure.LOCKED: Notice.TRACK_LOCKED,
                TrackFailure.UNAVAILABLE: Notice.TRACK_UNAVAILABLE,
            }[event.failure]
            pin = "" if event.failure == TrackFailure.WRONG else self.visit.follow_pin
            field = FollowField.REFERENCE if event.failure == TrackFailure.MISTYPED else FollowField.PIN
            self.visit = replace(self.visit, notice=notice, follow_pin=pin, follow_field=field, tracked=None,
                                 retry_after_s=event.retry_after_s)  # fmt: skip
            self._go(Screen.FOLLOW_ENTRY)
            return []
        if isinstance(event, ReceiptPrinted | PrintFailed) and self.screen in (Screen.TICKET, Screen.REPORT_FILED):
            printed = isinstance(event, ReceiptPrinted)
            self.visit = replace(self.visit, print_state=PrintState.PRINTED if printed else PrintState.FAILED)
            self.pending_job = None
            self._touch()  # a ticket shown on screen (printer down) gets the full time to be noted or photographed
        return []

    def _chip_failed(self, failure: ChipFailure) -> list[Effect]:
        if failure == ChipFailure.REMOVED:
            return self._end(EndReason.CARD_REMOVED)
        if failure == ChipFailure.ACCESS_DENIED:
            failures = self.visit.details_failures + 1
            self.visit = replace(self.visit, details_failures=failures, notice=Notice.BAC_REFUSED)
            if failures >= self.rules.max_details_attempts:
                return self._assist(AssistReason.DETAILS_REFUSED)
            self._go(Screen.MRZ_ENTRY)
            return []
        reason = {
            ChipFailure.NOT_EMRTD: AssistReason.NOT_EMRTD,
            ChipFailure.UNREADABLE: AssistReason.CHIP_UNREADABLE,
            ChipFailure.PASSIVE_AUTH: AssistReason.PASSIVE_AUTH_FAILED,
            ChipFailure.EXPIRED: AssistReason.DOCUMENT_EXPIRED,
        }[failure]
        return self._assist(reason)

    def _face(self, result: FaceResult) -> list[Effect]:
        if result.outcome == FaceOutcome.MATCH:
            self.visit = replace(self.visit, verification_id=result.verification_id, notice=None)
            self._go(Screen.CONFIRM_IDENTITY)
            return []
        if result.outcome == FaceOutcome.SPOOF:
            return self._assist(AssistReason.SPOOF)
        if result.outcome == FaceOutcome.UNAVAILABLE:
            return self._assist(AssistReason.VERIFICATION_UNAVAILABLE)
        if result.outcome == FaceOutcome.EXHAUSTED:
            return self._assist(AssistReason.NO_MATCH)
        if result.detail.startswith("card_"):  # the chip's photo itself is unusable: trying again cannot help
            return self._assist(AssistReason.CARD_PHOTO_UNUSABLE)
        attempts = self.visit.face_attempts + 1
        self.visit = replace(self.visit, face_attempts=attempts)
        if attempts >= self.rules.max_face_attempts or result.attempts_left <= 0:
            no_face = result.outcome == FaceOutcome.NO_FACE or result.detail in {"no_face", "no_live_face"}
            return self._assist(AssistReason.NO_FACE if no_face else AssistReason.NO_MATCH)
        if result.outcome == FaceOutcome.NO_FACE or result.detail in {"no_face", "no_live_face"}:
            notice = Notice.FACE_NOT_FOUND
        elif result.outcome == FaceOutcome.RETRY:
            notice = Notice.FACE_QUALITY
        else:
            notice = Notice.FACE_RETRY
        self.visit = replace(self.visit, notice=notice, guidance=result.detail or None)
        self._go(Screen.FACE_RETRY)
        return []

    # ---- steps ---------------------------------------------------------------------------------------------------

    def _capture(self) -> list[Effect]:
        job = self._job()
        self._go(Screen.FACE_CAPTURE, keep_job=True)
        return [VerifyFace(job)]

    def _assist(self, reason: AssistReason) -> list[Effect]:
        """Verification cannot succeed: the visitor still leaves with a ticket, for staff to help, and the reason."""
        self.visit = replace(self.visit, assist_reason=reason)
        return self._issue(self.rules.assisted_service, reason)

    def _issue(self, service: str, assisted: AssistReason | None) -> list[Effect]:
        self.visit = replace(self.visit, service=service, notice=None)
        job = self._job()
        self._go(Screen.ISSUING, keep_job=True)
        verification = None if assisted else self.visit.verification_id
        return [IssueTicket(job, service, verification, assisted)]

    def _start(self) -> None:
        self.last_end = None
        self.session += 1
        self.visit = Visit()
        self._go(Screen.CHOOSE)

    def _end(self, reason: EndReason) -> list[Effect]:
        self.visit = Visit()
        self.language = self.rules.languages[0]
        self.last_end = reason
        self.pending_job = None
        self._go(Screen.ATTRACT if self.available else Screen.CLOSED)
        return [EndSession(reason.value)]

    def _job(self) -> int:
        self._jobs += 1
        self.pending_job = self._jobs
        return self._jobs

    def _go(self, screen: Screen, keep_job: bool = False) -> None:
        self.screen = screen
        if not keep_job and screen not in BUSY_SCREENS:
            self.pending_job = None
        self._touch()

    def _touch(self) -> None:
        self.warning = False
        seconds = self.rules.timeouts.for_screen(self.screen)
        self.deadline = None if seconds is None else self._now + seconds


_TAP_HANDLERS = {
    Screen.ATTRACT: Session._tap_attract,
    Screen.CHOOSE: Session._tap_choose,
    Screen.INSERT_CARD: Session._tap_insert_card,
    Screen.MRZ_ENTRY: Session._tap_mrz,
    Screen.FACE_RETRY: Session._tap_face_retry,
    Screen.CONFIRM_IDENTITY: Session._tap_confirm,
    Screen.CHOOSE_SERVICE: Session._tap_service,
    Screen.TICKET: Session._tap_done,
    Screen.REPORT_TYPE: Session._tap_report_type,
    Screen.REPORT_FIELD: Session._tap_report_field,
    Screen.REPORT_REVIEW: Session._tap_review,
    Screen.REPORT_FILED: Session._tap_done,
    Screen.FOLLOW_ENTRY: Session._tap_follow,
    Screen.FOLLOW_RESULT: Session._tap_follow_result,
    Screen.PROBLEM: Session._tap_done,
}
