"""A report from the kiosk to the prosecution, every part for real: the visitor files a theft at the kiosk with the
virtual ePassport (pcscd + vpcd) and the camera video, the receipt is printed on the ESC/POS sink, the visitor follows
the report with its reference and PIN; an officer records a statement and refers it in the workbench (Chromium on
the edge's /reports); a real `markaz prosecution serve` acknowledges; the visitor sees the state move and the case
number. With MARKAZ_REPORT_SCREENSHOTS=docs/reports the workbench's pictures for the manual are (re)made."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from edge.reports.referral import ReferralSigner
from kiosk.hardware.escpos_sink import EscposSink
from tests.conftest import PASSWORD, ServerProcess, auth, free_port
from tests.kiosk.agentproc import KioskProcess, admin_token, register_kiosk
from tests.kiosk.ui.test_visits import Visit, _agent, card_of_holder, new_number, qr_of, sink
from tests.reports.test_referral import Prosecution
from tests.ui.axe import assert_accessible
from tests.ui.browser import VIEWPORT

pytestmark = pytest.mark.slow
__all__ = ["card_of_holder", "sink"]
SHOTS = os.environ.get("MARKAZ_REPORT_SCREENSHOTS")  # e.g. docs/reports
DESCRIPTION = "كسر زجاج السيارة"
PLACE = "طريق الملك فهد"


@pytest.fixture(scope="module")
def report_station(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, str, Path, int]]:
    """An edge node whose referrals go to a prosecution service that is not up yet (the test starts it)."""
    from edge.node import EdgeNode
    from edge.settings import EdgeSettings
    from markaz.config import load_settings

    folder = tmp_path_factory.mktemp("report-station")
    data = folder / "node"
    token = register_kiosk(data)
    node = EdgeNode(load_settings(EdgeSettings, data_dir=data, sample_data=True))
    try:
        node.auth.add_user("officer", PASSWORD, "officer")
    finally:
        node.store.close()
    signer = ReferralSigner(data / "keys")
    _ = signer.key  # made now, so the prosecution can be told to trust it
    pp_port = free_port()
    config = folder / "edge.toml"
    config.write_text(
        '[edge.reports]\nstation_code = "OLY"\n'
        f'[edge.reports.prosecution]\nurl = "http://127.0.0.1:{pp_port}/referrals"\n'
        "backoff_base_s = 0.2\nbackoff_max_s = 0.5\npoll_interval_s = 0.1\ntimeout_s = 2\n",
        encoding="utf-8",
    )
    edge = ServerProcess(data, "--config", str(config), "--sample-data", env=ServerProcess.PRELOAD).start()
    yield edge, token, signer.public_path, pp_port
    edge.stop()


@pytest.fixture(scope="module")
def report_kiosk(tmp_path_factory, report_station, sink, videos, pki_dir, pcscd, pki) -> Iterator[KioskProcess]:
    edge, token, _, _ = report_station
    agent = _agent(tmp_path_factory.mktemp("report-kiosk"), (edge, token), sink, videos["holder"], pki_dir, pcscd)
    agent.wait_health("availability", "open")
    yield agent
    agent.stop()


# letters Tesseract puts for digits in the receipt's large 1-bit type (a 0 as O, a 1 as I or l, ...)
LOOKALIKE = str.maketrans({"O": "0", "o": "0", "D": "0", "Q": "0", "I": "1", "l": "1", "|": "1", "i": "1", "Z": "2",
                           "S": "5", "B": "8", "G": "6"})  # fmt: skip


def pin_of(image) -> str:
    """The PIN read back from the printed raster by Tesseract (the line "PIN 1 2 3 4 5 6" in large type).

    Tesseract misreads that line now and then (it glues the first digit to "PIN", puts O for 0 or I for 1: about one
    receipt in three of generated ones), so look-alike letters count as their digits and a reading without six
    digits is made again from the raster enlarged. The test then tracks the report with what was read: a wrong
    reading fails it."""
    texts = []
    for scale in (1, 2, 3):
        grey = image.convert("L")
        if scale > 1:
            grey = grey.resize((grey.width * scale, grey.height * scale))
        with tempfile.NamedTemporaryFile(suffix=".png") as fh:
            grey.save(fh.name)
            text = subprocess.run(
                ["tesseract", fh.name, "-", "--psm", "4", "-l", "eng"], capture_output=True, text=True
            ).stdout
        for line in text.replace("Tracking PIN", "").splitlines():
            if line.startswith("PIN"):
                digits = re.sub(r"\s", "", line[3:].translate(LOOKALIKE))
                if re.fullmatch(r"\d{6}", digits):
                    return digits
        texts.append(text)
    raise AssertionError("no PIN on the receipt; Tesseract read:\n" + "\n---\n".join(texts))


def shoot(page: Page, name: str) -> None:
    assert_accessible(page, name)
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def key_in(visit: Visit, text: str) -> None:
    for char in text:
        visit.tap("key", char)


def workbench_submit(page: Page, form: str, **fields: str) -> None:
    for name, value in fields.items():
        field = page.locator(f"#{form} [name={name}]")
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    page.locator(f"#{form} button[type=submit]").click()


def test_a_theft_filed_at_the_kiosk_is_followed_worked_referred_and_acknowledged(
    page: Page, chromium: Browser, report_kiosk: KioskProcess, report_station, sink: EscposSink, card_of_holder
) -> None:
    edge, _, trust, pp_port = report_station
    # ---- the visitor files a theft at the kiosk ---------------------------------------------------------------
    visit = Visit(page, report_kiosk)
    card_of_holder(number := new_number())
    visit.screen("choose")
    visit.tap("choose", "file_report")
    visit.screen("mrz_entry", check=False)
    visit.key_in(number)
    visit.tap("submit")
    visit.screen("confirm_identity", timeout=60_000, check=False)
    visit.tap("confirm")
    visit.screen("report_type", check=False)
    expect(page.locator('[data-action="report_type"]')).not_to_have_count(0)
    assert page.locator('[data-action="report_type"][data-value="harassment"]').count() == 0  # a desk-only type
    visit.tap("report_type", "theft")
    page.wait_for_selector('[data-screen="report_field"][data-field="occurred_at"]')
    when = page.locator(".when")  # the date and time is set by touch: yesterday, then an hour earlier
    expect(when).to_have_attribute("data-moment", "")
    visit.tap("quick_date", "yesterday")
    expect(when).not_to_have_attribute("data-moment", "")
    yesterday = when.get_attribute("data-moment") or ""
    visit.tap("step", "hour:-1")
    expect(when).not_to_have_attribute("data-moment", yesterday)
    moment = when.get_attribute("data-moment") or ""
    occurred = f"{moment[:4]}-{moment[4:6]}-{moment[6:8]} {moment[8:10]}:{moment[10:12]}"
    visit.tap("next")
    page.wait_for_selector('[data-screen="report_field"][data-field="place"]')
    key_in(visit, PLACE)
    visit.tap("next")
    page.wait_for_selector('[data-screen="report_field"][data-field="items"]')
    key_in(visit, "حاسوب")
    visit.tap("add_item")
    expect(page.locator("ul.items li span")).to_have_text(["حاسوب"])
    key_in(visit, "حقيبة")
    visit.tap("next")
    page.wait_for_selector('[data-screen="report_field"][data-field="value"]')
    key_in(visit, "4500")
    visit.tap("next")
    page.wait_for_selector('[data-screen="report_field"][data-field="suspect_seen"]')
    visit.tap("answer", "no")
    page.wait_for_selector('[data-screen="report_field"][data-field="description"]')
    visit.tap("next")  # a required description left empty is refused on the kiosk
    page.wait_for_selector('[data-screen="report_field"][data-field="description"] .notice.error')
    key_in(visit, DESCRIPTION)
    expect(page.locator("#entry")).to_have_text(DESCRIPTION)
    visit.tap("next")
    visit.screen("report_review", check=False)
    expect(page.locator("dl.review")).to_contain_text("حاسوب · حقيبة")
    printed_before = len(sink.receipts)
    visit.tap("submit")
    page.wait_for_selector('[data-screen="report_filed"][data-print="printed"]', timeout=30_000)
    reference = page.locator("#report-reference").inner_text().strip()
    assert re.fullmatch(r"OLY-\d{4}-\d{6}-\d{2}", reference)
    assert page.locator("#report-pin").count() == 0  # printed, so not shown on the screen
    receipt = sink.wait_for(printed_before + 1)[-1].image
    assert qr_of(receipt) == reference
    pin = pin_of(receipt)
    assert len(pin) == 6
    visit.tap("done")
    visit.screen("attract", check=False)

    # ---- the visitor follows it: submitted ------------------------------------------------------------------------
    def follow(expect_state: str) -> None:
        visit.tap("start")
        visit.screen("choose", check=False)
        visit.tap("choose", "follow_report")
        visit.screen("follow_entry", check=False)
        key_in(visit, reference)
        visit.tap("field", "pin")
        key_in(visit, pin)
        expect(page.locator("#field-pin")).to_have_attribute("data-length", "6")
        visit.tap("submit")
        page.wait_for_selector(f'[data-screen="follow_result"][data-state="{expect_state}"]', timeout=30_000)

    # a wrong PIN first: the edge refuses it (and counts it), the kiosk says so and clears the PIN
    wrong = f"{(int(pin) + 1) % 1_000_000:06d}"
    visit.tap("start")
    visit.screen("choose", check=False)
    visit.tap("choose", "follow_report")
    visit.screen("follow_entry", check=False)
    key_in(visit, reference)
    visit.tap("field", "pin")
    key_in(visit, wrong)
    visit.tap("submit")
    page.wait_for_selector('section[data-screen="follow_entry"] .notice.error', timeout=30_000)
    expect(page.locator("#field-pin")).to_have_attribute("data-length", "0")
    visit.check("follow_entry-wrong-pin")
    visit.tap("cancel")
    visit.screen("attract", check=False)
    follow("submitted")
    html = page.content()
    assert DESCRIPTION not in html and "حاسوب" not in html  # state, dates and next step only
    visit.tap("done")
    visit.screen("attract", check=False)

    # ---- the officer works it in the workbench --------------------------------------------------------------------
    context = chromium.new_context(viewport=VIEWPORT)
    try:
        desk = context.new_page()
        desk.goto(f"{edge.base}/reports")
        desk.wait_for_selector('[data-screen="signin"]')
        desk.fill("#username", "officer")
        desk.fill("#password", PASSWORD)
        desk.locator("form.form button[type=submit]").click()
        desk.wait_for_selector(f'[data-screen="reports"] tr[data-reference="{reference}"][data-state="submitted"]')
        shoot(desk, "ar-workbench")
        desk.locator(f'a[href^="/reports/{reference}"]').click()
        desk.wait_for_selector(f'[data-screen="report"][data-reference="{reference}"][data-state="submitted"]')
        expect(desk.locator("#parties")).to_contain_text("ANNA MARIA ERIKSSON")
        expect(desk.locator("#parties")).to_contain_text("تم التحقق بالشريحة والوجه")
        details = desk.locator("section[aria-labelledby=details-h]")
        expect(details).to_contain_text(DESCRIPTION)
        expect(details).to_contain_text(occurred)  # set as station time, shown as station time
        workbench_submit(desk, "move-form", action="receive", reason="استلام البلاغ من الكشك")
        desk.wait_for_selector('[data-screen="report"][data-state="received"]')
        workbench_submit(desk, "assign-form", reason="أتولى البلاغ")
        desk.wait_for_selector('[data-screen="report"][data-officer="officer"]')
        workbench_submit(desk, "move-form", action="investigate", reason="بدء التحقيق")
        desk.wait_for_selector('[data-screen="report"][data-state="under_investigation"]')
        party = desk.locator("#statement-party option").first.get_attribute("value")
        workbench_submit(desk, "statement-form", party_id=party or "", text="وجدت زجاج السيارة مكسوراً والحقيبة مفقودة.",
                         acknowledgement="signed")  # fmt: skip
        desk.wait_for_selector('[data-screen="report"][data-statements="1"]')
        shoot(desk, "ar-report")
        desk.locator("#language-toggle").click()
        desk.wait_for_selector('html[lang="en"] [data-screen="report"][data-statements="1"]')
        shoot(desk, "en-report")
        workbench_submit(desk, "move-form", action="refer", reason="Statement recorded; complete for the prosecution")
        desk.wait_for_selector('[data-screen="report"][data-state="referred"][data-referral="pending"]')
        expect(desk.locator("#referral")).to_contain_text("Referral pending")

        # ---- the visitor sees it referred, the prosecution not yet reached ---------------------------------------
        follow("referred")
        expect(page.locator('section[data-screen="follow_result"]')).to_have_attribute("data-referral", "pending")
        expect(page.locator("#case-number")).to_have_count(0)

        # ---- the prosecution comes up and acknowledges --------------------------------------------------------------
        prosecution = Prosecution(Path(tempfile.mkdtemp(prefix="pp-")), trust, pp_port)
        try:
            token = admin_token(edge)
            deadline = time.monotonic() + 60
            case = None
            while case is None:
                assert time.monotonic() < deadline, "the referral was never acknowledged"
                r = httpx.get(f"{edge.base}/api/v1/reports/{reference}", headers=auth(token), timeout=10)
                case = r.json()["case_number"]
                if case is None:
                    time.sleep(0.2)
            assert case.startswith("PP-") and prosecution.received() == 1
        finally:
            prosecution.stop()
        visit.tap("refresh")
        page.wait_for_selector(f'[data-screen="follow_result"][data-case-number="{case}"]', timeout=30_000)
        expect(page.locator("#case-number")).to_have_text(case)
        expect(page.locator('section[data-screen="follow_result"]')).to_have_attribute("data-referral", "acknowledged")
        visit.tap("done")
        visit.screen("attract", check=False)
        desk.reload()
        desk.wait_for_selector(f'[data-screen="report"][data-case-number="{case}"]')
        expect(desk.locator("#case-number")).to_have_text(case)
        desk.goto(f"{edge.base}/reports?lang=en&state=referred")
        desk.wait_for_selector(f'tr[data-reference="{reference}"][data-state="referred"]')
        shoot(desk, "en-workbench")
    finally:
        context.close()
