"""Browser-test fixtures (import them into a conftest.py to use them elsewhere): one Chromium per test process, a
fresh context per test that refuses non-local requests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Playwright, Route, sync_playwright

from tests.ui.axe import ensure_axe
from tests.ui.browser import LAUNCH_FLAGS, VIEWPORT, chromium_path, is_local


class _SharedBrowser:
    """One Playwright and one Chromium per test process, however many conftests import the `chromium` fixture:
    each import makes a fixture of its own, and a second `sync_playwright()` in the same thread is refused."""

    def __init__(self) -> None:
        self.users = 0
        self._playwright: Playwright | None = None
        self.browser: Browser | None = None

    def acquire(self) -> Browser:
        if self.browser is None:
            ensure_axe()
            self._playwright = sync_playwright().start()
            self.browser = self._playwright.chromium.launch(
                executable_path=str(chromium_path()), args=list(LAUNCH_FLAGS), headless=True
            )
        self.users += 1
        return self.browser

    def release(self) -> None:
        self.users -= 1
        if self.users == 0 and self.browser is not None and self._playwright is not None:
            self.browser.close()
            self._playwright.stop()
            self.browser = self._playwright = None


_SHARED = _SharedBrowser()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    browser = _SHARED.acquire()
    try:
        yield browser
    finally:
        _SHARED.release()


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
