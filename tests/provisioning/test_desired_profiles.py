"""Desired vs reported profiles with real parts: a real edge node (`markaz edge serve` with its mTLS device listener),
real kiosk agents (`markaz kiosk run`, enrolled by claim code, talking to the edge over mTLS only), a real pcscd+vpcd
reader, camera videos through cv2 and an ESC/POS sink. A profile is applied, one that breaks the camera is rolled back
with the reason, one that fails validation is refused before anything changes, and a staged roll-out stops at its
failure bound."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from kiosk.hardware.escpos_sink import EscposSink
from kiosk.hardware.videos import still_video
from markaz.cli import app
from tests.conftest import PASSWORD, auth
from tests.kiosk.agentproc import FACES, KioskProcess
from tests.provisioning.edgeproc import EdgeServe, install_station_ca
from tests.telemetry.broker import free_port

run = CliRunner().invoke
KIOSKS = ("kiosk-1", "kiosk-2", "kiosk-3")
PROFILE_COLUMNS = ("desired_version", "profile_version", "reported_outcome", "reported_for", "reported_reasons")


class Station:
    def __init__(self, edge: EdgeServe, data: Path, video: Path, sink: EscposSink, agents: dict[str, KioskProcess]):
        self.edge, self.data, self.video, self.sink, self.agents = edge, data, video, sink, agents
        r = httpx.post(f"{edge.base}/api/v1/auth/login", json={"username": "tech", "password": PASSWORD}, timeout=30)
        r.raise_for_status()
        self.headers = auth(r.json()["token"])

    def layer(self, where: str, body: str) -> None:
        path = self.data / "profiles" / where
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)

    def desire(self, device: str) -> httpx.Response:
        return httpx.put(
            f"{self.edge.base}/api/v1/profiles/{device}/desired", json={}, headers=self.headers, timeout=30
        )

    def profile_state(self, device: str) -> dict:
        """The inventory's profile columns of a device (last seen moves with every heartbeat)."""
        row = self.inventory(device)
        return {k: v for k, v in row.items() if k in PROFILE_COLUMNS}

    def inventory(self, device: str) -> dict:
        r = httpx.get(f"{self.edge.base}/api/v1/enrolment/inventory", headers=self.headers, timeout=30)
        r.raise_for_status()
        return next(d for d in r.json()["devices"] if d["id"] == device)

    def answered(self, device: str, version: str, timeout: float = 60) -> dict:
        """The inventory row once the device has reported on `version` (the report names what it answers)."""
        deadline = time.monotonic() + timeout
        while True:
            row = self.inventory(device)
            if row["reported_for"] == version or time.monotonic() > deadline:
                return row
            time.sleep(0.2)


@pytest.fixture(scope="module")
def pcscd_env() -> Iterator[dict[str, str]]:
    from kiosk.card.testbed import PcscdTestbed

    rundir = Path(tempfile.mkdtemp(prefix="markaz-profiles-pcscd-"))
    bed = PcscdTestbed(rundir=rundir).start()
    yield {"PCSCLITE_CSOCK_NAME": str(rundir / "pcscd.comm")}
    bed.stop()


def _add_technician(data: Path) -> None:
    from edge.node import EdgeNode
    from edge.settings import EdgeSettings
    from markaz.config import load_settings

    node = EdgeNode(load_settings(EdgeSettings, data_dir=data))
    try:
        node.auth.add_user("tech", PASSWORD, "technician")
    finally:
        node.store.close()


