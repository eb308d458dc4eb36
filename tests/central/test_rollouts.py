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
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.central.process import CentralProcess, poll
from tests.central.staff import PASSWORDS
from tests.conftest import ServerProcess
from tests.telemetry.broker import Broker
from tests.ui.axe import assert_accessible

SHOTS = os.environ.get("MARKAZ_CENTRAL_SCREENSHOTS")  # docs/central: the pictures of the manual are (re)made

STATIONS = ("st-1", "st-2", "st-3")
RESUMED = "st-4"  # the station the resume test stops and starts again: no other test asks it anything
NODES = (*STATIONS, RESUMED)


@pytest.fixture(scope="module")
def fleet_broker(tmp_path_factory, pki) -> Iterator[Broker]:
    """One Mosquitto for the module's nodes: they stay up from test to test (their start-up is most of the cost)."""
    b = Broker(tmp_path_factory.mktemp("fleet-broker"), pki).start()
    yield b
    b.kill()


@pytest.fixture(scope="module")
def fleet_nodes(tmp_path_factory, fleet_broker) -> Iterator[dict[str, ServerProcess]]:
    """Real `markaz edge serve` nodes on the module's broker, started side by side (each waits for its own health)."""
    folder = tmp_path_factory.mktemp("fleet")
    empty = folder / "no-models"
    empty.mkdir()
    nodes: dict[str, ServerProcess] = {}
    for station in NODES:
        cert = fleet_broker.pki.client(station)
        env = {
            "MARKAZ_STATION_ID": station,
            "MARKAZ_MQTT__URL": fleet_broker.url,
            "MARKAZ_MQTT__CA": str(fleet_broker.pki.ca.cert),
            "MARKAZ_MQTT__CERT": str(cert.cert),
            "MARKAZ_MQTT__KEY": str(cert.key),
            "MARKAZ_MQTT__LINK": "thread",  # fewer processes on a shared machine; the link is the same code
            "MARKAZ_MQTT__BACKOFF_BASE_S": "0.1",
            "MARKAZ_VERIFY__PRELOAD": "false",
        }
        if station == "st-2":  # this node lost its model files: any profile change fails its health check
            env["MARKAZ_VERIFY__MODELS_DIR"] = str(empty)
        nodes[station] = ServerProcess(folder / station, env=env)
    try:
        with ThreadPoolExecutor(len(nodes)) as pool:
            list(pool.map(ServerProcess.start, nodes.values()))
        yield nodes
    finally:
        for node in nodes.values():
            node.stop()


@pytest.fixture
def fleet(tmp_path, fleet_broker, fleet_nodes) -> Iterator[tuple[CentralProcess, dict[str, ServerProcess]]]:
    """A fresh central (its own database: no roll-out, command or audit entry of another test) over the module's
    nodes, every one of them running (the resume test leaves its station stopped) and online in it."""
    for node in fleet_nodes.values():
        if node.proc is None:
            node.start()
    central = CentralProcess(
        fleet_broker, tmp_path / "central.sqlite", {"olga": "central_operator", "vera": "central_viewer"}
    ).start()
    try:
        http = central.client("vera")
        poll(lambda: http.get("/api/stations").json(),
             lambda v: sorted(s["station"] for s in v if s["state"] == "online") == list(NODES), 90)  # fmt: skip
        http.close()
        yield central, fleet_nodes
    finally:
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
    # the CLI's cancel and resume give central's refusal: a stopped roll-out is neither running nor interrupted,
    # and a viewer may do neither
    for action, user in (("cancel", "olga"), ("resume", "olga"), ("cancel", "vera")):
        role = "central_operator" if user == "olga" else "central_viewer"
        refused = _cli(action, done["id"], "--central", central.base, "--user", user, password=PASSWORDS[role])
        assert refused.returncode == 1 and refused.stderr.startswith("error: "), (action, user, refused.stderr)
    again = _cli("show", done["id"], "--central", central.base, "--user", "vera", password=PASSWORDS["central_viewer"])
    assert json.loads(again.stdout)["state"] == "stopped"

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
    # the reasons in the page's language, the machine words (the failed check) kept as they are
    expect(article.locator('tr[data-station="st-2"] [data-reason="rolled_back"]')).to_contain_text("فشل فحص سلامة")
    expect(article.locator('tr[data-station="st-2"] [data-reason="rolled_back"] bdi')).to_have_text("models")
    expect(article.locator('tr[data-station="st-3"] [data-reason="bound_reached"]')).to_contain_text("حدّ الإخفاق")
    expect(article.locator("[data-rollout-action]")).to_have_count(0)  # a viewer; and a stopped one has no actions
    assert_accessible(page, "roll-outs (ar)")
    _shot(page, "rollouts-ar")
    page.click(".lang-toggle")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("[data-rollout] h2")).to_contain_text("stopped at its failure bound")
    expect(article.locator('tr[data-station="st-2"] [data-reason]')).to_have_text(
        "rolled back: a health check failed (models)"
    )
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
    assert done["targets"][0]["reason"] == "not_sent: no_broker"
    assert done["targets"][2]["reason"] == "bound_reached"
    assert [r["id"] for r in service.all()] == [rollout_id]
    actions = [r["action"] for r in store.query("SELECT action FROM central_audit ORDER BY seq")]
    assert actions == ["rollout.start", "rollout.stopped"]

    with store.db.transaction() as tx:  # as a central stopped mid-roll-out leaves it: running, its runner silent
        tx.execute("UPDATE rollouts SET state = 'running', finished_at = NULL, runner_seen_at = ? WHERE id = ?",
                   (iso(utcnow() - timedelta(hours=1)), rollout_id))  # fmt: skip
    RolloutService(store, CommandDesk(store, None)).interrupt_unfinished()
    assert service.get(rollout_id)["state"] == "interrupted"


