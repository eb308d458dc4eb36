"""Alarms on both store backends: each rule raises once per episode after its hold time, escalates when nobody
acknowledges, is acknowledged only by an operator (who, when, comment kept), and clears when the condition ends,
including across restarts of central. Time is an injected clock that the tests move; nothing sleeps to make time pass.

The end-to-end test runs a real Mosquitto, central's ingest and a simulated station speaking the contract with its
own certificate, which is killed (its Last Will says offline) and restarted, and central restarted mid-episode."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta

import pytest

from central.alarms import (
    AlarmConflict,
    AlarmEvaluator,
    AlarmNotFound,
    AlarmQuery,
    AlarmSettings,
    AlarmState,
    NotAllowed,
    Rule,
    acknowledge,
    alarm_events,
    find_alarms,
    list_alarms,
    open_alarms_by_station,
)
from central.ingest import Ingest
from central.roles import CentralRole
from markaz.contracts import mqtt as contract
from tests.central.anchor_keys import StationAnchorKey
from tests.conftest import wait_until
from tests.telemetry.broker import tls_client

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


class Clock:
    """Central's clock in a test: it moves only when the test says so."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def _env(station: str, seq: int, schema: str, data: dict, ts: datetime = T0) -> bytes:
    return json.dumps({"schema": schema, "station": station, "seq": seq, "ts": ts.isoformat(), "data": data}).encode()


def _queue(station: str, seq: int, longest: float, target: float = 600, service: str = "passports") -> bytes:
    svc = {
        "service": service,
        "waiting": 4,
        "longest_wait_s": longest,
        "served": 10,
        "mean_wait_s": 300.0,
        "no_shows": 0,
        "counters_open": 2,
        "target_wait_s": target,
    }
    data = {"business_day": "2026-03-01", "reason": "change", "services": [svc]}
    return _env(station, seq, "markaz.telemetry.queue/1", data)


def _device(station: str, seq: int, faults: list[str], device: str = "kiosk-1") -> bytes:
    data = {
        "device": device,
        "type": "kiosk",
        "enabled": True,
        "online": True,
        "last_heartbeat": T0.isoformat(),
        "faults": faults,
        "reason": "heartbeat",
    }
    return _env(station, seq, "markaz.telemetry.devices/1", data)


def _birth(state: str = "online", since: datetime = T0) -> bytes:
    return contract.dump(contract.Status(state=state, since=since))  # type: ignore[arg-type]


def _quiet_anchor_rule() -> dict:
    return {"audit_anchor_overdue": {"severity": "major", "hold_s": 10 * 24 * 3600}}


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _setup(open_store, clock, **settings):
    store = open_store()
    ingest = Ingest(store, "mqtts://127.0.0.1:1", None, None, None, clock=clock)  # handle() only: no broker here
    store.ingest_seen("central-ingest-1", clock.now - timedelta(minutes=5), clock.now)
    evaluator = AlarmEvaluator(store, AlarmSettings(**{**_quiet_anchor_rule(), **settings}), clock)
    return store, ingest, evaluator


