"""`config.apply` from central through the station's command registry (a real edge node on a SQLite file): the
desired version is stored and acked `pending`, a bad hash or schema is refused before anything changes, and the
device's report reaches the outbox as `events/config_outcome` (check names only, no free text)."""

from __future__ import annotations

import json

import pytest

from edge.auth.principal import Principal
from edge.node import EdgeNode
from edge.settings import EdgeSettings
from firmware_config.apply import ApplyOutcome
from firmware_config.layers import default_layer, profile_hash
from markaz.config import load_settings
from markaz.contracts import mqtt as contract


@pytest.fixture
def node(tmp_path):
    node = EdgeNode(load_settings(EdgeSettings, data_dir=tmp_path, station_id="st-1"))
    node.start()
    node.auth.add_device("kiosk-1", "kiosk")
    yield node
    node.stop()


def _apply(node: EdgeNode, command_id: str, **params) -> contract.CommandAck:
    body = json.dumps({"id": command_id, "ts": node.clock().isoformat(), "params": params}).encode()
    return node.telemetry.commands.handle("markaz/v1/st-1/cmd/config.apply", body)


def _outbox(node: EdgeNode, topic_end: str) -> list[dict]:
    rows = node.telemetry.outbox.pending()
    return [json.loads(r.payload) for r in rows if r.topic.endswith(topic_end)]


def test_config_apply_stores_the_desired_version_and_the_outcome_goes_back_to_central(node):
    profile = default_layer("kiosk")
    sha = profile_hash(profile)
    ack = _apply(node, "cfg-1", device="kiosk-1", version="v-2026-12", sha256=sha, profile=profile)
    assert ack.ok and ack.result.outcome == "pending" and ack.result.version == "v-2026-12", ack
    desired = node.profiles.desired("kiosk-1")
    assert desired is not None and (desired.version, desired.sha256, desired.set_by) == (
        "v-2026-12",
        sha,
        "system:central",
    )
    acks = _outbox(node, "cmd/config.apply/ack")
    assert acks[-1]["data"]["result"]["outcome"] == "pending"

    device = Principal("device", "kiosk-1", "kiosk")
    node.profiles.report(device, None, ApplyOutcome.rolled_back, "v-2026-12", ["health check failed: camera"])
    events = _outbox(node, "events/config_outcome")
    assert [e["data"] for e in events] == [
        {"device": "kiosk-1", "answers": "v-2026-12", "version": None, "outcome": "rolled_back",
         "failed_checks": ["camera"]}
    ]  # fmt: skip
    contract.ConfigOutcomeMessage.model_validate(events[0])
    audit = node.store.query("SELECT action, actor FROM audit_log WHERE action LIKE 'profile.%' ORDER BY seq")
    assert [r["action"] for r in audit] == ["profile.desire", "profile.report"]


def test_config_apply_with_a_wrong_hash_or_schema_is_refused_before_anything_changes(node):
    profile = default_layer("kiosk")
    ack = _apply(node, "cfg-2", device="kiosk-1", version="v1", sha256="0" * 64, profile=profile)
    assert (ack.ok, ack.error.code) == (False, "invalid_params") and "SHA-256" in ack.error.message
    bad = {**profile, "idle_timeout_s": 1}
    ack = _apply(node, "cfg-3", device="kiosk-1", version="v1", sha256=profile_hash(bad), profile=bad)
    assert (ack.ok, ack.error.code) == (False, "invalid_params")
    assert "idle_timeout_s = 1" in ack.error.message and "greater than or equal to 10" in ack.error.message
    ack = _apply(node, "cfg-4", device="kiosk-9", version="v1", sha256=profile_hash(profile), profile=profile)
    assert (ack.ok, ack.error.code) == (False, "not_found")
    assert node.profiles.desired("kiosk-1") is None
    assert node.store.query("SELECT * FROM device_profiles") == []


def test_config_apply_over_a_real_broker_is_acked_and_the_outcome_published(tmp_path):
    """Central publishes `cmd/config.apply` on a real Mosquitto; the station's link delivers it, the ack says
    `pending`, and the device's answer arrives at central as `events/config_outcome`."""
    from central.commands import publish_command
    from tests.telemetry.broker import Broker, Pki, Recorder, tls_client

    pki = Pki.create(tmp_path / "pki")
    broker = Broker(tmp_path / "broker", pki).start()
    recorder = Recorder(broker, ["markaz/v1/st-1/#"])
    cert = pki.client("st-1")
    mqtt = {"url": broker.url, "ca": pki.ca.cert, "cert": cert.cert, "key": cert.key, "backoff_base_s": 0.1}
    node = EdgeNode(load_settings(EdgeSettings, data_dir=tmp_path / "node", station_id="st-1", mqtt=mqtt))
    node.start()
    central = tls_client(pki, "central.markaz")
    try:
        node.auth.add_device("kiosk-1", "kiosk")
        assert recorder.wait_for(lambda m: any(t.endswith("/status") and b["state"] == "online" for t, b, _ in m))
        central.connect("127.0.0.1", broker.port)
        central.loop_start()
        profile = {**default_layer("kiosk"), "idle_timeout_s": 90}
        params = {"device": "kiosk-1", "version": "2026-12-a", "sha256": profile_hash(profile), "profile": profile}
        command = contract.COMMANDS["config.apply"](id="cfg-mqtt-1", ts=node.clock(), params=params)
        publish_command(central, "st-1", "config.apply", command)

        def ack(messages):
            return [b for t, b, _ in messages if t == "markaz/v1/st-1/cmd/config.apply/ack"]

        assert recorder.wait_for(lambda m: ack(m)), "no ack"
        result = {k: v for k, v in ack(recorder.messages)[0]["data"]["result"].items() if v is not None}
        assert result == {"device": "kiosk-1", "version": "2026-12-a", "outcome": "pending"}
        assert node.profiles.desired("kiosk-1").sha256 == profile_hash(profile)

        kiosk = Principal("device", "kiosk-1", "kiosk")
        node.profiles.report(kiosk, "2026-12-a", ApplyOutcome.applied, "2026-12-a", [])

        def outcome(messages):
            return [b for t, b, _ in messages if t == "markaz/v1/st-1/events/config_outcome"]

        assert recorder.wait_for(lambda m: outcome(m)), "no outcome event"
        assert outcome(recorder.messages)[0]["data"] == {
            "device": "kiosk-1", "answers": "2026-12-a", "version": "2026-12-a", "outcome": "applied",
            "failed_checks": [],
        }  # fmt: skip
    finally:
        central.disconnect()
        central.loop_stop()
        node.stop()
        recorder.close()
        broker.kill()
