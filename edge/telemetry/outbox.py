"""The store-and-forward outbox: every message gets the next per-station seq and is committed before any publish.

Rows leave only on PUBACK (`delete`) or, past the size bound, when they are old periodic snapshots; events and
command acks are never dropped. Writes are one short transaction each and share the node's single-writer lock.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import sqlite_utils
from pydantic import BaseModel

from edge.store import Store
from markaz.clock import utcnow
from markaz.contracts import mqtt as contract

log = logging.getLogger(__name__)


def iso_z(ts: datetime) -> str:
    """UTC ISO 8601 with a Z, as pydantic writes it (what central parses back)."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Row:
    id: int
    seq: int
    topic: str
    payload: bytes


class Outbox:
    def __init__(
        self,
        store: Store,
        station: str,
        max_rows: int = 200_000,
        max_bytes: int = 64 * 1024 * 1024,
        clock: Callable[[], datetime] = utcnow,
        notice_interval_s: float = 30.0,
    ) -> None:
        self.store = store
        self.station = station
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self.clock = clock
        self._wakers: list[Callable[[], None]] = []
        self.notice_interval_s = notice_interval_s
        self._notice: tuple[int, int, int] | None = None  # dropped (count, first seq, last seq) not yet announced
        self._last_notice = -1e9
        self._last_full_warning = -1e9
        self._lock = threading.Lock()
        row = store.query_one(
            "SELECT count(*) AS n, coalesce(sum(length(payload)), 0) AS b, coalesce(max(id), 0) AS top FROM telemetry_outbox"
        )
        assert row is not None  # an aggregate always answers one row
        self._rows: int
        self._bytes: int
        self._rows, self._bytes = row["n"], row["b"]
        # Row ids only ever grow within this process, so the link's replay cursor (id > cursor) never skips a row.
        self._next_id = row["top"] + 1

    # --- producing -------------------------------------------------------------------------------------------------

    def on_enqueue(self, waker: Callable[[], None]) -> None:
        """Call `waker` after each committed enqueue (the MQTT link wakes its publisher)."""
        self._wakers.append(waker)

    def enqueue(self, key: str, data: BaseModel | dict[str, Any], **topic_params: str) -> int:
        """Commit one message of channel `key` with the next seq; returns the seq."""
        with self.store.write() as db:
            seq = self._insert(db, key, data, topic_params)
            if (self._rows > self.max_rows or self._bytes > self.max_bytes) and self._recount(db):
                self._enforce_bound(db)
        self.wake()
        return seq

    def wake(self) -> None:
        for waker in self._wakers:
            waker()

    def _insert(
        self, db: sqlite_utils.Database, key: str, data: BaseModel | dict[str, Any], topic_params: dict[str, str]
    ) -> int:
        channel = contract.BY_KEY[key]
        # every channel's envelope declares its data as a pydantic model (markaz/contracts/mqtt.py)
        expected = cast(type[BaseModel], channel.model.model_fields["data"].annotation)
        model: BaseModel = (
            data
            if isinstance(data, expected)
            else expected.model_validate(data if isinstance(data, dict) else data.model_dump())
        )
        conn = db.conn
        # next seq: after the newest row if it is ours, else after the last seq that left the outbox (one statement)
        seq: int = conn.execute(
            "SELECT max(coalesce((SELECT seq FROM telemetry_outbox WHERE station = ?1 AND id = "
            "(SELECT max(id) FROM telemetry_outbox)), 0), "
            "coalesce((SELECT last_seq FROM telemetry_seq WHERE station = ?1), 0)) + 1",
            (self.station,),
        ).fetchone()[0]
        ts = iso_z(self.clock())
        schema = channel.schema
        assert schema is not None  # every outbox channel has an envelope with a schema id
        # The data model is already validated; the envelope around it is assembled as text (hot path).
        payload = b'{"schema":"%s","station":"%s","seq":%d,"ts":"%s","data":%s}' % (
            schema.encode(),
            self.station.encode(),
            seq,
            ts.encode(),
            model.__pydantic_serializer__.to_json(model),
        )
        topic = channel.topic(self.station, **topic_params)
        with self._lock:
            row_id = self._next_id
            self._next_id += 1
        conn.execute(
            "INSERT INTO telemetry_outbox (id, station, seq, topic, payload, droppable, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (row_id, self.station, seq, topic, payload, int(channel.droppable), ts),
        )
        with self._lock:
            self._rows += 1
            self._bytes += len(payload)
        return seq

    def _recount(self, db: sqlite_utils.Database) -> bool:
        """Count rows and bytes again from the table; True if really over the bound.

        The counts kept in memory only see this process: the link, in a process of its own, deletes rows."""
        rows, size = db.conn.execute(
            "SELECT count(*), coalesce(sum(length(payload)), 0) FROM telemetry_outbox"
        ).fetchone()
        with self._lock:
            self._rows, self._bytes = int(rows), int(size)
        return self._rows > self.max_rows or self._bytes > self.max_bytes

    def _enforce_bound(self, db: sqlite_utils.Database) -> None:
        """Drop the oldest snapshots (never a topic's newest) until 90 % of the bound; note them for the drop notice."""
        conn = db.conn
        excess_rows = self._rows - int(self.max_rows * 0.9)
        excess_bytes = self._bytes - int(self.max_bytes * 0.9)
        dropped: list[tuple[int, int]] = []
        freed = 0
        for row_id, seq, size in conn.execute(
            # the newest snapshot of each topic always stays: central gets the latest state after any outage
            "SELECT id, seq, length(payload) FROM telemetry_outbox WHERE droppable = 1 AND station = ? AND id NOT IN "
            "(SELECT max(id) FROM telemetry_outbox WHERE droppable = 1 GROUP BY topic) ORDER BY id",
            (self.station,),
        ):
            if len(dropped) >= excess_rows and freed >= excess_bytes:
                break
            dropped.append((row_id, seq))
            freed += size
        if not dropped:
            if time.monotonic() - self._last_full_warning > 60:
                self._last_full_warning = time.monotonic()
                log.warning(
                    "outbox over its bound (%d rows, %d bytes) with only events and acks: keeping them all",
                    self._rows,
                    self._bytes,
                )
            return
        self._delete_ids(conn, [row_id for row_id, _ in dropped])
        seqs = [seq for _, seq in dropped]
        conn.execute(
            "INSERT INTO telemetry_seq (station, last_seq, dropped_total) VALUES (?, 0, ?) ON CONFLICT (station) "
            "DO UPDATE SET dropped_total = dropped_total + excluded.dropped_total",
            (self.station, len(seqs)),
        )
        count, first, last = self._notice or (0, seqs[0], seqs[-1])
        self._notice = (count + len(seqs), min(first, seqs[0]), max(last, seqs[-1]))
        # One notice per interval, not per drop: a notice is an event (never dropped), so one per drop would refill
        # the very outbox the drop was freeing.
        if time.monotonic() - self._last_notice >= self.notice_interval_s:
            self._announce(db)

    def announce_drops(self) -> None:
        """Publish the pending drop notice now (the service calls this periodically)."""
        if self._notice is not None:
            with self.store.write() as db:
                self._announce(db)
            self.wake()

    def _announce(self, db: sqlite_utils.Database) -> None:
        if self._notice is None:
            return
        count, first, last = self._notice
        total = db.conn.execute("SELECT dropped_total FROM telemetry_seq WHERE station = ?", (self.station,)).fetchone()
        log.warning("outbox bound: dropped %d old snapshots (seq %d..%d)", count, first, last)
        event = contract.OutboxDropped(
            count=count, first_seq=first, last_seq=last, dropped_total=total[0] if total else count
        )
        self._insert(db, "events.outbox_dropped", event, {})
        self._notice = None
        self._last_notice = time.monotonic()

    # --- draining --------------------------------------------------------------------------------------------------

    def pending(self, after_id: int = 0, limit: int = 500) -> list[Row]:
        """Rows still to publish, oldest first (ordered replay)."""
        rows = (
            self.store.read()
            .conn.execute(
                "SELECT id, seq, topic, payload FROM telemetry_outbox WHERE id > ? ORDER BY id LIMIT ?",
                (after_id, limit),
            )
            .fetchall()
        )
        return [Row(r[0], r[1], r[2], r[3]) for r in rows]

    def pending_acks(self, limit: int = 50) -> list[Row]:
        """Command acks still to publish, oldest first: they go out even while the rest is held for central, since
        whoever sent the command is waiting for the answer."""
        rows = (
            self.store.read()
            .conn.execute(
                "SELECT id, seq, topic, payload FROM telemetry_outbox WHERE topic LIKE '%/ack' ORDER BY id LIMIT ?",
                (limit,),
            )
            .fetchall()
        )
        return [Row(r[0], r[1], r[2], r[3]) for r in rows]

    def delete(self, ids: Iterable[int]) -> None:
        """Forget rows the broker acknowledged (one short transaction per batch)."""
        ids = list(ids)
        if not ids:
            return
        with self.store.write() as db:
            for start in range(0, len(ids), 500):
                self._delete_ids(db.conn, ids[start : start + 500])

    def _delete_ids(self, conn: sqlite3.Connection, ids: list[int]) -> None:
        marks = ",".join("?" * len(ids))
        gone = conn.execute(
            f"DELETE FROM telemetry_outbox WHERE id IN ({marks}) RETURNING station, seq, length(payload)", ids
        ).fetchall()
        top: dict[str, int] = {}
        for station, seq, _ in gone:
            top[station] = max(top.get(station, 0), seq)
        for station, seq in top.items():  # remember the highest seq that left, for the counter
            conn.execute(
                "INSERT INTO telemetry_seq (station, last_seq) VALUES (?, ?) ON CONFLICT (station) "
                "DO UPDATE SET last_seq = max(last_seq, excluded.last_seq)",
                (station, seq),
            )
        with self._lock:
            self._rows -= len(gone)
            self._bytes -= sum(g[2] for g in gone)

    # --- looking ---------------------------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """The backlog of this station: rows and bytes waiting, their seqs, the oldest, drops, the last seq given."""
        row = self.store.query_one(
            "SELECT ? AS station, count(*) AS backlog, coalesce(sum(length(payload)), 0) AS backlog_bytes, "
            "min(seq) AS first_seq, max(seq) AS last_seq, min(created_at) AS oldest, "
            "coalesce(sum(droppable), 0) AS droppable FROM telemetry_outbox WHERE station = ?",
            (self.station, self.station),
        )
        assert row is not None
        seq = self.store.query_one(
            "SELECT last_seq, dropped_total FROM telemetry_seq WHERE station = ?", (self.station,)
        )
        row["dropped_total"] = seq["dropped_total"] if seq else 0
        stats: dict[str, Any] = row
        stats["last_seq_given"] = max(row["last_seq"] or 0, seq["last_seq"] if seq else 0)
        return stats

    @staticmethod
    def stations(store: Store) -> list[str]:
        """Every station that ever produced into this database's outbox (normally one)."""
        return [
            r["station"]
            for r in store.query(
                "SELECT station FROM telemetry_seq UNION SELECT DISTINCT station FROM telemetry_outbox ORDER BY station"
            )
        ]

    def oldest(self, limit: int) -> list[dict[str, Any]]:
        """The oldest waiting messages, described (seq, topic, size, when): for people, not for publishing."""
        return self.store.query(
            "SELECT station, seq, topic, length(payload) AS bytes, created_at FROM telemetry_outbox WHERE station = ? "
            "ORDER BY id LIMIT ?",
            (self.station, limit),
        )

    def health(self) -> contract.OutboxHealth:
        seq = self.store.query_one("SELECT dropped_total FROM telemetry_seq WHERE station = ?", (self.station,))
        row = self.store.query_one("SELECT count(*) AS n, coalesce(sum(length(payload)), 0) AS b FROM telemetry_outbox")
        rows, size = (row["n"], row["b"]) if row else (0, 0)  # from the table: the link may be another process
        return contract.OutboxHealth(backlog=rows, backlog_bytes=size, dropped_total=seq["dropped_total"] if seq else 0)
