"""The workbench is live, in Chromium against a real `markaz edge serve`: two signed-in staff (an officer and a
supervisor, each in a browser context of their own) and an agency user; what one does shows on the others' pages
without a reload, and only what each may see. Also the supervisor's revoke-share and referral-download buttons.
With MARKAZ_REPORT_SCREENSHOTS=docs/reports the pictures of the manual are (re)made."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.conftest import ServerProcess, auth, run_markaz
from tests.reports.conftest import THEFT
from tests.reports.ui.test_workbench_screens import AGENCIES, shoot, sign_in
from tests.ui.browser import VIEWPORT, is_local

pytestmark = pytest.mark.slow


@pytest.fixture
def desk(station_template, tmp_path) -> Iterator[tuple[ServerProcess, dict[str, str], list[str]]]:
    template, tokens = station_template
    data = tmp_path / "node"
    shutil.copytree(template, data)
    config = tmp_path / "edge.toml"
    config.write_text(AGENCIES, encoding="utf-8")
    server = ServerProcess(data, "--config", str(config), "--sample-data").start()
    refs = []
    with httpx.Client(base_url=server.base, timeout=30) as c:
        for _ in range(2):
            r = c.post("/api/v1/reports", headers=auth(tokens["officer"]),
                       json={"type": "theft", "details": THEFT, "complainant": {"name": "Huda Al-Mansour"}})  # fmt: skip
            assert r.status_code == 201, r.text
            refs.append(r.json()["reference"])
    yield server, tokens, refs
    server.stop()


def _context(chromium: Browser) -> BrowserContext:
    context = chromium.new_context(viewport=VIEWPORT, service_workers="block", accept_downloads=True)
    context.route("**/*", lambda route: route.continue_() if is_local(route.request.url) else route.abort())
    return context


@pytest.fixture
def second(chromium: Browser) -> Iterator[Page]:
    """A second person's browser: a context of its own, so its own sign-in cookie."""
    context = _context(chromium)
    yield context.new_page()
    context.close()


@pytest.fixture
def third(chromium: Browser) -> Iterator[Page]:
    context = _context(chromium)
    yield context.new_page()
    context.close()


def _live(page: Page) -> None:
    """The page's socket is open and has pushed its first screen; a marker proves later changes came without a
    reload (a reload would drop it)."""
    page.wait_for_function("window.markazLive && window.markazLive.connected && window.markazLive.screens >= 1")
    page.evaluate("window.__sameDocument = true")


def _same_document(page: Page) -> bool:
    return page.evaluate("window.__sameDocument === true")


def _submit(page: Page, form: str, **fields: str) -> None:
    for selector, value in fields.items():
        page.fill(f"{form} #{selector}", value)
    page.locator(f"{form} button[type=submit]").click()


def test_one_officers_change_shows_on_the_others_list_and_page_without_reload(page: Page, second: Page, desk) -> None:
    server, _, refs = desk
    ref = refs[0]
    officer, supervisor = page, second
    sign_in(officer, server.base, "officer")
    officer.goto(f"{server.base}/reports/{ref}?lang=ar")
    officer.wait_for_selector(f'section[data-screen="report"][data-state="submitted"][data-reference="{ref}"]')
    _live(officer)
    officer.fill("#note-text", "half typed")  # the officer is writing a note when the page changes under them
    sign_in(supervisor, server.base, "supervisor", "en")
    _live(supervisor)
    expect(supervisor.locator(f'tr[data-reference="{ref}"]')).to_have_attribute("data-state", "submitted")

    # the officer receives the report: the supervisor's list shows it without a reload
    officer.select_option("#move-action", "receive")
    _submit(officer, "#move-form", **{"move-reason": "came in at the desk"})
    officer.wait_for_selector('section[data-screen="report"][data-state="received"]')
    expect(supervisor.locator(f'tr[data-reference="{ref}"]')).to_have_attribute("data-state", "received")
    assert _same_document(supervisor)

    # the supervisor opens it and assigns it to the officer: the officer's page (opened again, live) shows it
    _live(officer)
    officer.fill("#note-text", "half typed")
    supervisor.goto(f"{server.base}/reports/{ref}?lang=en")
    supervisor.wait_for_selector('section[data-screen="report"][data-officer=""]')
    _live(supervisor)
    supervisor.select_option("#assign-officer", "officer")
    _submit(supervisor, "#assign-form", **{"assign-reason": "on duty tonight"})
    supervisor.wait_for_selector('section[data-screen="report"][data-officer="officer"]')
    officer.wait_for_selector('section[data-screen="report"][data-officer="officer"]')
    assert _same_document(officer)
    assert officer.input_value("#note-text") == "half typed", "a live update lost what the officer was typing"
    expect(officer.locator("#timeline tr[data-action=assign]")).to_have_count(1)

    # the officer investigates and records a statement: the supervisor's page shows both, live
    _live(supervisor)
    officer.select_option("#move-action", "investigate")
    _submit(officer, "#move-form", **{"move-reason": "looking into it"})
    officer.wait_for_selector('section[data-screen="report"][data-state="under_investigation"]')
    supervisor.wait_for_selector('section[data-screen="report"][data-state="under_investigation"]')
    _submit(officer, "#statement-form", **{"statement-text": "I parked at nine and came back at ten."})
    officer.wait_for_selector('section[data-screen="report"][data-statements="1"]')
    supervisor.wait_for_selector('section[data-screen="report"][data-statements="1"]')
    expect(supervisor.locator("#screen")).to_contain_text("I parked at nine")
    assert _same_document(supervisor)
    shoot(supervisor, "en-report-live")


