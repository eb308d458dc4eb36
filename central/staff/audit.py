"""Central's own audit log: who signed in, who sent which command to which station, who changed an account.

Written in the same transaction as the change it records, hash-chained with the edge's entry hash
(`markaz.contracts.audit.entry_hash`), so one chain definition serves both and `verify` finds an edited row."""

from __future__ import annotations

import json
from typing import Any

from markaz.clock import iso, utcnow
from markaz.contracts.audit import GENESIS, entry_hash


def append(
    tx: Any,
    actor: str,
    actor_kind: str,
    action: str,
    entity: str,
    entity_id: str,
    after: dict[str, Any] | None = None,
    before: dict[str, Any] | None = None,
) -> int:
    """Append one entry inside the caller's transaction; its seq. The caller's write lock orders the chain."""
    head = tx.execute("SELECT seq, hash FROM central_audit ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (int(head[0]) + 1, head[1]) if head else (1, GENESIS)
    entry = {
        "seq": seq,
        "ts": iso(utcnow()),
        "actor": actor,
        "actor_kind": actor_kind,
        "action": action,
        "entity": entity,
        "entity_id": entity_id,
        "before": json.dumps(before, sort_keys=True) if before is not None else None,
        "after": json.dumps(after, sort_keys=True) if after is not None else None,
    }
    digest = entry_hash(prev, entry)
    tx.execute(
        "INSERT INTO central_audit (seq, ts, actor, actor_kind, action, entity, entity_id, before, after, prev_hash, "
        "hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (*entry.values(), prev, digest),
    )
    return seq


def verify(rows: list[dict[str, Any]]) -> list[int]:
    """The seqs whose hash does not follow from the entry before (empty when the chain is intact)."""
    broken, prev = [], GENESIS
    for row in rows:
        if row["prev_hash"] != prev or entry_hash(prev, row) != row["hash"]:
            broken.append(int(row["seq"]))
        prev = row["hash"]
    return broken
