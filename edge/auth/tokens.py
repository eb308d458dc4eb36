"""Bearer tokens: random, shown once, stored as SHA-256 only."""

from __future__ import annotations

import hashlib
import secrets


def new_token(prefix: str) -> str:
    # The prefix tells a reader of a leaked token what it is ("mks_" staff, "mkd_" device) without revealing anything.
    return prefix + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
