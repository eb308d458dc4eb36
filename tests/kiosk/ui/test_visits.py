"""The kiosk for real: Chromium on the agent's page, the agent as a process, a real edge node process, pcscd + vpcd
with the virtual ePassport, the camera as a video file, the printer as an ESC/POS TCP sink."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
from playwright.sync_api import Page, expect

from kiosk.card.emulator import ForeignApplet
from kiosk.card.mrz import compose_td3
from kiosk.hardware.escpos_sink import EscposSink
from kiosk.hardware.videos import still_video
from tests.conftest import ServerProcess, auth
from tests.kiosk.agentproc import FACES, KioskProcess, add_kiosk, device_status, register_kiosk, set_kiosk_enabled
from tests.kiosk.conftest import TD3_FIELDS
from tests.ui.axe import assert_accessible

pytestmark = pytest.mark.slow

SHOTS = os.environ.get("MARKAZ_KIOSK_SCREENSHOTS")  # e.g. docs/kiosk: keep a picture of every screen
EXPIRY = TD3_FIELDS["expiry_date"]
BIRTH = TD3_FIELDS["birth_date"]
_numbers = iter(f"K{n:07d}" for n in range(1, 10_000_000))


def new_number() -> str:
    """A fresh document number: the edge limits verification attempts per document and visit."""
    return next(_numbers)


@pytest.fixture(scope="module")
def station(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, str]]:
    folder = tmp_path_factory.mktemp("station")
    token = register_kiosk(folder / "node")
    edge = ServerProcess(folder / "node", "--sample-data", env=ServerProcess.PRELOAD).start()
    yield edge, token
    edge.stop()


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("videos")
    return {
        "holder": still_video(folder / "holder.avi", [FACES / "obama_2.jpg"], 1.0, 10),
        "impostor": still_video(folder / "impostor.avi", [FACES / "biden_2.jpg"], 1.0, 10),
    }


@pytest.fixture(scope="module")
def sink() -> Iterator[EscposSink]:
    with EscposSink() as s:
        yield s


def _agent(folder: Path, station, sink: EscposSink, video: Path, pki_dir: Path, pcscd, **extra: object) -> KioskProcess:
    edge, token = station
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "token").write_text(token)
    settings: dict[str, object] = {
        "edge": edge.base,
        "device_token_file": str(folder / "token"),
        "camera": str(video),
        "printer": sink.uri,
        "csca": str(pki_dir / "csca.pem"),
        "station_name_ar": "مركز شرطة الاختبار",
        "station_name_en": "Test Police Station",
        "heartbeat_s": 0.5,
        "offline_after_failures": 2,
        "warning_s": 20,
        **extra,
    }
    return KioskProcess(folder, settings, pcscd.env).start()


@pytest.fixture(scope="module")
def kiosk(tmp_path_factory, station, sink, videos, pki_dir, pcscd, pki) -> Iterator[KioskProcess]:
    agent = _agent(tmp_path_factory.mktemp("kiosk"), station, sink, videos["holder"], pki_dir, pcscd)
    agent.wait_health("availability", "open")
    yield agent
    agent.stop()


@pytest.fixture(scope="module")
def impostor_kiosk(tmp_path_factory, station, sink, videos, pki_dir, pcscd, pki) -> Iterator[KioskProcess]:
    # a device of its own: two agents heartbeating as kiosk-1 would overwrite each other's readings at the edge
    edge, _ = station
    own = (edge, add_kiosk(edge, "kiosk-impostor"))
    agent = _agent(tmp_path_factory.mktemp("kiosk-impostor"), own, sink, videos["impostor"], pki_dir, pcscd)
    agent.wait_health("availability", "open")
    yield agent
    agent.stop()


# ---- driving the page -------------------------------------------------------------------------------------------


class Visit:
    def __init__(self, page: Page, kiosk: KioskProcess, lang: str = "ar") -> None:
        self.page = page
        self.kiosk = kiosk
        self.lang = lang
        page.goto(kiosk.url)
        page.wait_for_function("window.markazLive && window.markazLive.connected && window.markazLive.screens > 0")
        # the agents of this module share one card reader: another test's card may have started a session here
        if page.locator("body").get_attribute("data-screen") not in ("attract", "closed"):
            self.tap("cancel")
        self.screen("attract")
        if lang == "en":
            self.tap("language", "en")
            expect(page.locator("html")).to_have_attribute("lang", "en")

    def screen(self, name: str, timeout: float = 30_000, check: bool = True) -> None:
        try:
            self.page.wait_for_selector(f'body[data-screen="{name}"]', timeout=timeout)
        except Exception:
            shown = self.page.locator("body").get_attribute("data-screen")
            log = self.kiosk.log.read_text()[-3000:]
            raise AssertionError(f"waited for {name!r}, the kiosk shows {shown!r}; agent log:\n{log}") from None
        if check:
            self.check(name)

    def check(self, name: str) -> None:
        """axe-core on this screen, and its picture for the manual."""
        assert_accessible(self.page, f"{name} ({self.lang})")
        if SHOTS:
            Path(SHOTS).mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(Path(SHOTS) / f"{self.lang}-{name}.png"))

    def tap(self, action: str, value: str | None = None) -> None:
        selector = f'[data-action="{action}"]' + (f'[data-value="{value}"]' if value is not None else "")
        self.page.locator(selector).first.click()

    def key_in(self, number: str, birth: str = BIRTH, expiry: str = EXPIRY) -> None:
        for field, text in (("document_number", number), ("birth_date", birth), ("expiry_date", expiry)):
            self.tap("field", field)
            for char in text:
                self.tap("key", char)
        expect(self.page.locator("#field-expiry_date .field-value")).to_have_text(expiry)

    def identify(self, card_insert, number: str) -> None:
        card_insert(number)
        self.screen("choose")
        self.tap("choose", "ticket")
        self.screen("mrz_entry")
        self.key_in(number)
        self.tap("submit")


@pytest.fixture
def card_of_holder(emrtd, insert, pki):
    """Insert a virtual ePassport whose chip photo is the holder in the camera video (obama_1)."""
    from kiosk.card.emulator import EmrtdApplet
    from kiosk.card.personalisation import personalise

    photo = chip_photo(FACES / "obama_1.jpg")

    def _insert(number: str, **fields: str):
        mrz = compose_td3(**{**TD3_FIELDS, "document_number": number, **fields})
        return insert(EmrtdApplet(personalise(mrz, photo, pki)))

    return _insert


def chip_photo(path: Path) -> bytes:
    """A portrait the size real chips hold (DG2 of 10-20 KB; short READ BINARY offsets end at 32 KB)."""
    image = cv2.imread(str(path))
    scale = 320 / max(image.shape[:2])
    small = cv2.resize(image, (int(image.shape[1] * scale), int(image.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    return data.tobytes()


def edge_tickets(station) -> list[dict]:
    edge, token = station
    r = httpx.get(f"{edge.base}/api/v1/tickets", headers=auth(token), timeout=10)
    r.raise_for_status()
    return list(r.json()["tickets"])


def qr_of(image) -> str:
    gray = np.array(image.convert("L"))
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(gray)
    return str(text)


def ocr(image) -> str:
    """Tesseract reading the receipt back (English model: the number and the Latin lines)."""
    import subprocess
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".png") as fh:
        image.convert("L").save(fh.name)
        out = subprocess.run(["tesseract", fh.name, "-", "--psm", "6", "-l", "eng"], capture_output=True, text=True)
    return out.stdout


# ---- the visits --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_genuine_visitor_gets_a_ticket_at_the_edge_and_a_printed_receipt_with_its_qr(
    page: Page, kiosk: KioskProcess, station, sink: EscposSink, card_of_holder, lang: str
) -> None:
    visit = Visit(page, kiosk, lang)
    card_of_holder(number := new_number())
    visit.screen("choose")
    visit.tap("choose", "ticket")
    visit.screen("mrz_entry")
    visit.key_in(number)
    visit.check("mrz_entry")
    visit.tap("submit")
    visit.screen("confirm_identity", timeout=60_000)
    expect(page.locator(".holder")).to_have_text("ANNA MARIA ERIKSSON")
    visit.tap("confirm")
    visit.screen("choose_service")
    printed_before = len(sink.receipts)
    visit.tap("service", "general")
    visit.screen("ticket")
    page.wait_for_selector('[data-screen="ticket"][data-print="printed"]', timeout=20_000)
    visit.check("ticket")
    number_on_screen = page.locator("#ticket-number").inner_text().strip()
    assert number_on_screen.startswith("A")

    (ticket,) = [t for t in edge_tickets(station) if t["number"] == number_on_screen]
    assert ticket["service"] == "general" and ticket["status"] == "waiting"
    receipt = sink.wait_for(printed_before + 1)[-1].image
    assert qr_of(receipt) == f"{ticket['business_day']}/{ticket['number']}"
    assert number_on_screen in ocr(receipt).replace(" ", "")  # the number, read back from the printed raster
    visit.tap("done")
    visit.screen("attract", check=False)


def test_a_service_that_needs_identity_is_issued_by_the_edge_on_this_visits_face_match(
    page: Page, kiosk: KioskProcess, station, sink: EscposSink, card_of_holder
) -> None:
    """The edge, not only the kiosk, insists on the match: the ticket carries the visit's verification id."""
    import sqlite3

    visit = Visit(page, kiosk, "ar")
    card_of_holder(number := new_number())
    visit.screen("choose")
    visit.tap("choose", "ticket")
    visit.screen("mrz_entry")
    visit.key_in(number)
    visit.tap("submit")
    visit.screen("confirm_identity", timeout=60_000)
    visit.tap("confirm")
    visit.screen("choose_service")
    printed_before = len(sink.receipts)
    visit.tap("service", "report")
    page.wait_for_selector('[data-screen="ticket"][data-print="printed"]', timeout=20_000)
    number_on_screen = page.locator("#ticket-number").inner_text().strip()
    (ticket,) = [t for t in edge_tickets(station) if t["number"] == number_on_screen]
    assert ticket["service"] == "report" and number_on_screen.startswith("R")
    assert qr_of(sink.wait_for(printed_before + 1)[-1].image) == f"{ticket['business_day']}/{ticket['number']}"
    edge, _ = station
    with sqlite3.connect(f"file:{edge.data / 'edge.sqlite'}?mode=ro", uri=True) as db:
        linked = db.execute(
            "SELECT t.verification_id, v.decision, v.kiosk FROM tickets t JOIN verification_attempts v "
            "ON v.id = t.verification_id WHERE t.id = ?",
            (ticket["id"],),
        ).fetchone()
    assert linked is not None and linked[1:] == ("match", "kiosk-1")  # the station fixture's kiosk
    visit.tap("done")
    visit.screen("attract", check=False)


