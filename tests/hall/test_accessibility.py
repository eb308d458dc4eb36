"""axe-core in the page finds no serious or critical violation on the hall's pages, in Arabic and in English. With
MARKAZ_HALL_SCREENSHOTS=docs/hall the same pages are (re)made as the manual's pictures (a plain run writes nothing
into the repository)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.hall.conftest import FULL_HD, Hall, open_display, sign_in, start_hall
from tests.ui.axe import assert_accessible

pytestmark = pytest.mark.slow
SHOTS = os.environ.get("MARKAZ_HALL_SCREENSHOTS")  # e.g. docs/hall
LANGS = ("ar", "en")


@pytest.fixture
def busy_hall(hall: Hall) -> Hall:
    """A hall in mid-morning: people waiting in several services, two counters with a visitor."""
    hall.issue("general", 4)
    hall.issue("report", 2)
    hall.issue("priority", 1)
    assert hall.post("/api/v1/counters/2/call-next").status_code == 200
    t = hall.post("/api/v1/counters/2/call-next", role="officer")  # blocked: called, not started
    assert t.status_code == 409
    first = hall.post("/api/v1/counters/1/call-next").json()
    hall.post(f"/api/v1/tickets/{first['id']}/start")
    return hall


def shoot(page, name: str, full_page: bool = False) -> None:
    if not SHOTS:
        return
    folder = Path(SHOTS)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=full_page)


@pytest.mark.parametrize("lang", LANGS)
def test_counter_screen_is_accessible(chromium: Browser, busy_hall: Hall, lang: str):
    ctx = chromium.new_context(viewport={"width": 1440, "height": 900})
    page = ctx.new_page()
    sign_in(page, busy_hall.base, lang=lang)
    page.wait_for_selector('#screen [data-screen="choose-counter"]')
    assert_accessible(page, f"counter chooser ({lang})")
    shoot(page, f"choose-counter-{lang}")
    page.click('a[data-counter="1"]')
    page.wait_for_function("window.markazLive && window.markazLive.connected")
    expect(page.locator('#screen [data-screen="counter"]')).to_have_attribute("data-ticket-status", "serving")
    assert_accessible(page, f"counter screen ({lang})")
    shoot(page, f"counter-{lang}", full_page=True)
    ctx.close()


@pytest.mark.parametrize("lang", LANGS)
def test_sign_in_and_supervisor_pages_are_accessible(chromium: Browser, busy_hall: Hall, lang: str):
    ctx = chromium.new_context(viewport={"width": 1440, "height": 900})
    page = ctx.new_page()
    page.goto(f"{busy_hall.base}/supervisor?lang={lang}")
    assert_accessible(page, f"sign-in ({lang})")
    shoot(page, f"signin-{lang}")
    sign_in(page, busy_hall.base, "supervisor", "/supervisor", lang)
    page.wait_for_selector("#day-chart")
    assert_accessible(page, f"supervisor ({lang})")
    shoot(page, f"supervisor-{lang}", full_page=True)
    ctx.close()


@pytest.mark.parametrize("lang", LANGS)
def test_display_is_accessible(display_browser: Browser, busy_hall: Hall, lang: str):
    page = open_display(display_browser, busy_hall.base, busy_hall.display_token, lang)
    expect(page.locator("#now-calling tbody tr")).to_have_count(1)
    assert_accessible(page, f"display ({lang})")
    shoot(page, f"display-{lang}")
    page.context.close()


def test_display_setup_and_closed_hall_are_accessible(
    display_browser: Browser, station_template, tmp_path, monkeypatch
):
    monkeypatch.setenv("MARKAZ_HALL__OPEN_DAYS", "[]")  # a hall that never opens: always the closed screen
    template, tokens = station_template
    hall = start_hall(template, tokens, tmp_path / "closed")
    try:
        ctx = display_browser.new_context(viewport=FULL_HD)
        page = ctx.new_page()
        page.goto(f"{hall.base}/display")
        assert_accessible(page, "display set-up")
        # the token field is styled by the shared sheet: as large as the text and as wide as the form, not a browser's
        # default 13 px box (these pages load no family sheet)
        field = page.evaluate(
            "() => { const f = document.querySelector('#token'), s = getComputedStyle(f);"
            " return {font: s.fontSize, width: f.getBoundingClientRect().width,"
            " form: f.form.getBoundingClientRect().width}; }"
        )
        assert field["font"] == "24px" and field["width"] >= 0.95 * field["form"] > 0, field
        shoot(page, "display-setup-ar")
        page.fill("#token", hall.display_token)
        page.click("button[type=submit]")
        expect(page.locator('#screen [data-screen="display"]')).to_have_attribute("data-open", "no")
        assert_accessible(page, "closed display")
        shoot(page, "display-closed-ar")
        ctx.close()
    finally:
        hall.server.stop()
