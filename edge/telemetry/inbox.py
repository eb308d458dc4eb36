"""The tables between the node and its MQTT link (often separate processes sharing the database file, WAL).

The command inbox: commands the MQTT link received, kept in SQLite until the node has executed them.

The link commits a command here before it acknowledges it to the broker, and the node's command worker deletes it
in the transaction that executes it and enqueues its ack: a crash anywhere loses no command and runs none twice.
The link and the node may be separate processes sharing the database file (WAL).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import sqlite_utils

from edge.store import Store
from markaz.clock import iso, utcnow


@dataclass(frozen=True)
class InboxRow:
    id: int
    topic: str
    payload: bytes


class Inbox:
    def __init__(self, store: Store, clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.clock = clock
        self._wakers: list[Callable[[], None]] = []

    def on_put(self, waker: Callable[[], None]) -> None:
        """Call `waker` after each committed put (an in-process worker wakes at once)."""
        self._wakers.append(waker)

    def put(self, topic: str, payload: bytes) -> None:
        with self.store.write() as db:
            db.execute(
                "INSERT INTO telemetry_inbox (topic, payload, received_at) VALUES (?, ?, ?)",
                (topic, bytes(payload), iso(self.clock())),
            )
        for waker in self._wakers:
            waker()

    def waiting(self, limit: int = 50) -> list[InboxRow]:
        rows = (
            self.store.read()
            .conn.execute("SELECT id, topic, payload FROM telemetry_inbox ORDER BY id LIMIT ?", (limit,))
            .fetchall()
        )
        return [InboxRow(r[0], r[1], bytes(r[2])) for r in rows]

    @staticmethod
    def done(db: sqlite_utils.Database, row_id: int) -> None:
        """Forget a command, inside the transaction that executed (or refused) it."""
        db.execute("DELETE FROM telemetry_inbox WHERE id = ?", (row_id,))


class LinkRequests:
    """What the node asks of its link (`birth`: announce `online` again), whichever process the link runs in."""

    def __init__(self, store: Store, clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.clock = clock

    def ask(self, kind: str) -> None:
        with self.store.write() as db:
            db.execute(
                "INSERT INTO telemetry_link_requests (kind, requested_at) VALUES (?, ?) "
                "ON CONFLICT (kind) DO UPDATE SET requested_at = excluded.requested_at",
                (kind, iso(self.clock())),
            )

    def take(self) -> set[str]:
        """The requests waiting, forgotten as they are taken (the link serves each once)."""
        if not self.store.query_one("SELECT 1 AS x FROM telemetry_link_requests LIMIT 1"):
            return set()  # the common case costs one read, no write
        with self.store.write() as db:
            kinds = {r[0] for r in db.execute("SELECT kind FROM telemetry_link_requests").fetchall()}
            db.execute("DELETE FROM telemetry_link_requests")
        return kinds


class NodeBeat:
    """The node's heartbeat through the database, for a link run as another service (systemd) that has no pipe to it.

    The node writes the time every fraction of the keepalive; the link reads it (at most twice a second). No row
    at all means a node that does not beat here (its link is its own child or thread): taken as alive."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock
        self._checked = -1e9
        self._fresh = True

    def beat(self) -> None:
        with self.store.write() as db:
            db.execute(
                "INSERT INTO telemetry_node_beat (id, beat_at) VALUES (1, ?) "
                "ON CONFLICT (id) DO UPDATE SET beat_at = excluded.beat_at",
                (self.clock(),),
            )

    def forget(self) -> None:
        """A node whose link is no longer external: nothing should judge it by an old beat."""
        with self.store.write() as db:
            db.execute("DELETE FROM telemetry_node_beat")

    def fresh(self, within_s: float) -> bool:
        now = time.monotonic()
        if now - self._checked >= 0.5:
            self._checked = now
            row = self.store.query_one("SELECT beat_at FROM telemetry_node_beat WHERE id = 1")
            self._fresh = row is None or self.clock() - float(row["beat_at"]) < within_s
        return self._fresh
