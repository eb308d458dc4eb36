"""The audit log: one entry per state-changing action, written inside the same transaction as the change, read back
a page at a time, and proved against the signed anchors the station holds.

The chain's head is signed (anchored) by time, by the node's anchor loop, and by count: the append that leaves
`anchor_every` entries unsigned signs the head in the same transaction, so a crash (kill -9, power cut) leaves fewer
than that many entries that no anchor covers. Each anchor is kept in the `audit_anchors` table and, once committed,
appended to the anchors file beside the database and offered to listeners (telemetry sends it to central). The
file is written only after the commit so it can never get ahead of the database.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from edge.audit.chain import GENESIS, anchor_message, entry_hash
from edge.audit.models import Anchor, AuditEntry, AuditPage
from edge.audit.verify import VerifyReport, anchor_identity, read_anchors_file, verify_log
from edge.auth.principal import SYSTEM, Principal
from edge.errors import DomainError
from edge.keys import StationKeys
from edge.store import Store
from edge.store.db import fetch_all
from edge.store.files import append_durably
from markaz.clock import iso, utcnow

__all__ = ["Anchor", "AnchorKeyMissing", "AuditLog"]

log = logging.getLogger(__name__)

ENTRY_COLUMNS = "seq, ts, actor, actor_kind, action, entity, entity_id, before, after, hash"
ANCHOR_COLUMNS = "ts, head_seq, head_hash, key_id, signature"
FILE_SETTLE_S = 5.0  # how long verify waits for an anchor committed a moment ago to reach the file
IN_FLIGHT_MAX = 2  # anchors committed but not yet in the file: one per writing process (the node, a CLI command)


class AnchorKeyMissing(DomainError):
    """Anchors can only be checked with the key that signed them; a missing key is not the same as no anchors."""

    status = 503
    code = "anchor_key_missing"


def _json(value: dict[str, Any] | None) -> str | None:
    return (
        None
        if value is None
        else json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    )


class AuditLog:
    def __init__(
        self,
        store: Store,
        keys: StationKeys,
        anchors_file: Path,
        station: str,
        clock: Callable[[], datetime] = utcnow,
        *,
        anchor_every: int = 50,
    ) -> None:
        self.store = store
        self.keys = keys
        self.anchors_file = Path(anchors_file)
        self.station = station
        self.clock = clock
        self.anchor_every = anchor_every
        self.listeners: list[Callable[[Anchor], None]] = []  # e.g. telemetry forwarding anchors to central

    # -- writing -------------------------------------------------------------------------------------------------

    def append(
        self,
        actor: Principal,
        action: str,
        entity: str,
        entity_id: str | None = None,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
        db: sqlite_utils.Database | None = None,
    ) -> int:
        """Append one entry; pass the writer handle `db` to join the caller's transaction (the usual case)."""
        if db is None:
            with self.store.write() as wdb:
                return self.append(actor, action, entity, entity_id, before, after, db=wdb)
        head_seq, head_hash = self._current_head(db)
        seq = head_seq + 1
        entry: dict[str, Any] = {
            "seq": seq,
            "ts": iso(self.clock()),
            "actor": actor.subject,
            "actor_kind": actor.kind,
            "action": action,
            "entity": entity,
            "entity_id": None if entity_id is None else str(entity_id),
            "before": _json(before),
            "after": _json(after),
        }
        digest = entry_hash(head_hash, entry)
        # On every ticket's path: a plain statement, not sqlite-utils' insert (see edge/store/db.py).
        db.execute(
            "INSERT INTO audit_log (seq, ts, actor, actor_kind, action, entity, entity_id, before, after, prev_hash, hash) "
            "VALUES (:seq, :ts, :actor, :actor_kind, :action, :entity, :entity_id, :before, :after, :prev, :hash)",
            {**entry, "prev": head_hash, "hash": digest},
        )
        last = self._last_anchored_seq(db)
        if seq - (0 if last is None else last) >= self.anchor_every:
            self._sign(db, seq, digest)
        return seq

    def _current_head(self, db: sqlite_utils.Database) -> tuple[int, str]:
        # Read inside the writer's transaction (a primary-key lookup), so it is right even after a rollback or a
        # write by another process (the CLI).
        row = db.conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        return (row[0], row[1]) if row else (0, GENESIS)

    @staticmethod
    def _last_anchored_seq(db: sqlite_utils.Database) -> int | None:
        row = db.conn.execute("SELECT head_seq FROM audit_anchors ORDER BY id DESC LIMIT 1").fetchone()
        return None if row is None else int(row[0])

    def head(self) -> tuple[int, str]:
        row = self.store.query_one("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        return (row["seq"], row["hash"]) if row else (0, GENESIS)

    def finish_interrupted_anchor(self) -> Anchor | None:
        """At start: if the process stopped between committing an anchor and writing its line (kill -9 or a power
        cut in that instant), the newest anchor of the table is the only one missing from the file; write it (and
        offer it to the listeners, which never saw it), and record that in the log. Anything else missing stays
        missing, for verify to report."""
        db_anchors = self.store.query(f"SELECT {ANCHOR_COLUMNS} FROM audit_anchors ORDER BY id")
        in_file = read_anchors_file(self.anchors_file)
        if not db_anchors or not in_file:
            return None
        in_db = [anchor_identity(a) for a in db_anchors]
        known = {anchor_identity(a) for a in in_file if "_invalid" not in a}
        if in_db[-1] in known or set(in_db[:-1]) != known:
            return None
        newest = db_anchors[-1]
        anchor = Anchor(self.station, **newest)
        self._publish(anchor)
        self.append(SYSTEM, "audit.anchor_restored", "audit_anchor", str(anchor.head_seq), after={"ts": anchor.ts})
        log.warning(
            "anchor of entry %s was committed but not written to %s: written now", anchor.head_seq, self.anchors_file
        )
        return anchor

    def anchor(self, force: bool = False) -> Anchor | None:
        """Sign the current head now (the time-based anchor, and at start and stop); skipped when the head has not
        moved since the last anchor, unless forced. The first call on a new station signs even the empty chain, so
        a station that holds no anchor at all has lost them."""
        with self.store.write() as db:
            seq, digest = self._current_head(db)
            last = self._last_anchored_seq(db)
            if not force and last is not None and last == seq:
                return None
            return self._sign(db, seq, digest)

    def _sign(self, db: sqlite_utils.Database, seq: int, digest: str) -> Anchor:
        ts = iso(self.clock())
        signature = self.keys.anchor_key.sign(anchor_message(seq, digest, ts, self.station))
        anchor = Anchor(self.station, ts, seq, digest, self.keys.anchor_key_id, base64.b64encode(signature).decode())
        db.table("audit_anchors").insert(
            {"ts": ts, "head_seq": seq, "head_hash": digest, "key_id": anchor.key_id, "signature": anchor.signature}
        )
        self.store.after_commit(lambda: self._publish(anchor))
        return anchor

    def _publish(self, anchor: Anchor) -> None:
        """After the commit: the durable copy outside the database, then the listeners (best effort)."""
        append_durably(self.anchors_file, (json.dumps(asdict(anchor)) + "\n").encode())
        for listener in list(self.listeners):
            try:
                listener(anchor)
            except Exception:  # forwarding is best effort; the anchor itself is already durable
                log.exception("audit anchor listener failed")

    # -- reading -------------------------------------------------------------------------------------------------

    def page(self, after_seq: int = 0, limit: int = 100, action: str | None = None) -> AuditPage:
        """Entries after `after_seq`, oldest first, optionally of one action; `next_after_seq` continues."""
        where = "seq > ?"
        params: list[object] = [after_seq]
        if action:
            where += " AND action = ?"
            params.append(action)
        rows = list(
            self.store.read()
            .table("audit_log")
            .rows_where(where, params, order_by="seq", limit=limit, select=ENTRY_COLUMNS)
        )
        entries = [AuditEntry(**row) for row in rows]
        return AuditPage(entries, entries[-1].seq if len(entries) == limit else None)

    def export_rows(self) -> Iterator[dict[str, Any]]:
        """Every entry with its hashes, oldest first, from one snapshot: what `markaz edge audit export` writes for
        central to check against the anchors it holds."""
        conn = self.store.read().conn
        conn.execute("BEGIN")
        try:
            yield from self._stream(conn, f"SELECT {ENTRY_COLUMNS}, prev_hash FROM audit_log ORDER BY seq")
        finally:
            conn.execute("ROLLBACK")

    def verify(self) -> VerifyReport:
        """Recompute the chain and check it against every anchor the station holds: the table and the file, each
        against the other. Reads one snapshot of the database, streaming the entries, so it can run while the node
        serves."""
        public_key = self.keys.existing_anchor_public_key()
        if public_key is None:
            raise AnchorKeyMissing(f"no anchor key in {self.keys.dir}: the signed anchors cannot be checked")
        before_snapshot = read_anchors_file(self.anchors_file)
        conn = self.store.read().conn
        conn.execute("BEGIN")  # one snapshot for the anchors table and the entries
        try:
            db_anchors = fetch_all(conn, f"SELECT {ANCHOR_COLUMNS} FROM audit_anchors ORDER BY id")
            for anchor in db_anchors:
                anchor["station"] = self.station
            file_anchors = self._file_as_of_snapshot(db_anchors, before_snapshot)
            rows = self._stream(conn, "SELECT * FROM audit_log ORDER BY seq")
            return verify_log(rows, db_anchors, file_anchors, public_key, self.anchor_every, self.anchors_file.name)
        finally:
            conn.execute("ROLLBACK")

    def _file_as_of_snapshot(
        self, db_anchors: list[dict[str, Any]], before_snapshot: list[dict[str, Any]] | None
    ) -> list[dict[str, Any]] | None:
        """The file as it stood when the snapshot was taken. Anchors reach the file just after their commit, so the
        newest anchors of the snapshot may be a moment late (wait for them, never for older ones: those are simply
        missing), and anchors that appear in the file after the snapshot and were not there before it belong to a
        later commit (leave them out)."""
        order = [anchor_identity(a) for a in db_anchors]
        in_db = set(order)
        earlier = {anchor_identity(a) for a in before_snapshot or []}
        deadline = time.monotonic() + FILE_SETTLE_S
        while True:
            now = read_anchors_file(self.anchors_file)
            in_file = {anchor_identity(a) for a in now or []}
            missing = [n for n, key in enumerate(order) if key not in in_file]
            in_flight = (
                bool(missing)
                and len(missing) <= IN_FLIGHT_MAX
                and missing == list(range(len(order) - len(missing), len(order)))
            )
            if not in_flight or now is None or time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        if now is None:
            return None
        return [a for a in now if "_invalid" in a or anchor_identity(a) in in_db or anchor_identity(a) in earlier]

    @staticmethod
    def _stream(conn: Any, sql: str) -> Iterator[dict[str, Any]]:
        cursor = conn.execute(sql)
        names = [d[0] for d in cursor.description]
        for row in cursor:
            yield dict(zip(names, row, strict=True))
