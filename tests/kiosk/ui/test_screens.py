"""Every kiosk screen, in Arabic and English, rendered by the real templates in Chromium: axe-core finds no serious or
critical violation, Arabic pages are right-to-left, numbers are isolated, and nothing comes from off the machine.
With MARKAZ_KIOSK_SCREENSHOTS=docs/kiosk the pictures of the manual are (re)made."""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from playwright.sync_api import Page, expect
from starlette.staticfiles import StaticFiles

from kiosk.session.machine import Rules, Session
from kiosk.session.messages import (
    Availability,
    CardInserted,
    ChipFailed,
    ChipRead,
    FaceResult,
    FiledReport,
    Identity,
    IssuedTicket,
    PrintFailed,
    ReceiptPrinted,
    ReportField,
    ReportFiled,
    ReportRefused,
    ReportTracked,
    ReportType,
    Service,
    Tap,
    Tick,
    TicketFailed,
    TicketIssued,
    TrackedReport,
    TrackFailed,
)
from kiosk.session.vocabulary import Action, ChipFailure, FaceOutcome, MrzField, TrackFailure
from kiosk.ui.screens import STATIC, KioskScreens
from markaz.web.assets import mount_assets
from tests.ui.axe import assert_accessible

pytestmark = pytest.mark.slow
SHOTS = os.environ.get("MARKAZ_KIOSK_SCREENSHOTS")
STATION_NOW = dt.datetime(2026, 12, 1, 12, 9, tzinfo=dt.UTC)  # the station's clock on these screens (a Tuesday)
FACES = Path(__file__).resolve().parents[2] / "data" / "faces"
SERVICES = (
    Service("general", "خدمات عامة", "General services"),
    Service("report", "تقديم بلاغ", "File a report", needs_identity=True),
    Service("follow-up", "متابعة بلاغ", "Follow up a report"),
    Service("reception", "الاستقبال", "Reception"),
)
IDENTITY = Identity("ERIKSSON", "ANNA MARIA", "L898902C3")
TICKET = IssuedTicket(12, "A012", "general", "2026-12-01/A012", estimated_wait_s=840)
REPORT_TYPES = (
    ReportType(
        "theft",
        "سرقة",
        "Theft",
        (
            ReportField("occurred_at", "datetime", "وقت الحادثة", "When it happened", required=True),
            ReportField("items", "items", "المسروقات", "What was stolen", required=True, max_length=50),
            ReportField("value", "amount", "القيمة التقديرية", "Estimated value"),
            ReportField("suspect_seen", "yesno", "هل رأيت المشتبه به؟", "Did you see the suspect?"),
            ReportField("description", "text", "وصف ما حدث", "What happened", required=True),
        ),
    ),
    ReportType("loss", "فقدان وثيقة أو غرض", "Loss of a document or item"),
    ReportType("traffic_accident", "حادث مروري بدون إصابات", "Traffic accident without injury"),
    ReportType("fraud", "احتيال أو احتيال إلكتروني", "Fraud or cyber fraud"),
    ReportType("general", "شكوى عامة", "General complaint"),
)
FILED = FiledReport("OLY-2026-000123-42", "583104", "theft", "2026-12-01T09:12:00+00:00",
                    "سيستلم أحد الضباط بلاغك قريباً", "An officer will take your report in shortly")  # fmt: skip
TRACKED = TrackedReport(
    "OLY-2026-000123-42", "سرقة", "Theft", "under_investigation", "2026-12-01T09:12:00+00:00",
    "2026-12-01T11:40:00+00:00", "البلاغ قيد التحقيق؛ قد يُطلب حضورك للإفادة",
    "Under investigation; you may be asked to give a statement",
    steps=(("submitted", "2026-12-01T09:12:00+00:00"), ("received", "2026-12-01T10:05:00+00:00"),
           ("under_investigation", "2026-12-01T11:40:00+00:00")),
)  # fmt: skip
REFERRED = TrackedReport(
    **{**TRACKED.__dict__, "state": "referred", "next_step_ar": "أحيل البلاغ إلى النيابة العامة",
       "next_step_en": "Referred to the public prosecution", "referral": "acknowledged",
       "case_number": "PP-2026-000042", "steps": (*TRACKED.steps, ("referred", "2026-12-02T08:30:00+00:00"))}
)  # fmt: skip