def _sign_in(page: Page, base: str, path: str, user: str, password: str) -> None:
    page.goto(base + path)
    page.fill("#username", user)
    page.fill("#password", password)
    page.click("button[type=submit]")


def _wait_target(http: httpx.Client, rollout_id: str, station: str, state: str, timeout: float = 90) -> dict:
    return poll(lambda: http.get(f"/api/rollouts/{rollout_id}").json(),
                lambda r: any(t["station"] == station and t["state"] == state for t in r["targets"]), timeout)  # fmt: skip


def _online(central: CentralProcess, station: str) -> None:
    http = central.client("vera")
    poll(lambda: http.get("/api/stations").json(),
         lambda v: any(s["station"] == station and s["state"] == "online" for s in v), 90)  # fmt: skip
    http.close()


def test_an_interrupted_rollout_resumes_from_its_waves_left_and_a_running_one_is_cancelled_from_the_page(
    fleet, tmp_path: Path, fleet_broker, page, request
) -> None:
    """Resume: st-4 is down while its wave waits, central is stopped and started again (the roll-out is then
    `interrupted`), st-4 comes back, and an operator's *Resume* asks st-4 again: the roll-out finishes on the live page
    without a reload, st-1 is not asked twice. Cancel: with st-4 down again, an operator cancels a running roll-out
    from the page (a confirmation first); the wave in flight ends, the later wave (st-2) is never asked."""
    central, nodes = fleet
    profile = {"queue": {"recall_min_interval_s": 4.0}}
    operator = central.client("olga")
    nodes[RESUMED].stop()
    body = {"stations": ["st-1", RESUMED], "version": "resume-1", "profile": profile, "first": ["st-1"],
            "wave_size": 1, "failure_bound": 1, "timeout_s": 600}  # fmt: skip
    started = operator.post("/api/rollouts", json=body)
    assert started.status_code == 202, started.text
    rollout_id = started.json()["id"]
    _wait_target(operator, rollout_id, RESUMED, "asked")
    operator.close()

    central.stop()  # central stops while st-4's wave waits
    central = CentralProcess(fleet_broker, central.db, {}).start()
    request.addfinalizer(central.stop)  # the fleet fixture stops only the central it started
    central.users = {"olga": "central_operator", "vera": "central_viewer"}
    nodes[RESUMED].start()
    _online(central, RESUMED)

    _sign_in(page, central.base, "/rollouts", "olga", PASSWORDS["central_operator"])
    article = page.locator(f'[data-rollout="{rollout_id}"]')
    expect(article).to_have_attribute("data-state", "interrupted")
    expect(article.locator('tr[data-station="st-1"]')).to_have_attribute("data-state", "applied")
    assert_accessible(page, "roll-outs, interrupted (ar)")
    _shot(page, "rollouts-interrupted-ar")
    article.locator('[data-rollout-action="resume"]').click()
    expect(page.locator(".notice.ok")).to_be_visible()
    # the page follows the roll-out live: no reload from here on
    page.evaluate("window.__same_page = true")
    expect(article).to_have_attribute("data-state", "finished", timeout=90_000)
    expect(article.locator(f'tr[data-station="{RESUMED}"]')).to_have_attribute("data-state", "applied")
    assert page.evaluate("window.__same_page") is True
    expect(article.locator("[data-waves]")).to_have_text("2/2")
    assert json.loads((nodes[RESUMED].data / "profiles" / "node" / "active.json").read_text())["version"] == "resume-1"

    # cancel: st-4 down again; wave 2 (st-4) waits its 20 s, wave 3 (st-2) must never be asked
    nodes[RESUMED].stop()
    operator = central.client("olga")
    body = {"stations": ["st-1", RESUMED, "st-2"], "version": "cancel-1", "profile": profile, "first": ["st-1"],
            "wave_size": 1, "failure_bound": 3, "timeout_s": 20}  # fmt: skip
    cancel_id = operator.post("/api/rollouts", json=body).json()["id"]
    _wait_target(operator, cancel_id, RESUMED, "asked")
    page.goto(central.base + "/rollouts?lang=en")
    running = page.locator(f'[data-rollout="{cancel_id}"]')
    expect(running).to_have_attribute("data-state", "running")
    running.locator('[data-rollout-action="cancel"]').click()
    expect(page.locator('section[data-screen="rollout-cancel"]')).to_have_attribute("data-rollout", cancel_id)
    assert_accessible(page, "cancel a roll-out (en)")
    _shot(page, "rollout-cancel-en")
    page.click('[data-rollout-action="confirm-cancel"]')
    expect(page.locator(".notice.ok")).to_contain_text("stops before its next wave")
    cancelled = page.locator(f'[data-rollout="{cancel_id}"]')
    expect(cancelled).to_have_attribute("data-state", "cancelled", timeout=90_000)
    expect(cancelled.locator(f'tr[data-station="{RESUMED}"]')).to_have_attribute("data-state", "failed")
    expect(cancelled.locator('tr[data-station="st-2"] [data-reason="cancelled"]')).to_contain_text("cancelled")
    expect(cancelled.locator('tr[data-station="st-2"] [data-reason="cancelled"] bdi')).to_have_text("olga")
    assert_accessible(page, "roll-outs, cancelled (en)")
    _shot(page, "rollouts-cancelled-en")
    assert not (nodes["st-2"].data / "profiles" / "node" / "active.json").exists()
    operator.close()

    import sqlite3

    with sqlite3.connect(central.db) as db:
        audit = db.execute("SELECT actor, action, entity_id FROM central_audit WHERE action LIKE 'rollout.%' "
                           "ORDER BY seq").fetchall()  # fmt: skip
        sent = db.execute("SELECT station FROM commands WHERE name = 'config.apply' ORDER BY sent_at").fetchall()
    assert [(a, act) for a, act, i in audit if i == rollout_id] == [
        ("olga", "rollout.start"), ("olga", "rollout.resume"), ("central", "rollout.finished"),
    ]  # fmt: skip
    assert [(a, act) for a, act, i in audit if i == cancel_id] == [
        ("olga", "rollout.start"), ("olga", "rollout.cancel"), ("central", "rollout.cancelled"),
    ]  # fmt: skip
    # resume-1: st-1 once, st-4 before and after the restart; cancel-1: st-1, st-4, never st-2
    assert [s for (s,) in sent] == ["st-1", RESUMED, RESUMED, "st-1", RESUMED]


