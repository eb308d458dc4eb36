"""Writing the audit log: one entry per state-changing action, inside the same transaction as the change."""

from __future__ import annotations

import base64
import json
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edge.audit.chain import GENESIS, anchor_message, entry_hash
from edge.auth.principal import Principal
from edge.keys import StationKeys
from edge.store import Store
from markaz.clock import iso, utcnow


@dataclass(frozen=True)
class Anchor:
    station: str
    ts: str
    head_seq: int
    head_hash: str
    key_id: str
    signature: str  # base64 Ed25519 over anchor_message()


def _json(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


class AuditLog:
    def __init__(self, store: Store, keys: StationKeys, anchors_file: Path, station: str, clock=utcnow) -> None:
        self.store = store
        self.keys = keys
        self.anchors_file = Path(anchors_file)
        self.station = station
        self.clock = clock
        self._anchor_lock = threading.Lock()
        self.listeners: list = []  # callables(anchor) e.g. telemetry forwarding anchors to central

    def append(
        self,
        actor: Principal,
        action: str,
        entity: str,
        entity_id: str | None = None,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
        db=None,
    ) -> int:
        """Append one entry; pass the writer handle `db` to join the caller's transaction (the usual case)."""
        if db is None:
            with self.store.write() as wdb:
                return self.append(actor, action, entity, entity_id, before, after, db=wdb)
        head = self._current_head(db)
        entry = {
            "seq": head[0] + 1,
            "ts": iso(self.clock()),
            "actor": actor.subject,
            "actor_kind": actor.kind,
            "action": action,
            "entity": entity,
            "entity_id": None if entity_id is None else str(entity_id),
            "before": _json(before),
            "after": _json(after),
        }
        digest = entry_hash(head[1], entry)
        db.execute(
            "INSERT INTO audit_log (seq, ts, actor, actor_kind, action, entity, entity_id, before, after, prev_hash, hash) "
            "VALUES (:seq, :ts, :actor, :actor_kind, :action, :entity, :entity_id, :before, :after, :prev, :hash)",
            {**entry, "prev": head[1], "hash": digest},
        )
        return entry["seq"]

    def _current_head(self, db) -> tuple[int, str]:
        # Read inside the writer's transaction (a primary-key lookup), so it is right even after a rollback or a
        # write by another process (the CLI).
        row = db.conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        return (row[0], row[1]) if row else (0, GENESIS)

    def head(self) -> tuple[int, str]:
        row = self.store.query_one("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        return (row["seq"], row["hash"]) if row else (0, GENESIS)

    def anchor(self, force: bool = False) -> Anchor | None:
        """Sign the current head and keep the signature in the database and in the anchors file outside it.

        Skipped when the head has not moved since the last anchor (unless forced)."""
        with self._anchor_lock:
            seq, digest = self.head()
            last = self.store.query_one("SELECT head_seq FROM audit_anchors ORDER BY id DESC LIMIT 1")
            if not force and last is not None and last["head_seq"] == seq:
                return None
            ts = iso(self.clock())
            sig = self.keys.anchor_key.sign(anchor_message(seq, digest, ts, self.station))
            anchor = Anchor(self.station, ts, seq, digest, self.keys.anchor_key_id, base64.b64encode(sig).decode())
            with self.store.write() as db:
                db.execute(
                    "INSERT INTO audit_anchors (ts, head_seq, head_hash, key_id, signature) VALUES (?, ?, ?, ?, ?)",
                    [anchor.ts, anchor.head_seq, anchor.head_hash, anchor.key_id, anchor.signature],
                )
            self.anchors_file.parent.mkdir(parents=True, exist_ok=True)
            with self.anchors_file.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(asdict(anchor)) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            for listener in list(self.listeners):
                try:
                    listener(anchor)
                except Exception:  # forwarding is best effort; the anchor itself is already durable
                    pass
            return anchor