def test_an_agency_user_is_shown_a_share_live_and_loses_the_page_when_it_is_revoked(
    page: Page, second: Page, desk
) -> None:
    server, tokens, refs = desk
    ref, other = refs
    supervisor, agency = page, second
    sign_in(agency, server.base, "agency_viewer")
    expect(agency.locator("section[data-screen=reports]")).to_have_attribute("data-count", "0")
    _live(agency)

    # a change to a report not shared with them never reaches the agency user's screen
    screens = agency.evaluate("window.markazLive.screens")
    with httpx.Client(base_url=server.base, timeout=30) as c:
        r = c.post(f"/api/v1/reports/{other}/transitions", headers=auth(tokens["officer"]),
                   json={"action": "receive", "reason": "desk"})  # fmt: skip
        assert r.status_code == 200, r.text

    sign_in(supervisor, server.base, "supervisor")
    supervisor.goto(f"{server.base}/reports/{ref}?lang=ar")
    supervisor.wait_for_selector('section[data-screen="report"]')
    until = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%d")
    supervisor.fill("#share-user", "agency_viewer")
    supervisor.fill("#share-purpose", "case review")
    supervisor.fill("#share-until", until)
    supervisor.locator("#share-form button[type=submit]").click()
    supervisor.wait_for_selector('li[data-share][data-revoked="no"]')

    agency.wait_for_selector('section[data-screen="reports"][data-count="1"]')
    assert _same_document(agency)
    # the push after the other report's change was never sent (it showed nothing new): one push, for the share
    assert agency.evaluate("window.markazLive.screens") == screens + 1
    expect(agency.locator(f'tr[data-reference="{ref}"]')).to_have_count(1)
    agency.locator(f'a[href^="/reports/{ref}"]').click()
    agency.wait_for_selector(f'section[data-screen="report"][data-reference="{ref}"]')
    _live(agency)
    expect(agency.locator("#screen")).not_to_contain_text("Huda")  # a "procedure" agency: roles only, live too

    # the supervisor ends the share with the button: it needs the tick box first
    button = supervisor.locator("form[id^=revoke-] button[type=submit]")
    button.click()  # the browser refuses the form while the box is not ticked
    expect(supervisor.locator('li[data-share][data-revoked="no"]')).to_have_count(1)
    supervisor.locator("form[id^=revoke-] input[name=confirm]").check()
    button.click()
    supervisor.wait_for_selector('li[data-share][data-revoked="yes"]')
    expect(supervisor.locator(".notice.ok")).to_be_visible()
    shoot(supervisor, "ar-report-share-ended")
    agency.wait_for_selector('section[data-screen="refused"]')
    assert _same_document(agency)
    expect(agency.locator("#screen")).not_to_contain_text("case review")


def test_the_supervisor_downloads_the_signed_referral_package_and_it_verifies(page: Page, desk, tmp_path) -> None:
    server, tokens, refs = desk
    ref = refs[0]
    officer = auth(tokens["officer"])
    with httpx.Client(base_url=server.base, timeout=30) as c:
        for action in ("receive", "investigate", "refer"):
            if action == "investigate":
                r = c.post(f"/api/v1/reports/{ref}/assign", headers=officer,
                           json={"officer": "officer", "reason": "mine"})  # fmt: skip
                assert r.status_code == 200, r.text
            r = c.post(
                f"/api/v1/reports/{ref}/transitions", headers=officer, json={"action": action, "reason": "all done"}
            )
            assert r.status_code == 200, r.text
    sign_in(page, server.base, "supervisor", "en")
    page.goto(f"{server.base}/reports/{refs[1]}?lang=en")  # not referred: nothing to download
    page.wait_for_selector('section[data-screen="report"]')
    expect(page.locator("#referral-form")).to_have_count(0)
    page.goto(f"{server.base}/reports/{ref}?lang=en")
    page.wait_for_selector('section[data-screen="report"][data-state="referred"]')
    shoot(page, "en-report-referral-download")
    page.locator("#referral-confirm").check()
    with page.expect_download() as info:
        page.locator("#referral-form button[type=submit]").click()
    download = info.value
    assert download.suggested_filename == f"referral-{ref}.json"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    package = json.loads(saved.read_text(encoding="utf-8"))
    assert package["package"]["reference"] == ref
    key = server.data / "keys" / "referral-signing.pub.pem"
    checked = run_markaz("edge", "reports", "verify-referral", str(saved), "--public-key", str(key))
    assert checked.returncode == 0, checked.stdout + checked.stderr
