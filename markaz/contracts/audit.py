"""The audit chain's shared definitions: how an entry is hashed, what an anchor signs, and the export file the edge
writes for central to check. One definition for the edge (which writes and verifies) and central (which checks a
station's export against the anchors it was sent), so central needs no edge code."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

GENESIS = "0" * 64
ENTRY_FIELDS = ("seq", "ts", "actor", "actor_kind", "action", "entity", "entity_id", "before", "after")
EXPORT_FORMAT = "markaz-audit-export/1"  # first line of an export: {"format", "station"}; then one entry a line
EXPORT_FIELDS = (*ENTRY_FIELDS, "prev_hash", "hash")


def canonical(entry: Mapping[str, Any]) -> str:
    return json.dumps({k: entry[k] for k in ENTRY_FIELDS}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(prev_hash: str, entry: Mapping[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical(entry)).encode()).hexdigest()


def anchor_message(head_seq: int, head_hash: str, ts: str, station: str) -> bytes:
    """The bytes an anchor signs: which station, which head, when."""
    return f"markaz-audit-anchor/1|{station}|{head_seq}|{head_hash}|{ts}".encode()


def anchor_key_id(raw_public_key: bytes) -> str:
    """An anchor key's id (sent with every anchor): the start of the SHA-256 of its raw Ed25519 public bytes."""
    return hashlib.sha256(raw_public_key).hexdigest()[:16]
