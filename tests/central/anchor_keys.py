"""Test support: a station's audit anchor key registered at central, and anchors it signs (central refuses any
anchor not signed by a key registered for the station)."""

from __future__ import annotations

import base64
from datetime import datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from central.anchors import add_key
from central.store import CentralStore
from markaz.clock import iso, parse_iso
from markaz.contracts.audit import anchor_message


class StationAnchorKey:
    def __init__(self, store: CentralStore, station: str) -> None:
        self.station = station
        self.key = Ed25519PrivateKey.generate()
        pem = self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.key_id = add_key(store, station, pem, "test")

    def anchor(self, anchor_ts: str | datetime, head_seq: int, head_hash: str) -> dict:
        """An anchor's data as the station's edge signs it."""
        ts = iso(parse_iso(anchor_ts) if isinstance(anchor_ts, str) else anchor_ts)
        signature = self.key.sign(anchor_message(head_seq, head_hash, ts, self.station))
        return {"anchor_ts": ts, "head_seq": head_seq, "head_hash": head_hash, "key_id": self.key_id,
                "signature": base64.b64encode(signature).decode()}  # fmt: skip