def test_impostor_is_refused_after_the_allowed_attempts_and_gets_a_reception_ticket(
    page: Page, impostor_kiosk: KioskProcess, station, sink: EscposSink, card_of_holder
) -> None:
    visit = Visit(page, impostor_kiosk)
    visit.identify(card_of_holder, new_number())
    for attempt in (1, 2):
        visit.screen("face_retry", timeout=60_000, check=attempt == 1)
        visit.tap("try_again")
    visit.screen("ticket", timeout=60_000)
    page.wait_for_selector('[data-screen="ticket"][data-print="printed"]', timeout=20_000)
    notice = page.locator('[data-screen="ticket"] .notice').first
    expect(notice).to_contain_text("تعذّر التحقق من هويتك")
    expect(notice).to_contain_text("مطابقة وجهك")
    number = page.locator("#ticket-number").inner_text().strip()
    assert number.startswith("S")  # the reception service
    assert any(t["number"] == number and t["service"] == "reception" for t in edge_tickets(station))


def test_wrong_details_give_a_clear_message_and_reentry_without_hammering_the_chip(
    page: Page, kiosk: KioskProcess, card_of_holder
) -> None:
    visit = Visit(page, kiosk)
    card = card_of_holder(number := new_number())
    visit.screen("choose")
    visit.tap("choose", "ticket")
    visit.screen("mrz_entry")
    visit.key_in(number, birth="750812")  # a valid date, but not the holder's
    visit.tap("submit")
    page.wait_for_selector('[data-screen="mrz_entry"] .notice.error', timeout=20_000)
    expect(page.locator("#screen .notice.error")).to_contain_text("لم تقبل البطاقة")
    expect(page.locator("#screen .notice.error")).to_contain_text("2")
    visit.check("mrz_entry-refused")
    assert card.applet.external_authenticate_count == 1  # one BAC attempt for one submission: no retry storm
    # a malformed date is refused on the kiosk itself: the chip is not asked at all
    visit.tap("field", "birth_date")
    for _ in range(6):
        visit.tap("backspace")
    for char in "741399":
        visit.tap("key", char)
    visit.tap("submit")
    page.wait_for_selector('[data-screen="mrz_entry"] .notice.error', timeout=5_000)
    expect(page.locator("#screen .notice.error")).to_contain_text("ستة أرقام")
    assert card.applet.external_authenticate_count == 1  # the malformed date never reached the chip
    visit.tap("cancel")
    visit.screen("attract", check=False)


