"""Every device type applies its profile, not only the kiosk: a real `markaz edge serve` applies a hall display's and
a counter terminal's desired profile at their check-in (their screens are its pages), checks the device's health,
keeps the profile or rolls back with the reason, reports it, and renders the display from the profile in force; the
edge node applies its own profile from central's `config.apply` over a real Mosquitto (recall interval and telemetry
cadence live), rolls back when its health fails, and publishes each outcome as `events/config_outcome`."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import PASSWORD, auth
from tests.provisioning.edgeproc import EdgeServe


def _prepare(data: Path, officer: bool = False) -> dict[str, str]:
    """A technician and the devices (tokens) in a fresh node's database, before the node process starts."""
    from edge.node import EdgeNode
    from edge.settings import EdgeSettings
    from markaz.config import load_settings

    node = EdgeNode(load_settings(EdgeSettings, data_dir=data))
    try:
        node.auth.add_user("tech", PASSWORD, "technician")
        if officer:
            node.auth.add_user("officer", PASSWORD, "officer")
        return {
            "display-1": node.auth.add_device("display-1", "display"),
            "counter-t1": node.auth.add_device("counter-t1", "counter_terminal"),
        }
    finally:
        node.store.close()


class Hall:
    def __init__(self, edge: EdgeServe, data: Path, tokens: dict[str, str]) -> None:
        self.edge, self.data, self.tokens = edge, data, tokens
        r = httpx.post(f"{edge.base}/api/v1/auth/login", json={"username": "tech", "password": PASSWORD}, timeout=30)
        r.raise_for_status()
        self.headers = auth(r.json()["token"])
        self.display = httpx.Client(base_url=edge.base, timeout=30)
        r = self.display.post("/display/setup", data={"token": tokens["display-1"], "lang": "ar"})
        assert r.status_code in (200, 303), r.text
        assert "markaz_display" in self.display.cookies

    def layer(self, device: str, body: str) -> None:
        path = self.data / "profiles" / "devices" / f"{device}.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)

    def desire(self, device: str) -> str:
        r = httpx.put(f"{self.edge.base}/api/v1/profiles/{device}/desired", json={}, headers=self.headers, timeout=30)
        assert r.status_code == 200, r.text
        return str(r.json()["version"])

    def row(self, device: str) -> dict:
        r = httpx.get(f"{self.edge.base}/api/v1/enrolment/inventory", headers=self.headers, timeout=30)
        r.raise_for_status()
        return next(d for d in r.json()["devices"] if d["id"] == device)

    def check_in(self, device: str) -> None:
        if device == "display-1":
            r = self.display.post("/display/heartbeat")
        else:
            r = httpx.post(f"{self.edge.base}/api/v1/devices/heartbeat", json={},
                           headers=auth(self.tokens[device]), timeout=30)  # fmt: skip
        assert r.status_code in (200, 204), r.text


@pytest.fixture
def hall(tmp_path) -> Iterator[Hall]:
    data = tmp_path / "edge"
    tokens = _prepare(data)
    # this node cannot speak: a display profile that turns speech on must fail its health check here
    edge = EdgeServe(data, args=["--sample-data"], env={"MARKAZ_HALL__ESPEAK": "/nonexistent/espeak-ng"}).start()
    try:
        yield Hall(edge, data, tokens)
    finally:
        edge.stop()


def _display_root(html: str) -> dict[str, str]:
    tag = re.search(r'<div data-screen="display"[^>]*>', html)
    assert tag, html[:2000]
    return dict(re.findall(r'(data-[a-z-]+)="([^"]*)"', tag.group(0)))