def test_cancel_and_resume_are_for_operators_from_the_dashboards_own_pages(fleet) -> None:
    central, _ = fleet
    operator, viewer = central.client("olga"), central.client("vera")
    body = {"stations": ["st-2"], "version": "v-bad", "profile": {}, "first": ["st-2"], "failure_bound": 1,
            "timeout_s": 60}  # fmt: skip
    rollout_id = operator.post("/api/rollouts", json=body).json()["id"]
    poll(lambda: operator.get(f"/api/rollouts/{rollout_id}").json()["state"], lambda s: s == "stopped", 90)
    assert viewer.post(f"/api/rollouts/{rollout_id}/cancel").status_code == 403
    assert operator.post(f"/api/rollouts/{rollout_id}/cancel").status_code == 409  # stopped: nothing to cancel
    assert operator.post(f"/api/rollouts/{rollout_id}/resume").status_code == 409  # only an interrupted one
    assert operator.post("/api/rollouts/000000000000/cancel").status_code == 404
    # the page's forms: a viewer is forbidden, another site's form is forbidden, no confirmation is a bad request
    assert viewer.post(f"/rollouts/{rollout_id}/cancel", data={"confirm": "yes"}).status_code == 403
    assert viewer.get(f"/rollouts/{rollout_id}/cancel").status_code == 403
    elsewhere = {"origin": "https://evil.example"}
    assert (
        operator.post(f"/rollouts/{rollout_id}/cancel", data={"confirm": "yes"}, headers=elsewhere).status_code == 403
    )
    assert operator.post(f"/rollouts/{rollout_id}/resume", headers=elsewhere).status_code == 403
    assert operator.post(f"/rollouts/{rollout_id}/cancel", data={}).status_code == 400
    conflict = operator.post(f"/rollouts/{rollout_id}/cancel", data={"confirm": "yes"})
    assert conflict.status_code == 303 and "notice=conflict" in conflict.headers["location"]
    assert operator.get(f"/api/rollouts/{rollout_id}").json()["state"] == "stopped"
    import sqlite3

    with sqlite3.connect(central.db) as db:
        actions = [a for (a,) in db.execute("SELECT action FROM central_audit WHERE entity_id = ?", (rollout_id,))]
    assert actions == ["rollout.start", "rollout.stopped"]  # nothing refused was recorded as done
    viewer.close()
    operator.close()