def test_card_pulled_mid_read_ends_the_session(page: Page, kiosk: KioskProcess, card_of_holder) -> None:
    visit = Visit(page, kiosk)
    card = card_of_holder(number := new_number())
    visit.screen("choose")
    visit.tap("choose", "ticket")
    visit.screen("mrz_entry")
    visit.key_in(number)
    card.pull_after = 20
    visit.tap("submit")
    visit.screen("attract", check=False)
    expect(page.locator("#screen .notice")).to_contain_text("البطاقة أُخرجت")


def test_a_card_that_is_not_an_epassport_gets_a_reception_ticket_with_the_reason(
    page: Page, kiosk: KioskProcess, insert
) -> None:
    visit = Visit(page, kiosk, "en")
    insert(ForeignApplet())
    visit.screen("choose", check=False)
    visit.tap("choose", "ticket")
    visit.screen("mrz_entry", check=False)
    visit.key_in("L898902C3")
    visit.tap("submit")
    visit.screen("ticket", timeout=30_000, check=False)
    expect(page.locator("#screen .notice").first).to_contain_text("not an ID card or passport with a chip")


def test_printer_out_of_paper_shows_the_ticket_and_its_qr_on_screen_and_the_heartbeat_says_so(
    page: Page, kiosk: KioskProcess, station, sink: EscposSink
) -> None:
    sink.paper = "out"
    try:
        visit = Visit(page, kiosk)
        visit.tap("start")
        visit.screen("choose")
        visit.tap("choose", "ticket")
        visit.screen("insert_card")
        visit.tap("skip_identity")
        visit.screen("choose_service")
        visit.tap("service", "general")
        page.wait_for_selector('[data-screen="ticket"][data-print="failed"]', timeout=20_000)
        visit.check("ticket-printer-failed")
        number = page.locator("#ticket-number").inner_text().strip()
        shot = page.locator(".qr svg").screenshot()
        image = cv2.imdecode(np.frombuffer(shot, np.uint8), cv2.IMREAD_GRAYSCALE)
        text, _, _ = cv2.QRCodeDetector().detectAndDecode(image)
        (ticket,) = [t for t in edge_tickets(station) if t["number"] == number]
        assert text == f"{ticket['business_day']}/{number}"
        # the heartbeat carries it to the edge, whose device list shows it
        assert kiosk.wait_health("printer", "paper_out")["printer"] == "paper_out"
        edge, _ = station
        deadline = time.monotonic() + 20
        while device_status(edge, "kiosk-1").get("printer_paper") != "out" and time.monotonic() < deadline:
            time.sleep(0.3)
        assert device_status(edge, "kiosk-1")["printer_paper"] == "out"
        visit.tap("done")
    finally:
        sink.paper = "ok"