def test_wait_over_target_raises_after_its_hold_once_escalates_is_acknowledged_and_clears(open_store, clock):
    store, ingest, ev = _setup(open_store, clock, escalate_after_min=15)
    ingest.handle("markaz/v1/st-1/status", _birth())
    ingest.handle("markaz/v1/st-1/telemetry/queue", _queue("st-1", 1, longest=900))
    assert ev.run().raised == []  # over target, but not yet for 10 minutes
    clock.advance(minutes=9)
    assert ev.run().raised == []
    clock.advance(minutes=1)
    (alarm_id,) = ev.run().raised
    clock.advance(minutes=1)
    assert ev.run().raised == []  # once per episode
    (alarm,) = open_alarms_by_station(store)["st-1"]
    assert (alarm.rule, alarm.subject, alarm.state, alarm.severity) == (
        Rule.WAIT_OVER_TARGET,
        "passports",
        "active",
        "minor",
    )
    assert alarm.since == T0 and alarm.raised_at == T0 + timedelta(minutes=10)
    assert alarm.detail == {"longest_wait_s": 900, "target_wait_s": 600, "waiting": 4}

    clock.advance(minutes=14)  # 15 minutes since raised, nobody acknowledged
    assert ev.run().escalated == [alarm_id]
    assert ev.run().escalated == []
    assert list_alarms(store)[0].escalation_level == 1

    with pytest.raises(NotAllowed):
        acknowledge(store, alarm_id, "viewer1", CentralRole.VIEWER, "looking", clock)
    with pytest.raises(AlarmNotFound):
        acknowledge(store, 999, "op1", CentralRole.OPERATOR, "", clock)
    clock.advance(minutes=1)
    acked = acknowledge(store, alarm_id, "op1", CentralRole.OPERATOR, "called the\nstation", clock)
    assert (acked.state, acked.acknowledged_by, acked.acknowledged_at, acked.ack_comment) == (
        AlarmState.ACKNOWLEDGED,
        "op1",
        clock.now,
        "called the station",
    )
    with pytest.raises(AlarmConflict):
        acknowledge(store, alarm_id, "op2", CentralRole.OPERATOR, "", clock)
    clock.advance(minutes=60)
    assert ev.run().escalated == []  # acknowledged alarms do not escalate

    ingest.handle("markaz/v1/st-1/telemetry/queue", _queue("st-1", 2, longest=100))
    assert ev.run().cleared == [alarm_id]
    assert open_alarms_by_station(store) == {}
    cleared = list_alarms(store, include_cleared=True)[0]
    assert cleared.state == AlarmState.CLEARED and cleared.acknowledged_by == "op1"
    assert [e.kind for e in alarm_events(store, "st-1")] == ["raised", "escalated", "acknowledged", "cleared"]
    with pytest.raises(AlarmConflict):
        acknowledge(store, alarm_id, "op1", CentralRole.OPERATOR, "", clock)

    # the next time the wait goes over target is a new episode, with its own hold
    ingest.handle("markaz/v1/st-1/telemetry/queue", _queue("st-1", 3, longest=700))
    assert ev.run().raised == []
    clock.advance(minutes=10)
    assert len(ev.run().raised) == 1
    assert len(list_alarms(store, include_cleared=True)) == 2


