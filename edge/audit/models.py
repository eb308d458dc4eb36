"""What the audit log hands out: entries, pages of entries, and signed anchors of the chain's head."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Anchor:
    """A signed chain head, kept in the database, in the anchors file beside it, and sent to central."""

    station: str
    ts: str
    head_seq: int
    head_hash: str
    key_id: str
    signature: str  # base64 Ed25519 over chain.anchor_message()


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    ts: str
    actor: str
    actor_kind: str
    action: str
    entity: str
    entity_id: str | None
    before: str | None
    after: str | None
    hash: str


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    next_after_seq: int | None  # None when this page is the last one