def test_printer_offline_is_reported_by_the_heartbeat(kiosk: KioskProcess, station, sink: EscposSink) -> None:
    port = sink.port
    sink.stop()
    try:
        assert kiosk.wait_health("printer", "offline")["printer"] == "offline"
        edge, _ = station
        deadline = time.monotonic() + 20
        while "printer_error" not in device_status(edge, "kiosk-1").get("faults", []) and time.monotonic() < deadline:
            time.sleep(0.3)
        assert "printer_error" in device_status(edge, "kiosk-1")["faults"]
    finally:
        sink.port = port
        sink.start()
    assert kiosk.wait_health("printer", "ok")["printer"] == "ok"


def test_idle_time_out_warns_then_returns_to_attract_and_the_data_is_gone(
    page: Page, tmp_path: Path, station, sink, videos, pki_dir, pcscd, pki, card_of_holder
) -> None:
    agent = _agent(tmp_path, station, sink, videos["holder"], pki_dir, pcscd, timeouts={"mrz_entry": 1})
    try:
        agent.wait_health("availability", "open")
        visit = Visit(page, agent)
        card_of_holder(number := new_number())
        visit.screen("choose", check=False)
        visit.tap("choose", "ticket")
        visit.screen("mrz_entry", check=False)
        visit.tap("key", "L")
        page.wait_for_selector("[data-warning]", timeout=10_000)
        expect(page.get_by_role("alertdialog")).to_contain_text("هل تحتاج إلى وقت إضافي")
        visit.check("timeout-warning")
        visit.tap("more_time")
        expect(page.locator("[data-warning]")).to_have_count(0)
        expect(page.locator("#field-document_number .field-value")).to_have_text("L")
        page.wait_for_selector("[data-warning]", timeout=10_000)
        visit.screen("attract", timeout=40_000, check=False)
        expect(page.locator("#screen .notice")).to_contain_text("لعدم وجود أي نشاط")
        html = page.content()
        assert number not in html and "ERIKSSON" not in html
        assert page.evaluate("localStorage.length + sessionStorage.length") == 0
    finally:
        agent.stop()


def test_a_kiosk_disabled_at_the_edge_shows_the_closed_screen_and_reopens(
    page: Page, tmp_path: Path, station, sink, videos, pki_dir, pcscd, pki
) -> None:
    edge, _ = station
    token = add_kiosk(edge, "kiosk-closed")
    folder = tmp_path
    agent = _agent(folder, (edge, token), sink, videos["holder"], pki_dir, pcscd)
    try:
        agent.wait_health("availability", "open")
        visit = Visit(page, agent)
        set_kiosk_enabled(edge, "kiosk-closed", False)
        visit.screen("closed")
        expect(page.locator("h1")).to_contain_text("هذا الكشك مغلق")
        set_kiosk_enabled(edge, "kiosk-closed", True)
        visit.screen("attract")
    finally:
        agent.stop()
