"""The MQTT link against a real Mosquitto: mTLS, the ACL between stations, Last Will, commands."""

from __future__ import annotations

import json
import signal
import ssl
import time

import paho.mqtt.client as paho
import pytest

from edge.node import EdgeNode
from edge.settings import EdgeSettings
from markaz.clock import utcnow
from markaz.config import load_settings
from provisioning.pki import issue, make_ca
from tests.telemetry.broker import Recorder, tls_client
from tests.telemetry.nodeproc import NodeProcess


def _node(tmp_path, broker, station="st-1", **mqtt) -> EdgeNode:
    cert = broker.pki.client(station)
    settings = load_settings(
        EdgeSettings,
        data_dir=tmp_path / f"node-{station}",
        sample_data=True,
        station_id=station,
        mqtt={
            "url": broker.url,
            "ca": broker.pki.ca.cert,
            "cert": cert.cert,
            "key": cert.key,
            "backoff_base_s": 0.1,
            "backoff_max_s": 0.5,
            **mqtt,
        },
    )
    node = EdgeNode(settings)
    node.start()
    # bounded only against a hang: the link is a process of its own now, which takes longer to start
    assert node.telemetry.link.commands_ready.wait(30), "the node never subscribed to its commands"
    return node


def _status(recorder, station):
    return [m for t, m, _ in recorder.messages if t == f"markaz/v1/{station}/status"]


def test_mtls_round_trip_and_birth(tmp_path, broker):
    recorder = Recorder(broker, ["markaz/v1/st-1/#"])
    node = _node(tmp_path, broker)
    try:
        assert recorder.wait_for(lambda m: any(s["state"] == "online" for s in _status(recorder, "st-1")))
        birth = _status(recorder, "st-1")[0]
        assert birth["versions"]["markaz"] and birth["versions"]["paho-mqtt"] == "2.2.0"
        assert any(key.startswith("model.") for key in birth["versions"])
        assert recorder.wait_for(lambda m: any(t.endswith("/telemetry/node") for t, _, _ in m))
    finally:
        node.stop()
    # a clean stop says offline itself (the Will is only for unclean losses)
    assert recorder.wait_for(lambda m: _status(recorder, "st-1")[-1]["state"] == "offline")
    recorder.close()


def test_clean_stop_offline_pairs_with_its_birth(tmp_path, broker):
    """The offline of a clean stop closes the connection its birth opened: same `since`, as the Will has."""
    recorder = Recorder(broker, ["markaz/v1/st-1/status"])
    node = _node(tmp_path, broker)
    try:
        assert recorder.wait_for(lambda m: any(s["state"] == "online" for s in _status(recorder, "st-1")))
    finally:
        node.stop()
    assert recorder.wait_for(lambda m: _status(recorder, "st-1")[-1]["state"] == "offline")
    birth = next(s for s in _status(recorder, "st-1") if s["state"] == "online")
    assert _status(recorder, "st-1")[-1]["since"] == birth["since"]
    recorder.close()


def _connects(client, port) -> bool:
    """True only if the broker answers CONNECT with success (a TLS refusal may surface on connect or first read)."""
    results: list = []
    client.on_connect = lambda c, u, f, rc, p: results.append(rc)
    try:
        client.connect("127.0.0.1", port)
        for _ in range(20):
            if results or client.loop(0.25) != paho.MQTT_ERR_SUCCESS:
                break
    except (ssl.SSLError, OSError):
        return False
    finally:
        client.disconnect()
    return bool(results) and not results[0].is_failure


def test_broker_refuses_clients_without_a_certificate_of_its_ca(tmp_path, broker):
    assert _connects(tls_client(broker.pki, "st-1"), broker.port)  # the control: a proper certificate
    anonymous = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    anonymous.tls_set(ca_certs=str(broker.pki.ca.cert), cert_reqs=ssl.CERT_REQUIRED)
    assert not _connects(anonymous, broker.port)
    rogue = issue(make_ca(tmp_path / "rogue-ca"), tmp_path / "rogue", "st-1")
    impostor = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    impostor.tls_set(ca_certs=str(broker.pki.ca.cert), certfile=str(rogue.cert), keyfile=str(rogue.key))
    assert not _connects(impostor, broker.port)


