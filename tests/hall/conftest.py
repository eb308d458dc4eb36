"""Hall fixtures: a real `markaz edge serve` process with a display device, and Debian's Chromium through Playwright.

Displays are started as the installation guide says (docs/hall.md): Chromium with the autoplay flag, so the page may
play the announcements without a tap; the staff screens use the shared page fixture."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page

from tests.conftest import PASSWORD, ServerProcess, auth
from tests.ui.browser import LAUNCH_FLAGS, chromium_path
from tests.ui.fixtures import chromium, page

__all__ = ["chromium", "page"]

DISPLAY_FLAGS = (*LAUNCH_FLAGS, "--autoplay-policy=no-user-gesture-required")
FULL_HD = {"width": 1920, "height": 1080}


@dataclass
class Hall:
    server: ServerProcess
    tokens: dict[str, str]
    display_token: str

    @property
    def base(self) -> str:
        return self.server.base

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=30)

    def issue(self, service: str = "general", n: int = 1, by: str = "officer") -> list[dict]:
        """Tickets issued at the desk: a kiosk's ticket of a service that needs identity must carry a face match."""
        with self.api() as c:
            out = []
            for _ in range(n):
                r = c.post("/api/v1/tickets", json={"service": service}, headers=auth(self.tokens[by]))
                assert r.status_code == 201, r.text
                out.append(r.json())
            return out

    def post(self, path: str, role: str = "officer", **json: object) -> httpx.Response:
        with self.api() as c:
            return c.post(path, json=json or None, headers=auth(self.tokens[role]))


def start_hall(template: Path, tokens: dict[str, str], data: Path, *env_extra: str) -> Hall:
    from edge.node import EdgeNode
    from edge.settings import EdgeSettings
    from markaz.config import load_settings

    shutil.copytree(template, data)
    node = EdgeNode(load_settings(EdgeSettings, data_dir=data))
    try:
        display_token = node.auth.add_device("display-1", "display")
    finally:
        node.store.close()
    server = ServerProcess(data, "--sample-data", *env_extra).start()
    return Hall(server, dict(tokens), display_token)


@pytest.fixture
def hall(station_template, tmp_path) -> Iterator[Hall]:
    template, tokens = station_template
    h = start_hall(template, tokens, tmp_path / "node")
    try:
        yield h
    finally:
        h.server.stop()


@pytest.fixture
def brisk_hall(station_template, tmp_path, monkeypatch) -> Iterator[Hall]:
    """A hall whose calls are spoken fast and in English only, so tests of several announcements stay short, and
    whose recalls are not rate-limited."""
    monkeypatch.setenv("MARKAZ_HALL__LANGUAGES", '["en"]')
    monkeypatch.setenv("MARKAZ_HALL__SPEECH_RATE_WPM", "400")
    monkeypatch.setenv("MARKAZ_QUEUE__RECALL_MIN_INTERVAL_S", "0")  # the limit itself: tests/hall/test_announcements.py
    template, tokens = station_template
    h = start_hall(template, tokens, tmp_path / "node")
    try:
        yield h
    finally:
        h.server.stop()


@pytest.fixture(scope="module")
def display_browser(chromium: Browser) -> Iterator[Browser]:
    """A second Chromium from the same Playwright, launched as displays are installed (autoplay allowed)."""
    browser = chromium.browser_type.launch(
        executable_path=str(chromium_path()), args=list(DISPLAY_FLAGS), headless=True
    )
    try:
        yield browser
    finally:
        browser.close()


def sign_in(page: Page, base: str, user: str = "officer", target: str = "/counter", lang: str = "ar") -> None:
    page.goto(f"{base}{target}?lang={lang}")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")


def open_counter(page: Page, base: str, counter: str, lang: str = "ar", user: str = "officer") -> None:
    sign_in(page, base, user, "/counter", lang)
    page.click(f'a[data-counter="{counter}"]')
    page.wait_for_selector(f'#screen [data-screen="counter"][data-counter="{counter}"]')
    page.wait_for_function("window.markazLive && window.markazLive.connected")


def open_display(browser: Browser, base: str, token: str, lang: str = "ar") -> Page:
    """The technician's one-time set-up: open /display, enter the device token; the display then stays signed in."""
    context = browser.new_context(viewport=FULL_HD)
    page = context.new_page()
    page.goto(f"{base}/display?lang={lang}")
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_selector('#screen [data-screen="display"]')
    page.wait_for_function("window.markazLive && window.markazLive.connected")
    return page
