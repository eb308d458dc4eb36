"""Browser-test fixtures (import them into a conftest.py to use them elsewhere): one Chromium per session, a fresh context per test that refuses non-local requests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Route, sync_playwright

from tests.ui.axe import ensure_axe
from tests.ui.browser import LAUNCH_FLAGS, VIEWPORT, chromium_path, is_local


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    ensure_axe()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium_path()), args=list(LAUNCH_FLAGS), headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    """A page in a new context (no shared storage); any request leaving this machine is aborted and fails the test."""
    context = chromium.new_context(viewport=VIEWPORT, service_workers="block")
    outside: list[str] = []

    def guard(route: Route) -> None:
        if is_local(route.request.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()
    assert not outside, f"the page asked for assets off this machine: {outside}"
