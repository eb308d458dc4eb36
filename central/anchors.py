"""Checking each station's audit anchors on receipt: an anchor is kept only when it is signed (Ed25519, over
`markaz.contracts.audit.anchor_message`) by a key central has registered for that station. Anything else (unsigned,
an unknown key, a bad signature, no key registered) is refused: the store puts it in the dead letters with the
reason and marks the station, which raises the `audit_anchor_refused` alarm until a good anchor arrives.

Keys are registered out of band (provisioning, or `markaz central audit key add`), never learnt from the station's
own messages: a station that could announce its key could re-sign a rewritten history."""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from central.staff import audit
from markaz.clock import iso, utcnow
from markaz.contracts import mqtt as contract
from markaz.contracts.audit import anchor_key_id, anchor_message

if TYPE_CHECKING:  # the store calls `refusal` for every anchor it receives
    from central.store import CentralStore


class BadKey(ValueError):
    """A public key file that is not an Ed25519 public key in PEM."""


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise BadKey(f"not a PEM public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise BadKey("not an Ed25519 public key (audit anchors are signed with Ed25519)")
    return key


def key_id(key: Ed25519PublicKey) -> str:
    return anchor_key_id(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


def add_key(store: CentralStore, station: str, pem: bytes, by: str) -> str:
    """Register a station's anchor public key (audited); its key id. Registering the same key again changes nothing."""
    key = load_public_key(pem)
    kid = key_id(key)
    text = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    with store.db.transaction() as tx:
        added = tx.execute(
            "INSERT INTO station_keys (station, key_id, public_key, added_at, added_by) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (station, key_id) DO NOTHING",
            (station, kid, text, iso(utcnow()), by),
        ).rowcount
        if added:
            audit.append(tx, by, "staff", "station_key.add", "station", station, {"key_id": kid})
    return kid


def keys(store: CentralStore, station: str | None = None) -> list[dict[str, Any]]:
    sql = "SELECT station, key_id, added_at, added_by FROM station_keys"
    if station is None:
        return store.query(sql + " ORDER BY station, added_at")
    return store.query(sql + " WHERE station = ? ORDER BY added_at", (station,))


def refusal(tx: Any, station: str, anchor: contract.AuditAnchor) -> str | None:
    """Why this anchor cannot be kept (None: it is signed by a key registered for the station)."""
    if not anchor.signature:
        return "audit anchor refused: unsigned"
    row = tx.execute(
        "SELECT public_key FROM station_keys WHERE station = ? AND key_id = ?", (station, anchor.key_id)
    ).fetchone()
    if row is None:
        known = tx.execute("SELECT count(*) FROM station_keys WHERE station = ?", (station,)).fetchone()[0]
        if not known:
            return f"audit anchor refused: no anchor key is registered for {station}"
        return f"audit anchor refused: signed with key {anchor.key_id!r}, not a key registered for {station}"
    try:
        signature = base64.b64decode(anchor.signature, validate=True)
        message = anchor_message(anchor.head_seq, anchor.head_hash, iso(anchor.anchor_ts), station)
        load_public_key(row[0].encode()).verify(signature, message)
    except (InvalidSignature, binascii.Error, ValueError):
        return f"audit anchor refused: bad signature for key {anchor.key_id!r}"
    return None