def test_a_station_cannot_publish_into_another_stations_topics(tmp_path, broker):
    recorder = Recorder(broker, ["markaz/v1/#"])
    intruder = tls_client(broker.pki, "st-2")
    stolen: list = []
    intruder.on_message = lambda c, u, m: stolen.append(m.topic)
    intruder.connect("127.0.0.1", broker.port)
    intruder.loop_start()
    intruder.subscribe("markaz/v1/st-1/cmd/+", qos=1)
    forged = {
        "schema": "markaz.telemetry.queue/1",
        "station": "st-1",
        "seq": 1,
        "ts": utcnow().isoformat(),
        "data": {"business_day": "2026-01-01", "reason": "change", "services": []},
    }
    for topic in ("markaz/v1/st-1/telemetry/queue", "markaz/v1/st-1/status", "markaz/v1/st-1/cmd/kiosk.disable"):
        intruder.publish(topic, json.dumps(forged), qos=1).wait_for_publish(5)
    central = tls_client(broker.pki, "central.markaz")
    central.connect("127.0.0.1", broker.port)
    central.loop_start()
    central.publish("markaz/v1/st-1/cmd/node.rebirth", b"{}", qos=1).wait_for_publish(5)
    # the st-2 marker is published last on the same connection: once it arrived, the forgeries would have too
    intruder.publish("markaz/v1/st-2/events/device_fault", b"marker", qos=1).wait_for_publish(5)
    assert recorder.wait_for(lambda m: any(t == "markaz/v1/st-2/events/device_fault" for t, _, _ in m))
    got = [t for t, _, _ in recorder.messages]
    assert got == ["markaz/v1/st-1/cmd/node.rebirth", "markaz/v1/st-2/events/device_fault"]
    assert stolen == []  # st-2 may not read st-1's commands either
    for c in (intruder, central):
        c.disconnect()
        c.loop_stop()
    recorder.close()


MOSQUITTO_2_0_SWEEP_S = 7.0


@pytest.mark.slow
def test_last_will_offline_within_one_and_a_half_keepalives(tmp_path, broker):
    keepalive = 2
    recorder = Recorder(broker, ["markaz/v1/st-5/status"])
    node = NodeProcess(tmp_path / "node", "st-5", broker, keepalive=keepalive)
    (tmp_path / "node").mkdir()
    node.start()
    try:
        assert recorder.wait_for(lambda m: any(s["state"] == "online" for s in _status(recorder, "st-5")))
        # A frozen node keeps its TCP connection open: only the keepalive can tell the broker it is gone.
        # Mosquitto 2.0 sweeps keepalives at most every ~6 s in whole seconds (src/keepalive.c), so its bound for a
        # silent peer is 1.5 x keepalive plus that sweep; newer brokers (2.1's ring buffer, EMQX) meet 1.5 x exactly.
        node.signal(signal.SIGSTOP)
        frozen_at = time.monotonic()
        assert recorder.wait_for(lambda m: _status(recorder, "st-5")[-1]["state"] == "offline", timeout=20)
        assert time.monotonic() - frozen_at <= 1.5 * keepalive + MOSQUITTO_2_0_SWEEP_S
        node.signal(signal.SIGCONT)
        assert recorder.wait_for(lambda m: _status(recorder, "st-5")[-1]["state"] == "online", timeout=15)
        # kill -9: the kernel closes the socket; the broker publishes the Will well within 1.5 x keepalive.
        node.kill()
        killed_at = time.monotonic()
        assert recorder.wait_for(lambda m: _status(recorder, "st-5")[-1]["state"] == "offline", timeout=10)
        assert time.monotonic() - killed_at <= 1.5 * keepalive
    finally:
        node.kill()
    late = Recorder(broker, ["markaz/v1/st-5/status"])  # the Will is retained for whoever looks later
    assert late.wait_for(lambda m: len(m) == 1, timeout=5)
    assert late.messages[0][1]["state"] == "offline" and late.messages[0][2] is True
    late.close()
    recorder.close()


def _command(client, station, name, body) -> None:
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    client.publish(f"markaz/v1/{station}/cmd/{name}", payload, qos=1).wait_for_publish(5)


def _acks(recorder):
    return [(t.split("/")[-2], m["data"]) for t, m, _ in recorder.messages if t.endswith("/ack")]


