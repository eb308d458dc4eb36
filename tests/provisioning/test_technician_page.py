"""The technician's page in Debian's Chromium against a real `markaz edge serve` (approval required): sign in, make a
claim code (text and QR), a device enrols and waits, approve it, set its desired profile, revoke and decommission it
(each confirmed), in Arabic first and English one tap away, axe-core clean on every screen.

With MARKAZ_PROVISION_SCREENSHOTS=docs/provisioning the pictures of the technician's guide are (re)made."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from typer.testing import CliRunner

from markaz.cli import app
from tests.conftest import PASSWORD
from tests.provisioning.edgeproc import EdgeServe, install_station_ca
from tests.ui.axe import assert_accessible

run = CliRunner().invoke
SHOTS = os.environ.get("MARKAZ_PROVISION_SCREENSHOTS")


def _shot(page: Page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def _users(data: Path) -> None:
    from edge.node import EdgeNode
    from edge.settings import EdgeSettings
    from markaz.config import load_settings

    node = EdgeNode(load_settings(EdgeSettings, data_dir=data))
    try:
        node.auth.add_user("tech", PASSWORD, "technician")
        node.auth.add_user("officer", PASSWORD, "officer")
        node.auth.add_device("display-1", "display")  # registered with a token before enrolment existed
    finally:
        node.store.close()


@pytest.fixture
def edge(tmp_path) -> Iterator[EdgeServe]:
    data = tmp_path / "edge"
    install_station_ca(tmp_path, data)
    _users(data)
    server = EdgeServe(data, env={"MARKAZ_PROVISIONING__REQUIRE_APPROVAL": "true"}).start()
    yield server
    server.stop()


def _sign_in(page: Page, base: str, user: str, lang: str = "ar") -> None:
    page.goto(f"{base}/technician?lang={lang}")
    expect(page.locator("html")).to_have_attribute("lang", lang)
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")


def _screen(page: Page, name: str, done: str | None = None) -> None:
    selector = f'[data-screen="{name}"]' + (f'[data-done="{done}"]' if done is not None else "")
    expect(page.locator(selector)).to_have_count(1)


def test_a_technician_enrols_approves_configures_and_retires_a_kiosk_from_the_page(page: Page, edge, tmp_path):
    _sign_in(page, edge.base, "tech")
    _screen(page, "technician")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    assert_accessible(page, "technician page (ar)")

    page.fill("input[name=device]", "kiosk-7")
    page.select_option("select[name=type]", "kiosk")
    page.click("#make-claim")
    _screen(page, "claim")
    code = page.locator("#claim-code").inner_text().strip()
    assert len(code) == 19 and code.count("-") == 3
    expect(page.locator("svg.qr[role=img]")).to_have_count(1)
    assert_accessible(page, "claim code (ar)")
    _shot(page, "ar-claim-code")

    ident = tmp_path / "kiosk-7"
    waiting = run(app, ["provision", "enrol", "--edge", edge.base, "--claim", code, "--out", str(ident),
                        "--model", "KX-200", "--serial", "SN-0042"])  # fmt: skip
    assert waiting.exit_code == 3, waiting.output  # parked until a technician approves

    page.goto(f"{edge.base}/technician?lang=ar")
    row = page.locator('[data-pending="kiosk-7"]')
    expect(row).to_have_count(1)
    _shot(page, "ar-waiting-for-approval")
    row.locator("button").click()
    _screen(page, "technician", "approve")
    expect(page.locator('[data-pending="kiosk-7"]')).to_have_count(0)
    issued = run(app, ["provision", "enrol", "--edge", edge.base, "--claim", code, "--out", str(ident),
                       "--model", "KX-200", "--serial", "SN-0042"])  # fmt: skip
    assert issued.exit_code == 0, issued.output

    page.goto(f"{edge.base}/technician?lang=ar")
    kiosk = page.locator('tr[data-device="kiosk-7"]')
    expect(kiosk).to_contain_text("KX-200")
    expect(kiosk).to_contain_text("SN-0042")
    expect(kiosk).to_have_attribute("data-desired", "")
    page.click('[data-set-profile="kiosk-7"]')
    _screen(page, "technician", "desire")
    kiosk = page.locator('tr[data-device="kiosk-7"]')
    version = kiosk.get_attribute("data-desired")
    assert version and len(version) == 12
    expect(page.locator('[data-set-profile="kiosk-7"]')).to_be_disabled()  # it is the desired one now
    assert_accessible(page, "inventory with a desired profile (ar)")
    _shot(page, "ar-inventory")

    kiosk.get_by_role("link", name="إبطال kiosk-7").click()
    _screen(page, "confirm")
    assert_accessible(page, "confirm revoke (ar)")
    _shot(page, "ar-confirm-revoke")
    page.click("#confirm-yes")
    _screen(page, "technician", "revoke")
    expect(page.locator('tr[data-device="kiosk-7"]')).to_have_attribute("data-enabled", "no")

    page.locator("a.lang-toggle").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("html")).to_have_attribute("dir", "ltr")
    assert_accessible(page, "technician page (en)")
    _shot(page, "en-inventory")
    page.locator('tr[data-device="kiosk-7"]').get_by_role("link", name="Decommission kiosk-7").click()
    _screen(page, "confirm")
    page.click("#confirm-yes")
    _screen(page, "technician", "decommission")
    expect(page.locator('tr[data-device="kiosk-7"]')).to_have_count(0)


def test_the_page_refuses_other_roles_and_forms_from_elsewhere(page: Page, edge):
    _sign_in(page, edge.base, "officer", "en")
    expect(page.locator("[role=alert]")).to_contain_text("Your role may not use this screen.")
    _screen(page, "signin")
    # a signed-in technician's cookie does not make a form from another origin act
    _sign_in(page, edge.base, "tech", "en")
    _screen(page, "technician")
    r = page.request.post(
        f"{edge.base}/technician/claim",
        form={"device": "kiosk-9", "type": "kiosk", "lang": "en"},
        headers={"Origin": "http://evil.example"},
    )
    assert r.status == 403
    r = page.request.post(f"{edge.base}/technician/revoke", form={"device": "display-1", "lang": "en"})
    assert r.status == 400  # not confirmed
    page.goto(f"{edge.base}/technician?lang=en")
    expect(page.locator('tr[data-device="display-1"]')).to_have_attribute("data-enabled", "yes")
