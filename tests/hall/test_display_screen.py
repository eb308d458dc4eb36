"""The hall display in Chromium (started with the autoplay flag, as installed) against a real edge node process."""

from __future__ import annotations

import io
import itertools
import time
import wave

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import auth
from tests.hall.conftest import Hall, open_counter, open_display

pytestmark = pytest.mark.slow
LIVE_MS = 5000


def wav_seconds(body: bytes) -> float:
    with wave.open(io.BytesIO(body)) as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2
        return w.getnframes() / w.getframerate()


def test_a_call_on_a_counter_screen_appears_on_the_display_and_is_announced(
    display_browser: Browser, page: Page, hall: Hall
):
    (t,) = hall.issue("general")
    display = open_display(display_browser, hall.base, hall.display_token)
    audio: list[str] = []
    display.on("request", lambda r: audio.append(r.url) if "/display/audio/" in r.url else None)
    open_counter(page, hall.base, "2")
    page.click("#act-call_next")

    row = display.locator(f'#now-calling tr[data-ticket="{t["number"]}"]')
    expect(row).to_have_attribute("data-counter", "2", timeout=LIVE_MS)  # the counter that actually called
    display.wait_for_function("window.hallAudio.played.length === 1", timeout=15000)
    played = display.evaluate("window.hallAudio.played[0]")
    assert (played["number"], played["counter"]) == (t["number"], "2")
    assert len(audio) == 3 and audio[0].endswith("/chime.wav"), audio  # chime, then Arabic, then English
    with httpx.Client(timeout=30, cookies={"markaz_display": hall.display_token}) as c:
        lengths = [wav_seconds(c.get(url).content) for url in audio]
    assert all(seconds > 0.5 for seconds in lengths)
    display.context.close()


def test_calls_in_quick_succession_are_announced_one_after_another_in_order(display_browser: Browser, brisk_hall: Hall):
    hall = brisk_hall
    hall.post("/api/v1/counters/3/open")
    tickets = hall.issue("report", 3)
    display = open_display(display_browser, hall.base, hall.display_token, lang="en")
    for code in ("1", "2", "3"):
        assert hall.post(f"/api/v1/counters/{code}/call-next").status_code == 200
    display.wait_for_function("window.hallAudio.played.length === 3", timeout=60000)
    played = display.evaluate("window.hallAudio.played")
    assert [(p["number"], p["counter"]) for p in played] == [
        (t["number"], c) for t, c in zip(tickets, "123", strict=True)
    ]
    for before, after in itertools.pairwise(played):
        assert after["start"] >= before["end"], "one announcement at a time"
    expect(display.locator("#now-calling tbody tr")).to_have_count(3)
    display.context.close()


def test_a_recall_is_announced_again(display_browser: Browser, brisk_hall: Hall):
    hall = brisk_hall
    (t,) = hall.issue("general")
    display = open_display(display_browser, hall.base, hall.display_token)
    assert hall.post("/api/v1/counters/1/call-next").status_code == 200
    assert hall.post(f"/api/v1/tickets/{t['id']}/recall").status_code == 200
    display.wait_for_function("window.hallAudio.played.length === 2", timeout=30000)
    played = display.evaluate("window.hallAudio.played")
    assert [(p["number"], p["kind"]) for p in played] == [(t["number"], "call"), (t["number"], "recall")]
    display.context.close()


# Headless Chromium plays sound without any gesture whatever the flags (and counts Playwright's navigation as one),
# so a desktop Chromium's default policy is reproduced in the page: play() is refused until a trusted click or key.
GESTURE_POLICY = """(() => { const play = HTMLMediaElement.prototype.play; let touched = false;
  for (const kind of ["pointerdown", "keydown"]) {
    addEventListener(kind, (e) => { if (e.isTrusted) { touched = true; } }, true); }
  HTMLMediaElement.prototype.play = function () {
    if (!touched) {
      return Promise.reject(new DOMException("play() needs a user gesture", "NotAllowedError")); }
    return play.call(this); }; })()"""


def test_without_the_autoplay_flag_a_technician_enables_sound_once(chromium: Browser, hall: Hall):
    (t,) = hall.issue("general")
    ctx = chromium.new_context()
    ctx.add_init_script(GESTURE_POLICY)
    # as after a power cut: the display's sign-in is remembered (its cookie), nobody has touched this page yet
    ctx.add_cookies([{"name": "markaz_display", "value": hall.display_token, "url": hall.base}])
    display = ctx.new_page()
    display.goto(f"{hall.base}/display")
    display.wait_for_function("window.markazLive && window.markazLive.connected")
    assert hall.post("/api/v1/counters/1/call-next").status_code == 200
    gate = display.locator("#enable-sound")
    expect(gate).to_be_visible(timeout=LIVE_MS)  # refused before a gesture: the page asks for one
    assert display.evaluate("window.hallAudio.blocked") is True
    gate.click()
    display.wait_for_function("window.hallAudio.played.length === 1", timeout=15000)
    assert display.evaluate("window.hallAudio.played[0].number") == t["number"]
    ctx.close()


def test_the_display_reports_its_heartbeat(display_browser: Browser, hall: Hall):
    display = open_display(display_browser, hall.base, hall.display_token)
    from tests.conftest import auth

    with hall.api() as c:
        for _ in range(50):
            devices = c.get("/api/v1/devices", headers=auth(hall.tokens["technician"])).json()["devices"]
            mine = next(d for d in devices if d["id"] == "display-1")
            if mine.get("last_seen_at"):
                break
            display.wait_for_timeout(100)
    assert mine["last_seen_at"], mine
    display.context.close()


def test_the_display_follows_its_profile_volume_speech_and_layout(display_browser: Browser, page: Page, hall: Hall):
    """The display's profile (set by a technician, applied by the node at the display's check-in) is what the page
    plays and shows: the audio at the profile's volume, the chime only when speech is off, no waiting panel."""
    layer = hall.server.data / "profiles" / "devices" / "display-1.toml"
    layer.parent.mkdir(parents=True, exist_ok=True)
    layer.write_text('volume = 30\nspeech = false\nlayout = "calls"\n')
    technician = auth(hall.tokens["technician"])
    with hall.api() as c:
        r = c.put("/api/v1/profiles/display-1/desired", json={}, headers=technician)
        assert r.status_code == 200, r.text
        version = r.json()["version"]
    display = open_display(display_browser, hall.base, hall.display_token)  # its first heartbeat applies it

    def reported() -> str | None:
        with hall.api() as c:
            rows = c.get("/api/v1/enrolment/inventory", headers=technician).json()["devices"]
        return next(d for d in rows if d["id"] == "display-1")["profile_version"]

    deadline = time.monotonic() + 30
    while reported() != version and time.monotonic() < deadline:
        time.sleep(0.2)
    assert reported() == version
    hall.issue("general")
    open_counter(page, hall.base, "2")
    page.click("#act-call_next")
    root = display.locator('#screen [data-screen="display"]')
    expect(root).to_have_attribute("data-profile", version, timeout=LIVE_MS)  # pushed with the call
    expect(root).to_have_attribute("data-volume", "30")
    assert display.locator("#waiting-per-service").count() == 0
    display.wait_for_function("window.hallAudio.played.length === 1", timeout=15000)
    log = display.evaluate("window.hallAudio")
    assert len(log["requested"]) == 1 and log["requested"][0].endswith("/chime.wav"), log  # no speech
    assert log["volumes"] == [pytest.approx(0.3)]
    display.context.close()
