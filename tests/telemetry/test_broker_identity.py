"""The broker ties a client id to its certificate: one station cannot take over another's MQTT session."""

from __future__ import annotations

import json
import threading

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from markaz.clock import utcnow
from tests.telemetry.broker import tls_client


def _persistent(client, port: int, clean_start: bool = False) -> None:
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    connected = threading.Event()
    client.on_connect = lambda c, u, f, rc, p: connected.set() if not rc.is_failure else None
    client.connect("127.0.0.1", port, 30, clean_start=clean_start, properties=props)
    client.loop_start()
    assert connected.wait(10), "no CONNACK"


def test_a_station_certificate_cannot_take_over_another_stations_session(broker):
    got: list[tuple[str, dict]] = []
    arrived = threading.Condition()
    kicked: list = []

    def on_message(c, u, msg):
        with arrived:
            got.append((msg.topic, json.loads(msg.payload)))
            arrived.notify_all()

    # sb holds a persistent session subscribed to its commands, and stays connected
    sb = tls_client(broker.pki, "sb", client_id="station-sb")
    sb.on_message = on_message
    sb.on_disconnect = lambda c, u, f, rc, p: kicked.append(rc)
    _persistent(sb, broker.port)
    subscribed = threading.Event()
    sb.on_subscribe = lambda *a: subscribed.set()
    sb.subscribe("markaz/v1/sb/cmd/+", qos=1)
    assert subscribed.wait(10)

    # sa's certificate asks for sb's client id, with a clean start that would wipe sb's session
    sa = tls_client(broker.pki, "sa", client_id="station-sb")
    _persistent(sa, broker.port, clean_start=True)
    # a PUBACK on sb's connection after sa's CONNACK: had the broker handed sb's id to sa, sb's DISCONNECT came first
    sb.publish("markaz/v1/sb/events/device_fault", b"{}", qos=1).wait_for_publish(10)
    assert kicked == [], f"sb was kicked off: {kicked}"

    # sb goes down; a command is queued in its session; sa tries again, then sb comes back and gets the command
    sb.disconnect()
    sb.loop_stop()
    central = tls_client(broker.pki, "central.markaz")
    central.connect("127.0.0.1", broker.port)
    central.loop_start()
    command = {"id": "c-1", "ts": utcnow().isoformat(), "params": {"device": "kiosk-1"}}
    central.publish("markaz/v1/sb/cmd/kiosk.disable", json.dumps(command), qos=1).wait_for_publish(10)
    sa.disconnect()
    sa.loop_stop()
    sa = tls_client(broker.pki, "sa", client_id="station-sb")
    sa.on_message = on_message
    _persistent(sa, broker.port, clean_start=True)
    sb = tls_client(broker.pki, "sb", client_id="station-sb")
    sb.on_message = on_message
    _persistent(sb, broker.port, clean_start=False)
    try:
        with arrived:
            assert arrived.wait_for(lambda: got, timeout=15), "sb's queued command was lost"
        assert got == [("markaz/v1/sb/cmd/kiosk.disable", command)]
    finally:
        for c in (sa, sb, central):
            c.disconnect()
            c.loop_stop()