def test_the_display_applies_its_profile_at_check_in_renders_from_it_and_rolls_back_a_broken_one(hall: Hall) -> None:
    before = _display_root(hall.display.get("/display").text)
    assert before["data-profile"] == "" and before["data-volume"] == "100"

    hall.layer(
        "display-1", 'speech = false\nvolume = 35\nrecent_calls = 2\nlayout = "calls"\nlanguages = ["en", "ar"]\n'
    )
    good = hall.desire("display-1")
    hall.check_in("display-1")
    row = hall.row("display-1")
    assert (row["reported_outcome"], row["profile_version"], row["reported_for"]) == ("applied", good, good)
    page = hall.display.get("/display").text
    root = _display_root(page)
    assert (root["data-profile"], root["data-volume"], root["data-speech"], root["data-layout"]) == (
        good, "35", "off", "calls",
    )  # fmt: skip
    assert '<html lang="en"' in page  # the profile's first language is the display's default
    assert 'id="waiting-per-service"' not in page  # layout "calls": no queue panel

    hall.layer("display-1", "speech = true\nvolume = 80\n")  # this node has no working espeak-ng
    broken = hall.desire("display-1")
    hall.check_in("display-1")
    row = hall.row("display-1")
    assert (row["reported_outcome"], row["profile_version"], row["reported_for"]) == ("rolled_back", good, broken)
    assert row["reported_reasons"] == ["health check failed: speech"]
    root = _display_root(hall.display.get("/display").text)
    assert (root["data-profile"], root["data-volume"], root["data-speech"]) == (good, "35", "off")

    hall.check_in("display-1")  # the rolled-back version is not tried again at every check-in
    assert _reports(hall.data, "display-1") == 2


def _reports(data: Path, device: str) -> int:
    """How many profile reports of `device` the node's audit log holds (read from its SQLite file)."""
    import sqlite3

    with sqlite3.connect(data / "edge.sqlite") as db:
        query = "SELECT count(*) FROM audit_log WHERE action = 'profile.report' AND entity_id = ?"
        return int(db.execute(query, [device]).fetchone()[0])


def test_the_counter_terminal_applies_its_profile_and_rolls_back_one_pinned_to_an_unknown_counter(hall: Hall) -> None:
    hall.layer("counter-t1", 'counter = "2"\nidle_sign_out_min = 45\n')
    good = hall.desire("counter-t1")
    hall.check_in("counter-t1")
    row = hall.row("counter-t1")
    assert (row["reported_outcome"], row["profile_version"]) == ("applied", good)

    hall.layer("counter-t1", 'counter = "9"\n')
    broken = hall.desire("counter-t1")
    hall.check_in("counter-t1")
    row = hall.row("counter-t1")
    assert (row["reported_outcome"], row["profile_version"], row["reported_for"]) == ("rolled_back", good, broken)
    assert row["reported_reasons"] == ["health check failed: counter"]
    active = json.loads((hall.data / "profiles" / "served" / "counter-t1" / "active.json").read_text())
    assert active["version"] == good and active["profile"]["counter"] == "2"


# --- the edge node's own profile, from central over a real broker ---------------------------------------------------


def _node_profile(**changes: dict) -> tuple[dict, str]:
    from firmware_config.layers import default_layer, profile_hash

    profile = default_layer("edge_node")
    for table, values in changes.items():
        profile = {**profile, table: {**profile[table], **values}}
    return profile, profile_hash(profile)


def _recall_at_once(base: str, officer: dict[str, str]) -> int:
    """Take a ticket, call it at counter 1 and recall it at once: the recall's status (429 inside the interval)."""
    r = httpx.post(f"{base}/api/v1/tickets", json={"service": "general"}, headers=officer, timeout=30)
    assert r.status_code == 201, r.text
    r = httpx.post(f"{base}/api/v1/counters/1/call-next", headers=officer, timeout=30)
    assert r.status_code == 200, r.text
    called = r.json()["id"]
    status = httpx.post(f"{base}/api/v1/tickets/{called}/recall", headers=officer, timeout=30).status_code
    r = httpx.post(f"{base}/api/v1/tickets/{called}/no-show", headers=officer, timeout=30)
    assert r.status_code == 200, r.text
    return status


