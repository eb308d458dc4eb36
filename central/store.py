"""Central's store: one row per (station, seq) so duplicates vanish, gaps in each station's seq, latest state,
the dead letters, and each station's audit anchors.

Over `central.db`: SQLite by default, PostgreSQL at national scale (`--db postgresql://...`), the same SQL on both.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from central.anchors import refusal
from central.db import Database, open_database
from markaz.clock import iso, utcnow
from markaz.contracts import mqtt as contract

# Channels cumulative over a business day: the newest per day is kept apart for the comparison of stations.
DAILY = ("telemetry.queue_day", "telemetry.verification", "telemetry.reports")


def _chunks(values: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _missing(lo: int, hi: int, got: list[int]) -> list[tuple[int, int]]:
    """The runs of lo..hi not in `got` (sorted): what is still missing of that range."""
    runs, start = [], lo
    for seq in got[bisect.bisect_left(got, lo) : bisect.bisect_right(got, hi)]:
        if seq > start:
            runs.append((start, seq - 1))
        start = seq + 1
    if start <= hi:
        runs.append((start, hi))
    return runs


def _many(tx: Any, sql: str, rows: list[tuple[Any, ...]]) -> None:
    """One statement for many rows: psycopg's executemany pipelines them (one round trip), sqlite3's loops in C."""
    if rows:
        tx.executemany(sql, rows)


# the upserts of `latest` and `daily`: a row is replaced only by a newer seq
_NEWER_LATEST = (
    "ON CONFLICT (station, channel) DO UPDATE SET seq = excluded.seq, ts = excluded.ts, data = excluded.data "
    "WHERE excluded.seq > latest.seq"
)
_NEWER_DAILY = (
    "ON CONFLICT (station, channel, business_day) DO UPDATE SET seq = excluded.seq, data = excluded.data "
    "WHERE excluded.seq > daily.seq"
)


class CentralStore:
    def __init__(self, target: str | Path) -> None:
        """`target`: a SQLite file's path, or a `postgresql://` URL."""
        self.db: Database = open_database(target)

    @contextmanager
    def batch(self) -> Iterator[Any]:
        """One transaction for several writes: pass what it yields as `tx=` (the ingest commits a batch at once)."""
        with self.db.transaction() as tx:
            yield tx

    @contextmanager
    def _tx(self, tx: Any | None) -> Iterator[Any]:
        if tx is not None:
            yield tx
        else:
            with self.db.transaction() as own:
                yield own

    # --- writing (the ingest) --------------------------------------------------------------------------------------

    def status(
        self,
        station: str,
        status: contract.Status,
        retained: bool = False,
        now: datetime | None = None,
        tx: Any | None = None,
    ) -> None:
        """Apply a birth or Last Will. Live statuses arrive in the order things happened and always apply. A retained
        one (sent again on every subscribe, e.g. when central comes back) applies only if it is newer: a later
        `since`, or the `offline` that closes the connection the stored birth opened. So a restart of central never
        turns an online station offline from a stale message, and one that died meanwhile is seen offline."""
        at = iso(now or utcnow())
        since = iso(status.since)
        with self._tx(tx) as tx:
            tx.execute(
                "INSERT INTO stations (station, first_seen_at) VALUES (?, ?) ON CONFLICT (station) DO NOTHING",
                (station, at),
            )
            row = tx.execute("SELECT state, state_since FROM stations WHERE station = ?" + self.db.lock_row, (station,))
            state, stored_since = row.fetchone()
            if retained and state is not None and stored_since is not None:
                newer = since > stored_since or (
                    since == stored_since and status.state == "offline" and state == "online"
                )
                if not newer:
                    return
            changed = (state, stored_since) != (status.state, since)
            tx.execute(
                "UPDATE stations SET state = ?, state_since = ?, versions = ?, "
                "state_changed_at = CASE WHEN ? = 1 THEN ? ELSE state_changed_at END WHERE station = ?",
                (status.state, since, json.dumps(status.versions), int(changed), at, station),
            )

    def ingest_seen(self, client_id: str, connected_at: datetime | None, now: datetime | None = None) -> None:
        """An ingest worker's liveness: `connected_at` is when its subscriptions were confirmed (None: not now)."""
        at = iso(now or utcnow())
        connected = iso(connected_at) if connected_at is not None else None
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO ingest_workers (client_id, connected_at, seen_at) VALUES (?, ?, ?) "
                "ON CONFLICT (client_id) DO UPDATE SET connected_at = excluded.connected_at, seen_at = excluded.seen_at",
                (client_id, connected, at),
            )

    def ingest_workers(self) -> list[dict[str, Any]]:
        return self.query("SELECT client_id, connected_at, seen_at FROM ingest_workers ORDER BY client_id")

    def dead_letter(self, topic: str, payload: bytes, reason: str, tx: Any | None = None) -> None:
        """A message that failed validation: kept with the reason, never silently lost."""
        with self._tx(tx) as tx:
            tx.execute(
                "INSERT INTO dead_letters (topic, reason, payload, received_at) VALUES (?, ?, ?, ?)",
                (topic[:300], reason[:500], payload[:2000].decode("utf-8", "replace"), iso(utcnow())),
            )

    def envelope(
        self,
        info: contract.TopicInfo,
        topic: str,
        msg: contract.Envelope,
        received: datetime | None = None,
        tx: Any | None = None,
    ) -> bool:
        """Store one envelope (`received`: central's clock, now by default); False if its seq was already stored (a
        QoS 1 duplicate)."""
        return self.envelopes([(info, topic, msg)], received, tx)[0]

    def envelopes(
        self,
        items: list[tuple[contract.TopicInfo, str, contract.Envelope]],
        received: datetime | None = None,
        tx: Any | None = None,
    ) -> list[bool]:
        """Store envelopes in arrival order, in a few statements for the whole list (a batch of the ingest): each
        station's row is locked once, the messages go in one multi-row insert, and the per-station counters, the
        `latest` and `daily` rows in one statement each (`_rows`). Gaps, late messages,
        announced drops, anchors and acks are handled message by message, as they are rare. Per message: True if
        stored, False for a duplicate of a stored (station, seq), the same outcome as one at a time."""
        if not items:
            return []
        now = iso(received or utcnow())
        with self._tx(tx) as tx:
            stations = sorted({msg.station for _i, _t, msg in items})  # a fixed order: two workers never deadlock
            self._rows(
                tx,
                "INSERT INTO stations (station, first_seen_at) VALUES (?, ?) ON CONFLICT (station) DO NOTHING",
                "INSERT INTO stations (station, first_seen_at) SELECT r->>0, r->>1 FROM json_array_elements(?::json) AS r "
                "ON CONFLICT (station) DO NOTHING",
                [(st, now) for st in stations],
            )
            max_seq: dict[str, int] = {}
            for chunk in _chunks(stations, 500):  # the stations' rows are locked before their seqs are read
                marks = ", ".join("?" * len(chunk))
                for st, seq in tx.execute(
                    f"SELECT station, max_seq FROM stations WHERE station IN ({marks}) ORDER BY station"
                    + self.db.lock_row,
                    chunk,
                ).fetchall():
                    max_seq[st] = int(seq)
            rows = []
            for _info, topic, msg in items:  # the data as JSON text, serialised by pydantic's core (not json.dumps)
                data = msg.data.model_dump_json() if hasattr(msg.data, "model_dump_json") else json.dumps(msg.data)
                rows.append((msg.station, msg.seq, msg.schema_id, topic, iso(msg.ts), now, data))
            inserted = self._insert_messages(tx, rows)
            out: list[bool] = []
            counts: dict[str, list[int]] = {st: [0, 0] for st in stations}  # received, duplicates
            latest: dict[tuple[str, str], tuple[Any, ...]] = {}
            daily: dict[tuple[str, str, str], tuple[Any, ...]] = {}
            fresh: dict[str, list[int]] = {}  # the seqs this batch stored, per station
            dropped: list[tuple[str, Any]] = []
            for (info, topic, msg), row in zip(items, rows, strict=True):
                station, seq = msg.station, msg.seq
                if (station, seq) not in inserted:  # stored before, or earlier in this batch
                    counts[station][1] += 1
                    out.append(False)
                    continue
                inserted.discard((station, seq))
                out.append(True)
                fresh.setdefault(station, []).append(seq)
                counts[station][0] += 1
                data_text, ts = row[6], row[4]
                channel = info.key + (f"/{info.params['device']}" if "device" in info.params else "")
                if info.key.startswith("telemetry."):
                    key = (station, channel)
                    if key not in latest or latest[key][2] < seq:
                        latest[key] = (station, channel, seq, ts, data_text)
                if info.key in DAILY:
                    day = json.loads(data_text).get("business_day") or msg.ts.astimezone(UTC).date().isoformat()
                    dkey = (station, info.key, day)
                    if dkey not in daily or daily[dkey][3] < seq:
                        daily[dkey] = (station, info.key, day, seq, data_text)
                if info.key == "events.outbox_dropped":
                    dropped.append((station, msg.data))  # once the batch's gaps are written
                if info.key == "events.audit_anchor":
                    self._anchor(tx, topic, msg, now)
                if info.key == "cmd.ack":
                    self._ack(tx, station, msg.data, now)
            self._gaps(tx, max_seq, fresh, now)
            for station, announced in dropped:
                self._explain(tx, station, announced)
            for station, seqs in fresh.items():
                max_seq[station] = max(max_seq[station], *seqs)
            self._rows(
                tx,
                "UPDATE stations SET max_seq = CASE WHEN max_seq > ?2 THEN max_seq ELSE ?2 END, received = received + ?3, "
                "duplicates = duplicates + ?4, last_message_at = CASE WHEN ?3 > 0 THEN ?5 ELSE last_message_at END "
                "WHERE station = ?1",
                "UPDATE stations AS s SET max_seq = GREATEST(s.max_seq, (r->>1)::bigint), "
                "received = s.received + (r->>2)::bigint, duplicates = s.duplicates + (r->>3)::bigint, "
                "last_message_at = CASE WHEN (r->>2)::bigint > 0 THEN r->>4 ELSE s.last_message_at END "
                "FROM json_array_elements(?::json) AS r WHERE s.station = r->>0",
                [(st, max_seq[st], c[0], c[1], now) for st, c in counts.items() if c != [0, 0]],
            )
            self._rows(
                tx,
                "INSERT INTO latest (station, channel, seq, ts, data) VALUES (?, ?, ?, ?, ?) " + _NEWER_LATEST,
                "INSERT INTO latest (station, channel, seq, ts, data) SELECT r->>0, r->>1, (r->>2)::bigint, r->>3, "
                "r->>4 FROM json_array_elements(?::json) AS r " + _NEWER_LATEST,
                sorted(latest.values()),
            )
            self._rows(
                tx,
                "INSERT INTO daily (station, channel, business_day, seq, data) VALUES (?, ?, ?, ?, ?) " + _NEWER_DAILY,
                "INSERT INTO daily (station, channel, business_day, seq, data) SELECT r->>0, r->>1, r->>2, "
                "(r->>3)::bigint, r->>4 FROM json_array_elements(?::json) AS r " + _NEWER_DAILY,
                sorted(daily.values()),
            )
        return out

    def _rows(self, tx: Any, sql: str, pg_sql: str, rows: list[tuple[Any, ...]]) -> None:
        """One statement for many rows, the same columns in the same order for both. SQLite: `sql` with
        executemany (a loop in C). PostgreSQL: `pg_sql`, which reads the rows from one JSON parameter
        (`json_array_elements(?::json) AS r`, `r->>0` the first column): psycopg's executemany, even pipelined,
        costs some 30 µs of Python per row, which made a batch's per-station rows most of the ingest's own CPU."""
        if not rows:
            return
        if self.db.dialect == "postgresql":
            tx.execute(pg_sql, (json.dumps(rows),))
        else:
            tx.executemany(sql, rows)

    def _insert_messages(self, tx: Any, rows: list[tuple[Any, ...]]) -> set[tuple[str, int]]:
        """Insert the messages' rows in one statement per chunk; the (station, seq) pairs actually inserted (a row
        whose pair was stored before, or earlier in `rows`, is not). PostgreSQL takes the rows as one JSON parameter
        (`json_array_elements`: no long query for psycopg to parse, no per-value dumping in Python); SQLite as a
        multi-row VALUES."""
        head = "INSERT INTO messages (station, seq, schema, topic, ts, received_at, data) "
        tail = " ON CONFLICT (station, seq) DO NOTHING RETURNING station, seq"
        inserted: set[tuple[str, int]] = set()
        for chunk in _chunks(rows, 5000 if self.db.dialect == "postgresql" else 400):
            if self.db.dialect == "postgresql":
                cur = tx.execute(
                    head + "SELECT r->>0, (r->>1)::bigint, r->>2, r->>3, r->>4, r->>5, r->>6 "
                    "FROM json_array_elements(?::json) AS r" + tail,
                    (json.dumps(chunk),),
                )
            else:
                values = ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * len(chunk))
                cur = tx.execute(head + f"VALUES {values}" + tail, [v for row in chunk for v in row])
            inserted.update((st, int(seq)) for st, seq in cur.fetchall())
        return inserted

    @staticmethod
    def _ack(tx: Any, station: str, ack: contract.CommandAck, now: str) -> None:
        """The station's answer to a command central sent (the commands table; unknown ids change nothing)."""
        if ack.id is None:
            return
        tx.execute(
            "UPDATE commands SET ack_at = ?, ack_ok = ?, ack_error = ?, ack_result = ? "
            "WHERE id = ? AND station = ? AND ack_at IS NULL",
            (
                now,
                int(ack.ok),
                ack.error.code if ack.error else None,
                ack.result.model_dump_json(exclude_none=True) if ack.result else None,
                ack.id,
                station,
            ),
        )

    @staticmethod
    def _gaps(tx: Any, tops: dict[str, int], fresh: dict[str, list[int]], now: str) -> None:
        """The gaps after a batch, set-based: a station's seqs above its stored maximum open the gaps between them
        (every missing run, one row each), seqs below it close or split the gaps they fall in. A gap the batch
        does not touch keeps its row (its `dropped`); one it touches is replaced by what is still missing of it.
        One query for the gaps of the stations with late seqs, one executemany each for deletes and inserts (two
        workers of a shared subscription each see every other seq: one statement per message made that crawl)."""
        late = sorted(st for st, seqs in fresh.items() if min(seqs) <= tops[st])
        existing: dict[str, list[tuple[int, int, int]]] = {}
        for chunk in _chunks(late, 500):
            marks = ", ".join("?" * len(chunk))
            for gid, st, first, last in tx.execute(
                f"SELECT id, station, first_seq, last_seq FROM gaps WHERE station IN ({marks})", chunk
            ).fetchall():
                existing.setdefault(st, []).append((int(gid), int(first), int(last)))
        deletes: list[tuple[Any, ...]] = []
        inserts: list[tuple[Any, ...]] = []
        for st, seqs in fresh.items():
            got = sorted(seqs)
            for gid, first, last in existing.get(st, ()):
                if bisect.bisect_right(got, last) > bisect.bisect_left(got, first):  # the batch stored seqs in it
                    deletes.append((gid,))
                    inserts += [(st, lo, hi, now) for lo, hi in _missing(first, last, got)]
            top = tops[st]
            if got[-1] > top + 1:
                inserts += [(st, lo, hi, now) for lo, hi in _missing(top + 1, got[-1] - 1, got)]
        _many(tx, "DELETE FROM gaps WHERE id = ?", deletes)
        _many(tx, "INSERT INTO gaps (station, first_seq, last_seq, detected_at) VALUES (?, ?, ?, ?)", inserts)

    @staticmethod
    def _explain(tx: Any, station: str, dropped: contract.OutboxDropped) -> None:
        tx.execute(
            "UPDATE gaps SET dropped = CASE WHEN last_seq - first_seq + 1 < ? THEN last_seq - first_seq + 1 ELSE ? END "
            "WHERE station = ? AND first_seq >= ? AND last_seq <= ?",
            (dropped.count, dropped.count, station, dropped.first_seq, dropped.last_seq),
        )

    @staticmethod
    def _anchor(tx: Any, topic: str, msg: contract.Envelope, now: str) -> None:
        """Kept only when signed by a key registered for the station (central.anchors); else a dead letter, and the
        station is marked until its next good anchor (the audit_anchor_refused alarm)."""
        station, anchor = msg.station, msg.data
        assert isinstance(anchor, contract.AuditAnchor)
        reason = refusal(tx, station, anchor)
        if reason is not None:
            tx.execute(
                "INSERT INTO dead_letters (topic, reason, payload, received_at) VALUES (?, ?, ?, ?)",
                (topic[:300], reason[:500], contract.dump(msg)[:2000].decode("utf-8", "replace"), now),
            )
            tx.execute(
                "UPDATE stations SET anchor_refused_at = ?, anchor_refused_reason = ? WHERE station = ?",
                (now, reason[:500], station),
            )
            return
        tx.execute("UPDATE stations SET anchor_refused_at = NULL, anchor_refused_reason = NULL WHERE station = ?",
                   (station,))  # fmt: skip
        tx.execute(
            "INSERT INTO audit_anchors (station, head_seq, head_hash, anchor_ts, key_id, signature, received_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (station, anchor_ts, head_seq) DO NOTHING",
            (station, anchor.head_seq, anchor.head_hash, iso(anchor.anchor_ts), anchor.key_id, anchor.signature, now),
        )

    # --- reading (the view) ----------------------------------------------------------------------------------------

    def query(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        return self.db.query(sql, params)

    def stations(self, only: str | None = None) -> list[dict[str, Any]]:
        """Every station (or `only` that one) with its open gaps and missing seqs."""
        rows = self.query(
            "SELECT s.*, (SELECT count(*) FROM gaps g WHERE g.station = s.station) AS open_gaps, "
            "(SELECT CAST(coalesce(sum(last_seq - first_seq + 1), 0) AS BIGINT) FROM gaps g WHERE g.station = s.station) "
            "AS missing "
            "FROM stations s" + (" WHERE s.station = ?" if only is not None else "") + " ORDER BY s.station",
            (only,) if only is not None else (),
        )
        for r in rows:
            r["versions"] = json.loads(r["versions"]) if r["versions"] else {}
        return rows

    def station(self, station: str) -> dict[str, Any] | None:
        rows = self.stations(station)
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

    def dead_letters(self, limit: int = 100) -> list[dict[str, Any]]:
        return self.query(
            "SELECT id, topic, reason, payload, received_at FROM dead_letters ORDER BY id DESC LIMIT ?", (limit,)
        )

    def audit_anchors(self, station: str) -> list[dict[str, Any]]:
        """Every anchor the station sent, oldest head first."""
        return self.query(
            "SELECT head_seq, head_hash, anchor_ts, key_id, signature FROM audit_anchors WHERE station = ? "
            "ORDER BY head_seq, anchor_ts",
            (station,),
        )

    def close(self) -> None:
        self.db.close()
