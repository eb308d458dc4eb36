"""Central's ingest: subscribes to every station (a shared subscription, so several workers split the load),
validates each message with the same contract models as the edge, and stores it once per (station, seq).

A message is acknowledged to the broker only after it is committed, and the session is persistent: a restart of
central loses nothing the broker holds for it. Messages are committed in batches (whatever arrived while the last
batch was written, up to `batch_max`), one transaction each, the envelopes of a batch in a few statements (each
station's row locked once, in a fixed order so two workers never lock each other's rows in opposite orders; one
multi-row insert; executemany, pipelined on PostgreSQL, for the rest); if a batch fails, its messages are written one by one so a bad one
holds back nothing else (it stays unacknowledged and comes again).

Each worker announces itself on `markaz/v1/_central/status/{client id}` (retained birth, Last Will `offline`), the
way Sparkplug's primary host does: stations hold their outbox while central is down and re-announce their birth and
state when it returns. The worker also records its connection in the store, so the alarm evaluator judges a
station's connectivity only once an ingest has been subscribed long enough to have heard every retained birth.

A worker that only receives (`markaz central ingest`) speaks MQTT 3.1.1: under MQTT 5 paho builds and parses a
`Properties` object for every PUBLISH, about a quarter of the network thread's time, and the worker reads none of
them. What the worker needs exists in 3.1.1 on Mosquitto: shared subscriptions, a persistent session (kept by the
broker's `persistent_client_expiration`), manual acknowledgement and the Will. An ingest that also sends commands
(`markaz central serve`) speaks MQTT 5, since a command carries a message expiry.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from central.commands import publish_now
from central.store import CentralStore
from markaz.clock import utcnow
from markaz.contracts import mqtt as contract
from markaz.mqtt import TlsFiles, make_client, parse_url, session_properties

log = logging.getLogger(__name__)

SHARED = f"$share/central/{contract.PREFIX}/+/#"
PLAIN = f"{contract.PREFIX}/+/#"
STATUS = f"{contract.PREFIX}/+/status"  # retained statuses are not sent to shared subscriptions


class Ingest:
    def __init__(
        self,
        store: CentralStore,
        url: str,
        ca: Path | None,
        cert: Path | None,
        key: Path | None,
        client_id: str = "central-ingest-1",
        keepalive: int = 30,
        clock: Callable[[], datetime] = utcnow,
        batch_max: int = 500,
        protocol: int = 4,
    ) -> None:
        self.store = store
        self.address = parse_url(url)
        self.ca, self.cert, self.key = ca, cert, key
        self.client_id = client_id
        self.keepalive = keepalive
        self.ready = threading.Event()
        self.received = 0
        self.client = None
        self.clock = clock
        self.since = clock()  # this worker's life: a restart is a new `since`, which stations answer with a rebirth
        self.connected_at: datetime | None = None
        self.status_topic = contract.BY_KEY["central.status"].topic(worker=client_id)
        self.batch_max = batch_max
        self.protocol = protocol
        self._arrived: queue.Queue[Any] = queue.Queue()
        self._writer: threading.Thread | None = None

    def _status(self, state: str) -> bytes:
        return contract.dump(contract.CentralStatus(state=state, since=self.since))  # type: ignore[arg-type]

    def start(self) -> None:
        client = make_client(
            self.client_id, self.address, TlsFiles(self.ca, self.cert, self.key), self.protocol, manual_ack=True
        )
        client.reconnect_delay_set(0.5, 30)
        client.will_set(self.status_topic, self._status("offline"), qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        if self.protocol == 5:
            client.connect_async(
                self.address.host,
                self.address.port,
                self.keepalive,
                clean_start=False,
                properties=session_properties(7 * 24 * 3600),
            )
        else:  # the persistent session is the client's clean_session=False (make_client)
            client.connect_async(self.address.host, self.address.port, self.keepalive)
        self._writer = threading.Thread(
            target=self._write, args=(client,), name=f"{self.client_id}-writer", daemon=True
        )
        self._writer.start()
        client.loop_start()
        self.client = client

    def stop(self) -> None:
        """A clean stop says `offline` itself (the broker sends the Will only when the connection is lost)."""
        if self.client is not None:
            try:
                if self.client.is_connected():
                    self.client.publish(
                        self.status_topic, self._status("offline"), qos=1, retain=True
                    ).wait_for_publish(2)
            except Exception:
                log.debug("central ingest: goodbye failed", exc_info=True)
            self.client.disconnect()
            self.client.loop_stop()
        if self._writer is not None:
            self._arrived.put(None)  # what arrived before is written (and acknowledged) first
            self._writer.join(10)
        self.connected_at = None
        self._record()

    def beat(self) -> None:
        """Tell the store this worker is alive (the evaluator's loop calls it)."""
        self._record()

    def _record(self) -> None:
        try:
            self.store.ingest_seen(self.client_id, self.connected_at, self.clock())
        except Exception:
            log.exception("central ingest: recording the worker's liveness failed")

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        self.connected_at = self.clock()
        self._record()
        self.ready.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected_at = None
        self.ready.clear()

    def publish_command(self, station: str, name: str, command: contract.Command) -> None:
        """Send a command on this worker's connection (raises when the broker does not take it)."""
        if self.client is None:
            raise RuntimeError("ingest not started")
        if self.protocol != 5:
            raise RuntimeError("an ingest that sends commands speaks MQTT 5 (a command carries a message expiry)")
        publish_now(self.client, station, name, command)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("central ingest: connection refused: %s", reason_code)
            return
        shared_ok = getattr(properties, "SharedSubscriptionAvailable", 1) if properties is not None else 1
        topic = SHARED if shared_ok else PLAIN
        log.info("central ingest: connected; subscribing to %s", topic)
        client.subscribe([(topic, 1), (STATUS, 1)])
        client.publish(self.status_topic, self._status("online"), qos=1, retain=True)

    def _on_message(self, client, userdata, message) -> None:
        self._arrived.put(message)  # the network thread only hands over: the writer commits and acknowledges

    def _write(self, client) -> None:
        stopping = False
        while not stopping:
            first = self._arrived.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < self.batch_max:
                try:
                    more = self._arrived.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                batch.append(more)
            self._commit(client, batch)

    def _commit(self, client, batch: list[Any]) -> None:
        try:
            with self.store.batch() as tx:
                counted = self.handle_batch([(m.topic, m.payload, bool(m.retain)) for m in batch], tx)
        except Exception:
            log.warning("central ingest: a batch of %d failed; writing its messages one by one", len(batch))
            for m in batch:
                try:
                    self.received += self.handle(m.topic, m.payload, bool(m.retain))
                except Exception:
                    log.exception("central ingest: storing %s failed; left unacknowledged", m.topic)
                    continue
                client.ack(m.mid, m.qos)
            return
        self.received += counted
        for m in batch:  # in the order they arrived, as MQTT wants
            client.ack(m.mid, m.qos)

    def handle(self, topic: str, payload: bytes, retained: bool = False, tx: Any | None = None) -> int:
        """Validate and store one message (inside `tx` when given); 1 if it was a valid message, else 0."""
        return self.handle_batch([(topic, payload, retained)], tx)

    def handle_batch(self, messages: list[tuple[str, bytes, bool]], tx: Any | None = None) -> int:
        """Validate (topic, payload, retained) messages in arrival order and store them in one transaction: the
        envelopes with one `store.envelopes` call (a few statements for the lot), statuses and dead letters one by
        one; the number of valid messages."""
        envelopes: list[tuple[contract.TopicInfo, str, contract.Envelope]] = []
        statuses: list[tuple[str, contract.Status, bool]] = []
        dead: list[tuple[str, bytes, str]] = []
        for topic, payload, retained in messages:
            info = contract.parse_topic(topic)
            if info is not None and info.key in ("cmd", "central.status"):
                continue  # our own commands to stations, and central's own status
            try:
                info, msg = contract.validate(topic, payload, info)
            except contract.ContractError as exc:
                dead.append((topic, payload if isinstance(payload, bytes) else payload.encode(), str(exc)))
                log.warning("central ingest: dead letter %s", exc)
                continue
            if isinstance(msg, contract.Status):
                statuses.append((info.station, msg, retained))
            else:
                envelopes.append((info, topic, msg))
        with self.store.batch() if tx is None else contextlib.nullcontext(tx) as tx:
            for topic, raw, reason in dead:
                self.store.dead_letter(topic, raw, reason, tx=tx)
            self.store.envelopes(envelopes, self.clock(), tx=tx)
            for station, status, retained in sorted(statuses, key=lambda s: s[0]):
                self.store.status(station, status, retained, self.clock(), tx=tx)
        return len(envelopes) + len(statuses)