class Script:
    """Drives a pure session to a screen, as the agent would."""

    def __init__(self, lang: str) -> None:
        self.now = 0.0
        self.s = Session(Rules(station_now=lambda: STATION_NOW))
        self.s.handle(Availability(True, SERVICES, "", REPORT_TYPES), 0)
        if lang == "en":
            self.tap(Action.LANGUAGE, "en")

    def tap(self, action: Action, value: str | None = None) -> Script:
        self.s.handle(Tap(action, value), self.now)
        return self

    def ev(self, event: object) -> Script:
        self.s.handle(event, self.now)  # type: ignore[arg-type]
        return self

    def later(self, seconds: float) -> Script:
        self.now += seconds
        return self.ev(Tick())

    @property
    def job(self) -> int:
        assert self.s.pending_job is not None
        return self.s.pending_job

    def details(self, birth: str = "740812") -> Script:
        self.ev(CardInserted()).tap(Action.CHOOSE, "ticket")
        for field, text in (
            (MrzField.DOCUMENT_NUMBER, "L898902C3"),
            (MrzField.BIRTH_DATE, birth),
            (MrzField.EXPIRY_DATE, "340415"),
        ):
            self.tap(Action.FIELD, field.value)
            for ch in text:
                self.tap(Action.KEY, ch)
        return self

    def reading(self) -> Script:
        return self.details().tap(Action.SUBMIT)

    def keys(self, text: str) -> Script:
        for ch in text:
            self.tap(Action.KEY, ch)
        return self

    def report(self) -> Script:
        """Filing a report passes identification first."""
        self.ev(CardInserted()).tap(Action.CHOOSE, "file_report")
        for field, text in (
            (MrzField.DOCUMENT_NUMBER, "L898902C3"),
            (MrzField.BIRTH_DATE, "740812"),
            (MrzField.EXPIRY_DATE, "340415"),
        ):
            self.tap(Action.FIELD, field.value)
            self.keys(text)
        self.tap(Action.SUBMIT).ev(ChipRead(self.job, IDENTITY))
        return self.ev(FaceResult(self.job, FaceOutcome.MATCH, 2, 5)).tap(Action.CONFIRM)

    def fields(self, upto: int) -> Script:
        """The theft report answered up to field `upto` (0-based)."""
        self.report().tap(Action.REPORT_TYPE, "theft")
        answers = [None, None, "4500", None]
        for index in range(upto):
            if index == 0:
                self.when()
            elif index == 1:
                self.keys("silver laptop").tap(Action.ADD_ITEM).keys("black backpack")
            elif index == 3:
                self.tap(Action.ANSWER, "no")
                continue
            else:
                self.keys(answers[index] or "")
            self.tap(Action.NEXT)
        return self

    def when(self) -> Script:
        """Yesterday at 21:30, by touch: the quick choice, then the hour and minute steppers."""
        self.tap(Action.QUICK_DATE, "yesterday")
        for _ in range(11):
            self.tap(Action.STEP, "hour:+1")
        for _ in range(5):
            self.tap(Action.STEP, "minute:+1")
        return self

    def reviewed(self) -> Script:
        return self.fields(3).tap(Action.ANSWER, "no").keys("My car window was broken").tap(Action.NEXT)

    def filed(self, printed: bool | None) -> Script:
        self.reviewed().tap(Action.SUBMIT)
        self.ev(ReportFiled(self.job, FILED))
        if printed is not None:
            self.ev(ReceiptPrinted(self.job) if printed else PrintFailed(self.job))
        return self

    def follow(self) -> Script:
        return self.tap(Action.START).tap(Action.CHOOSE, "follow_report")

    def following(self) -> Script:
        return self.follow().keys("OLY-2026-000123-42").tap(Action.FIELD, "pin").keys("123456").tap(Action.SUBMIT)

    def follow_failed(self, failure: TrackFailure) -> Script:
        return self.following().ev(TrackFailed(self.job, failure, 1800 if failure == TrackFailure.LOCKED else 0))

    def face(self) -> Script:
        self.reading()
        return self.ev(ChipRead(self.job, IDENTITY))

    def verified(self) -> Script:
        self.face()
        return self.ev(FaceResult(self.job, FaceOutcome.MATCH, 2, 5))

    def ticket(self, printed: bool | None) -> Script:
        self.verified().tap(Action.CONFIRM).tap(Action.SERVICE, "general")
        self.ev(TicketIssued(self.job, TICKET))
        if printed is not None:
            self.ev(ReceiptPrinted(self.job) if printed else PrintFailed(self.job))
        return self


