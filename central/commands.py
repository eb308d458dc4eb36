"""Send one command to a station and wait for its ack (central's side of `cmd/{name}` and `cmd/{name}/ack`)."""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path

from markaz.clock import utcnow
from markaz.contracts import mqtt as contract
from markaz.mqtt import TlsFiles, expiry_properties, make_client, parse_url


class CommandTimeout(Exception):
    """No ack arrived in time (the station may be down: the broker keeps the command for its session)."""


def send_command(
    url: str,
    ca: Path | None,
    cert: Path | None,
    key: Path | None,
    station: str,
    name: str,
    params: dict,
    command_id: str | None = None,
    timeout: float = 30.0,
    expiry_s: int = contract.COMMAND_EXPIRY_S,
) -> contract.CommandAck:
    address = parse_url(url)
    # a known command is checked against its own params model here, so a wrong --params is told at once
    model = contract.COMMANDS.get(name, contract.Command)
    command = model.model_validate({"id": command_id or uuid.uuid4().hex, "ts": utcnow(), "params": params})
    client = make_client(f"central-cmd-{uuid.uuid4().hex[:8]}", address, TlsFiles(ca, cert, key))
    ack_topic = contract.BY_KEY["cmd.ack"].topic(station, name=name)
    answer: list[contract.CommandAck] = []
    got = threading.Event()
    subscribed = threading.Event()

    def on_message(c, u, message):
        try:
            _, msg = contract.validate(message.topic, message.payload)
        except contract.ContractError:
            return
        if msg.data.id == command.id:
            answer.append(msg.data)
            got.set()

    client.on_message = on_message
    client.on_subscribe = lambda *a: subscribed.set()
    client.connect(address.host, address.port, 30)
    client.loop_start()
    try:
        client.subscribe(ack_topic, qos=1)
        if not subscribed.wait(10):
            raise CommandTimeout("the broker did not confirm the ack subscription")
        publish_command(client, station, name, command, expiry_s)
        if not got.wait(timeout):
            raise CommandTimeout(f"no ack for command {command.id} within {timeout:.0f} s")
        return answer[0]
    finally:
        client.disconnect()
        client.loop_stop()


def publish_command(
    client, station: str, name: str, command: contract.Command, expiry_s: int = contract.COMMAND_EXPIRY_S
) -> None:
    """Publish one command (QoS 1) with an MQTT 5 message expiry: the broker drops it if the station stays away."""
    topic = contract.BY_KEY["cmd"].topic(station, name=name)
    client.publish(topic, contract.dump(command), qos=1, properties=expiry_properties(expiry_s)).wait_for_publish(10)


def parse_params(text: str) -> dict:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"--params must be a JSON object: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError("--params must be a JSON object")
    return value


class CommandLink:
    """A lasting broker connection for a dashboard that runs without an ingest: publishes commands only (the acks
    reach the store through the ingest workers)."""

    def __init__(self, url: str, ca: Path | None, cert: Path | None, key: Path | None) -> None:
        self.address = parse_url(url)
        self.client = make_client(f"central-dashboard-{uuid.uuid4().hex[:8]}", self.address, TlsFiles(ca, cert, key))
        self.client.reconnect_delay_set(0.5, 30)
        self.connected = threading.Event()
        self.client.on_connect = lambda c, u, f, rc, p: self.connected.set() if not rc.is_failure else None
        self.client.on_disconnect = lambda *a: self.connected.clear()

    def start(self) -> None:
        self.client.connect_async(self.address.host, self.address.port, 30)
        self.client.loop_start()

    def publish(self, station: str, name: str, command: contract.Command) -> None:
        """Raises when the broker is not connected or does not take it: the dashboard then says nothing was sent."""
        publish_now(self.client, station, name, command)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def publish_now(client, station: str, name: str, command: contract.Command) -> None:
    """Publish only on a live connection: paho would queue a command while disconnected and send it later, after
    the dashboard told the operator that nothing was sent."""
    if not client.is_connected():
        raise RuntimeError("not connected to the broker")
    publish_command(client, station, name, command)