def test_commands_malformed_unknown_duplicate(tmp_path, broker):
    recorder = Recorder(broker, ["markaz/v1/st-1/cmd/+/ack", "markaz/v1/st-1/telemetry/#"])
    node = _node(tmp_path, broker)
    node.auth.add_device("kiosk-1", "kiosk")
    central = tls_client(broker.pki, "central.markaz")
    central.connect("127.0.0.1", broker.port)
    central.loop_start()
    audit_before = node.store.query_one("SELECT count(*) AS n FROM audit_log")["n"]
    ts = utcnow().isoformat()
    try:
        _command(central, "st-1", "kiosk.disable", b"not json")
        _command(central, "st-1", "kiosk.disable", {"ts": ts, "params": {"device": "kiosk-1"}})  # no id
        _command(central, "st-1", "reactor.meltdown", {"id": "u-1", "ts": ts, "params": {}})
        _command(central, "st-1", "kiosk.disable", {"id": "p-1", "ts": ts, "params": {"kiosk": "kiosk-1"}})
        _command(central, "st-1", "kiosk.disable", {"id": "n-1", "ts": ts, "params": {"device": "kiosk-404"}})
        assert recorder.wait_for(lambda m: len(_acks(recorder)) == 5)
        errors = [(name, a["id"], a["ok"], a["error"]["code"]) for name, a in _acks(recorder)]
        assert errors == [
            ("kiosk.disable", None, False, "malformed"),
            ("kiosk.disable", None, False, "malformed"),
            ("reactor.meltdown", "u-1", False, "unknown_command"),
            ("kiosk.disable", "p-1", False, "invalid_params"),
            ("kiosk.disable", "n-1", False, "not_found"),
        ]
        assert node.store.query_one("SELECT enabled FROM devices WHERE id = 'kiosk-1'")["enabled"] == 1
        assert node.store.query_one("SELECT count(*) AS n FROM audit_log")["n"] == audit_before  # nothing changed

        for _ in range(3):  # QoS 1 may deliver twice; central may retry: the effect happens once
            _command(central, "st-1", "kiosk.disable", {"id": "d-1", "ts": ts, "params": {"device": "kiosk-1"}})
        assert recorder.wait_for(lambda m: len(_acks(recorder)) == 8)
        acks = [a for _, a in _acks(recorder)[5:]]
        assert [a["duplicate"] for a in acks] == [False, True, True]
        assert all(a["ok"] and a["result"]["enabled"] is False for a in acks)
        assert node.store.query_one("SELECT enabled FROM devices WHERE id = 'kiosk-1'")["enabled"] == 0
        changes = node.store.query("SELECT * FROM audit_log WHERE action = 'device.update' AND entity_id = 'kiosk-1'")
        assert len(changes) == 1 and (changes[0]["actor_kind"], changes[0]["actor"]) == ("system", "central")

        _command(central, "st-1", "telemetry.snapshot", {"id": "s-1", "ts": ts, "params": {"what": ["queue"]}})
        _command(central, "st-1", "node.rebirth", {"id": "r-1", "ts": ts, "params": {}})
        assert recorder.wait_for(lambda m: len(_acks(recorder)) == 10)
        assert [a["result"]["published"] for _, a in _acks(recorder)[8:]] == [
            ["queue"],
            ["status", "queue", "devices", "verification", "node", "reports"],
        ]
    finally:
        central.disconnect()
        central.loop_stop()
        node.stop()
        recorder.close()


def test_command_sent_while_the_node_is_down_is_executed_when_it_returns(tmp_path, broker):
    recorder = Recorder(broker, ["markaz/v1/st-1/cmd/+/ack"])
    node = _node(tmp_path, broker)
    node.auth.add_device("kiosk-1", "kiosk")
    node.stop()  # the station is down; its broker session (and subscription) stays
    central = tls_client(broker.pki, "central.markaz")
    central.connect("127.0.0.1", broker.port)
    central.loop_start()
    _command(
        central, "st-1", "kiosk.disable", {"id": "late-1", "ts": utcnow().isoformat(), "params": {"device": "kiosk-1"}}
    )
    assert _acks(recorder) == []
    node = _node(tmp_path, broker)
    try:
        assert recorder.wait_for(lambda m: len(_acks(recorder)) == 1, timeout=15)
        name, ack = _acks(recorder)[0]
        assert (name, ack["id"], ack["ok"], ack["duplicate"]) == ("kiosk.disable", "late-1", True, False)
        assert node.store.query_one("SELECT enabled FROM devices WHERE id = 'kiosk-1'")["enabled"] == 0
    finally:
        central.disconnect()
        central.loop_stop()
        node.stop()
        recorder.close()


def test_mqtt_3_1_1_session_delivers_telemetry_and_commands(tmp_path, broker):
    """The fallback protocol works end to end: persistent session, QoS 1, commands and acks."""
    recorder = Recorder(broker, ["markaz/v1/st-3/#"])
    node = _node(tmp_path, broker, station="st-3", protocol="3.1.1")
    assert node.telemetry.link.protocol == 4
    node.auth.add_device("kiosk-9", "kiosk")
    central = tls_client(broker.pki, "central.markaz")
    central.connect("127.0.0.1", broker.port)
    central.loop_start()
    try:
        _command(
            central,
            "st-3",
            "kiosk.disable",
            {"id": "v3-1", "ts": utcnow().isoformat(), "params": {"device": "kiosk-9"}},
        )
        assert recorder.wait_for(lambda m: len(_acks(recorder)) == 1)
        assert _acks(recorder)[0][1]["ok"] is True
        assert recorder.wait_for(lambda m: any(t.endswith("/telemetry/node") for t, _, _ in m))
    finally:
        central.disconnect()
        central.loop_stop()
        node.stop()
        recorder.close()