def test_each_rule_fires_on_its_condition_and_clears_when_it_ends(open_store, clock):
    store, ingest, ev = _setup(
        open_store,
        clock,
        seq_gap={"severity": "minor", "hold_s": 60},
        audit_anchor_overdue={"severity": "major", "hold_s": 3600},
    )
    ingest.handle("markaz/v1/st-2/status", _birth())
    ingest.handle("markaz/v1/st-2/telemetry/devices/kiosk-1", _device("st-2", 1, ["printer_paper_out"]))
    verification = {"business_day": "2026-03-01", "match": 30, "no_match": 3, "retry": 2, "spoof": 5}
    ingest.handle(
        "markaz/v1/st-2/telemetry/verification",
        _env("st-2", 2, "markaz.telemetry.verification/1", {**verification, "latency_ms_p50": 1, "latency_ms_p95": 2}),
    )
    reports = {"reason": "change", "by_type_state": [], "sla_breaches": 2, "referrals_pending": 0}
    ingest.handle("markaz/v1/st-2/telemetry/reports", _env("st-2", 3, "markaz.telemetry.reports/1", reports))
    ingest.handle("markaz/v1/st-2/telemetry/devices/kiosk-2", _device("st-2", 6, [], "kiosk-2"))  # 4 and 5 missing
    run = ev.run()
    rules = {a.rule: a for a in list_alarms(store)}
    assert set(rules) == {Rule.DEVICE_FAULT, Rule.SPOOF_RATE, Rule.REPORT_SLA} and len(run.raised) == 3
    assert rules[Rule.DEVICE_FAULT].subject == "kiosk-1" and rules[Rule.DEVICE_FAULT].severity == "major"
    assert rules[Rule.SPOOF_RATE].detail == {"spoof": 5, "attempts": 40, "rate": 0.125}
    assert rules[Rule.SPOOF_RATE].severity == "critical"

    clock.advance(minutes=1)  # the gap has been open for its hold time
    raised = ev.run().raised
    assert [a.rule for a in list_alarms(store) if a.id in raised] == [Rule.SEQ_GAP]
    clock.advance(minutes=59)  # no anchor in the hour since central first heard of the station
    raised = ev.run().raised
    assert [a.rule for a in list_alarms(store) if a.id in raised] == [Rule.AUDIT_ANCHOR_OVERDUE]

    ingest.handle("markaz/v1/st-2/telemetry/devices/kiosk-1", _device("st-2", 4, []))  # late: fills seq 4
    dropped = {"count": 1, "first_seq": 5, "last_seq": 5, "dropped_total": 1}
    ingest.handle("markaz/v1/st-2/events/outbox_dropped", _env("st-2", 7, "markaz.events.outbox_dropped/1", dropped))
    ingest.handle(
        "markaz/v1/st-2/telemetry/verification",
        _env(
            "st-2",
            8,
            "markaz.telemetry.verification/1",
            {**verification, "match": 300, "latency_ms_p50": 1, "latency_ms_p95": 2},
        ),
    )
    ingest.handle(
        "markaz/v1/st-2/telemetry/reports",
        _env("st-2", 9, "markaz.telemetry.reports/1", {**reports, "sla_breaches": 0}),
    )
    anchor = StationAnchorKey(ingest.store, "st-2").anchor(clock.now, 10, "ab" * 32)
    ingest.handle("markaz/v1/st-2/events/audit_anchor", _env("st-2", 10, "markaz.events.audit_anchor/1", anchor))
    run = ev.run()
    assert len(run.cleared) == 5 and open_alarms_by_station(store) == {}  # the dropped seq 5 is explained


def test_a_rule_turned_off_in_settings_never_fires(open_store, clock):
    _store, ingest, ev = _setup(open_store, clock, device_fault={"enabled": False, "severity": "major"})
    ingest.handle("markaz/v1/st-3/status", _birth())
    ingest.handle("markaz/v1/st-3/telemetry/devices/kiosk-1", _device("st-3", 1, ["camera_down"]))
    assert ev.run().raised == []


def test_alarm_rules_come_from_the_settings_file(tmp_path):
    from central.alarms import load_alarm_settings
    from markaz.config import ConfigError

    file = tmp_path / "central.toml"
    file.write_text('[alarms]\nescalate_after_min = 5\n[alarms.station_offline]\nseverity = "critical"\nhold_s = 30\n')
    settings = load_alarm_settings(file)
    assert (settings.escalate_after_min, settings.station_offline.severity, settings.station_offline.hold_s) == (
        5,
        "critical",
        30,
    )
    file.write_text('[alarms.station_offline]\nseverity = "loud"\n')
    with pytest.raises(ConfigError, match=r"station_offline\.severity"):
        load_alarm_settings(file)


