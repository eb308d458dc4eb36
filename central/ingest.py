"""Central's ingest: subscribes to every station (a shared subscription, so several workers split the load),
validates each message with the same contract models as the edge, and stores it once per (station, seq).

A message is acknowledged to the broker only after it is committed, and the session is persistent: a restart of
central loses nothing the broker holds for it.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from central.store import CentralStore
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
    ) -> None:
        self.store = store
        self.address = parse_url(url)
        self.ca, self.cert, self.key = ca, cert, key
        self.client_id = client_id
        self.keepalive = keepalive
        self.ready = threading.Event()
        self.received = 0
        self.client = None

    def start(self) -> None:
        client = make_client(self.client_id, self.address, TlsFiles(self.ca, self.cert, self.key), manual_ack=True)
        client.reconnect_delay_set(0.5, 30)
        client.on_connect = self._on_connect
        client.on_subscribe = lambda c, u, mid, rcs, p: self.ready.set()
        client.on_message = self._on_message
        client.connect_async(
            self.address.host,
            self.address.port,
            self.keepalive,
            clean_start=False,
            properties=session_properties(7 * 24 * 3600),
        )
        client.loop_start()
        self.client = client

    def stop(self) -> None:
        if self.client is not None:
            self.client.disconnect()
            self.client.loop_stop()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("central ingest: connection refused: %s", reason_code)
            return
        shared_ok = getattr(properties, "SharedSubscriptionAvailable", 1) if properties is not None else 1
        topic = SHARED if shared_ok else PLAIN
        log.info("central ingest: connected; subscribing to %s", topic)
        client.subscribe([(topic, 1), (STATUS, 1)])

    def _on_message(self, client, userdata, message) -> None:
        try:
            self.handle(message.topic, message.payload, bool(message.retain))
        except Exception:
            log.exception("central ingest: storing %s failed; left unacknowledged", message.topic)
            return
        client.ack(message.mid, message.qos)

    def handle(self, topic: str, payload: bytes, retained: bool = False) -> None:
        info = contract.parse_topic(topic)
        if info is not None and info.key == "cmd":
            return  # our own commands to stations
        try:
            info, msg = contract.validate(topic, payload)
        except contract.ContractError as exc:
            self.store.dead_letter(topic, payload if isinstance(payload, bytes) else payload.encode(), str(exc))
            log.warning("central ingest: dead letter %s", exc)
            return
        self.received += 1
        if isinstance(msg, contract.Status):
            self.store.status(info.station, msg, retained)
        else:
            self.store.envelope(info, topic, msg)