@pytest.fixture(scope="module")
def station(tmp_path_factory, pcscd_env) -> Iterator[Station]:
    tmp = tmp_path_factory.mktemp("profiles")
    data = tmp / "edge"
    install_station_ca(tmp, data)
    _add_technician(data)
    device_port = free_port()
    edge = EdgeServe(data, args=["--device-port", str(device_port)], env=EdgeServe.PRELOAD).start()
    video = still_video(tmp / "camera.avi", [FACES / "obama_2.jpg"], 1.0, 10, size=(640, 480))
    sink = EscposSink().start()
    agents: dict[str, KioskProcess] = {}
    try:
        for device in KIOSKS:
            res = run(app, ["provision", "claim", "--device", device, "--type", "kiosk", "--data", str(data)])
            assert res.exit_code == 0, res.output
            ident = tmp / device / "identity"
            res = run(app, ["provision", "enrol", "--edge", edge.base, "--claim", res.output.splitlines()[-1],
                            "--out", str(ident)])  # fmt: skip
            assert res.exit_code == 0, res.output
            settings = {
                "edge": f"https://127.0.0.1:{device_port}",
                "identity": str(ident),  # mutual TLS only: no device token anywhere
                "camera": str(video),
                "printer": sink.uri,
                "reader": "Virtual PCD",
                "heartbeat_s": 1.0,
                "profile_dir": str(tmp / device / "profiles"),
                "profile_poll_s": 0.3,
            }
            agents[device] = KioskProcess(tmp / device, settings, pcscd_env).start()
        st = Station(edge, data, video, sink, agents)
        st.layer(
            "station/kiosk.toml",
            f'[reader]\npattern = "Virtual PCD"\n[camera]\nsource = "{video}"\nwidth = 640\nheight = 480\n'
            f'[printer]\nuri = "{sink.uri}"\n',
        )
        yield st
    finally:
        for agent in agents.values():
            agent.stop()
        sink.stop()
        edge.stop()


def test_a_profile_is_applied_by_the_kiosk_and_one_breaking_the_camera_is_rolled_back(station: Station) -> None:
    kiosk = station.agents["kiosk-1"]
    r = station.desire("kiosk-1")
    assert r.status_code == 200, r.text
    good = r.json()["version"]
    row = station.answered("kiosk-1", good)
    assert (row["reported_outcome"], row["profile_version"], row["desired_version"]) == ("applied", good, good)
    active = json.loads((kiosk.folder / "profiles" / "active.json").read_text())
    assert active["version"] == good and active["profile"]["camera"]["source"] == str(station.video)

    station.layer("devices/kiosk-1.toml", '[camera]\nsource = "/nonexistent/camera.avi"\n')
    r = station.desire("kiosk-1")
    assert r.status_code == 200, r.text
    broken = r.json()["version"]
    assert broken != good
    row = station.answered("kiosk-1", broken)
    assert row["reported_outcome"] == "rolled_back", row
    assert row["profile_version"] == good and row["desired_version"] == broken
    assert row["reported_reasons"] == ["health check failed: camera"]
    assert json.loads((kiosk.folder / "profiles" / "active.json").read_text())["version"] == good
    # the kiosk went back to the good camera and keeps serving
    deadline = time.monotonic() + 30
    while not (kiosk.health().get("camera_fps") or 0) > 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert (kiosk.health().get("camera_fps") or 0) > 0
    (station.data / "profiles" / "devices" / "kiosk-1.toml").unlink()


