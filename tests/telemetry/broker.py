"""Test support: a real Mosquitto on a free port with the shipped config templates and a throw-away CA."""

from __future__ import annotations

import json
import signal
import socket
import ssl
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as paho

from provisioning import broker as broker_config
from provisioning.pki import CENTRAL_IDENTITY, Issued, issue, make_ca

# Client ids are tied to certificates, so every concurrent central-side connection of a test has its own identity:
# `central.markaz` and `central-N.markaz` for central's processes, `recorder-N.markaz` for the tests' subscribers.
CENTRAL_IDENTITIES = (
    CENTRAL_IDENTITY,
    *(f"central-{i}.markaz" for i in range(1, 5)),
    *(f"recorder-{i}.markaz" for i in range(1, 9)),
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Pki:
    dir: Path
    ca: Issued
    server: Issued
    _clients: dict[str, Issued] = field(default_factory=dict)

    @classmethod
    def create(cls, dir: Path) -> Pki:
        ca = make_ca(dir / "ca")
        server = issue(ca, dir / "broker", "broker", server=True, hosts=("localhost", "127.0.0.1"))
        return cls(dir, ca, server)

    def client(self, identity: str) -> Issued:
        if identity not in self._clients:
            self._clients[identity] = issue(self.ca, self.dir / f"client-{identity}", identity)
        return self._clients[identity]


class Broker:
    """One Mosquitto process; `stop()` / `kill()` / `start()` again on the same port and persistence directory."""

    def __init__(self, dir: Path, pki: Pki, port: int | None = None) -> None:
        self.dir = Path(dir)
        self.pki = pki
        self.port = port or free_port()
        self.conf = broker_config.render(
            self.dir,
            self.port,
            pki.ca.cert,
            pki.server.cert,
            pki.server.key,
            bind="127.0.0.1",
            log_dest=f"file {self.dir / 'mosquitto.log'}",
            max_queued_messages=1_000_000,
            central=CENTRAL_IDENTITIES,
            user="root",  # pytest's folders are private to root (test_provision starts it as `mosquitto`)
        )
        self.proc: subprocess.Popen | None = None
        self._recorders = 0

    def recorder_identity(self) -> str:
        """A central identity of its own for the next recorder (a shared one would kick the other off)."""
        self._recorders += 1
        return f"recorder-{self._recorders}.markaz"

    @property
    def url(self) -> str:
        return f"mqtts://127.0.0.1:{self.port}"

    def start(self) -> Broker:
        self.proc = subprocess.Popen(
            ["mosquitto", "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.proc.stderr.read().decode()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start listening")

    def stop(self) -> None:
        """SIGTERM: Mosquitto saves its persistent sessions and exits."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        self._end(signal.SIGKILL)

    def _end(self, sig) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(10)
        self.proc = None


def tls_client(pki: Pki, identity: str, client_id: str | None = None, protocol=paho.MQTTv5, **kwargs) -> paho.Client:
    kw = {} if protocol == paho.MQTTv5 else {"clean_session": kwargs.pop("clean_session", True)}
    client = paho.Client(
        paho.CallbackAPIVersion.VERSION2,
        client_id=client_id or f"{identity}-{uuid.uuid4().hex[:8]}",
        protocol=protocol,
        **kw,
        **kwargs,
    )
    issued = pki.client(identity)
    client.tls_set(
        ca_certs=str(pki.ca.cert), certfile=str(issued.cert), keyfile=str(issued.key), cert_reqs=ssl.CERT_REQUIRED
    )
    return client


class Recorder:
    """A subscriber that records every message (topic, decoded JSON) in arrival order."""

    def __init__(
        self,
        broker: Broker,
        topics: list[str],
        identity: str | None = None,
        client_id: str | None = None,
        persistent: bool = False,
    ) -> None:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        self.messages: list[tuple[str, dict, bool]] = []
        self.raw: list[bytes] = []
        self._cond = threading.Condition()
        self.client = tls_client(broker.pki, identity or broker.recorder_identity(), client_id=client_id)
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.1, 0.5)  # come back quickly after the tests restart the broker
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe([(t, 1) for t in topics])
        props = None
        if persistent:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = 3600
        self.client.connect("127.0.0.1", broker.port, 30, clean_start=not persistent, properties=props)
        self.client.loop_start()
        assert subscribed.wait(10), "subscription not acknowledged"

    def _on_message(self, client, userdata, msg) -> None:
        try:
            body = json.loads(msg.payload) if msg.payload else None
        except ValueError:
            body = {"raw": msg.payload.decode(errors="replace")}
        with self._cond:
            self.messages.append((msg.topic, body, bool(msg.retain)))
            self.raw.append(msg.payload)
            self._cond.notify_all()

    def wait_for(self, predicate, timeout: float = 30.0) -> bool:
        """Wait (bounded, only to avoid hanging) until `predicate(messages)` holds."""
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self.messages), timeout)

    def seqs(self, station: str) -> list[int]:
        """Seqs of the station's envelopes in arrival order (duplicates included)."""
        with self._cond:
            return [
                m["seq"]
                for t, m, _ in self.messages
                if isinstance(m, dict) and "seq" in m and t.startswith(f"markaz/v1/{station}/")
            ]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
