"""The MQTT link of a station: drains the outbox over QoS 1 with a bounded in-flight window, takes commands.

One paho client per connection (MQTT 5, falling back to 3.1.1), TLS with a client certificate, a persistent
session so commands sent while the node was down are delivered when it comes back. After every (re)connect the
outbox is replayed from its oldest row: QoS 1 may duplicate on the wire, central dedupes by seq, nothing is lost.
Reconnects wait an exponential backoff with full jitter so a thousand stations do not return in lock-step.

The link runs inside the node (a thread) or, normally, as a process of its own (`edge/telemetry/link_process.py`)
that reads the outbox from the same SQLite file: it polls for new rows when idle, keeps commands in the inbox for
the node, serves the node's requests (`birth`), and goes offline when the node it serves stops answering.

Central's own outage (its ingest workers' retained status, `markaz/v1/_central/status/{worker}`, as Sparkplug's
primary host): while every worker the link has heard of says `offline`, the link holds the outbox (rows stay on
disk, bounded as always) instead of piling them into the broker's queue for central's session; when a worker comes
back with a new `since` (central restarted), the link announces its birth again and asks the node for a full
snapshot (`on_central_back`), so central's view is whole again without waiting for the next periodic snapshots.
Nothing heard of central (an older central, or none) holds nothing.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime
from types import ModuleType
from typing import TYPE_CHECKING, Any

from edge.telemetry.inbox import Inbox, LinkRequests
from edge.telemetry.outbox import Outbox
from edge.telemetry.settings import MqttSettings
from markaz.clock import utcnow
from markaz.contracts import mqtt as contract
from markaz.mqtt import BrokerAddress, TlsFiles, make_client, parse_url, session_properties
from markaz.periodic import backoff_delay

if TYPE_CHECKING:
    from paho.mqtt.client import Client, ConnectFlags, DisconnectFlags, MQTTMessage, MQTTMessageInfo
    from paho.mqtt.properties import Properties
    from paho.mqtt.reasoncodes import ReasonCode

__all__ = ["COMMAND_FILTER", "BrokerAddress", "MqttLink", "backoff_delay", "parse_url"]

log = logging.getLogger(__name__)

# Subscribe to our own commands only (the broker's ACL allows nothing else).
COMMAND_FILTER = "cmd/+"


class MqttLink:
    def __init__(
        self,
        outbox: Outbox,
        settings: MqttSettings,
        versions: Callable[[], dict[str, str]],
        inbox: Inbox | None = None,
        on_connected: Callable[[], None] | None = None,
        requests: LinkRequests | None = None,
        alive: Callable[[], bool] | None = None,
        on_state: Callable[[str, object], None] | None = None,
        on_central_back: Callable[[], None] | None = None,
    ) -> None:
        """`alive()` false means the node is frozen or gone: the link drops its connection without a DISCONNECT
        (so the broker publishes the Will) and waits. `on_state(key, value)` hears connected/commands_ready."""
        self.outbox = outbox
        self.station = outbox.station
        self.settings = settings
        if settings.url is None:
            raise ValueError("the MQTT link needs a broker URL (mqtt.url)")
        self.address = parse_url(settings.url)
        self.versions = versions
        self.inbox = inbox
        self.on_connected = on_connected
        self.requests = requests
        self.alive = alive
        self.on_state = on_state
        self.on_central_back = on_central_back
        self._central: dict[str, tuple[str, str]] = {}  # worker -> (state, since), kept across connections
        self._central_back = False  # a worker came back with a new since: re-announce on the link's thread
        self._command_sub: int | None = None
        self._next_ack_scan = 0.0
        self._aborted = False
        self._next_request_check = 0.0
        self.window = settings.inflight_window
        self._wake_every = max(1, self.window // 4)
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._acked: deque[tuple[int, bool]] = deque()  # (mid, ok) from the network thread
        self._unacked = 0  # QoS 1 messages published on this connection and not yet acknowledged
        self._connack: object | None = None  # reason code once CONNACK arrived
        self._lost = False
        self._client = None
        self._since: datetime | None = None
        self.protocol = 5 if settings.protocol == "5" else 4
        self._no_connack = 0
        self.connected = False
        self.commands_ready = threading.Event()  # our command subscription is acknowledged by the broker
        self.published = 0
        self.acked = 0
        self.connects = 0
        outbox.on_enqueue(self.wake)

    # --- life cycle ------------------------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"mqtt-{self.station}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self.wake()
        if self._thread is not None:
            self._thread.join(timeout)

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    # --- the connection loop ---------------------------------------------------------------------------------------

    def _state(self, key: str, value: object) -> None:
        if self.on_state is not None:
            try:
                self.on_state(key, value)
            except Exception:
                log.debug("MQTT: state listener failed", exc_info=True)

    def _node_alive(self) -> bool:
        return self.alive is None or self.alive()

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            if not self._node_alive():
                self._stop.wait(0.1)  # a frozen node is not online: connect again once it answers
                continue
            established = False
            try:
                established = self._connection()
            except Exception:
                log.exception("MQTT connection to %s:%s failed", self.address.host, self.address.port)
            if self._stop.is_set():
                break
            failures = 0 if established else failures + 1
            delay = backoff_delay(failures, self.settings.backoff_base_s, self.settings.backoff_max_s)
            log.info("MQTT: reconnecting in %.2f s", delay)
            self._stop.wait(delay)

    def _make_client(self) -> Client:
        client = make_client(
            self.station,  # the broker ties client ids to certificate names anyway
            self.address,
            TlsFiles(self.settings.ca, self.settings.cert, self.settings.key),
            protocol=self.protocol,
            manual_ack=True,  # a command is acknowledged to the broker only once it is kept in the inbox
        )
        client.max_inflight_messages_set(self.window)
        client.max_queued_messages_set(0)
        # paho's own reconnect stays out of the way: we make a fresh client per connection.
        client.reconnect_delay_set(3600, 3600)
        self._since = utcnow()
        will = contract.Status(state="offline", since=self._since, versions=self.versions())
        client.will_set(self._topic("status"), contract.dump(will), qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        return client

    def _connection(self) -> bool:
        """One connection from CONNECT to loss (or stop); True if it got as far as a successful CONNACK."""
        import paho.mqtt.client as paho

        client = self._make_client()
        self._connack, self._lost, self._aborted = None, False, False
        self._acked.clear()
        self._unacked = 0
        kwargs: dict[str, Any] = {}
        if self.protocol == 5:
            kwargs = {"clean_start": False, "properties": session_properties(self.settings.session_expiry_s)}
        try:
            client.connect(self.address.host, self.address.port, self.settings.keepalive, **kwargs)
        except (OSError, ssl.SSLError) as exc:
            log.warning("MQTT: cannot connect to %s:%s: %s", self.address.host, self.address.port, exc)
            return False
        client.loop_start()
        try:
            with self._cond:
                self._cond.wait_for(lambda: self._connack is not None or self._lost or self._stop.is_set(), timeout=15)
            rc = self._connack
            if rc is None or rc.is_failure:
                self._no_connack = self._no_connack + 1 if rc is None else 0
                # A 3.1.1-only broker answers MQTT 5 with "unacceptable protocol version" (1, or 132 in 5's terms)
                # or just hangs up; hanging up twice in a row before any CONNACK counts as that too.
                if self.protocol == 5 and ((rc is not None and rc.value in (1, 132)) or self._no_connack >= 2):
                    log.warning("MQTT: broker refused MQTT 5 (%s); falling back to 3.1.1", rc)
                    self.protocol = 4
                else:
                    log.warning("MQTT: connection refused: %s", rc or "closed before CONNACK")
                return False
            self._no_connack = 0
            self._client = client
            self.connects += 1
            self.connected = True
            self._state("connected", self.protocol)
            log.info(
                "MQTT: connected to %s:%s (MQTT %s)",
                self.address.host,
                self.address.port,
                "5" if self.protocol == 5 else "3.1.1",
            )
            with self._cond:  # the SUBACK callback reads which mid is the commands' only once it is known
                client.subscribe(contract.CENTRAL_STATUS_FILTER, qos=1)
                self._command_sub = client.subscribe(self._topic(COMMAND_FILTER), qos=1)[1]
            self.publish_birth()
            if self.on_connected is not None:
                self.on_connected()
            # a refused PUBACK is not a healthy connection: it must not reset the backoff
            return self._drain(client, paho)
        finally:
            if self.connected:
                self._state("connected", 0)
            self.connected = False
            self.commands_ready.clear()
            self._client = None
            if not self._lost and not self._aborted:
                if self._stop.is_set():
                    self._goodbye(client)
                else:
                    client.disconnect()
            client.loop_stop()

    def _drain(self, client: Client, paho: ModuleType) -> bool:
        """Publish the outbox in order within the window; delete rows in batches as PUBACKs come back.

        Returns False when the broker refused a message (the row stays; we reconnect and replay)."""
        inflight: dict[int, int] = {}  # mid -> outbox row id
        cursor = 0  # replay from the oldest row on every connection
        done: list[int] = []
        last_flush = time.monotonic()
        while not self._stop.is_set() and not self._lost:
            if not self._node_alive():
                self._abort(client)
                return True
            self._serve_requests()
            while self._acked:
                mid, ok = self._acked.popleft()
                row_id = inflight.pop(mid, None)
                if row_id is None:
                    continue
                if ok:
                    done.append(row_id)
                else:  # refused by the broker: keep the row, start over from the oldest unacknowledged one
                    log.error("MQTT: broker refused outbox row %d; reconnecting to replay", row_id)
                    self.outbox.delete(done)
                    return False
            now = time.monotonic()
            if done and (len(done) >= 256 or not inflight or now - last_flush > 0.05):
                self.outbox.delete(done)
                self.acked += len(done)
                done = []
                last_flush = now
            if self._central_back:
                self._central_back = False
                log.info("MQTT: central is back; announcing birth and a full snapshot again")
                self.publish_birth()
                if self.on_central_back is not None:
                    self.on_central_back()
            room = self.window - len(inflight)
            if self.central_down():
                # hold the outbox while central is down (nothing piles up at the broker); command acks still go out
                sending = set(inflight.values())
                scan = time.monotonic() >= self._next_ack_scan
                if scan:  # a look at most twice a second: the held outbox may be large
                    self._next_ack_scan = time.monotonic() + 0.5
                for row in self.outbox.pending_acks(max(0, min(room, 50))) if scan else []:
                    if row.id not in sending:
                        info = self._publish(client, row.topic, row.payload)
                        if info.rc == paho.MQTT_ERR_SUCCESS:
                            inflight[info.mid] = row.id
                room = 0
            if room > 0 and (room >= max(1, self.window // 4) or not inflight):
                rows = self.outbox.pending(cursor, room)
                sent = 0
                for row in rows:
                    info = self._publish(client, row.topic, row.payload)
                    if info.rc != paho.MQTT_ERR_SUCCESS:
                        break
                    inflight[info.mid] = row.id
                    cursor = row.id
                    sent += 1
                self.published += sent
                if rows and sent == room:
                    continue
            with self._cond:
                # Sleep until a quarter of the window is acknowledged, everything is, or a new row arrives: no
                # polling, the producer and this thread share one GIL.
                idle = len(self._acked) < self._wake_every and not (self._acked and self._unacked <= 0)
                if idle and not self._lost and not self._stop.is_set():
                    # another process fills the outbox: look again soon (in-process enqueues wake us at once)
                    self._cond.wait(min(0.05, self.settings.link_poll_s) if done else self.settings.link_poll_s)
        if self._stop.is_set() and not self._lost and inflight:
            # a clean stop: give the PUBACKs in flight a moment so fewer rows are sent again after the restart
            deadline = time.monotonic() + 1.0
            while inflight and time.monotonic() < deadline and not self._lost:
                while self._acked:
                    mid, ok = self._acked.popleft()
                    row_id = inflight.pop(mid, None)
                    if row_id is not None and ok:
                        done.append(row_id)
                time.sleep(0.01)
        self.outbox.delete(done)
        self.acked += len(done)
        return True

    def _serve_requests(self) -> None:
        if self.requests is None or time.monotonic() < self._next_request_check:
            return
        self._next_request_check = time.monotonic() + max(self.settings.link_poll_s, 0.1)
        if "birth" in self.requests.take():
            self.publish_birth()

    def _abort(self, client: Client) -> None:
        """Drop the connection as a crash would (no DISCONNECT): the broker publishes our Will `offline`."""
        import socket

        log.warning("MQTT: the node stopped answering; dropping the connection so the broker says offline")
        self._aborted = True
        sock = client.socket()
        if isinstance(sock, socket.socket):  # paho's plain or TLS socket (ssl.SSLSocket is one)
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _goodbye(self, client: Client) -> None:
        """A clean stop: say `offline` ourselves (the broker only sends the Will on an unclean loss).

        Like the Will, it carries the birth's `since`: the offline closes the connection that the birth opened."""
        try:
            status = contract.Status(state="offline", since=self._since or utcnow(), versions=self.versions())
            info = self._publish(client, self._topic("status"), contract.dump(status), retain=True)
            info.wait_for_publish(2.0)
            client.disconnect()
        except Exception:
            log.debug("MQTT: goodbye failed", exc_info=True)

    def publish_birth(self) -> None:
        client = self._client
        if client is None:
            return
        birth = contract.Status(state="online", since=self._since or utcnow(), versions=self.versions())
        self._publish(client, self._topic("status"), contract.dump(birth), retain=True)

    # --- paho callbacks (network thread) ----------------------------------------------------------------------------

    def _on_connect(
        self,
        client: Client,
        userdata: object,
        flags: ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        with self._cond:
            self._connack = reason_code
            self._cond.notify_all()

    def _on_disconnect(
        self,
        client: Client,
        userdata: object,
        flags: DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if not self._stop.is_set():
            log.warning("MQTT: connection lost (%s)", reason_code)
        with self._cond:
            self._lost = True
            self._cond.notify_all()

    def _publish(self, client: Client, topic: str, payload: bytes, retain: bool = False) -> MQTTMessageInfo:
        """Every QoS 1 publish goes through here so the count of unacknowledged messages stays exact."""
        with self._cond:
            self._unacked += 1
        info = client.publish(topic, payload, qos=1, retain=retain)
        if info.rc != 0:
            with self._cond:
                self._unacked -= 1
        return info

    def _on_publish(
        self, client: Client, userdata: object, mid: int, reason_code: ReasonCode, properties: Properties
    ) -> None:
        self._acked.append((mid, not reason_code.is_failure))
        with self._cond:
            self._unacked -= 1
            # wake the publisher when a quarter of the window is free or nothing is left in flight
            if self._unacked <= 0 or len(self._acked) >= self._wake_every or reason_code.is_failure:
                self._cond.notify_all()

    def central_down(self) -> bool:
        """Every central worker heard of says offline (none heard of: not down, as with an older central)."""
        known = list(self._central.values())
        return bool(known) and all(state == "offline" for state, _ in known)

    def _on_central_status(self, topic: str, payload: bytes) -> None:
        try:
            info, status = contract.validate(topic, payload)
        except contract.ContractError as exc:
            log.warning("MQTT: ignoring a malformed central status: %s", exc)
            return
        assert isinstance(status, contract.CentralStatus)
        worker, now = info.params["worker"], (status.state, status.since.isoformat())
        before = self._central.get(worker)
        with self._cond:
            self._central[worker] = now
            # a worker we knew returns with a new life: central restarted and may have lost what it held
            if before is not None and status.state == "online" and before != now:
                self._central_back = True
            self._cond.notify_all()
        if before != now:
            log.info("MQTT: central worker %s is %s (since %s)", worker, *now)
            self._state("central", status.state)

    def _on_subscribe(
        self, client: Client, userdata: object, mid: int, reason_codes: list[ReasonCode], properties: Properties
    ) -> None:
        with self._cond:
            if mid != self._command_sub:
                return  # central's status: nothing waits for it
        if all(not rc.is_failure for rc in reason_codes):
            self.commands_ready.set()
            self._state("commands_ready", True)
        else:
            log.error("MQTT: subscription to our commands refused: %s", reason_codes)

    def _on_message(self, client: Client, userdata: object, message: MQTTMessage) -> None:
        """Keep the command in the inbox (committed), then PUBACK it; the node's command worker executes it."""
        if message.topic.startswith(f"{contract.PREFIX}/{contract.CENTRAL}/"):
            self._on_central_status(message.topic, bytes(message.payload))
            client.ack(message.mid, message.qos)
            return
        try:
            if self.inbox is not None:
                self.inbox.put(message.topic, bytes(message.payload))
                self._state("command", True)
        except Exception:
            # not acknowledged: the broker delivers it again on the next connection
            log.exception("MQTT: keeping the command on %s failed; leaving it unacknowledged", message.topic)
            return
        client.ack(message.mid, message.qos)

    def _topic(self, suffix: str) -> str:
        return f"{contract.PREFIX}/{self.station}/{suffix}"
