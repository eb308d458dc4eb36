"""The kiosk's profile decides its languages (the first one shown first) and what a visitor may do, applied live: a
real edge node process sets the desired profile, the real agent applies it at its next poll (health checks on the
virtual reader, the camera video and the ESC/POS sink), and Chromium on the agent's page shows the change while it
waits for the next visitor."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import cv2
import httpx
import pytest
from playwright.sync_api import Page, expect

from kiosk.hardware.escpos_sink import EscposSink
from tests.conftest import ServerProcess, auth
from tests.kiosk.agentproc import KioskProcess, add_kiosk, admin_token, register_kiosk
from tests.ui.axe import assert_accessible

pytestmark = pytest.mark.slow

SHOTS = os.environ.get("MARKAZ_KIOSK_SCREENSHOTS")
DEVICE = "kiosk-lang"


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("station")
    register_kiosk(folder / "node")
    server = ServerProcess(folder / "node", "--sample-data", env=ServerProcess.PRELOAD).start()
    yield server
    server.stop()


def desire(edge: ServerProcess, layer: str) -> str:
    """The technician's step: a device layer, then the effective profile made the device's desired one."""
    path = edge.data / "profiles" / "devices" / f"{DEVICE}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(layer)
    r = httpx.put(f"{edge.base}/api/v1/profiles/{DEVICE}/desired", json={}, headers=auth(admin_token(edge)), timeout=30)
    assert r.status_code == 200, r.text
    return str(r.json()["version"])


def layer(video: Path, sink: EscposSink, languages: str, services: str) -> str:
    """The device layer: its languages and services, and the camera and printer it really has (the health check
    after the change opens them)."""
    capture = cv2.VideoCapture(str(video))
    ok, frame = capture.read()
    capture.release()
    assert ok
    height, width = frame.shape[:2]
    return (
        f"languages = {languages}\nservices = {services}\n"
        f'[camera]\nsource = "{video}"\nwidth = {width}\nheight = {height}\n[printer]\nuri = "{sink.uri}"\n'
    )


def shot(page: Page, name: str) -> None:
    assert_accessible(page, name)
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"profile-{name}.png"))


def test_the_kiosk_offers_only_its_profiles_languages_and_services_live(
    page: Page, edge: ServerProcess, videos, pki_dir, pcscd, pki, tmp_path: Path
) -> None:
    with EscposSink() as sink:
        token = add_kiosk(edge, DEVICE)
        (tmp_path / "token").write_text(token)
        settings: dict[str, object] = {
            "edge": edge.base,
            "device_token_file": str(tmp_path / "token"),
            "camera": str(videos["holder"]),
            "printer": sink.uri,
            "csca": str(pki_dir / "csca.pem"),
            "station_name_ar": "مركز شرطة الاختبار",
            "station_name_en": "Test Police Station",
            "heartbeat_s": 0.5,
            "warning_s": 20,
            "profile_dir": str(tmp_path / "profile"),
            "profile_poll_s": 0.5,
        }
        kiosk = KioskProcess(tmp_path / "agent", settings, pcscd.env).start()
        try:
            kiosk.wait_health("availability", "open")
            page.goto(kiosk.url)
            page.wait_for_function("window.markazLive && window.markazLive.connected && window.markazLive.screens > 0")
            html, body = page.locator("html"), page.locator("body")
            # no profile yet: Arabic first, English one tap away, everything offered
            expect(html).to_have_attribute("lang", "ar")
            expect(page.locator('[data-action="language"]')).to_have_attribute("data-value", "en")

            # 1. English only, tickets only: applied live while the kiosk waits on its welcome screen
            desire(edge, layer(videos["holder"], sink, '["en"]', '["tickets"]'))
            expect(html).to_have_attribute("lang", "en", timeout=60_000)
            expect(html).to_have_attribute("dir", "ltr")
            expect(page.locator('[data-action="language"]')).to_have_count(0)
            expect(page.locator('section[data-screen="attract"] .lead')).to_have_text("Take a ticket.")
            page.locator('[data-action="start"]').click()
            expect(body).to_have_attribute("data-screen", "choose")
            expect(page.locator('section[data-screen="choose"]')).to_have_attribute("data-purposes", "ticket")
            expect(page.locator('[data-action="choose"]')).to_have_count(1)
            expect(page.locator('[data-action="choose"][data-value="ticket"]')).to_be_visible()
            shot(page, "en-only-tickets")
            page.locator('[data-action="cancel"]').click()
            expect(body).to_have_attribute("data-screen", "attract")

            # 2. English first, Arabic second, reports only
            desire(edge, layer(videos["holder"], sink, '["en", "ar"]', '["reports"]'))
            language = page.locator('[data-action="language"]')
            expect(language).to_have_attribute("data-value", "ar", timeout=60_000)
            expect(html).to_have_attribute("lang", "en")
            expect(page.locator('section[data-screen="attract"] .lead')).to_have_text("File a report or follow one up.")
            page.locator('[data-action="start"]').click()
            expect(page.locator('section[data-screen="choose"]')).to_have_attribute(
                "data-purposes", "file_report follow_report"
            )
            expect(page.locator('[data-action="choose"][data-value="ticket"]')).to_have_count(0)
            language.click()
            expect(html).to_have_attribute("lang", "ar")
            expect(html).to_have_attribute("dir", "rtl")
            expect(page.locator('section[data-screen="choose"] button')).to_have_count(2)
            shot(page, "ar-reports-only")
            # the visitor's session ends: the next visitor starts in the profile's first language again
            page.locator('[data-action="cancel"]').click()
            expect(body).to_have_attribute("data-screen", "attract")
            expect(html).to_have_attribute("lang", "en")
        finally:
            kiosk.stop()