SCREENS: dict[str, Callable[[Script], object]] = {
    "closed": lambda k: k.ev(Availability(False, SERVICES, "disabled")),
    "attract": lambda k: k,
    "attract-timed-out": lambda k: k.tap(Action.START).later(1000).later(1000),
    "choose": lambda k: k.tap(Action.START),
    "insert_card": lambda k: k.tap(Action.START).tap(Action.CHOOSE, "ticket"),
    "mrz_entry": lambda k: k.details(),
    "mrz_entry-invalid": lambda k: k.details(birth="741399").tap(Action.SUBMIT),
    "mrz_entry-refused": lambda k: k.reading().ev(ChipFailed(k.job, ChipFailure.ACCESS_DENIED)),
    "reading_chip": lambda k: k.reading(),
    "face_capture": lambda k: k.face(),
    "face_retry": lambda k: k.face().ev(FaceResult(k.job, FaceOutcome.RETRY, 2, None, "face_too_small")),
    "confirm_identity": lambda k: k.verified(),
    "choose_service": lambda k: k.verified().tap(Action.CONFIRM),
    "choose_service-no-identity": lambda k: (
        k.tap(Action.START).tap(Action.CHOOSE, "ticket").tap(Action.SKIP_IDENTITY).tap(Action.SERVICE, "report")
    ),
    "issuing": lambda k: k.verified().tap(Action.CONFIRM).tap(Action.SERVICE, "general"),
    "ticket-printing": lambda k: k.ticket(None),
    "ticket": lambda k: k.ticket(True),
    "ticket-printer-failed": lambda k: k.ticket(False),
    "ticket-reception": lambda k: (
        k.face()
        .ev(FaceResult(k.job, FaceOutcome.SPOOF, 2))
        .ev(TicketIssued(k.job, IssuedTicket(3, "S003", "reception", "2026-12-01/S003", 300)))
        .ev(ReceiptPrinted(k.job))
    ),
    "report_type": lambda k: k.report(),
    "report_field": lambda k: k.report().tap(Action.REPORT_TYPE, "theft").when(),
    "report_field-datetime-empty": lambda k: k.report().tap(Action.REPORT_TYPE, "theft").tap(Action.NEXT),
    "report_field-datetime-today": lambda k: (
        k.report().tap(Action.REPORT_TYPE, "theft").tap(Action.QUICK_DATE, "today")
    ),
    "report_field-items": lambda k: k.fields(1).keys("silver laptop").tap(Action.ADD_ITEM).keys("black backpack"),
    "report_field-yesno": lambda k: k.fields(3),
    "report_field-text": lambda k: k.fields(3).tap(Action.ANSWER, "no").keys("My car window was broken"),
    "report_field-required": lambda k: k.fields(1).tap(Action.NEXT),
    "report_review": lambda k: k.reviewed(),
    "report_review-refused": lambda k: (
        k.reviewed().tap(Action.SUBMIT).ev(ReportRefused(k.job, "field 'place': at most 300 characters"))
    ),
    "filing": lambda k: k.reviewed().tap(Action.SUBMIT),
    "report_filed-printing": lambda k: k.filed(None),
    "report_filed": lambda k: k.filed(True),
    "report_filed-printer-failed": lambda k: k.filed(False),
    "follow_entry": lambda k: k.follow().keys("OLY-2026-000123-").tap(Action.FIELD, "pin").keys("1234"),
    "follow_entry-wrong": lambda k: k.follow_failed(TrackFailure.WRONG),
    "follow_entry-locked": lambda k: k.follow_failed(TrackFailure.LOCKED),
    "following": lambda k: k.following(),
    "follow_result": lambda k: k.following().ev(ReportTracked(k.job, TRACKED)),
    "follow_result-referred": lambda k: k.following().ev(ReportTracked(k.job, REFERRED)),
    "problem-report": lambda k: k.reviewed().tap(Action.SUBMIT).ev(ReportRefused(k.job, "", reachable=False)),
    "problem": lambda k: k.verified().tap(Action.CONFIRM).tap(Action.SERVICE, "general").ev(TicketFailed(k.job)),
    "timeout-warning": lambda k: k.details().later(500),
}


