"""The prosecution's intake desk: verify a referral against the trusted station keys, give it a case number once.

Idempotent by referral id: a station that retries after a lost answer gets the same case number back, and the
referral is counted once. Only what the desk needs to answer is kept (ids, reference, a digest of the package)."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edge.reports.referral import ReferralInvalid, canonical, verify

SCHEMA = """
CREATE TABLE IF NOT EXISTS referrals (
    referral_id TEXT PRIMARY KEY,
    station TEXT NOT NULL,
    reference TEXT NOT NULL,
    key_id TEXT NOT NULL,
    package_sha256 TEXT NOT NULL,
    case_number TEXT NOT NULL UNIQUE,
    received_at TEXT NOT NULL
);
"""


class IntakeDesk:
    def __init__(self, db_path: Path, trusted: list[Ed25519PublicKey]) -> None:
        Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(SCHEMA)
        self._lock = threading.Lock()
        self.trusted = trusted

    def receive(self, document: Any) -> dict[str, Any]:
        """Raises ReferralInvalid for a malformed, altered or untrusted package."""
        checked = verify(document, self.trusted)
        digest = hashlib.sha256(canonical(checked.package)).hexdigest()
        with self._lock:
            row = self._conn.execute(
                "SELECT case_number, package_sha256 FROM referrals WHERE referral_id = ?", [checked.referral_id]
            ).fetchone()
            if row is not None:
                if row[1] != digest:
                    raise ReferralInvalid("this referral id was already received with different content")
                return {"referral_id": checked.referral_id, "case_number": row[0], "duplicate": True}
            now = datetime.now(UTC)
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                n = self._conn.execute("SELECT count(*) FROM referrals").fetchone()[0] + 1
                case = f"PP-{now.year}-{n:06d}"
                self._conn.execute(
                    "INSERT INTO referrals VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        checked.referral_id,
                        checked.station,
                        checked.reference,
                        checked.key_id,
                        digest,
                        case,
                        now.isoformat(),
                    ],
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return {"referral_id": checked.referral_id, "case_number": case, "duplicate": False}

    def count(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM referrals").fetchone()[0])

    def close(self) -> None:
        self._conn.close()