def test_offline_is_not_judged_before_an_ingest_has_heard_the_births(open_store, clock):
    """Central just started: no worker subscribed long enough, so an offline station raises nothing yet, and an open
    offline alarm is not cleared either (unknown is not "online")."""
    store = open_store()
    ingest = Ingest(store, "mqtts://127.0.0.1:1", None, None, None, clock=clock)
    ev = AlarmEvaluator(store, AlarmSettings(settle_s=10, **_quiet_anchor_rule()), clock)
    ingest.handle("markaz/v1/st-4/status", _birth("offline"))
    clock.advance(minutes=10)
    run = ev.run()
    assert run.raised == [] and not run.connectivity_judged
    store.ingest_seen("central-ingest-1", clock.now, clock.now)  # subscribed just now
    assert ev.run().raised == []
    clock.advance(seconds=10)
    store.ingest_seen("central-ingest-1", clock.now - timedelta(seconds=10), clock.now)
    (raised,) = ev.run().raised
    assert list_alarms(store)[0].rule == Rule.STATION_OFFLINE
    store.ingest_seen("central-ingest-1", None, clock.now)  # the ingest went away
    assert ev.run().cleared == [] and [a.id for a in list_alarms(store)] == [raised]


def test_pending_conditions_and_open_alarms_survive_a_restart_of_central(open_store, clock):
    store, ingest, ev = _setup(open_store, clock)
    ingest.handle("markaz/v1/st-5/status", _birth())
    ingest.handle("markaz/v1/st-5/telemetry/queue", _queue("st-5", 1, longest=900))
    ev.run()
    store.close()
    clock.advance(minutes=10)  # central was down; it comes back: the 10 minutes counted from before
    store2 = open_store()
    store2.ingest_seen("central-ingest-1", clock.now - timedelta(minutes=1), clock.now)
    ev2 = AlarmEvaluator(store2, AlarmSettings(**_quiet_anchor_rule()), clock)
    assert len(ev2.run().raised) == 1
    store2.close()
    store3 = open_store()
    store3.ingest_seen("central-ingest-1", clock.now - timedelta(minutes=1), clock.now)
    ev3 = AlarmEvaluator(store3, AlarmSettings(**_quiet_anchor_rule()), clock)
    assert ev3.run().raised == []  # not again after another restart
    assert len(list_alarms(store3)) == 1


# --- end to end: Mosquitto, the ingest, a simulated station killed and restarted, central restarted ----------------


class SimulatedStation:
    """A station as central sees it: its certificate, a retained birth, a Last Will, contract messages."""

    def __init__(self, broker, station: str, since: datetime) -> None:
        self.broker, self.station, self.since = broker, station, since
        self.client = tls_client(broker.pki, station, client_id=station)
        topic = f"markaz/v1/{station}/status"
        self.client.will_set(topic, _birth("offline", since), qos=1, retain=True)
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        self.client.publish(topic, _birth("online", since), qos=1, retain=True).wait_for_publish(5)

    def publish(self, suffix: str, payload: bytes) -> None:
        self.client.publish(f"markaz/v1/{self.station}/{suffix}", payload, qos=1).wait_for_publish(5)

    def kill(self) -> None:
        """As a crash: the connection drops without DISCONNECT, so the broker publishes the Will."""
        sock = self.client.socket()
        sock.shutdown(socket.SHUT_RDWR)
        self.client.loop_stop()


def _start_ingest(store, broker, clock) -> Ingest:
    cert = broker.pki.client("central.markaz")
    ingest = Ingest(store, broker.url, broker.pki.ca.cert, cert.cert, cert.key, clock=clock)
    ingest.start()
    assert ingest.ready.wait(10)
    return ingest


