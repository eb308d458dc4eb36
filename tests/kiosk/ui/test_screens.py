"""Every kiosk screen, in Arabic and English, rendered by the real templates in Chromium: axe-core finds no serious or
critical violation, Arabic pages are right-to-left, numbers are isolated, and nothing comes from off the machine.
With MARKAZ_KIOSK_SCREENSHOTS=docs/kiosk the pictures of the manual are (re)made."""

from __future__ import annotations

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
    Identity,
    IssuedTicket,
    PrintFailed,
    ReceiptPrinted,
    Service,
    Tap,
    Tick,
    TicketFailed,
    TicketIssued,
)
from kiosk.session.vocabulary import Action, ChipFailure, FaceOutcome, MrzField
from kiosk.ui.screens import STATIC, KioskScreens
from markaz.web.assets import mount_assets
from tests.ui.axe import assert_accessible

pytestmark = pytest.mark.slow
SHOTS = os.environ.get("MARKAZ_KIOSK_SCREENSHOTS")
FACES = Path(__file__).resolve().parents[2] / "data" / "faces"
SERVICES = (
    Service("general", "خدمات عامة", "General services"),
    Service("report", "تقديم بلاغ", "File a report", needs_identity=True),
    Service("follow-up", "متابعة بلاغ", "Follow up a report"),
    Service("reception", "الاستقبال", "Reception"),
)
IDENTITY = Identity("ERIKSSON", "ANNA MARIA", "L898902C3")
TICKET = IssuedTicket(12, "A012", "general", "2026-12-01/A012", estimated_wait_s=840)


class Script:
    """Drives a pure session to a screen, as the agent would."""

    def __init__(self, lang: str) -> None:
        self.now = 0.0
        self.s = Session(Rules())
        self.s.handle(Availability(True, SERVICES), 0)
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
    "report_placeholder": lambda k: k.ev(CardInserted()).tap(Action.CHOOSE, "file_report"),
    "follow_placeholder": lambda k: k.tap(Action.START).tap(Action.CHOOSE, "follow_report"),
    "problem": lambda k: k.verified().tap(Action.CONFIRM).tap(Action.SERVICE, "general").ev(TicketFailed(k.job)),
    "timeout-warning": lambda k: k.details().later(500),
}


def _report_placeholder(k: Script) -> Script:
    """Filing a report passes identification first; the placeholder is where it ends today."""
    k.ev(CardInserted()).tap(Action.CHOOSE, "file_report")
    for field, text in (
        (MrzField.DOCUMENT_NUMBER, "L898902C3"),
        (MrzField.BIRTH_DATE, "740812"),
        (MrzField.EXPIRY_DATE, "340415"),
    ):
        k.tap(Action.FIELD, field.value)
        for ch in text:
            k.tap(Action.KEY, ch)
    k.tap(Action.SUBMIT).ev(ChipRead(k.job, IDENTITY))
    return k.ev(FaceResult(k.job, FaceOutcome.MATCH, 2, 5)).tap(Action.CONFIRM)


SCREENS["report_placeholder"] = _report_placeholder


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
