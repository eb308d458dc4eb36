"""`markaz demo` (what `make demo` runs) brings up a whole station: the parts answer and talk to each other."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time

import httpx
import pytest

from tests.conftest import MARKAZ

pytestmark = pytest.mark.slow


def test_demo_station_runs_end_to_end(tmp_path):
    out = tmp_path / "demo.out"
    proc = subprocess.Popen(
        [
            MARKAZ,
            "demo",
            "--data",
            str(tmp_path / "demo"),
            "--port",
            "0",
            "--central-port",
            "0",
            "--mqtt-port",
            "0",
            "--kiosk-port",
            "0",
            "--duration",
            "90",
        ],
        stdout=out.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        while "Press Ctrl-C" not in out.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, out.read_text()
            time.sleep(0.3)
        text = out.read_text()
        assert "is running" in text, text
        edge = re.search(r"edge health\s+(http://\S+)/healthz", text).group(1)
        central = re.search(r"central dashboard\s+(http://\S+)/", text).group(1)
        assert httpx.get(edge + "/healthz").status_code == 200

        # The hall's screens are served, and the demo's display device opens the display.
        counter = re.search(r"counter screen\s+(http://\S+)", text).group(1)
        display = re.search(r"hall display\s+(http://\S+)", text).group(1)
        assert 'data-screen="signin"' in httpx.get(counter).text
        creds = dict(
            line.split("=", 1) for line in (tmp_path / "demo" / "demo-credentials.txt").read_text().splitlines()
        )
        with httpx.Client() as c:
            c.post(display + "/setup", data={"token": creds["display_token"]})
            assert 'data-screen="display"' in c.get(display).text
            kiosk = {"Authorization": f"Bearer {creds['kiosk_token']}"}
            while len(c.get(edge + "/api/v1/tickets", headers=kiosk).json()["tickets"]) <= 5:  # the first traffic
                assert time.monotonic() < deadline, "no visitor trickled in"
                time.sleep(0.5)

        # The station's telemetry reached central through the mTLS broker.
        station = None
        staff = httpx.Client(base_url=central)
        assert staff.get("/api/stations").status_code == 401  # central's dashboard needs a sign-in
        staff.post("/signin", data={"username": "central", "password": creds["central_password"]})
        while time.monotonic() < deadline:
            stations = staff.get("/api/stations").json()
            station = next((s for s in stations if s["station"] == "demo-station"), None)
            if station and station["state"] == "online" and station["received"] > 0:
                break
            time.sleep(0.5)
        assert station and station["state"] == "online" and station["received"] > 0 and station["open_gaps"] == 0

        # The virtual ePassport reads through pcscd + vpcd, and passive authentication holds.
        read = re.search(r"(PCSCLITE_CSOCK_NAME=\S+) (\S+ kiosk card read .+)", text)
        env = {**os.environ, read.group(1).split("=", 1)[0]: read.group(1).split("=", 1)[1]}
        r = subprocess.run(read.group(2).split(), env=env, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        card = json.loads(r.stdout)
        assert card["surname"] == "ERIKSSON" and card["passive_auth"]["status"] == "valid"

        # The kiosk agent serves its touch UI and reaches the edge with its device token.
        kiosk = re.search(r"kiosk \(touch UI\)\s+(http://\S+)/", text).group(1)
        while time.monotonic() < deadline:
            health = httpx.get(kiosk + "/healthz").json()
            if health["availability"] == "open":
                break
            time.sleep(0.3)
        assert health["availability"] == "open" and health["printer"] == "ok", health
        assert 'lang="ar" dir="rtl"' in httpx.get(kiosk + "/").text
    finally:
        proc.send_signal(15)
        proc.wait(60)
    assert "demo stopped" in out.read_text()