class Stage:
    """A static server for one rendered page at a time (no socket: what is checked is the screen itself)."""

    def __init__(self) -> None:
        self.html = ""
        self.screens = KioskScreens("مركز شرطة الديرة", "Deira Police Station")
        app = FastAPI()
        mount_assets(app)
        app.mount("/static/kiosk", StaticFiles(directory=STATIC), name="kiosk-static")
        ok, jpeg = cv2.imencode(".jpg", cv2.imread(str(FACES / "obama_2.jpg")))
        assert ok
        preview = jpeg.tobytes()

        @app.get("/", response_class=HTMLResponse)
        def page() -> str:
            return self.html.replace('data-live="/live"', 'data-live=""')

        @app.get("/preview.mjpg")
        def image() -> Response:
            return Response(preview, media_type="image/jpeg")

        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Stage:
        self.thread.start()
        while not self.server.started:
            threading.Event().wait(0.02)
        self.url = f"http://127.0.0.1:{self.server.servers[0].sockets[0].getsockname()[1]}/"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="module")
def stage() -> Iterator[Stage]:
    with Stage() as s:
        yield s


@pytest.mark.parametrize("lang", ["ar", "en"])
@pytest.mark.parametrize("name", list(SCREENS))
def test_every_screen_is_accessible_in_both_languages(page: Page, stage: Stage, name: str, lang: str) -> None:
    script = Script(lang)
    SCREENS[name](script)
    view = script.s.view(script.now)
    expected = name.split("-")[0] if not name.startswith("timeout") else "mrz_entry"
    assert view.screen.value == expected
    stage.html = stage.screens.page(view)
    page.goto(stage.url)
    # (a session that ends goes back to Arabic for the next visitor, whatever the last one chose)
    expect(page.locator("html")).to_have_attribute("dir", view.language.direction)
    expect(page.locator(f'section[data-screen="{expected}"]')).to_be_visible()
    page.evaluate("document.fonts.ready")
    if "ticket" in name:
        expect(page.locator("#ticket-number bdi")).to_have_count(1)
    assert_accessible(page, f"{name} ({lang})")
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{lang}-{name}.png"), full_page=True)


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_the_details_screen_asks_for_the_document_under_the_camera_when_there_is_one(
    page: Page, stage: Stage, lang: str
) -> None:
    """With a document camera the details screen says the document can be held under it (Arabic first, English
    after the language tap); without one it says nothing of the kind."""
    script = Script(lang)
    SCREENS["mrz_entry"](script)
    view = script.s.view(script.now)
    with_camera = KioskScreens("مركز شرطة الديرة", "Deira Police Station", document_camera=True)
    stage.html = with_camera.page(view)
    page.goto(stage.url)
    expect(page.locator("html")).to_have_attribute("dir", "rtl" if lang == "ar" else "ltr")
    hint = page.locator("#document-camera-hint")
    expect(hint).to_be_visible()
    expect(hint).to_contain_text("كاميرا الوثائق" if lang == "ar" else "under the document camera")
    page.evaluate("document.fonts.ready")
    assert_accessible(page, f"mrz_entry with a document camera ({lang})")
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{lang}-mrz_entry-document_camera.png"), full_page=True)
    assert "document-camera-hint" not in stage.screens.page(view)  # the stage's screens have no document camera
