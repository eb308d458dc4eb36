"""Commands from central are fresh or refused, an id means one command, and remembered ids do not pile up."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from central.commands import publish_command
from edge.node import EdgeNode
from edge.settings import EdgeSettings
from markaz.clock import utcnow
from markaz.config import load_settings
from markaz.contracts import mqtt as contract
from tests.telemetry.broker import tls_client


class Clock:
    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self):
        return utcnow() + self.offset


@pytest.fixture
def station(tmp_path):
    clock = Clock()
    node = EdgeNode(load_settings(EdgeSettings, data_dir=tmp_path, sample_data=True, station_id="st-1"), clock=clock)
    node.start()
    node.auth.add_device("kiosk-1", "kiosk")
    yield node, clock
    node.stop()


def _send(node, name: str, command_id: str, ts: datetime, **params) -> contract.CommandAck:
    body = json.dumps({"id": command_id, "ts": ts.isoformat(), "params": params}).encode()
    return node.telemetry.commands.handle(f"markaz/v1/st-1/cmd/{name}", body)


def _enabled(node) -> bool:
    return bool(node.store.query_one("SELECT enabled FROM devices WHERE id = 'kiosk-1'")["enabled"])


@pytest.mark.parametrize("stamp", [datetime(2001, 1, 1, tzinfo=UTC), datetime(2999, 1, 1, tzinfo=UTC)])
def test_stale_and_future_commands_are_refused(station, stamp):
    node, _ = station
    ack = _send(node, "kiosk.disable", "old-1", stamp, device="kiosk-1")
    assert (ack.ok, ack.error.code) == (False, "stale")
    assert _enabled(node)
    # refused before execution, so nothing is remembered: a fresh command under the same id runs
    assert _send(node, "kiosk.disable", "old-1", node.clock(), device="kiosk-1").ok
    assert not _enabled(node)


def test_window_edges_follow_the_settings(station):
    node, clock = station
    s = node.settings.mqtt
    assert _send(node, "telemetry.snapshot", "w-1", clock() - timedelta(seconds=s.command_max_age_s - 5)).ok
    assert _send(node, "telemetry.snapshot", "w-2", clock() + timedelta(seconds=s.command_max_ahead_s - 5)).ok
    late = _send(node, "telemetry.snapshot", "w-3", clock() - timedelta(seconds=s.command_max_age_s + 5))
    ahead = _send(node, "telemetry.snapshot", "w-4", clock() + timedelta(seconds=s.command_max_ahead_s + 5))
    assert [a.error.code for a in (late, ahead)] == ["stale", "stale"]


def test_a_reused_id_with_another_body_gets_an_error_not_the_old_ack(station):
    node, clock = station
    first = _send(node, "kiosk.disable", "c-1", clock(), device="kiosk-1")
    assert first.ok and not first.duplicate
    retry = _send(node, "kiosk.disable", "c-1", clock() + timedelta(seconds=1), device="kiosk-1")  # same order, resent
    assert retry.ok and retry.duplicate
    other = _send(node, "kiosk.enable", "c-1", clock(), device="kiosk-1")
    assert (other.ok, other.error.code, other.duplicate) == (False, "id_reused", False)
    assert not _enabled(node)  # the enable was not executed
    other_params = _send(node, "kiosk.disable", "c-1", clock(), device="kiosk-2")
    assert other_params.error.code == "id_reused"
    acks = [
        json.loads(r.payload)["data"] for r in node.telemetry.outbox.pending(limit=10_000) if r.topic.endswith("/ack")
    ]
    assert [(a["ok"], a["duplicate"], (a["error"] or {}).get("code")) for a in acks[-4:]] == [
        (True, False, None),
        (True, True, None),
        (False, False, "id_reused"),
        (False, False, "id_reused"),
    ]


def test_remembered_ids_are_pruned_past_the_window(station):
    node, clock = station
    s = node.settings.mqtt
    for i in range(5):
        assert _send(node, "telemetry.snapshot", f"p-{i}", clock()).ok
    assert node.store.query_one("SELECT count(*) AS n FROM telemetry_commands")["n"] == 5
    clock.offset = timedelta(seconds=s.command_max_age_s + s.command_max_ahead_s + 1)
    assert _send(node, "telemetry.snapshot", "p-new", clock()).ok
    ids = [r["id"] for r in node.store.query("SELECT id FROM telemetry_commands")]
    assert ids == ["p-new"]
    # a forgotten id can never run again: a command that old is outside the window
    assert _send(node, "telemetry.snapshot", "p-0", clock() - clock.offset).error.code == "stale"


def test_central_sends_commands_with_a_message_expiry(broker):
    """The broker itself drops a command the station was away for longer than its expiry."""
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    got: list = []
    arrived = threading.Event()
    station = tls_client(broker.pki, "st-1")
    station.on_message = lambda c, u, m: (got.append((json.loads(m.payload)["id"], m.properties)), arrived.set())
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    station.connect("127.0.0.1", broker.port, clean_start=False, properties=props)
    station.loop_start()
    subscribed = threading.Event()
    station.on_subscribe = lambda *a: subscribed.set()
    station.subscribe("markaz/v1/st-1/cmd/+", qos=1)
    assert subscribed.wait(10)
    station.disconnect()
    station.loop_stop()

    central = tls_client(broker.pki, "central.markaz")
    central.connect("127.0.0.1", broker.port)
    central.loop_start()
    publish_command(central, "st-1", "kiosk.disable", contract.Command(id="short", ts=utcnow()), expiry_s=1)
    publish_command(central, "st-1", "kiosk.enable", contract.Command(id="long", ts=utcnow()))
    time.sleep(2.1)  # the station stays away longer than the first command's expiry
    station.reconnect()
    station.loop_start()
    try:
        assert arrived.wait(10)
        assert got[0][0] == "long"  # both were queued in order: had "short" survived it would have come first
        assert 0 < got[0][1].MessageExpiryInterval <= contract.COMMAND_EXPIRY_S
    finally:
        for c in (central, station):
            c.disconnect()
            c.loop_stop()
