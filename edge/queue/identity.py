"""The identity a ticket of a `needs_identity` service stands on: one recent face match made at the issuing kiosk.

The kiosk used to be the only one to check this, so any holder of a kiosk's credentials could take such tickets
unverified. The queue now checks the verification part's own record inside the ticket's write transaction, so one
match gives exactly one ticket (a unique index on `tickets.verification_id` backs this up). Staff at a desk check a
visitor's identity in person and need no verification id."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlite_utils

from edge.auth.principal import Principal
from edge.errors import Conflict, Forbidden, Invalid
from edge.verify.attempts import face_match
from markaz.clock import iso


def verified_identity(
    db: sqlite_utils.Database,
    service: dict[str, Any],
    actor: Principal,
    verification_id: int | None,
    now: datetime,
    window_s: float,
) -> int | None:
    """The verification id the new ticket records, after checking it; raises when the ticket may not be issued."""
    at_kiosk = actor.kind == "device" and actor.role == "kiosk"
    if verification_id is None:
        if at_kiosk and service["needs_identity"]:
            raise Forbidden(
                f"service {service['code']!r} needs a verified identity: verify the visitor's card and face first"
            )
        return None
    if not at_kiosk:
        raise Invalid("only a kiosk links a ticket to a face verification")
    match = face_match(db.conn, verification_id)
    if match is None or match[0] != actor.subject:
        raise Forbidden(f"verification {verification_id} is not a face match made at this kiosk")
    if match[1] < iso(now - timedelta(seconds=window_s)):
        raise Forbidden(f"verification {verification_id} is older than {window_s:.0f} s: verify the visitor again")
    used = db.execute("SELECT number FROM tickets WHERE verification_id = ?", [verification_id]).fetchone()
    if used is not None:
        raise Conflict(f"verification {verification_id} was already used for ticket {used[0]}")
    return verification_id
