"""The alarm pages in Debian's Chromium against real parts: Mosquitto, `markaz central serve` as a process evaluating
the alarm rules of its settings file, and simulated stations publishing through the broker with their own
certificates. A kiosk's fault and a station going offline raise alarms; the list filters them; an operator
acknowledges one with a comment (audited in central_audit); the fault ends and the open list shows it cleared
without a reload; the station's charts mark when the alarm was raised and cleared. A viewer sees no button and a
forged POST is refused, as is an operator's POST from another origin. axe-core on each screen, Arabic and English.
The overview agrees and links to a station's alarms. It runs on both store backends (SQLite, and PostgreSQL on the
suite's private cluster); the pictures come from the SQLite run.

With MARKAZ_CENTRAL_SCREENSHOTS=docs/central the pictures of the manual are (re)made."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from playwright.sync_api import Page, expect

from central.store import CentralStore
from markaz.contracts import mqtt as contract
from tests.central.process import CentralProcess, poll
from tests.central.simulator import SimulatedStation
from tests.central.staff import PASSWORDS
from tests.central.test_dashboard_ui import _shot, _sign_in
from tests.telemetry.broker import tls_client
from tests.ui.axe import assert_accessible

CONFIG = """
[alarms]
evaluate_every_s = 0.3
settle_s = 0
station_offline = { severity = "major", hold_s = 0 }
device_fault = { severity = "critical", hold_s = 0 }
wait_over_target = { enabled = false, severity = "minor" }
spoof_rate = { enabled = false, severity = "critical" }
seq_gap = { enabled = false, severity = "minor" }
audit_anchor_overdue = { enabled = false, severity = "major" }
report_sla = { enabled = false, severity = "minor" }
"""


class Station:
    """A simulated station's own connection to the broker (its certificate), publishing what the test tells it."""

    def __init__(self, broker, station: str) -> None:
        self.sim = SimulatedStation(station)
        self.client = tls_client(broker.pki, station)
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        self.since = datetime.now(UTC) - timedelta(hours=25)

    def status(self, state: str) -> None:
        birth = contract.Status(state=state, since=self.since, versions={"markaz": "sim"})
        topic = contract.BY_KEY["status"].topic(self.sim.station)
        self.client.publish(topic, contract.dump(birth), qos=1, retain=True).wait_for_publish(10)

    def send(self, topic: str, message) -> None:
        self.client.publish(topic, contract.dump(message), qos=1).wait_for_publish(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _alarm(http, station: str, rule: str, subject: str | None = None) -> dict | None:
    found = [a for a in http.get("/api/alarms", params={"cleared": "true"}).json()
             if a["station"] == station and a["rule"] == rule and subject in (None, a["subject"])]  # fmt: skip
    return found[0] if found else None


def test_alarm_list_acknowledge_live_clear_and_chart_markers(tmp_path, broker, page: Page, central_db):
    db = central_db
    shot = _shot if not db.startswith("postgresql") else (lambda _page, _name: None)
    config = tmp_path / "central.toml"
    config.write_text(CONFIG)
    central = CentralProcess(
        broker, db, {"olga": "central_operator", "vera": "central_viewer"}, extra=("--config", str(config))
    ).start()
    st9, st7 = Station(broker, "st-9"), Station(broker, "st-7")
    try:
        now = datetime.now(UTC)
        st9.status("online")
        for topic, message in st9.sim.day(now - timedelta(minutes=1)):
            if not topic.endswith("/kiosk-2"):  # its fault of hours ago would be an episode of its own, raised and
                st9.send(topic, message)  # cleared whenever the evaluator happened to look while the day streamed in
        st9.send(*st9.sim.device(now, "kiosk-1", ["printer_paper_out"]))  # a fault now: an alarm (critical)
        st7.status("online")
        st7.status("offline")  # st-7 goes away: an alarm (major)
        http = central.client("olga")
        fault = poll(
            lambda: _alarm(http, "st-9", "device_fault", "kiosk-1"), lambda a: a is not None and a["state"] == "active"
        )
        gone = poll(lambda: _alarm(http, "st-7", "station_offline"), lambda a: a is not None)
        assert fault["severity"] == "critical" and gone["severity"] == "major" and gone["state"] == "active"

        # -- the list, Arabic first, English one tap away
        _sign_in(page, central.base, "olga", PASSWORDS["central_operator"], "/alarms")
        expect(page.locator("body")).to_have_attribute("data-screen", "alarms")
        expect(page.locator("html")).to_have_attribute("dir", "rtl")
        rows = page.locator("tr[data-alarm-id]")
        expect(rows).to_have_count(2)
        expect(rows.first).to_have_attribute("data-rule", "device_fault")  # most severe first
        expect(page.locator('[data-count="active"]')).to_have_text("2")
        assert_accessible(page, "alarms (ar)")
        shot(page, "alarms-ar")
        page.click(".lang-toggle")
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.locator("h1")).to_have_text("Alarms")
        assert_accessible(page, "alarms (en)")

        # -- filters: severity, rule, station (each a new list from the server)
        page.goto(f"{central.base}/alarms?lang=en&severity=critical")
        expect(rows).to_have_count(1)
        expect(rows.first).to_have_attribute("data-station", "st-9")
        page.goto(f"{central.base}/alarms?lang=en")
        page.select_option("#a-rule", "station_offline")
        page.click('form.filters button[type="submit"]')
        expect(page.locator("#a-rule")).to_have_value("station_offline")
        expect(rows).to_have_count(1)
        expect(rows.first).to_have_attribute("data-station", "st-7")
        page.goto(f"{central.base}/alarms?lang=en&station=st-9&rule=station_offline")
        expect(page.locator('section[data-screen="alarms"]')).to_have_attribute("data-shown", "0")

        # -- the overview agrees, and a station's open alarms link lists that station's alarms only
        page.goto(f"{central.base}/?lang=en")
        expect(page.locator('tr[data-station="st-7"]')).to_have_attribute("data-state", "offline")
        expect(page.locator('tr[data-station="st-9"]')).to_have_attribute("data-state", "online")
        page.click('tr[data-station="st-9"] a[href*="/alarms"]')
        expect(page.locator("#a-station")).to_have_value("st-9")
        expect(rows).to_have_count(1)
        expect(rows.first).to_have_attribute("data-rule", "device_fault")

        # -- an operator's POST from another origin is refused and changes nothing
        forged = page.request.post(f"{central.base}/alarms/{gone['id']}/acknowledge", form={"comment": "x"},
                                   headers={"origin": "http://evil.example"})  # fmt: skip
        assert forged.status == 403
        assert _alarm(http, "st-7", "station_offline")["state"] == "active"

        # -- acknowledging with a comment
        page.goto(f"{central.base}/alarms?lang=en")
        row = page.locator(f'tr[data-alarm-id="{fault["id"]}"]')
        expect(row).to_have_attribute("data-state", "active")
        row.locator("input[name=comment]").fill("paper loaded by the hall clerk")
        row.locator(f'button[data-ack="{fault["id"]}"]').click()
        expect(page.locator("#screen .notice.ok")).to_be_visible()
        expect(row).to_have_attribute("data-state", "acknowledged")
        expect(row.locator("[data-ack-comment]")).to_have_text("paper loaded by the hall clerk")
        expect(row.locator("button[data-ack]")).to_have_count(0)
        expect(page.locator('[data-count="acknowledged"]')).to_have_text("1")
        assert_accessible(page, "alarm acknowledged (en)")
        shot(page, "alarms-acknowledged-en")
        reader = CentralStore(db)
        try:
            audited = reader.query(
                "SELECT actor, entity_id, after FROM central_audit WHERE action = 'alarm.acknowledge'"
            )
        finally:
            reader.close()
        assert [(r["actor"], r["entity_id"]) for r in audited] == [("olga", str(fault["id"]))]
        assert "paper loaded by the hall clerk" in audited[0]["after"]
        again = page.request.post(f"{central.base}/alarms/{fault['id']}/acknowledge", form={"comment": "twice"},
                                  headers={"origin": central.base}, max_redirects=0)  # fmt: skip
        assert again.status == 303 and "notice=conflict" in again.headers["location"]

        # -- the fault ends: the open page shows it cleared, live, without a reload
        page.goto(f"{central.base}/alarms?lang=en&state=all")
        expect(page.locator("body[data-screen-count]")).to_have_count(1)  # the socket is open and has pushed
        page.evaluate("window.notReloaded = true")
        st9.send(*st9.sim.device(datetime.now(UTC), "kiosk-1", []))
        expect(row).to_have_attribute("data-state", "cleared", timeout=20_000)
        assert page.evaluate("window.notReloaded === true")
        expect(page.locator('[data-count="acknowledged"]')).to_have_text("0")

        # -- the station's charts mark when the alarm was raised, acknowledged and cleared
        page.goto(f"{central.base}/stations/st-9?lang=en")
        expect(page.locator("body")).to_have_attribute("data-charts-drawn", "5:day")
        # every alarm st-9 had is marked: the fault's three events last; under load the evaluator may also have run
        # while the simulated day was arriving and raised (and cleared) that day's earlier paper-out on kiosk-2
        st9_alarms = [a for a in http.get("/api/alarms", params={"cleared": "true"}).json() if a["station"] == "st-9"]
        events = sum(1 + (a["acknowledged_at"] is not None) + (a["cleared_at"] is not None) for a in st9_alarms)
        marks = re.compile(rf"(^| ){fault['id']}:raised {fault['id']}:acknowledged {fault['id']}:cleared$")
        expect(page.locator("body")).to_have_attribute("data-alarm-markers", marks)
        expect(page.locator('[data-chart="waiting"] .plot')).to_have_attribute("data-alarm-markers", str(events))
        expect(page.locator(f'table.station-alarms tr[data-alarm-id="{fault["id"]}"]')).to_have_attribute(
            "data-state", "cleared"
        )
        assert_accessible(page, "station with alarm markers (en)")
        shot(page, "station-alarms-en")
        page.goto(f"{central.base}/stations/st-9?lang=ar")
        expect(page.locator("body")).to_have_attribute("data-alarm-markers", marks)
        assert_accessible(page, "station with alarm markers (ar)")
        shot(page, "station-alarms-ar")

        # -- a viewer sees the alarms, no button, and a POST anyway is refused
        viewer = page.context.browser.new_context()
        try:
            vpage = viewer.new_page()
            _sign_in(vpage, central.base, "vera", PASSWORDS["central_viewer"], "/alarms")
            expect(vpage.locator('section[data-screen="alarms"] tr[data-alarm-id]')).to_have_count(1)
            expect(vpage.locator("button[data-ack], form.ack")).to_have_count(0)
            forged = vpage.request.post(f"{central.base}/alarms/{gone['id']}/acknowledge", form={"comment": "me"},
                                        headers={"origin": central.base})  # fmt: skip
            assert forged.status == 403
            assert_accessible(vpage, "alarms as a viewer (ar)")
        finally:
            viewer.close()
        assert _alarm(http, "st-7", "station_offline")["state"] == "active"
    finally:
        st9.close()
        st7.close()
        central.stop()