def test_station_killed_and_restarted_with_central_restarted_mid_episode(open_store, broker, clock):
    store = open_store()
    ingest = _start_ingest(store, broker, clock)
    settings = AlarmSettings(settle_s=5, escalate_after_min=10, **_quiet_anchor_rule())
    ev = AlarmEvaluator(store, settings, clock)

    def tick():  # what `markaz central serve` does every few seconds: the worker says it is alive, then evaluates
        ingest.beat()
        return ev.run()

    station = SimulatedStation(broker, "st-9", T0)
    station.publish("telemetry/devices/kiosk-1", _device("st-9", 1, []))
    assert wait_until(
        lambda: store.stations() and store.stations()[0]["state"] == "online" and store.stations()[0]["received"] == 1
    )
    clock.advance(seconds=5)
    assert tick().raised == []

    station.kill()
    assert wait_until(lambda: store.stations()[0]["state"] == "offline")
    killed_at = clock.now
    clock.advance(seconds=119)
    assert tick().raised == []  # offline, not yet for 120 s
    clock.advance(seconds=1)
    (alarm_id,) = tick().raised
    (alarm,) = list_alarms(store)
    assert (alarm.rule, alarm.since, alarm.severity) == (Rule.STATION_OFFLINE, killed_at, "major")

    # central restarts mid-episode: the alarm stays open, is not raised again, and keeps escalating on time
    ingest.stop()
    store.close()
    clock.advance(minutes=10)
    store = open_store()
    ingest = _start_ingest(store, broker, clock)
    ev = AlarmEvaluator(store, settings, clock)
    run = tick()
    assert run.raised == [] and run.escalated == [] and not run.connectivity_judged  # just started: not judged
    clock.advance(seconds=5)
    run = tick()
    assert run.raised == [] and run.escalated == [alarm_id] and run.connectivity_judged
    assert [a.id for a in list_alarms(store)] == [alarm_id]

    # the station comes back (a new connection, a new birth): the episode ends
    SimulatedStation(broker, "st-9", clock.now)
    assert wait_until(lambda: store.stations()[0]["state"] == "online")
    assert tick().cleared == [alarm_id]
    assert open_alarms_by_station(store) == {}
    kinds = [e.kind for e in alarm_events(store, "st-9")]
    assert kinds == ["raised", "escalated", "cleared"]
    ingest.stop()


def test_the_json_api_lists_and_lets_only_operators_acknowledge(open_store, clock):
    from fastapi import Header
    from fastapi.testclient import TestClient

    from central.alarms_api import Staff
    from central.web import create_app

    store, ingest, ev = _setup(open_store, clock)
    ingest.handle("markaz/v1/st-6/status", _birth())
    ingest.handle("markaz/v1/st-6/telemetry/devices/kiosk-1", _device("st-6", 1, ["camera_down"]))
    (alarm_id,) = ev.run().raised

    def staff(x_staff: str = Header()) -> Staff:  # stands in for the dashboard's sign-in: "name:role"
        name, role = x_staff.split(":")
        return Staff(name, CentralRole(role))

    api = TestClient(create_app(store, current_staff=staff))
    assert TestClient(create_app(store)).get("/api/alarms").status_code == 401  # no sign-in wired: nobody
    listed = api.get("/api/alarms", headers={"x-staff": "v:central_viewer"}).json()
    assert [(a["id"], a["rule"], a["subject"], a["state"]) for a in listed] == [
        (alarm_id, "device_fault", "kiosk-1", "active")
    ]
    url = f"/api/alarms/{alarm_id}/acknowledge"
    assert api.post(url, json={"comment": "x"}, headers={"x-staff": "v:central_viewer"}).status_code == 403
    assert api.post(url, json={"comment": "x" * 501}, headers={"x-staff": "o:central_operator"}).status_code == 422
    done = api.post(url, json={"comment": "technician sent"}, headers={"x-staff": "o:central_operator"})
    assert done.status_code == 200 and done.json()["acknowledged_by"] == "o"
    assert api.post(url, json={}, headers={"x-staff": "o:central_operator"}).status_code == 409
    assert (
        api.post("/api/alarms/999/acknowledge", json={}, headers={"x-staff": "o:central_operator"}).status_code == 404
    )
    history = api.get("/api/alarms/events/st-6", headers={"x-staff": "v:central_viewer"}).json()
    assert [(e["kind"], e["actor"], e["comment"]) for e in history] == [
        ("raised", None, None),
        ("acknowledged", "o", "technician sent"),
    ]