def test_on_either_store_an_interrupted_rollout_resumes_its_waves_left_or_is_cancelled(open_store) -> None:
    """The cancel and resume SQL (and the migration that allows `cancelled`) on SQLite and a real PostgreSQL. A desk
    without a broker fails every asked station as `not_sent`, so what is asked again is visible in the reasons."""
    from central.dispatch import CommandDesk
    from central.rollouts import RolloutPlan, RolloutRefused, RolloutService, effective_profile
    from central.staff.roles import CentralRole
    from central.staff.service import Staff
    from firmware_config.schema import DeviceKind
    from markaz.clock import iso, utcnow

    store = open_store()
    with store.db.transaction() as tx:
        for station in STATIONS:
            tx.execute("INSERT INTO stations (station, first_seen_at) VALUES (?, ?)", (station, iso(utcnow())))
    service = RolloutService(store, CommandDesk(store, None), poll_s=0.05)
    olga, vera = Staff("olga", CentralRole.OPERATOR), Staff("vera", CentralRole.VIEWER)
    profile = effective_profile(DeviceKind.edge_node, {})

    def interrupted_after_wave_one(version: str, bound: int) -> str:
        plan = RolloutPlan(list(STATIONS), version, profile, first=["st-1"], wave_size=1, failure_bound=bound,
                           timeout_s=5)  # fmt: skip
        rollout_id = service.start(olga, plan)
        service.wait(rollout_id, 30)
        with store.db.transaction() as tx:  # as a central stopped after the first wave leaves it (its runner silent)
            tx.execute("UPDATE rollouts SET state = 'running', finished_at = NULL, runner_seen_at = ? WHERE id = ?",
                       (iso(utcnow() - timedelta(hours=1)), rollout_id))  # fmt: skip
            tx.execute("UPDATE rollout_targets SET state = 'waiting', reason = NULL WHERE rollout_id = ? AND "
                       "station <> 'st-1'", (rollout_id,))  # fmt: skip
        RolloutService(store, CommandDesk(store, None)).interrupt_unfinished()
        assert service.get(rollout_id)["state"] == "interrupted"
        return rollout_id

    resumed = interrupted_after_wave_one("v-resume", 3)
    with pytest.raises(RolloutRefused) as no_role:
        service.resume(vera, resumed)
    assert no_role.value.code == "forbidden"
    service.resume(olga, resumed)
    service.wait(resumed, 30)
    done = service.get(resumed)
    assert done["state"] == "stopped", done  # st-1's failure counted: the bound of 3 is reached at st-3
    assert (done["waves_started"], done["waves"]) == (3, 3)
    assert [(t["station"], t["state"], t["reason"]) for t in done["targets"]] == [
        ("st-1", "failed", "not_sent: no_broker"), ("st-2", "failed", "not_sent: no_broker"),
        ("st-3", "failed", "not_sent: no_broker"),
    ]  # fmt: skip
    with pytest.raises(RolloutRefused) as twice:
        service.resume(olga, resumed)
    assert twice.value.code == "conflict"

    full = interrupted_after_wave_one("v-full", 1)  # its one failure already reaches its bound
    with pytest.raises(RolloutRefused) as reached:
        service.resume(olga, full)
    assert reached.value.code == "conflict"
    assert service.cancel(olga, full) == "cancelled"
    closed = service.get(full)
    assert closed["state"] == "cancelled" and closed["cancelled_by"] == "olga"
    assert [(t["station"], t["state"], t["reason"]) for t in closed["targets"]] == [
        ("st-1", "failed", "not_sent: no_broker"), ("st-2", "not_attempted", "cancelled: olga"),
        ("st-3", "not_attempted", "cancelled: olga"),
    ]  # fmt: skip
    with pytest.raises(RolloutRefused):
        service.cancel(olga, full)
    actions = [
        (r["action"], r["entity_id"]) for r in store.query("SELECT action, entity_id FROM central_audit ORDER BY seq")
    ]
    assert [a for a, i in actions if i == resumed] == ["rollout.start", "rollout.stopped", "rollout.resume",
                                                       "rollout.stopped"]  # fmt: skip
    assert [a for a, i in actions if i == full] == ["rollout.start", "rollout.stopped", "rollout.cancel"]
