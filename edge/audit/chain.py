"""How an audit entry is hashed: the one definition (in markaz.contracts.audit, shared with central) used by the
writer and the verifier."""

from __future__ import annotations

from markaz.contracts.audit import ENTRY_FIELDS, GENESIS, anchor_message, canonical, entry_hash

__all__ = ["ENTRY_FIELDS", "GENESIS", "anchor_message", "canonical", "entry_hash"]
