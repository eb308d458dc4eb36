"""The counter screen in Debian's Chromium against a real edge node process."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.hall.conftest import Hall, open_counter

pytestmark = pytest.mark.slow
LIVE_MS = 5000  # generous on a shared 2-core machine; the measured figure is the benchmark's (docs/hall.md)


def current(page: Page):
    return page.locator('#screen [data-screen="counter"]')


def test_officer_calls_starts_finishes_marks_no_show_and_transfers_with_the_list_updating(page: Page, hall: Hall):
    a, b, c = hall.issue("general", 3)
    open_counter(page, hall.base, "1", lang="en")
    rows = page.locator("#waiting-list tbody tr")
    expect(rows).to_have_count(3)

    page.click("#act-call_next")
    expect(current(page)).to_have_attribute("data-ticket", a["number"], timeout=LIVE_MS)
    expect(current(page)).to_have_attribute("data-ticket-status", "called")
    expect(rows).to_have_count(2)
    page.wait_for_function("window.markazLive.screens >= 3")  # the tap's answer, then the call's own change
    expect(page.locator("#screen .notice.ok")).to_contain_text(f"Called {a['number']}")  # still said
    page.click("#act-start")
    expect(current(page)).to_have_attribute("data-ticket-status", "serving", timeout=LIVE_MS)
    page.click("#act-finish")
    expect(current(page)).to_have_attribute("data-ticket", "", timeout=LIVE_MS)

    page.click("#act-call_next")
    expect(current(page)).to_have_attribute("data-ticket", b["number"], timeout=LIVE_MS)
    page.click("#act-no_show")
    expect(current(page)).to_have_attribute("data-ticket", "", timeout=LIVE_MS)

    page.click("#act-call_next")
    expect(current(page)).to_have_attribute("data-ticket", c["number"], timeout=LIVE_MS)
    page.click('button[data-action="transfer"][data-service="report"]')
    expect(current(page)).to_have_attribute("data-ticket", "", timeout=LIVE_MS)
    expect(page.locator(f'#waiting-list tr[data-ticket="{c["number"]}"]')).to_have_count(1)  # queued at report

    # a kiosk's new ticket appears without reloading; another counter's call takes one off the list
    (d,) = hall.issue("general")
    expect(page.locator(f'#waiting-list tr[data-ticket="{d["number"]}"]')).to_have_count(1, timeout=LIVE_MS)
    elsewhere = hall.post("/api/v1/counters/2/call-next").json()["number"]  # the transferred visitor, first in line
    assert elsewhere == c["number"]
    expect(page.locator(f'#waiting-list tr[data-ticket="{elsewhere}"]')).to_have_count(0, timeout=LIVE_MS)

    with hall.api() as api:
        from tests.conftest import auth

        statuses = {t["number"]: t["status"] for t in api.get("/api/v1/tickets", headers=auth(hall.tokens["officer"])).json()["tickets"] if t["status"] != "waiting"}  # fmt: skip
    assert statuses[a["number"]] == "done" and statuses[b["number"]] == "no_show"
    assert statuses[c["number"]] == "called"  # its transferred-in row, now at counter 2


def test_two_counter_screens_open_at_once_never_show_the_same_ticket_called(chromium: Browser, hall: Hall):
    hall.issue("general", 6)
    pages = []
    for code in ("1", "2"):
        ctx = chromium.new_context()
        p = ctx.new_page()
        open_counter(p, hall.base, code)
        pages.append(p)
    seen: list[str] = []
    for _ in range(3):
        for p in pages:  # both press "call next" before either screen has redrawn
            p.evaluate("document.getElementById('act-call_next').click()")
        numbers = []
        for p in pages:
            expect(current(p)).not_to_have_attribute("data-ticket", "", timeout=LIVE_MS)
            numbers.append(current(p).get_attribute("data-ticket"))
        assert numbers[0] != numbers[1], numbers
        seen += numbers
        for p in pages:
            p.click("#act-start")
            expect(current(p)).to_have_attribute("data-ticket-status", "serving", timeout=LIVE_MS)
            p.click("#act-finish")
            expect(current(p)).to_have_attribute("data-ticket", "", timeout=LIVE_MS)
    assert len(set(seen)) == 6
    for p in pages:
        p.context.close()


def test_keyboard_shortcuts_do_every_action(page: Page, hall: Hall):
    a, b = hall.issue("general", 2)
    open_counter(page, hall.base, "1")
    page.keyboard.press("KeyN")
    expect(current(page)).to_have_attribute("data-ticket", a["number"], timeout=LIVE_MS)
    page.keyboard.press("KeyS")
    expect(current(page)).to_have_attribute("data-ticket-status", "serving", timeout=LIVE_MS)
    page.keyboard.press("KeyF")
    expect(current(page)).to_have_attribute("data-ticket", "", timeout=LIVE_MS)
    page.keyboard.press("KeyN")
    expect(current(page)).to_have_attribute("data-ticket", b["number"], timeout=LIVE_MS)
    page.keyboard.press("KeyM")  # no-show
    expect(current(page)).to_have_attribute("data-ticket", "", timeout=LIVE_MS)
    expect(page.locator("#act-close")).to_be_enabled(timeout=LIVE_MS)
    page.keyboard.press("KeyC")  # close the counter
    expect(current(page)).to_have_attribute("data-open", "no", timeout=LIVE_MS)
    expect(page.locator("#act-call_next")).to_be_disabled()
    expect(page.locator("#act-open")).to_be_enabled()
    page.keyboard.press("KeyO")  # and open it again
    expect(current(page)).to_have_attribute("data-open", "yes", timeout=LIVE_MS)
    expect(page.locator("#act-close")).to_be_enabled()
    (c,) = hall.issue("report")
    expect(current(page)).to_have_attribute("data-waiting", "1", timeout=LIVE_MS)
    page.keyboard.press("KeyN")
    expect(current(page)).to_have_attribute("data-ticket", c["number"], timeout=LIVE_MS)
    page.keyboard.press("KeyT")  # focuses the first transfer target; Enter chooses it
    page.keyboard.press("Enter")
    expect(current(page)).to_have_attribute("data-ticket", "", timeout=LIVE_MS)


def test_disabled_actions_carry_their_reason(page: Page, hall: Hall):
    open_counter(page, hall.base, "1", lang="en")
    call = page.locator("#act-call_next")
    expect(call).to_be_disabled()
    why = page.locator("#" + call.get_attribute("aria-describedby"))
    expect(why).to_contain_text("Nobody is waiting")
    expect(page.locator("#why-start")).to_contain_text("No ticket at this counter")
    page.keyboard.press("KeyN")  # a shortcut on a disabled action does nothing
    hall.issue("general")
    expect(call).to_be_enabled(timeout=LIVE_MS)
    call.click()
    expect(page.locator("#why-finish")).to_contain_text("Start serving the ticket first", timeout=LIVE_MS)
    expect(page.locator("#why-recall")).to_contain_text("recall possible in")
    expect(page.locator("#why-close")).to_contain_text("Finish or hand over")


def test_a_stale_screen_shows_the_truth_after_the_action(page: Page, hall: Hall):
    (t,) = hall.issue("general")
    open_counter(page, hall.base, "1", lang="en")
    page.click("#act-call_next")
    expect(current(page)).to_have_attribute("data-ticket-status", "called", timeout=LIVE_MS)
    # the screen misses the next pushes (as a screen on a flaky network would)
    page.evaluate("""() => { const s = document.getElementById('screen');
        window.__frozen = Object.getOwnPropertyDescriptor(Element.prototype, 'innerHTML');
        Object.defineProperty(s, 'innerHTML', { configurable: true, set() {}, get() { return window.__frozen.get.call(s); } }); }""")
    pushes = page.evaluate("window.markazLive.screens")
    r = hall.post(f"/api/v1/tickets/{t['id']}/no-show", role="supervisor")
    assert r.status_code == 200
    page.wait_for_function(f"window.markazLive.screens > {pushes}")  # the push came, and was missed
    expect(current(page)).to_have_attribute("data-ticket-status", "called")  # still the stale picture
    page.evaluate("() => { delete document.getElementById('screen').innerHTML; }")
    page.click("#act-start")
    expect(current(page)).to_have_attribute("data-ticket", "", timeout=LIVE_MS)
    expect(page.locator("#screen .notice.error")).to_contain_text("out of date")


def test_the_supervisor_page_follows_the_day_live(page: Page, hall: Hall):
    from tests.hall.conftest import sign_in

    sign_in(page, hall.base, "supervisor", "/supervisor", "en")
    board = page.locator('#screen [data-screen="supervisor"]')
    expect(board).to_have_attribute("data-issued", "0")
    page.wait_for_function("window.markazLive && window.markazLive.connected")
    hall.issue("general", 2)
    expect(board).to_have_attribute("data-issued", "2", timeout=LIVE_MS)
    expect(board).to_have_attribute("data-waiting", "2")
    expect(page.locator("#day-chart rect.bar-waiting").last).to_have_attribute("height", re.compile(r"^[1-9]"))