def test_the_cli_evaluates_lists_and_acknowledges(open_store, clock, central_db, tmp_path):
    from typer.testing import CliRunner

    from central.cli import app

    config = tmp_path / "central.toml"
    config.write_text('[alarms.audit_anchor_overdue]\nenabled = false\nseverity = "major"\n')
    store, ingest, _ev = _setup(open_store, clock)
    ingest.handle("markaz/v1/st-7/status", _birth())
    ingest.handle("markaz/v1/st-7/telemetry/devices/kiosk-1", _device("st-7", 1, ["camera_down"]))
    runner = CliRunner()
    out = runner.invoke(app, ["alarms", "run", "--once", "--db", central_db, "--config", str(config)])
    assert out.exit_code == 0 and "raised 1" in out.output, out.output
    out = runner.invoke(app, ["alarms", "list", "--db", central_db, "--json"])
    (alarm,) = [json.loads(line) for line in out.output.splitlines()]
    assert alarm["rule"] == "device_fault"
    args = ["alarms", "ack", str(alarm["id"]), "--by", "op1", "--comment", "on it", "--db", central_db]
    assert runner.invoke(app, [*args, "--role", "central_viewer"]).exit_code == 1
    assert runner.invoke(app, [*args, "--role", "boss"]).exit_code == 2
    out = runner.invoke(app, args)
    assert out.exit_code == 0 and "acknowledged by op1" in out.output
    assert runner.invoke(app, args).exit_code == 1  # not active any more
    assert list_alarms(store)[0].state == AlarmState.ACKNOWLEDGED


def test_two_evaluators_at_once_raise_an_episode_once(open_store, clock):
    import threading

    store, ingest, _ev = _setup(open_store, clock)
    for i in range(20):
        ingest.handle(f"markaz/v1/st-{i}/status", _birth())
        ingest.handle(f"markaz/v1/st-{i}/telemetry/devices/kiosk-1", _device(f"st-{i}", 1, ["camera_down"]))
    evaluators = [AlarmEvaluator(open_store(), AlarmSettings(**_quiet_anchor_rule()), clock) for _ in range(2)]
    runs: list = []
    start = threading.Barrier(2)

    def evaluate(ev):
        start.wait()
        runs.append(ev.run())

    threads = [threading.Thread(target=evaluate, args=(ev,)) for ev in evaluators]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(len(r.raised) for r in runs) == [0, 20]
    assert len(list_alarms(store)) == 20


def test_the_station_filter_is_exact_unless_it_ends_with_a_star(open_store):
    """`st-1` is st-1 only (it used to show st-10 and st-1x too); `st-1*` is every station starting with st-1, where
    `_` and `%` are only themselves; the list page filters the same way."""
    from central.web import create_app
    from tests.central.staff import signed_in_client

    store = open_store()
    with store.db.transaction() as tx:
        for station in ("st-1", "st-10", "st-1x", "st_1", "st-2"):
            tx.execute(
                "INSERT INTO alarms (station, rule, subject, severity, state, since, raised_at, detail) "
                "VALUES (?, 'station_offline', '', 'major', 'active', ?, ?, '{}')",
                (station, T0.isoformat(), T0.isoformat()),
            )

    def stations(text: str) -> list[str]:
        return sorted(a.station for a in find_alarms(store, AlarmQuery(station=text)))

    assert stations("st-1") == ["st-1"]
    assert stations("st-1*") == ["st-1", "st-10", "st-1x"]
    assert stations("st_1") == ["st_1"] and stations("st_*") == ["st_1"]
    assert stations("st-") == [] and stations("st-*") == ["st-1", "st-10", "st-1x", "st-2"]
    client = signed_in_client(create_app(store), store)
    page = client.get("/alarms", params={"lang": "en", "station": "st-1"}).text
    assert 'data-station="st-1"' in page and 'data-station="st-10"' not in page and 'data-station="st-1x"' not in page
    page = client.get("/alarms", params={"lang": "en", "station": "st-1*"}).text
    assert 'data-station="st-10"' in page and 'data-station="st-2"' not in page
