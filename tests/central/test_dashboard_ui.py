"""The dashboard in Debian's Chromium against real parts: Mosquitto, `markaz central serve` as a process, a real edge
node and a simulated station publishing a day of contract messages with its own certificate. Sign-in (and its
refusal), the overview going live when a station goes offline, a station's charts, commands from the page with their
acks (operators only), axe-core on every screen, in Arabic and English. It runs on both store backends (SQLite, and
PostgreSQL on the suite's private cluster).

With MARKAZ_CENTRAL_SCREENSHOTS=docs/central the pictures of the manual are (re)made (from the SQLite run)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.sync_api import Page, expect

from central.store import CentralStore
from edge.node import EdgeNode
from edge.settings import EdgeSettings
from markaz.config import load_settings
from tests.central.process import CentralProcess, poll
from tests.central.simulator import publish_day
from tests.central.staff import PASSWORDS
from tests.ui.axe import assert_accessible

SHOTS = os.environ.get("MARKAZ_CENTRAL_SCREENSHOTS")


def _shot(page: Page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def _sign_in(page: Page, base: str, name: str, password: str, path: str = "/") -> None:
    page.goto(base + path)
    expect(page.locator('[data-screen="signin"]')).to_be_visible()
    page.fill("#username", name)
    page.fill("#password", password)
    page.click("button[type=submit]")


def _edge_node(tmp_path: Path, broker, station: str) -> EdgeNode:
    cert = broker.pki.client(station)
    return EdgeNode(
        load_settings(
            EdgeSettings,
            data_dir=tmp_path / station,
            sample_data=True,
            station_id=station,
            mqtt={"url": broker.url, "ca": broker.pki.ca.cert, "cert": cert.cert, "key": cert.key},
        )
    )


def register_anchor_key(db: Path | str, station: str, pem: bytes, tmp_path: Path) -> None:
    """As provisioning would: the station's audit anchor key registered at central with the CLI."""
    key = tmp_path / f"{station}.anchor.pub.pem"
    key.write_bytes(pem)
    subprocess.run([sys.executable, "-m", "markaz.cli", "central", "audit", "key", "add", "--station", station,
                    "--public-key", str(key), "--db", str(db)], check=True, capture_output=True)  # fmt: skip


