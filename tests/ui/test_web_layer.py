"""The shared web layer in a real Chromium: Arabic first, local fonts, live state over a WebSocket, axe-clean."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.ui.axe import assert_accessible
from tests.ui.sample.app import serve

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sample_url() -> Iterator[str]:
    with serve() as url:
        yield url


def _open(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_function("window.markazLive && window.markazLive.screens > 0")


def test_page_opens_in_arabic_right_to_left_with_the_local_arabic_font(page: Page, sample_url: str) -> None:
    _open(page, sample_url)
    html = page.locator("html")
    expect(html).to_have_attribute("lang", "ar")
    expect(html).to_have_attribute("dir", "rtl")
    expect(page.locator("h1")).to_have_text("شاشة تجريبية")
    page.evaluate("document.fonts.ready")
    assert page.evaluate("document.fonts.check('24px \"Noto Sans Arabic\"', 'شاشة')")
    loaded = page.evaluate("[...document.fonts].filter(f => f.status === 'loaded').map(f => f.family)")
    assert "Noto Sans Arabic" in loaded


def test_taps_go_to_the_server_and_the_pushed_screen_replaces_the_old(page: Page, sample_url: str) -> None:
    _open(page, sample_url)
    page.get_by_role("button", name="ابدأ من جديد").click()
    expect(page.locator("#count")).to_have_text("0")
    for expected in ("1", "2", "3"):
        page.get_by_role("button", name="أضف واحدة").click()
        expect(page.locator("#count")).to_have_text(expected)
    # the number is isolated so it keeps its order inside Arabic text
    assert page.locator("#count bdi").count() == 1
    assert len(page.evaluate("window.markazLive.tapLatencies")) >= 3
    expect(page.locator("body")).to_have_attribute("data-screen", "sample")


def test_language_toggle_switches_to_english_left_to_right_and_back(page: Page, sample_url: str) -> None:
    _open(page, sample_url)
    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("dir", "ltr")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("Sample screen")
    assert page.title() == "Sample screen"
    page.get_by_role("link", name="العربية").click()
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("h1")).to_have_text("شاشة تجريبية")


def test_without_a_socket_the_toggle_is_a_plain_link(page: Page, sample_url: str) -> None:
    page.goto(f"{sample_url}/static-page")
    page.get_by_role("link", name="English").click()
    page.wait_for_url("**lang=en")
    expect(page.locator("html")).to_have_attribute("dir", "ltr")
    expect(page.locator("h1")).to_have_text("Sample screen")


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_axe_finds_no_serious_or_critical_violation(page: Page, sample_url: str, lang: str) -> None:
    page.goto(f"{sample_url}/static-page?lang={lang}")
    assert_accessible(page, f"sample screen ({lang})")


def test_axe_runner_fails_on_a_serious_violation(page: Page, sample_url: str) -> None:
    page.goto(f"{sample_url}/static-page")
    # a button a screen reader cannot name: a critical violation
    page.evaluate(
        "document.getElementById('screen').insertAdjacentHTML('beforeend', '<button><img src=\"data:,\"></button>')"
    )
    with pytest.raises(AssertionError, match="critical: button-name"):
        assert_accessible(page)
