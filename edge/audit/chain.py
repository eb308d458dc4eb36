"""How an audit entry is hashed: the one definition shared by the writer and the verifier."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

GENESIS = "0" * 64
ENTRY_FIELDS = ("seq", "ts", "actor", "actor_kind", "action", "entity", "entity_id", "before", "after")


def canonical(entry: Mapping[str, Any]) -> str:
    return json.dumps({k: entry[k] for k in ENTRY_FIELDS}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(prev_hash: str, entry: Mapping[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical(entry)).encode()).hexdigest()


def anchor_message(head_seq: int, head_hash: str, ts: str, station: str) -> bytes:
    """The bytes an anchor signs: which station, which head, when."""
    return f"markaz-audit-anchor/1|{station}|{head_seq}|{head_hash}|{ts}".encode()