def test_the_dashboard_in_the_browser(tmp_path, broker, page: Page, central_db):
    db = central_db
    shot = _shot if not db.startswith("postgresql") else (lambda _page, _name: None)
    central = CentralProcess(
        broker, db, {"olga": "central_operator", "vera": "central_viewer", "ada": "central_admin"}
    ).start()
    node = _edge_node(tmp_path, broker, "st-1")
    register_anchor_key(db, "st-1", node.keys.anchor_public_pem, tmp_path)  # central keeps only anchors it can check
    try:
        now = datetime.now(UTC)
        sent = publish_day(broker, "st-9", now, now - timedelta(hours=25), malformed=2)
        node.start()
        assert node.telemetry.link.commands_ready.wait(30)
        node.auth.add_device("kiosk-1", "kiosk")
        http = central.client("olga")
        poll(lambda: http.get("/api/stations").json(),
             lambda v: {s["station"]: s["received"] for s in v}.get("st-9") == sent
             and any(s["station"] == "st-1" and s["state"] == "online" for s in v))  # fmt: skip
        poll(lambda: http.get("/api/dead-letters").json(), lambda v: len(v) == 2)

        # -- sign-in: Arabic first, English one tap away; a wrong password is refused on the page
        page.goto(central.base + "/")
        expect(page.locator('[data-screen="signin"]')).to_be_visible()
        expect(page.locator("html")).to_have_attribute("dir", "rtl")
        assert_accessible(page, "sign-in (ar)")
        shot(page, "signin-ar")
        page.click(".lang-toggle")
        expect(page.locator("html")).to_have_attribute("lang", "en")
        page.fill("#username", "olga")
        page.fill("#password", "not-the-password")
        page.click("button[type=submit]")
        expect(page.locator("#screen .notice.error")).to_contain_text("Wrong user name or password.")
        assert_accessible(page, "sign-in refused (en)")
        shot(page, "signin-en")

        # -- the overview, live
        _sign_in(page, central.base, "olga", PASSWORDS["central_operator"])
        expect(page.locator("body")).to_have_attribute("data-screen", "overview")
        st1 = page.locator('tr[data-station="st-1"]')
        expect(st1).to_have_attribute("data-state", "online")
        expect(page.locator('[data-summary="dead_letters"]')).to_have_text("2")
        expect(page.locator('tr[data-station="st-9"] [data-col="faults"]')).to_contain_text(
            "0 / 2"
        )  # kiosks fine at the end
        assert_accessible(page, "overview (ar)")
        shot(page, "overview-ar")
        page.click(".lang-toggle")  # over the socket: the same page, redrawn in English
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.locator("h1")).to_have_text("Fleet overview")
        assert_accessible(page, "overview (en)")
        shot(page, "overview-en")

        page.click('[data-summary="dead_letters"]')  # the count leads to the letters themselves
        expect(page.locator('section[data-screen="dead_letters"] tbody tr')).to_have_count(2)
        assert_accessible(page, "dead letters (en)")

        # -- a station's page: the simulated day drawn by uPlot, in both periods
        page.goto(f"{central.base}/stations/st-9?lang=en")
        expect(page.locator("body")).to_have_attribute("data-charts-drawn", "5:day")
        expect(page.locator('[data-chart="waiting"] canvas')).to_have_count(1)
        data = json.loads(page.locator("script.chart-data").text_content())
        waiting = next(c for c in data["charts"] if c["name"] == "waiting")["values"][0]
        assert max(v for v in waiting if v is not None) >= 12  # the simulated midday peak (12 + 6, one bucket mean)
        assert_accessible(page, "station (en)")
        shot(page, "station-en")
        page.goto(f"{central.base}/stations/st-9?lang=ar&span=week")
        expect(page.locator("body")).to_have_attribute("data-charts-drawn", "5:week")
        assert_accessible(page, "station, week (ar)")
        shot(page, "station-ar")

        # -- commands from the page, with their acks shown when the station answers
        page.goto(f"{central.base}/stations/st-1?lang=en")
        expect(page.locator("body[data-screen-count]")).to_have_count(1)  # the socket is open and has pushed
        page.click('button[data-command="telemetry.snapshot"]')
        expect(page.locator("#screen .notice.ok")).to_be_visible()
        expect(page.locator('tr[data-command-id][data-ack="ok"]')).to_have_count(1, timeout=20_000)
        disable = page.locator('tr[data-device="kiosk-1"] button[data-command="kiosk.disable"]')
        expect(disable).to_be_visible(timeout=20_000)  # the snapshot brought the kiosk's state
        disable.click()
        expect(page.locator('tr[data-command-id][data-ack="ok"]')).to_have_count(2, timeout=20_000)
        expect(page.locator('tr[data-device="kiosk-1"]')).to_have_attribute("data-enabled", "no", timeout=20_000)
        assert_accessible(page, "station with commands (en)")
        shot(page, "station-commands-en")
        assert node.auth.list_devices()[0]["enabled"] is False  # it really happened at the station
        reader = CentralStore(db)
        try:
            sends = reader.query(
                "SELECT actor, entity_id, after FROM central_audit WHERE action = 'command.send' ORDER BY seq"
            )
        finally:
            reader.close()
        assert [(r["actor"], r["entity_id"], json.loads(r["after"])["command"]) for r in sends] == [
            ("olga", "st-1", "telemetry.snapshot"),
            ("olga", "st-1", "kiosk.disable"),
        ]

        # -- a viewer sees no commands, and the server refuses one sent anyway
        viewer = page.context.browser.new_context()
        try:
            vpage = viewer.new_page()
            _sign_in(vpage, central.base, "vera", PASSWORDS["central_viewer"], "/stations/st-1")
            expect(vpage.locator('section[data-screen="station"]')).to_be_visible()
            expect(vpage.locator("[data-command]")).to_have_count(0)
            forged = vpage.request.post(f"{central.base}/stations/st-1/commands", form={"name": "kiosk.enable",
                                        "device": "kiosk-1"}, headers={"origin": central.base})  # fmt: skip
            assert forged.status == 403
        finally:
            viewer.close()
        assert node.auth.list_devices()[0]["enabled"] is False
        assert len(http.get("/api/stations/st-1/commands").json()) == 2

        # -- an admin's staff page
        admin = page.context.browser.new_context()
        try:
            apage = admin.new_page()
            _sign_in(apage, central.base, "ada", PASSWORDS["central_admin"], "/staff")
            expect(apage.locator('section[data-screen="staff"]')).to_be_visible()
            expect(apage.locator('tr[data-user="olga"]')).to_have_attribute("data-active", "yes")
            assert_accessible(apage, "staff (ar)")
            shot(apage, "staff-ar")
        finally:
            admin.close()

        # -- the station goes away: the open overview says so without a reload
        page.goto(central.base + "/?lang=en")
        expect(st1).to_have_attribute("data-state", "online")
        page.evaluate("window.notReloaded = true")
        page.fill("#q", "st-")  # half-typed, not submitted: a live update must not wipe it
        node.stop()
        expect(st1).to_have_attribute("data-state", "offline", timeout=20_000)
        assert page.evaluate("window.notReloaded === true")
        expect(page.locator("#q")).to_have_value("st-")
        expect(page.locator("#q")).to_be_focused()
        expect(page.locator('[data-summary="offline"]')).to_have_text("1")
        badge = st1.locator(".badge")
        expect(badge).to_have_text("offline")
        row, shown = st1.bounding_box(), badge.bounding_box()  # in its row, not pinned elsewhere by a stray class
        assert row and shown and row["y"] <= shown["y"] <= row["y"] + row["height"]
        assert_accessible(page, "overview with a station offline (en)")
        shot(page, "overview-offline-en")
    finally:
        if node.started:
            node.stop()
        central.stop()
