"""Central's ingest against a real broker: validation with the shared contract, dedupe and gap detection by seq."""

from __future__ import annotations

import json

import pytest

from central.ingest import Ingest
from central.web import create_app
from edge.node import EdgeNode
from edge.settings import EdgeSettings
from markaz.clock import utcnow
from markaz.config import load_settings
from tests.central.staff import signed_in_client
from tests.conftest import wait_until
from tests.telemetry.broker import tls_client


def _ingest(store, broker, protocol: int = 4) -> Ingest:
    cert = broker.pki.client("central.markaz")
    ingest = Ingest(store, broker.url, broker.pki.ca.cert, cert.cert, cert.key, protocol=protocol)
    ingest.start()
    assert ingest.ready.wait(10)
    return ingest


def _envelope(station, seq, fault="printer_error"):
    return json.dumps(
        {
            "schema": "markaz.events.device_fault/1",
            "station": station,
            "seq": seq,
            "ts": utcnow().isoformat(),
            "data": {"device": "k1", "fault": fault, "state": "raised"},
        }
    )


def test_ingest_dedupes_and_tracks_gaps(open_store, broker):
    ingest = _ingest(open_store(), broker)
    store = ingest.store
    station = tls_client(broker.pki, "st-7")
    station.connect("127.0.0.1", broker.port)
    station.loop_start()
    try:
        for seq in (1, 2, 2, 5, 6):  # a QoS 1 duplicate of 2, then 3 and 4 missing
            station.publish("markaz/v1/st-7/events/device_fault", _envelope("st-7", seq), qos=1).wait_for_publish(5)
        station.publish("markaz/v1/st-7/events/device_fault", b'{"schema": "nope"}', qos=1).wait_for_publish(5)
        assert wait_until(lambda: len(store.dead_letters()) == 1)
        (dead,) = store.dead_letters()
        assert dead["topic"] == "markaz/v1/st-7/events/device_fault" and dead["payload"] == '{"schema": "nope"}'
        assert "validation error" in dead["reason"]
        row = store.stations()[0]
        assert (row["station"], row["max_seq"], row["received"], row["duplicates"]) == ("st-7", 6, 4, 1)
        assert store.gaps("st-7") == [(3, 4)]

        station.publish("markaz/v1/st-7/events/device_fault", _envelope("st-7", 3), qos=1).wait_for_publish(5)
        assert wait_until(lambda: store.gaps("st-7") == [(4, 4)])
        station.publish("markaz/v1/st-7/events/device_fault", _envelope("st-7", 4), qos=1).wait_for_publish(5)
        assert wait_until(lambda: store.gaps("st-7") == [])

        # a gap the station announced as dropped snapshots is marked as explained, not lost
        station.publish("markaz/v1/st-7/events/device_fault", _envelope("st-7", 10), qos=1).wait_for_publish(5)
        notice = json.dumps(
            {
                "schema": "markaz.events.outbox_dropped/1",
                "station": "st-7",
                "seq": 11,
                "ts": utcnow().isoformat(),
                "data": {"count": 3, "first_seq": 7, "last_seq": 9, "dropped_total": 3},
            }
        )
        station.publish("markaz/v1/st-7/events/outbox_dropped", notice, qos=1).wait_for_publish(5)
        assert wait_until(
            lambda: (
                [(g["first_seq"], g["last_seq"], g["dropped"]) for g in store.station("st-7")["gaps"]] == [(7, 9, 3)]
            )
        )
    finally:
        station.disconnect()
        station.loop_stop()
        ingest.stop()


@pytest.mark.parametrize("protocol", [4, 5], ids=["mqtt-3.1.1", "mqtt-5"])
def test_a_worker_back_from_a_stop_gets_all_the_broker_held_for_its_session(open_store, broker, protocol):
    """A worker speaks 3.1.1 (`markaz central ingest`) or 5 (`central serve`); either way its session outlives it."""
    ingest = _ingest(open_store(), broker, protocol)
    ingest.stop()  # a clean stop: the session stays with the broker
    station = tls_client(broker.pki, "st-9")
    station.connect("127.0.0.1", broker.port)
    station.loop_start()
    try:
        for seq in range(1, 31):
            station.publish("markaz/v1/st-9/events/device_fault", _envelope("st-9", seq), qos=1).wait_for_publish(5)
    finally:
        station.disconnect()
        station.loop_stop()
    back = _ingest(open_store(), broker, protocol)
    try:
        store = back.store
        assert wait_until(
            lambda: store.query("SELECT count(*) AS n FROM messages WHERE station = 'st-9'")[0]["n"] == 30
        )
        assert store.gaps("st-9") == [] and store.stations()[0]["max_seq"] == 30
    finally:
        back.stop()