def _officer(edge: EdgeServe) -> dict[str, str]:
    r = httpx.post(f"{edge.base}/api/v1/auth/login", json={"username": "officer", "password": PASSWORD}, timeout=30)
    r.raise_for_status()
    return auth(r.json()["token"])


def test_the_edge_node_applies_its_own_profile_from_central_and_rolls_back_when_its_health_fails(tmp_path) -> None:
    from central.commands import send_command
    from tests.telemetry.broker import Broker, Pki, Recorder

    pki = Pki.create(tmp_path / "pki")
    broker = Broker(tmp_path / "broker", pki).start()
    recorder = Recorder(broker, ["markaz/v1/st-1/events/config_outcome"])
    station, central = pki.client("st-1"), pki.client("central.markaz")
    data = tmp_path / "edge"
    _prepare(data, officer=True)
    env = {
        "MARKAZ_MQTT__URL": broker.url,
        "MARKAZ_MQTT__CA": str(pki.ca.cert),
        "MARKAZ_MQTT__CERT": str(station.cert),
        "MARKAZ_MQTT__KEY": str(station.key),
        "MARKAZ_MQTT__BACKOFF_BASE_S": "0.1",
        "MARKAZ_VERIFY__PRELOAD": "false",
    }

    def apply(version: str, profile: dict, sha: str) -> dict:
        params = {"device": "st-1", "version": version, "sha256": sha, "profile": profile}
        ack = send_command(broker.url, pki.ca.cert, central.cert, central.key, "st-1", "config.apply", params)
        assert ack.ok and ack.result.outcome == "pending", ack
        assert recorder.wait_for(lambda m: any(b["data"]["answers"] == version for _, b, _ in m), 60)
        return next(b["data"] for _, b, _ in recorder.messages if b["data"]["answers"] == version)

    edge = EdgeServe(data, args=["--sample-data"], env=env).start()
    try:
        officer = _officer(edge)
        assert _recall_at_once(edge.base, officer) == 429  # the settings file's 10 s interval
        profile, sha = _node_profile(queue={"recall_min_interval_s": 0.0}, telemetry={"interval_s": 5.0})
        outcome = apply("node-1", profile, sha)
        assert outcome == {"device": "st-1", "answers": "node-1", "version": "node-1", "outcome": "applied",
                           "failed_checks": []}  # fmt: skip
        assert _recall_at_once(edge.base, officer) == 200  # live, without a restart

        wrong, _ = _node_profile(telemetry={"interval_s": 0.1})  # below the schema's bound: refused in the ack
        params = {"device": "st-1", "version": "node-x", "sha256": _node_profile()[1], "profile": wrong}
        ack = send_command(broker.url, pki.ca.cert, central.cert, central.key, "st-1", "config.apply", params)
        assert (ack.ok, ack.error.code) == (False, "invalid_params")
    finally:
        edge.stop()

    # the same node restarted with its model files gone: the profile in force is live again at start, and the
    # next profile fails the node's health check and is rolled back
    empty = tmp_path / "no-models"
    empty.mkdir()
    edge = EdgeServe(data, args=["--sample-data"], env={**env, "MARKAZ_VERIFY__MODELS_DIR": str(empty)}).start()
    try:
        officer = _officer(edge)
        assert _recall_at_once(edge.base, officer) == 200
        profile, sha = _node_profile(queue={"recall_min_interval_s": 30.0})
        outcome = apply("node-2", profile, sha)
        assert outcome == {"device": "st-1", "answers": "node-2", "version": "node-1", "outcome": "rolled_back",
                           "failed_checks": ["models"]}  # fmt: skip
        assert _recall_at_once(edge.base, officer) == 200  # node-2's 30 s did not stay
        active = json.loads((data / "profiles" / "node" / "active.json").read_text())
        assert active["version"] == "node-1"
    finally:
        edge.stop()
        recorder.close()
        broker.kill()
