"""The visitor session, step by step: each test names one rule of the flow."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from kiosk.session import report_form
from kiosk.session.machine import Rules, Session
from kiosk.session.messages import (
    Availability,
    CardInserted,
    CardRemoved,
    ChipFailed,
    ChipProgress,
    ChipRead,
    Crash,
    EndSession,
    FaceResult,
    FiledReport,
    FileReport,
    Identity,
    IssuedTicket,
    IssueTicket,
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
    Service,
    Tap,
    Tick,
    TicketIssued,
    TrackedReport,
    TrackFailed,
    TrackReport,
    VerifyFace,
)
from kiosk.session.timeouts import TimeoutError_, Timeouts
from kiosk.session.vocabulary import (
    Action,
    AssistReason,
    ChipFailure,
    EndReason,
    FaceOutcome,
    KeyboardLayout,
    MrzField,
    Notice,
    PrintState,
    Screen,
    TrackFailure,
)
from kiosk.ui.screens import KioskScreens
from markaz.web.languages import Language

SERVICES = (
    Service("general", "خدمات عامة", "General services"),
    Service("report", "تقديم بلاغ", "File a report", needs_identity=True),
    Service("reception", "الاستقبال", "Reception"),
)
IDENTITY = Identity("ERIKSSON", "ANNA MARIA", "L898902C3")


class Kiosk:
    """A session with a clock the test moves."""

    def __init__(self, **rules: object) -> None:
        self.now = 100.0
        self.session = Session(Rules(**rules))  # type: ignore[arg-type]
        self.session.handle(Availability(True, SERVICES), self.now)

    def __call__(self, event: object) -> list[object]:
        return list(self.session.handle(event, self.now))  # type: ignore[arg-type]

    def tap(self, action: Action, value: str | None = None) -> list[object]:
        return self(Tap(action, value))

    def type(self, field: MrzField, text: str) -> None:
        self.tap(Action.FIELD, field.value)
        for char in text:
            self.tap(Action.KEY, char)

    def later(self, seconds: float) -> list[object]:
        self.now += seconds
        return self(Tick())

    @property
    def screen(self) -> Screen:
        return self.session.screen

    def to_details(self) -> None:
        self(CardInserted())
        assert self.screen == Screen.CHOOSE
        self.tap(Action.CHOOSE, "ticket")
        assert self.screen == Screen.MRZ_ENTRY

    def to_reading(self) -> ReadChip:
        self.to_details()
        self.type(MrzField.DOCUMENT_NUMBER, "L898902C3")
        self.type(MrzField.BIRTH_DATE, "740812")
        self.type(MrzField.EXPIRY_DATE, "340415")
        (effect,) = self.tap(Action.SUBMIT)
        assert isinstance(effect, ReadChip)
        return effect

    def to_face(self) -> VerifyFace:
        read = self.to_reading()
        (effect,) = self(ChipRead(read.job, IDENTITY))
        assert isinstance(effect, VerifyFace) and self.screen == Screen.FACE_CAPTURE
        return effect


def test_genuine_visitor_reaches_a_printed_ticket_and_the_session_is_wiped_at_the_end() -> None:
    k = Kiosk()
    face = k.to_face()
    k(FaceResult(face.job, FaceOutcome.MATCH, 2, verification_id=41))
    assert k.screen == Screen.CONFIRM_IDENTITY and k.session.visit.identity == IDENTITY
    k.tap(Action.CONFIRM)
    assert k.screen == Screen.CHOOSE_SERVICE
    (issue,) = k.tap(Action.SERVICE, "report")
    assert issue == IssueTicket(issue.job, "report", 41, None)
    ticket = IssuedTicket(9, "R001", "report", "T9")
    (printing,) = k(TicketIssued(issue.job, ticket))
    assert isinstance(printing, PrintReceipt) and k.screen == Screen.TICKET
    k(ReceiptPrinted(printing.job))
    assert k.session.visit.print_state == PrintState.PRINTED
    k(CardRemoved())  # taking the card back at the ticket screen is expected, not an abort
    assert k.screen == Screen.TICKET
    (end,) = k.tap(Action.DONE)
    assert end == EndSession(EndReason.DONE.value)
    assert k.screen == Screen.ATTRACT and k.session.visit.identity is None and k.session.visit.ticket is None


def test_details_are_checked_before_the_chip_is_touched() -> None:
    k = Kiosk()
    k.to_details()
    k.type(MrzField.DOCUMENT_NUMBER, "L898902C3")
    k.type(MrzField.BIRTH_DATE, "741312")  # month 13
    k.type(MrzField.EXPIRY_DATE, "340415")
    assert k.tap(Action.SUBMIT) == []
    assert k.screen == Screen.MRZ_ENTRY and k.session.visit.notice == Notice.MRZ_INVALID


def test_the_keyboard_accepts_only_what_each_field_can_hold() -> None:
    k = Kiosk()
    k.to_details()
    k.type(MrzField.DOCUMENT_NUMBER, "l8-9é")
    assert k.session.visit.field_value(MrzField.DOCUMENT_NUMBER) == "L89"
    k.type(MrzField.BIRTH_DATE, "74A0812")
    assert k.session.visit.field_value(MrzField.BIRTH_DATE) == "740812"
    assert k.session.visit.active_field == MrzField.EXPIRY_DATE  # a full date moves on
    k.tap(Action.KEY, "3")
    k.tap(Action.BACKSPACE)
    assert k.session.visit.field_value(MrzField.EXPIRY_DATE) == ""


def test_refused_details_ask_again_keeping_them_then_send_to_reception() -> None:
    k = Kiosk()
    read = k.to_reading()
    k(ChipFailed(read.job, ChipFailure.ACCESS_DENIED))
    assert k.screen == Screen.MRZ_ENTRY and k.session.visit.notice == Notice.BAC_REFUSED
    assert k.session.visit.field_value(MrzField.DOCUMENT_NUMBER) == "L898902C3"
    assert k.session.view().details_attempts_left == 2
    for _attempt in (2, 3):
        (read,) = k.tap(Action.SUBMIT)
        effects = k(ChipFailed(read.job, ChipFailure.ACCESS_DENIED))
    assert effects == [IssueTicket(effects[0].job, "reception", None, AssistReason.DETAILS_REFUSED)]
    assert k.screen == Screen.ISSUING


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (ChipFailure.NOT_EMRTD, AssistReason.NOT_EMRTD),
        (ChipFailure.UNREADABLE, AssistReason.CHIP_UNREADABLE),
        (ChipFailure.PASSIVE_AUTH, AssistReason.PASSIVE_AUTH_FAILED),
        (ChipFailure.EXPIRED, AssistReason.DOCUMENT_EXPIRED),
    ],
)
def test_a_chip_that_cannot_identify_gives_a_reception_ticket_with_the_reason(failure, reason) -> None:
    k = Kiosk()
    read = k.to_reading()
    (issue,) = k(ChipFailed(read.job, failure))
    assert issue == IssueTicket(issue.job, "reception", None, reason)
    assert k.session.visit.assist_reason == reason


def test_card_pulled_mid_read_ends_the_session() -> None:
    k = Kiosk()
    read = k.to_reading()
    assert k(ChipFailed(read.job, ChipFailure.REMOVED)) == [EndSession("card_removed")]
    assert k.screen == Screen.ATTRACT and k.session.last_end == EndReason.CARD_REMOVED


def test_card_removed_while_being_identified_ends_the_session() -> None:
    k = Kiosk()
    k.to_face()
    assert k(CardRemoved()) == [EndSession("card_removed")]
    assert k.session.visit.identity is None


def test_face_no_match_retries_then_sends_to_reception_and_spoof_at_once() -> None:
    k = Kiosk()
    face = k.to_face()
    k(FaceResult(face.job, FaceOutcome.NO_MATCH, attempts_left=2))
    assert k.screen == Screen.FACE_RETRY and k.session.visit.notice == Notice.FACE_RETRY
    (face,) = k.tap(Action.TRY_AGAIN)
    k(FaceResult(face.job, FaceOutcome.RETRY, attempts_left=1, detail="no_face"))
    assert k.session.visit.notice == Notice.FACE_NOT_FOUND
    (face,) = k.tap(Action.TRY_AGAIN)
    (issue,) = k(FaceResult(face.job, FaceOutcome.NO_MATCH, attempts_left=0))
    assert issue.service == "reception" and issue.assisted == AssistReason.NO_MATCH

    k = Kiosk()
    face = k.to_face()
    (issue,) = k(FaceResult(face.job, FaceOutcome.SPOOF, attempts_left=2))
    assert issue.assisted == AssistReason.SPOOF


def test_the_chip_read_shows_its_progress_for_the_read_under_way_only() -> None:
    k = Kiosk()
    read = k.to_reading()
    assert k.session.visit.chip_progress == 0.0
    assert k(ChipProgress(read.job, 0.4)) == [] and k.session.visit.chip_progress == 0.4
    k(ChipProgress(read.job, 0.3))  # a late, smaller step never moves the bar back
    k(ChipProgress(read.job - 1, 0.9))  # nor does an older read's
    assert k.session.visit.chip_progress == 0.4 and k.screen == Screen.READING_CHIP
    k(ChipFailed(read.job, ChipFailure.ACCESS_DENIED))  # the details are asked again ...
    assert k.screen == Screen.MRZ_ENTRY
    (again,) = k.tap(Action.SUBMIT)
    assert isinstance(again, ReadChip) and k.session.visit.chip_progress == 0.0  # ... and the next read starts at 0
    assert "0%" in KioskScreens("a", "b").fragment(k.session.view())


def test_a_late_answer_for_an_old_job_is_ignored() -> None:
    k = Kiosk()
    read = k.to_reading()
    k.tap(Action.CANCEL)
    assert k(ChipRead(read.job, IDENTITY)) == []
    assert k.screen == Screen.ATTRACT and k.session.visit.identity is None


def test_without_identification_only_services_that_do_not_need_it_can_be_chosen() -> None:
    k = Kiosk()
    k.tap(Action.START)
    k.tap(Action.CHOOSE, "ticket")
    assert k.screen == Screen.INSERT_CARD
    k.tap(Action.SKIP_IDENTITY)
    assert k.tap(Action.SERVICE, "report") == []
    assert k.session.visit.notice == Notice.SERVICE_NEEDS_IDENTITY
    (issue,) = k.tap(Action.SERVICE, "general")
    assert issue.service == "general" and issue.verification_id is None


def test_filing_a_report_cannot_skip_identification() -> None:
    k = Kiosk()
    k.tap(Action.START)
    k.tap(Action.CHOOSE, "file_report")
    k.tap(Action.SKIP_IDENTITY)
    assert k.screen == Screen.INSERT_CARD


THEFT_TYPE = ReportType(
    "theft",
    "سرقة",
    "Theft",
    (
        ReportField("occurred_at", "datetime", "وقت الحادثة", "When it happened", required=True),
        ReportField("items", "items", "المسروقات", "What was stolen", required=True, max_length=3),
        ReportField("value", "amount", "القيمة", "Estimated value"),
        ReportField("suspect_seen", "yesno", "هل رأيت المشتبه به؟", "Did you see the suspect?"),
        ReportField("description", "text", "الوصف", "What happened", required=True, max_length=20),
    ),
)


# the station's clock in these tests: Monday 23 November 2026, 10:07 in Riyadh
STATION_NOW = datetime(2026, 11, 23, 10, 7, 42, tzinfo=ZoneInfo("Asia/Riyadh"))


def verified_for_report(types: tuple[ReportType, ...] = (THEFT_TYPE,)) -> Kiosk:
    k = Kiosk(station_now=lambda: STATION_NOW)
    k(Availability(True, SERVICES, "", types))
    k(CardInserted())
    k.tap(Action.CHOOSE, "file_report")
    k.type(MrzField.DOCUMENT_NUMBER, "L898902C3")
    k.type(MrzField.BIRTH_DATE, "740812")
    k.type(MrzField.EXPIRY_DATE, "340415")
    (read,) = k.tap(Action.SUBMIT)
    (verify,) = k(ChipRead(read.job, IDENTITY))
    k(FaceResult(verify.job, FaceOutcome.MATCH, 2, verification_id=3))
    k.tap(Action.CONFIRM)
    return k


def keys(k: Kiosk, text: str) -> None:
    for char in text:
        k.tap(Action.KEY, char)


def test_filing_a_report_after_identification_goes_field_by_field_to_review_and_files() -> None:
    k = verified_for_report()
    assert k.screen == Screen.REPORT_TYPE
    k.tap(Action.REPORT_TYPE, "harassment")  # not offered at this kiosk: nothing happens
    assert k.screen == Screen.REPORT_TYPE
    k.tap(Action.REPORT_TYPE, "theft")
    assert k.screen == Screen.REPORT_FIELD and k.session.visit.field_index == 0
    keys(k, "202611222130")  # a date-time is not typed: keys do nothing
    assert k.session.visit.entry == ""
    k.tap(Action.QUICK_DATE, "yesterday")  # yesterday, about this time (five-minute steps)
    assert k.session.visit.entry == "202611221005"
    for _ in range(11):
        k.tap(Action.STEP, "hour:+1")
    for _ in range(5):
        k.tap(Action.STEP, "minute:+1")
    assert k.session.visit.entry == "202611222130"
    k.tap(Action.NEXT)
    assert k.session.visit.field_index == 1
    k.tap(Action.NEXT)  # a required list left empty
    assert k.session.visit.notice == Notice.FIELD_REQUIRED and k.session.visit.field_index == 1
    keys(k, "laptop")
    k.tap(Action.ADD_ITEM)
    keys(k, "bag")
    k.tap(Action.NEXT)  # what is still keyed in becomes the last item
    assert k.session.visit.answer("items") == ("laptop", "bag")
    keys(k, "12.5.0")  # one decimal point only
    assert k.session.visit.entry == "12.50"
    k.tap(Action.NEXT)
    assert k.session.visit.field_index == 3
    k.tap(Action.ANSWER, "no")  # a yes/no answer moves on by itself
    assert k.session.visit.field_index == 4 and k.session.visit.layout == KeyboardLayout.ARABIC
    keys(k, "  taken " + "x" * 30)  # no leading or double spaces; at most the field's length
    assert k.session.visit.entry == "taken " + "x" * 14
    k.tap(Action.NEXT)
    assert k.screen == Screen.REPORT_REVIEW
    k.tap(Action.EDIT, "2")  # from the review, a field opens and goes back to the review
    k.tap(Action.BACKSPACE)
    k.tap(Action.NEXT)
    assert k.screen == Screen.REPORT_REVIEW and k.session.visit.answer("value") == "12.5"
    (file,) = k.tap(Action.SUBMIT)
    assert isinstance(file, FileReport) and k.screen == Screen.FILING
    details = report_form.details(file.report_type, dict(file.answers), ZoneInfo("Asia/Riyadh"))
    assert details == {
        "occurred_at": "2026-11-22T21:30:00+03:00",
        "items": ["laptop", "bag"],
        "value": "12.5",
        "suspect_seen": False,
        "description": "taken " + "x" * 14,
    }
    assert "laptop" not in repr(file) and "laptop" not in repr(k.session.visit)
    (printing,) = k(ReportFiled(file.job, FiledReport("OLY-2026-000001-86", "123456", "theft")))
    assert isinstance(printing, PrintReportReceipt) and k.screen == Screen.REPORT_FILED
    assert "123456" not in repr(printing) and k.session.visit.answers == ()
    k(ReceiptPrinted(printing.job))
    assert k.session.visit.print_state == PrintState.PRINTED
    k.tap(Action.DONE)
    assert k.screen == Screen.ATTRACT and k.session.visit.filed is None


def test_a_date_is_set_by_touch_never_in_the_future_and_a_refusal_by_the_edge_keeps_the_answers() -> None:
    k = verified_for_report()
    k.tap(Action.REPORT_TYPE, "theft")
    k.tap(Action.NEXT)  # required: it must be set
    assert k.session.visit.notice == Notice.FIELD_REQUIRED and k.session.visit.field_index == 0
    k.tap(Action.QUICK_DATE, "today")
    assert k.session.visit.entry == "202611231005" and k.session.visit.notice is None
    for later in ("hour:+1", "minute:+1", "day:+1", "month:+1", "year:+1"):  # each would be after 10:07 today
        k.tap(Action.STEP, later)
        assert k.session.visit.entry == "202611231005", later
    for bad in ("day:+2", "week:-1", "day:", "hour:-1x"):
        k.tap(Action.STEP, bad)
        assert k.session.visit.entry == "202611231005", bad
    k.tap(Action.STEP, "month:-1")
    k.tap(Action.STEP, "day:-1")
    assert k.session.visit.entry == "202610221005"
    view = k.session.view(k.now)
    assert view.station_now == datetime(2026, 11, 23, 10, 7)
    k.tap(Action.NEXT)
    keys(k, "phone")
    k.tap(Action.NEXT)
    k.tap(Action.NEXT)
    k.tap(Action.ANSWER, "yes")
    keys(k, "gone")
    k.tap(Action.NEXT)
    (file,) = k.tap(Action.SUBMIT)
    k(ReportRefused(file.job, "field 'occurred_at' (datetime): in the future", reachable=True))
    assert k.screen == Screen.REPORT_REVIEW and k.session.visit.notice == Notice.REPORT_REFUSED
    assert k.session.visit.answer("items") == ("phone",)
    (again,) = k.tap(Action.SUBMIT)
    k(ReportRefused(again.job, "", reachable=False))
    assert k.screen == Screen.PROBLEM and k.session.visit.notice == Notice.REPORT_FAILED


def test_filing_needs_report_types_and_pulling_the_card_ends_it() -> None:
    none = verified_for_report(types=())
    assert none.screen == Screen.PROBLEM and none.session.visit.notice == Notice.NO_REPORT_TYPES
    k = verified_for_report()
    k.tap(Action.REPORT_TYPE, "theft")
    keys(k, "2026")
    (end,) = k(CardRemoved())
    assert isinstance(end, EndSession) and k.screen == Screen.ATTRACT and k.session.visit.entry == ""


def test_following_a_report_with_reference_and_pin_shows_what_the_edge_says() -> None:
    k = Kiosk()
    k.tap(Action.START)
    k.tap(Action.CHOOSE, "follow_report")
    assert k.screen == Screen.FOLLOW_ENTRY
    keys(k, "oly-2026-000001-86!")  # lower case is raised, other characters dropped
    assert k.session.visit.follow_reference == "OLY-2026-000001-86"
    assert k.tap(Action.SUBMIT) == [] and k.session.visit.notice == Notice.FIELD_REQUIRED
    k.tap(Action.FIELD, "pin")
    keys(k, "12a3456")
    assert k.session.visit.follow_pin == "123456"
    (track,) = k.tap(Action.SUBMIT)
    assert isinstance(track, TrackReport) and k.screen == Screen.FOLLOWING and "123456" not in repr(track)
    k(TrackFailed(track.job, TrackFailure.WRONG))
    assert k.screen == Screen.FOLLOW_ENTRY and k.session.visit.notice == Notice.TRACK_WRONG
    assert k.session.visit.follow_pin == "" and k.session.visit.follow_reference == "OLY-2026-000001-86"
    keys(k, "654321")
    (track,) = k.tap(Action.SUBMIT)
    k(TrackFailed(track.job, TrackFailure.LOCKED, retry_after_s=30))
    assert k.session.visit.notice == Notice.TRACK_LOCKED and k.session.visit.retry_after_s == 30
    (track,) = k.tap(Action.SUBMIT)
    seen = TrackedReport("OLY-2026-000001-86", "سرقة", "Theft", "referred", "2026-11-22T18:00:00+00:00",
                         "2026-11-23T09:00:00+00:00", "أحيل", "Referred", referral="pending")  # fmt: skip
    k(ReportTracked(track.job, seen))
    assert k.screen == Screen.FOLLOW_RESULT and k.session.visit.tracked == seen
    (again,) = k.tap(Action.REFRESH)
    assert isinstance(again, TrackReport) and k.screen == Screen.FOLLOWING
    k(ReportTracked(track.job, seen))  # a late answer to the earlier job is ignored
    assert k.screen == Screen.FOLLOWING
    k(ReportTracked(again.job, TrackedReport(**{**seen.__dict__, "case_number": "PP-2026-000001"})))
    assert k.session.visit.tracked is not None and k.session.visit.tracked.case_number == "PP-2026-000001"
    k.tap(Action.DONE)
    assert k.screen == Screen.ATTRACT and k.session.visit.tracked is None


def test_idle_time_out_warns_offers_more_time_then_ends_the_session() -> None:
    k = Kiosk(timeouts=Timeouts({Screen.MRZ_ENTRY: 60}, warning_s=25))
    k.to_details()
    k.type(MrzField.DOCUMENT_NUMBER, "L89")
    k.later(59)
    assert not k.session.warning
    k.later(1)
    assert k.session.warning and k.session.view(k.now).seconds_left == 25
    k.tap(Action.MORE_TIME)
    assert not k.session.warning and k.screen == Screen.MRZ_ENTRY
    assert k.session.visit.field_value(MrzField.DOCUMENT_NUMBER) == "L89"
    k.later(60)
    assert k.session.warning
    assert k.later(25) == [EndSession("timed_out")]
    assert k.screen == Screen.ATTRACT and k.session.visit.field_value(MrzField.DOCUMENT_NUMBER) == ""


def test_a_busy_step_that_never_answers_ends_the_session() -> None:
    k = Kiosk(timeouts=Timeouts({Screen.READING_CHIP: 10}))
    k.to_reading()
    assert k.later(10) == [EndSession("timed_out")]


def test_the_warning_gives_at_least_twenty_seconds() -> None:
    with pytest.raises(TimeoutError_):
        Timeouts(warning_s=19)
    with pytest.raises(TimeoutError_):
        Timeouts({Screen.CHOOSE: 0})


def test_language_toggles_on_every_screen_and_resets_for_the_next_visitor() -> None:
    k = Kiosk()
    k.tap(Action.LANGUAGE, "en")
    assert k.session.language == Language.EN and k.screen == Screen.ATTRACT
    k.to_details()
    assert k.session.language == Language.EN
    k.tap(Action.LANGUAGE, "ar")
    k.tap(Action.LANGUAGE, "en")
    k.tap(Action.CANCEL)
    assert k.session.language == Language.AR


def test_a_disabled_kiosk_closes_at_once_when_idle_and_after_the_visit_otherwise() -> None:
    k = Kiosk()
    k(Availability(False, SERVICES, "disabled"))
    assert k.screen == Screen.CLOSED
    assert k.tap(Action.START) == [] and k(CardInserted()) == []
    k(Availability(True, SERVICES))
    assert k.screen == Screen.ATTRACT
    k.tap(Action.START)
    k(Availability(False, SERVICES, "disabled"))
    assert k.screen == Screen.CHOOSE  # a visitor mid-visit is not cut off
    k.tap(Action.CANCEL)
    assert k.screen == Screen.CLOSED and k.session.closed_reason == "disabled"


def test_an_unexpected_error_resets_to_the_attract_screen() -> None:
    k = Kiosk()
    k.to_face()
    assert k(Crash()) == [EndSession("error")]
    assert k.screen == Screen.ATTRACT and k.session.last_end == EndReason.ERROR


def test_printer_failure_keeps_the_ticket_on_screen_for_the_full_time() -> None:
    k = Kiosk(timeouts=Timeouts({Screen.TICKET: 30}))
    k.tap(Action.START)
    k.tap(Action.CHOOSE, "ticket")
    k.tap(Action.SKIP_IDENTITY)
    (issue,) = k.tap(Action.SERVICE, "general")
    (printing,) = k(TicketIssued(issue.job, IssuedTicket(1, "A001", "general", "T1")))
    k.later(20)
    k(PrintFailed(printing.job))
    assert k.session.visit.print_state == PrintState.FAILED
    k.later(29)
    assert k.screen == Screen.TICKET and not k.session.warning


def test_visit_repr_hides_personal_data() -> None:
    k = Kiosk()
    k.to_face()
    assert "L898902C3" not in repr(k.session.visit) and "ERIKSSON" not in repr(k.session.visit)


def test_new_rules_arrive_as_an_event_a_waiting_kiosk_shows_their_first_language_a_visit_keeps_its_own() -> None:
    from dataclasses import replace

    from kiosk.session.messages import RulesChanged

    k = Kiosk()
    assert k.screen == Screen.ATTRACT and k.session.language == Language.AR
    assert k(RulesChanged(replace(k.session.rules, languages=(Language.EN, Language.AR)))) == []
    assert k.session.language == Language.EN and k.session.rules.languages[0] == Language.EN
    k.to_details()
    k.tap(Action.LANGUAGE, "ar")
    assert k.session.language == Language.AR
    k(RulesChanged(replace(k.session.rules, max_details_attempts=1)))  # mid-visit: new rules, the same language
    assert k.session.language == Language.AR and k.session.rules.max_details_attempts == 1
    k(RulesChanged(replace(k.session.rules, languages=(Language.EN,))))  # its language withdrawn: the profile's
    assert k.session.language == Language.EN
