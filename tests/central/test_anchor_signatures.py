"""Central checks each audit anchor's signature on receipt, with the key registered for the station: real Mosquitto,
central's ingest, stations publishing with their own certificates, on both store backends. A forged anchor (signed
by another key under the station's key id), one signed by an unknown key, and one from a station with no key
registered are refused into the dead letters with the reason and raise the audit_anchor_refused alarm; the
station's next good anchor is kept and clears it. The refused messages' seqs are still counted (no false gap)."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from central.alarms import AlarmEvaluator, AlarmSettings, Rule, list_alarms
from central.cli import app
from central.ingest import Ingest
from markaz.clock import iso, utcnow
from markaz.contracts import mqtt as contract
from markaz.contracts.audit import anchor_key_id, anchor_message
from tests.conftest import wait_until
from tests.telemetry.broker import tls_client


def _kid(key: Ed25519PrivateKey) -> str:
    return anchor_key_id(key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


def _pem(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _anchor(station: str, seq: int, head_seq: int, signer: Ed25519PrivateKey, key_id: str) -> contract.Envelope:
    ts = utcnow()
    head = hashlib.sha256(f"{station}-{head_seq}".encode()).hexdigest()
    signature = base64.b64encode(signer.sign(anchor_message(head_seq, head, iso(ts), station))).decode()
    data = contract.AuditAnchor(anchor_ts=ts, head_seq=head_seq, head_hash=head, key_id=key_id, signature=signature)
    return contract.AuditAnchorMessage(
        schema="markaz.events.audit_anchor/1", station=station, seq=seq, ts=ts, data=data
    )


def test_forged_unknown_and_unregistered_anchors_are_refused_raise_an_alarm_and_a_good_one_clears_it(
    tmp_path, broker, open_store, central_db
):
    store = open_store()
    station_key, attacker = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    key_file = tmp_path / "st-1-anchor.pub.pem"
    key_file.write_bytes(_pem(station_key))
    runner = CliRunner()
    added = runner.invoke(app, ["audit", "key", "add", "--station", "st-1", "--public-key", str(key_file),
                                "--by", "ada", "--db", central_db])  # fmt: skip
    assert added.exit_code == 0 and _kid(station_key) in added.output, added.output
    not_a_key = tmp_path / "junk.pem"
    not_a_key.write_text("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
    refused = runner.invoke(app, ["audit", "key", "add", "--station", "st-1", "--public-key", str(not_a_key),
                                  "--db", central_db])  # fmt: skip
    assert refused.exit_code == 2 and "not a PEM public key" in refused.output
    listed = runner.invoke(app, ["audit", "key", "list", "--db", central_db])
    assert listed.output.count("st-1") == 1 and _kid(station_key) in listed.output
    assert store.query("SELECT actor, action, entity_id FROM central_audit WHERE action = 'station_key.add'") == [
        {"actor": "ada", "action": "station_key.add", "entity_id": "st-1"}
    ]

    cert = broker.pki.client("central.markaz")
    ingest = Ingest(store, broker.url, broker.pki.ca.cert, cert.cert, cert.key)
    ingest.start()
    assert ingest.ready.wait(10)
    clients = {}
    clock_offset = timedelta()
    evaluator = AlarmEvaluator(store, AlarmSettings(), lambda: utcnow() + clock_offset)
    try:
        for station in ("st-1", "st-2"):
            clients[station] = tls_client(broker.pki, station)
            clients[station].connect("127.0.0.1", broker.port)
            clients[station].loop_start()

        def send(station: str, message: contract.Envelope) -> None:
            topic = contract.BY_KEY["events.audit_anchor"].topic(station)
            clients[station].publish(topic, contract.dump(message), qos=1).wait_for_publish(10)

        def refused_alarms() -> dict[str, str]:
            return {a.station: a.state.value for a in list_alarms(store, include_cleared=True)
                    if a.rule is Rule.AUDIT_ANCHOR_REFUSED}  # fmt: skip

        kid = _kid(station_key)
        send("st-1", _anchor("st-1", 1, 5, station_key, kid))  # the station's own: kept
        assert wait_until(lambda: len(store.audit_anchors("st-1")) == 1)
        evaluator.run()
        assert refused_alarms() == {}

        send("st-1", _anchor("st-1", 2, 9, attacker, kid))  # forged: another key under the station's key id
        send("st-1", _anchor("st-1", 3, 9, attacker, _kid(attacker)))  # a key central does not know for st-1
        send("st-2", _anchor("st-2", 1, 1, attacker, _kid(attacker)))  # no key registered for st-2 at all
        assert wait_until(lambda: len(store.dead_letters()) == 3)
        reasons = sorted(d["reason"] for d in store.dead_letters())
        assert reasons == sorted([
            f"audit anchor refused: bad signature for key {kid!r}",
            f"audit anchor refused: signed with key {_kid(attacker)!r}, not a key registered for st-1",
            "audit anchor refused: no anchor key is registered for st-2",
        ])  # fmt: skip
        assert [a["head_seq"] for a in store.audit_anchors("st-1")] == [5] and store.audit_anchors("st-2") == []
        letter = next(d for d in store.dead_letters() if "bad signature" in d["reason"])
        assert letter["topic"] == "markaz/v1/st-1/events/audit_anchor" and '"head_seq":9' in letter["payload"]
        stations = {s["station"]: s for s in store.query("SELECT station, max_seq, received FROM stations")}
        assert stations["st-1"]["max_seq"] == 3 and store.query("SELECT * FROM gaps") == []  # no false gap

        evaluator.run()
        assert refused_alarms() == {"st-1": "active", "st-2": "active"}
        (alarm,) = [a for a in list_alarms(store) if a.station == "st-1" and a.rule is Rule.AUDIT_ANCHOR_REFUSED]
        assert alarm.severity.value == "critical" and "not a key registered" in alarm.detail["reason"]
        evaluator.run()
        assert len([a for a in list_alarms(store, include_cleared=True) if a.station == "st-1"]) == 1  # once

        send("st-1", _anchor("st-1", 4, 12, station_key, kid))  # the station's next good anchor
        assert wait_until(lambda: len(store.audit_anchors("st-1")) == 2)
        clock_offset = timedelta(seconds=1)
        evaluator.run()
        assert refused_alarms() == {"st-1": "cleared", "st-2": "active"}
    finally:
        for c in clients.values():
            c.disconnect()
            c.loop_stop()
        ingest.stop()