def test_a_profile_failing_validation_is_refused_before_anything_changes(station: Station) -> None:
    before = station.profile_state("kiosk-2")
    station.layer("devices/kiosk-2.toml", "idle_timeout_s = 1\n")
    try:
        r = station.desire("kiosk-2")
        assert r.status_code == 422, r.text
        body = r.json()
        assert any("idle_timeout_s = 1" in p and "greater than or equal to 10" in p for p in body["problems"]), body
        assert station.profile_state("kiosk-2") == before
        res = subprocess.run(
            [sys.executable, "-m", "markaz.cli", "config", "desire", "--device", "kiosk-2", "--data", str(station.data)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert res.returncode == 1 and "idle_timeout_s = 1" in res.stderr, res.stderr
        assert station.profile_state("kiosk-2") == before
    finally:
        (station.data / "profiles" / "devices" / "kiosk-2.toml").unlink()


def test_a_staged_rollout_stops_by_itself_at_its_failure_bound(station: Station) -> None:
    station.layer(
        "station/kiosk.toml",
        "idle_timeout_s = 90\n" + (station.data / "profiles" / "station" / "kiosk.toml").read_text(),
    )
    station.layer("devices/kiosk-2.toml", '[camera]\nsource = "/nonexistent/camera.avi"\n')
    before_3 = station.profile_state("kiosk-3")
    res = subprocess.run(
        [sys.executable, "-m", "markaz.cli", "config", "rollout", "--data", str(station.data),
         "--devices", ",".join(KIOSKS), "--first", "kiosk-1", "--wave-size", "1", "--failure-bound", "1",
         "--timeout", "60"],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert res.returncode == 1, res.stdout + res.stderr
    assert res.stdout.strip(), res.stderr
    report = json.loads(res.stdout)
    assert report["applied"] == ["kiosk-1"] and list(report["failed"]) == ["kiosk-2"], report
    assert report["failed"]["kiosk-2"] == "rolled_back: health check failed: camera"
    assert report["not_attempted"] == ["kiosk-3"] and report["stopped"]
    assert station.inventory("kiosk-1")["reported_outcome"] == "applied"
    assert station.profile_state("kiosk-3") == before_3  # never asked
    (station.data / "profiles" / "devices" / "kiosk-2.toml").unlink()


def test_the_kiosk_follows_the_printer_and_time_outs_of_the_profile_in_force(station: Station) -> None:
    """Beyond camera and reader: the profile's printer takes the kiosk's next status query (and receipt) at once."""
    other = EscposSink()
    other.paper = "low"  # tells this sink apart from the station's: the kiosk's printer reading says which it asks
    other.start()
    kiosk = station.agents["kiosk-3"]
    try:
        assert kiosk.wait_health("printer", "ok")["printer"] == "ok"
        station.layer(
            "devices/kiosk-3.toml", f'idle_timeout_s = 45\nwarn_before_s = 25\n[printer]\nuri = "{other.uri}"\n'
        )
        r = station.desire("kiosk-3")
        assert r.status_code == 200, r.text
        version = r.json()["version"]
        row = station.answered("kiosk-3", version)
        assert (row["reported_outcome"], row["profile_version"]) == ("applied", version), row
        assert kiosk.wait_health("printer", "paper_low", timeout=30)["printer"] == "paper_low"
    finally:
        (station.data / "profiles" / "devices" / "kiosk-3.toml").unlink(missing_ok=True)
        other.stop()


def test_the_profiles_time_outs_replace_the_idle_screens_and_keep_the_wcag_warning() -> None:
    from firmware_config.layers import ProfileRejected, default_layer, validate
    from firmware_config.schema import DeviceKind
    from kiosk.agent.build import IDLE_SCREENS, printer_uri, profile_timeouts
    from kiosk.agent.settings import KioskSettings
    from kiosk.session.vocabulary import Screen

    settings = KioskSettings(edge="https://127.0.0.1:8443")
    timeouts = profile_timeouts(settings, {**default_layer("kiosk"), "idle_timeout_s": 45, "warn_before_s": 25})
    assert all(timeouts.for_screen(s) == 45 for s in IDLE_SCREENS) and timeouts.warning_s == 25
    assert timeouts.for_screen(Screen.REPORT_FIELD) == 180  # a busy screen keeps its own
    with pytest.raises(ProfileRejected, match="warn_before_s"):  # a warning too short to extend (WCAG 2.2.1)
        validate(DeviceKind.kiosk, {**default_layer("kiosk"), "warn_before_s": 10}, "profile")
    assert printer_uri("file:///var/lib/markaz/receipts/") == "file:/var/lib/markaz/receipts/receipt.escpos"
    assert printer_uri("tcp://10.0.0.5:9100") == "tcp://10.0.0.5:9100"