def test_only_an_mqtt_5_ingest_sends_commands_since_a_command_carries_an_expiry(open_store, broker):
    from markaz.contracts import mqtt as contract

    receiving = _ingest(open_store(), broker)
    try:
        with pytest.raises(RuntimeError, match="MQTT 5"):
            receiving.publish_command("st-1", "kiosk.disable", contract.Command(id="c-1", ts=utcnow()))
    finally:
        receiving.stop()


def test_central_sees_a_real_station_and_serves_its_view(tmp_path, open_store, broker):
    ingest = _ingest(open_store(), broker)
    cert = broker.pki.client("st-1")
    node = EdgeNode(
        load_settings(
            EdgeSettings,
            data_dir=tmp_path / "node",
            sample_data=True,
            station_id="st-1",
            mqtt={"url": broker.url, "ca": broker.pki.ca.cert, "cert": cert.cert, "key": cert.key},
        )
    )
    node.start()
    codes = {s.code for s in node.queue.services()}
    try:
        assert wait_until(
            lambda: (ingest.store.station("st-1") or {}).get("latest", {}).get("telemetry.node") is not None
        )
        assert ingest.store.stations()[0]["state"] == "online"
    finally:
        node.stop()
    assert wait_until(lambda: ingest.store.stations()[0]["state"] == "offline")
    ingest.stop()

    client = signed_in_client(create_app(ingest.store), ingest.store)
    stations = client.get("/api/stations").json()
    assert [s["station"] for s in stations] == ["st-1"] and stations[0]["missing"] == 0
    detail = client.get("/api/stations/st-1").json()
    queue = detail["latest"]["telemetry.queue"]["data"]
    assert {s["service"] for s in queue["services"]} == codes
    assert client.get("/api/stations/st-404").status_code == 404
    page = client.get("/")
    assert page.status_code == 200 and 'data-station="st-1" data-state="offline"' in page.text


def test_workers_share_the_subscription_and_commands_round_trip(tmp_path, open_store, broker):
    from typer.testing import CliRunner

    from markaz.cli import app

    cert = broker.pki.client("central.markaz")
    workers = []
    for i in (1, 2):  # client ids are tied to certificates: each worker has its own
        own = broker.pki.client(f"central-{i}.markaz")
        w = Ingest(
            open_store(),  # both workers write to the one store
            broker.url,
            broker.pki.ca.cert,
            own.cert,
            own.key,
            client_id=f"central-ingest-{i}",
        )
        w.start()
        assert w.ready.wait(10)
        workers.append(w)
    station = tls_client(broker.pki, "st-8")
    station.connect("127.0.0.1", broker.port)
    station.loop_start()
    try:
        for seq in range(1, 41):
            station.publish("markaz/v1/st-8/events/device_fault", _envelope("st-8", seq), qos=1).wait_for_publish(5)
        store = workers[0].store
        assert wait_until(lambda: store.query("SELECT count(*) AS n FROM messages")[0]["n"] == 40)
        assert all(w.received > 0 for w in workers), f"one worker got everything: {[w.received for w in workers]}"
        assert store.gaps("st-8") == [] and store.stations()[0]["max_seq"] == 40
    finally:
        station.disconnect()
        station.loop_stop()
        for w in workers:
            w.stop()

    node_cert = broker.pki.client("st-1")
    node = EdgeNode(
        load_settings(
            EdgeSettings,
            data_dir=tmp_path / "node",
            sample_data=True,
            station_id="st-1",
            mqtt={"url": broker.url, "ca": broker.pki.ca.cert, "cert": node_cert.cert, "key": node_cert.key},
        )
    )
    node.start()
    assert node.telemetry.link.commands_ready.wait(30)  # the link process has to start first
    node.auth.add_device("kiosk-1", "kiosk")
    common = [
        "--mqtt",
        broker.url,
        "--mqtt-ca",
        str(broker.pki.ca.cert),
        "--mqtt-cert",
        str(cert.cert),
        "--mqtt-key",
        str(cert.key),
        "--station",
        "st-1",
        "--timeout",
        "15",
    ]
    try:
        run = CliRunner().invoke
        ok = run(app, ["central", "command", "--name", "kiosk.disable", "--params", '{"device": "kiosk-1"}', *common])
        assert ok.exit_code == 0, ok.output
        assert json.loads(ok.output)["result"] == {"device": "kiosk-1", "enabled": False, "changed": True}
        missing = run(app, ["central", "command", "--name", "kiosk.enable", "--params", '{"device": "nope"}', *common])
        assert missing.exit_code == 1 and '"not_found"' in missing.output
        assert run(app, ["central", "command", "--name", "kiosk.enable", "--params", "[1]", *common]).exit_code == 2
    finally:
        node.stop()
