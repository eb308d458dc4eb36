"""Central's store: one row per (station, seq) so duplicates vanish, gaps in each station's seq, latest state.

SQLite here (one writer: the ingest); the same tables map onto PostgreSQL at national scale.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from markaz.clock import iso, utcnow
from markaz.contracts import mqtt as contract

SCHEMA = """
CREATE TABLE IF NOT EXISTS stations (
    station TEXT PRIMARY KEY,
    state TEXT,                -- online/offline from the retained status
    state_since TEXT,
    versions TEXT,
    last_message_at TEXT,
    max_seq INTEGER NOT NULL DEFAULT 0,
    received INTEGER NOT NULL DEFAULT 0,
    duplicates INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS messages (
    station TEXT NOT NULL,
    seq INTEGER NOT NULL,
    schema TEXT NOT NULL,
    topic TEXT NOT NULL,
    ts TEXT NOT NULL,
    received_at TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (station, seq)
);
-- Missing seqs per station: opened when a seq jumps, narrowed or closed when late messages fill it.
-- `dropped` counts seqs the station said its bounded outbox dropped (old snapshots): explained, not lost.
CREATE TABLE IF NOT EXISTS gaps (
    id INTEGER PRIMARY KEY,
    station TEXT NOT NULL,
    first_seq INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    detected_at TEXT NOT NULL,
    dropped INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS gaps_station ON gaps (station, first_seq);
CREATE TABLE IF NOT EXISTS latest (
    station TEXT NOT NULL,
    channel TEXT NOT NULL,     -- e.g. telemetry.queue, telemetry.devices/kiosk-1
    seq INTEGER NOT NULL,
    ts TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (station, channel)
);
CREATE TABLE IF NOT EXISTS rejected (
    id INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    reason TEXT NOT NULL,
    received_at TEXT NOT NULL
);
"""


class CentralStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = self._connect()
        self._conn.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    # --- writing (the ingest) --------------------------------------------------------------------------------------

    def status(self, station: str, status: contract.Status, retained: bool = False) -> None:
        """Live statuses arrive in the order things happened; a retained one only fills in a station not yet seen."""
        with self._lock:
            self._conn.execute(
                "INSERT INTO stations (station, state, state_since, versions) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (station) DO UPDATE SET state = excluded.state, state_since = excluded.state_since, "
                "versions = excluded.versions WHERE ? = 0 OR stations.state IS NULL",
                (station, status.state, iso(status.since), json.dumps(status.versions), int(retained)),
            )

    def reject(self, topic: str, reason: str) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO rejected (topic, reason, received_at) VALUES (?, ?, ?)",
                (topic[:300], reason[:500], iso(utcnow())),
            )

    def envelope(self, info: contract.TopicInfo, topic: str, msg: contract.Envelope) -> bool:
        """Store one envelope; False if its seq was already stored (a QoS 1 duplicate)."""
        station, seq = msg.station, msg.seq
        now = iso(utcnow())
        data = msg.data.model_dump(mode="json") if hasattr(msg.data, "model_dump") else msg.data
        with self._lock:
            c = self._conn
            c.execute("BEGIN IMMEDIATE")
            try:
                c.execute("INSERT OR IGNORE INTO stations (station) VALUES (?)", (station,))
                inserted = c.execute(
                    "INSERT OR IGNORE INTO messages (station, seq, schema, topic, ts, received_at, data) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (station, seq, msg.schema_id, topic, iso(msg.ts), now, json.dumps(data)),
                ).rowcount
                if not inserted:
                    c.execute("UPDATE stations SET duplicates = duplicates + 1 WHERE station = ?", (station,))
                    c.execute("COMMIT")
                    return False
                max_seq = c.execute("SELECT max_seq FROM stations WHERE station = ?", (station,)).fetchone()[0]
                if seq > max_seq + 1:
                    c.execute(
                        "INSERT INTO gaps (station, first_seq, last_seq, detected_at) VALUES (?, ?, ?, ?)",
                        (station, max_seq + 1, seq - 1, now),
                    )
                elif seq <= max_seq:
                    self._fill(c, station, seq)
                c.execute(
                    "UPDATE stations SET max_seq = max(max_seq, ?), received = received + 1, last_message_at = ? "
                    "WHERE station = ?",
                    (seq, now, station),
                )
                channel = info.key + (f"/{info.params['device']}" if "device" in info.params else "")
                if info.key.startswith("telemetry."):
                    c.execute(
                        "INSERT INTO latest (station, channel, seq, ts, data) VALUES (?, ?, ?, ?, ?) "
                        "ON CONFLICT (station, channel) DO UPDATE SET seq = excluded.seq, ts = excluded.ts, "
                        "data = excluded.data WHERE excluded.seq > latest.seq",
                        (station, channel, seq, iso(msg.ts), json.dumps(data)),
                    )
                if info.key == "events.outbox_dropped":
                    self._explain(c, station, msg.data)
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
        return True

    @staticmethod
    def _fill(c, station: str, seq: int) -> None:
        gap = c.execute(
            "SELECT id, first_seq, last_seq FROM gaps WHERE station = ? AND first_seq <= ? AND last_seq >= ?",
            (station, seq, seq),
        ).fetchone()
        if gap is None:
            return
        gid, first, last = gap
        c.execute("DELETE FROM gaps WHERE id = ?", (gid,))
        now = iso(utcnow())
        for lo, hi in ((first, seq - 1), (seq + 1, last)):
            if lo <= hi:
                c.execute(
                    "INSERT INTO gaps (station, first_seq, last_seq, detected_at) VALUES (?, ?, ?, ?)",
                    (station, lo, hi, now),
                )

    @staticmethod
    def _explain(c, station: str, dropped: contract.OutboxDropped) -> None:
        c.execute(
            "UPDATE gaps SET dropped = min(last_seq - first_seq + 1, ?) WHERE station = ? AND first_seq >= ? AND last_seq <= ?",
            (dropped.count, station, dropped.first_seq, dropped.last_seq),
        )

    # --- reading (the view) ----------------------------------------------------------------------------------------

    def query(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        conn = self._connect()
        try:
            return [dict(r) for r in conn.execute(sql, params)]
        finally:
            conn.close()

    def stations(self) -> list[dict[str, Any]]:
        rows = self.query(
            "SELECT s.*, (SELECT count(*) FROM gaps g WHERE g.station = s.station) AS open_gaps, "
            "(SELECT coalesce(sum(last_seq - first_seq + 1), 0) FROM gaps g WHERE g.station = s.station) AS missing "
            "FROM stations s ORDER BY s.station"
        )
        for r in rows:
            r["versions"] = json.loads(r["versions"]) if r["versions"] else {}
        return rows

    def station(self, station: str) -> dict[str, Any] | None:
        rows = [r for r in self.stations() if r["station"] == station]
        if not rows:
            return None
        out = rows[0]
        out["latest"] = {
            r["channel"]: {"seq": r["seq"], "ts": r["ts"], "data": json.loads(r["data"])}
            for r in self.query("SELECT * FROM latest WHERE station = ? ORDER BY channel", (station,))
        }
        out["gaps"] = self.query(
            "SELECT first_seq, last_seq, detected_at, dropped FROM gaps WHERE station = ? ORDER BY first_seq",
            (station,),
        )
        out["events"] = [
            {"seq": r["seq"], "schema": r["schema"], "ts": r["ts"], "data": json.loads(r["data"])}
            for r in self.query(
                "SELECT seq, schema, ts, data FROM messages WHERE station = ? AND schema LIKE 'markaz.events.%' "
                "ORDER BY seq DESC LIMIT 20",
                (station,),
            )
        ]
        return out

    def gaps(self, station: str) -> list[tuple[int, int]]:
        return [
            (r["first_seq"], r["last_seq"])
            for r in self.query("SELECT first_seq, last_seq FROM gaps WHERE station = ? ORDER BY first_seq", (station,))
        ]

    def close(self) -> None:
        self._conn.close()
