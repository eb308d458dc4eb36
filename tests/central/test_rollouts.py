"""A staged roll-out across stations from central, with real parts: a real Mosquitto, `markaz central serve` and three
real `markaz edge serve` nodes. `markaz central rollout start` rolls an edge-node profile version out in waves
(config.apply over MQTT), follows the stations' `events/config_outcome`, and stops by itself at its failure bound when
the second station (its model files gone) fails its health check and rolls back: the third is never asked. Progress
is in the API and the CLI; every step is in central's audit log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.central.process import CentralProcess, poll
from tests.central.staff import PASSWORDS
from tests.conftest import ServerProcess
from tests.ui.axe import assert_accessible

SHOTS = os.environ.get("MARKAZ_CENTRAL_SCREENSHOTS")  # docs/central: the pictures of the manual are (re)made

STATIONS = ("st-1", "st-2", "st-3")


@pytest.fixture
def fleet(tmp_path, broker) -> Iterator[tuple[CentralProcess, dict[str, ServerProcess]]]:
    central = CentralProcess(
        broker, tmp_path / "central.sqlite", {"olga": "central_operator", "vera": "central_viewer"}
    ).start()
    nodes: dict[str, ServerProcess] = {}
    empty = tmp_path / "no-models"
    empty.mkdir()
    try:
        for station in STATIONS:
            cert = broker.pki.client(station)
            env = {
                "MARKAZ_STATION_ID": station,
                "MARKAZ_MQTT__URL": broker.url,
                "MARKAZ_MQTT__CA": str(broker.pki.ca.cert),
                "MARKAZ_MQTT__CERT": str(cert.cert),
                "MARKAZ_MQTT__KEY": str(cert.key),
                "MARKAZ_MQTT__LINK": "thread",  # fewer processes on a shared machine; the link is the same code
                "MARKAZ_MQTT__BACKOFF_BASE_S": "0.1",
                "MARKAZ_VERIFY__PRELOAD": "false",
            }
            if station == "st-2":  # this node lost its model files: any profile change fails its health check
                env["MARKAZ_VERIFY__MODELS_DIR"] = str(empty)
            nodes[station] = ServerProcess(tmp_path / station, env=env).start()
        http = central.client("vera")
        poll(lambda: http.get("/api/stations").json(),
             lambda v: sorted(s["station"] for s in v if s["state"] == "online") == list(STATIONS), 90)  # fmt: skip
        http.close()
        yield central, nodes
    finally:
        for node in nodes.values():
            node.stop()
        central.stop()


def _shot(page: Page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def _cli(*args: str, password: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "markaz.cli", "central", "rollout", *args],
        input=password + "\n", capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_a_rollout_across_stations_stops_at_its_failure_bound_and_is_audited(fleet, tmp_path: Path, page) -> None:
    central, nodes = fleet
    profile = tmp_path / "fleet.toml"
    profile.write_text("[queue]\nrecall_min_interval_s = 5.0\n[telemetry]\ninterval_s = 20.0\n")
    res = _cli("start", "--central", central.base, "--user", "olga", "--stations", ",".join(STATIONS),
               "--profile", str(profile), "--version", "fleet-2026-12", "--first", "st-1", "--wave-size", "1",
               "--failure-bound", "1", "--timeout", "60", password=PASSWORDS["central_operator"])  # fmt: skip
    assert res.returncode == 1, res.stdout + res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].startswith("rollout ") and "running" in lines[0]  # progress as it moves
    done = json.loads(res.stdout[res.stdout.index("{") :])
    assert done["state"] == "stopped" and done["counts"] == {
        "waiting": 0, "asked": 0, "applied": 1, "failed": 1, "not_attempted": 1,
    }  # fmt: skip
    by_station = {t["station"]: t for t in done["targets"]}
    assert [by_station[s]["state"] for s in STATIONS] == ["applied", "failed", "not_attempted"]
    assert by_station["st-2"]["reason"] == "rolled_back: models"
    assert by_station["st-3"]["command_id"] is None  # never asked
    assert json.loads((nodes["st-1"].data / "profiles" / "node" / "active.json").read_text())["version"] == (
        "fleet-2026-12"
    )
    assert not (nodes["st-3"].data / "profiles" / "node" / "active.json").exists()

    shown = _cli("show", done["id"], "--central", central.base, "--user", "vera", password=PASSWORDS["central_viewer"])
    assert shown.returncode == 0 and json.loads(shown.stdout)["state"] == "stopped", shown.stderr

    # the dashboard's view: Arabic first, English one tap away, axe-clean
    page.goto(central.base + "/rollouts")
    page.fill("#username", "vera")
    page.fill("#password", PASSWORDS["central_viewer"])
    page.click("button[type=submit]")
    article = page.locator(f'[data-rollout="{done["id"]}"]')
    expect(article).to_have_attribute("data-state", "stopped")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(article.locator('tr[data-station="st-2"]')).to_have_attribute("data-state", "failed")
    expect(article.locator('tr[data-station="st-3"]')).to_have_attribute("data-state", "not_attempted")
    assert_accessible(page, "roll-outs (ar)")
    _shot(page, "rollouts-ar")
    page.click(".lang-toggle")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("[data-rollout] h2")).to_contain_text("stopped at its failure bound")
    assert_accessible(page, "roll-outs (en)")
    _shot(page, "rollouts-en")

    import sqlite3

    with sqlite3.connect(central.db) as db:
        audit = db.execute("SELECT action, entity_id FROM central_audit ORDER BY seq").fetchall()
        sent = db.execute("SELECT station FROM commands WHERE name = 'config.apply' ORDER BY sent_at").fetchall()
    actions = [a for a, _ in audit]
    assert [a for a in actions if a.startswith("rollout.")] == ["rollout.start", "rollout.stopped"]
    assert [s for a, s in audit if a == "command.send"] == ["st-1", "st-2"]
    assert [s for (s,) in sent] == ["st-1", "st-2"]


def test_a_rollout_is_for_operators_and_a_bad_profile_is_refused_before_any_station_is_asked(fleet) -> None:
    central, _ = fleet
    body = {"stations": list(STATIONS), "version": "v1", "profile": {"telemetry": {"interval_s": 0.1}}}
    viewer = central.client("vera")
    assert viewer.post("/api/rollouts", json=body).status_code == 403
    operator = central.client("olga")
    answer = operator.post("/api/rollouts", json=body)
    assert answer.status_code == 422, answer.text
    assert any("interval_s" in p and "greater than or equal to 1" in p for p in answer.json()["problems"])
    unknown = operator.post("/api/rollouts", json={**body, "profile": {}, "stations": ["st-9"]})
    assert unknown.status_code == 404 and "st-9" in unknown.json()["detail"]
    assert operator.get("/api/rollouts").json() == []
    assert httpx.get(f"{central.base}/api/rollouts", timeout=5).status_code == 401
    viewer.close()
    operator.close()


def test_a_rollout_on_either_store_stops_when_its_commands_cannot_leave_and_a_restart_marks_it_interrupted(open_store):
    """The roll-out's SQL on both backends (SQLite and a real PostgreSQL): a dashboard without a broker connection
    cannot send `config.apply`, so each asked station fails as `not sent`, the roll-out stops at its bound with the
    rest never asked; a roll-out left running by a stopped central is marked `interrupted` at the next start."""
    from central.dispatch import CommandDesk
    from central.rollouts import RolloutPlan, RolloutService, effective_profile
    from central.staff.roles import CentralRole
    from central.staff.service import Staff
    from firmware_config.schema import DeviceKind
    from markaz.clock import iso, utcnow

    store = open_store()
    with store.db.transaction() as tx:
        for station in STATIONS:
            tx.execute("INSERT INTO stations (station, first_seen_at) VALUES (?, ?)", (station, iso(utcnow())))
    service = RolloutService(store, CommandDesk(store, None), poll_s=0.05)
    operator = Staff("olga", CentralRole.OPERATOR)
    profile = effective_profile(DeviceKind.edge_node, {"telemetry": {"interval_s": 20.0}})
    plan = RolloutPlan(list(STATIONS), "v-pg", profile, first=["st-1"], wave_size=1, failure_bound=2, timeout_s=5)
    rollout_id = service.start(operator, plan)
    service.wait(rollout_id, 30)
    done = service.get(rollout_id)
    assert done is not None and done["state"] == "stopped", done
    assert [(t["station"], t["state"]) for t in done["targets"]] == [
        ("st-1", "failed"), ("st-2", "failed"), ("st-3", "not_attempted"),
    ]  # fmt: skip
    assert done["targets"][0]["reason"].startswith("not sent: this dashboard has no broker connection")
    assert [r["id"] for r in service.all()] == [rollout_id]
    actions = [r["action"] for r in store.query("SELECT action FROM central_audit ORDER BY seq")]
    assert actions == ["rollout.start", "rollout.stopped"]

    with store.db.transaction() as tx:  # as a central stopped mid-roll-out leaves it
        tx.execute("UPDATE rollouts SET state = 'running', finished_at = NULL WHERE id = ?", (rollout_id,))
    RolloutService(store, CommandDesk(store, None)).interrupt_unfinished()
    assert service.get(rollout_id)["state"] == "interrupted"
