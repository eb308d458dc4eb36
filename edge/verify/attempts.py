"""Attempts per document per visit: a visit is the attempts for one document hash within a window, ended by a match."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta

import sqlite_utils

from edge.errors import RateLimited
from edge.store import Store
from markaz.clock import iso, parse_iso


class Attempts:
    def __init__(self, store: Store, max_attempts: int, visit_minutes: float, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.max_attempts = max_attempts
        self.window = timedelta(minutes=visit_minutes)
        self.clock = clock

    def reserve(self, document_hash: str, kiosk: str) -> int:
        """Count this attempt before running it (so parallel requests cannot exceed the limit); returns its row id.

        Raises RateLimited once the visit's attempts are used up: the kiosk then sends the visitor to staff."""
        now: datetime = self.clock()
        since = iso(now - self.window)
        with self.store.write() as db:
            last_match = db.execute(
                "SELECT max(at) FROM verification_attempts WHERE document_hash = ? AND decision = 'match' AND at >= ?",
                (document_hash, since),
            ).fetchone()[0]
            start = max(since, last_match) if last_match else since
            rows = db.execute(
                "SELECT at FROM verification_attempts WHERE document_hash = ? AND at >= ? AND decision != 'match' "
                "ORDER BY at",
                (document_hash, start),
            ).fetchall()
            if len(rows) >= self.max_attempts:
                # the oldest counted attempt leaves the window first
                wait = (parse_iso(rows[0][0]) + self.window - now).total_seconds()
                raise RateLimited(
                    f"{self.max_attempts} verification attempts used for this document in this visit; please see staff",
                    retry_after_s=max(1.0, wait),
                    reason="attempts_exhausted",
                    see_staff=True,
                )
            # prune what can no longer count (keeps the table small; no biometric data is here anyway)
            db.execute(
                "DELETE FROM verification_attempts WHERE at < ?", (iso(now - 2 * self.window - timedelta(days=1)),)
            )
            cur = db.execute(
                "INSERT INTO verification_attempts (document_hash, kiosk, at, decision) VALUES (?, ?, ?, 'retry')",
                (document_hash, kiosk, iso(now)),
            )
            assert cur.lastrowid is not None  # an INSERT gives one
            return int(cur.lastrowid)

    def record(self, attempt_id: int, decision: str, db: sqlite_utils.Database | None = None) -> None:
        if db is None:
            with self.store.write() as wdb:
                return self.record(attempt_id, decision, wdb)
        db.execute("UPDATE verification_attempts SET decision = ? WHERE id = ?", (decision, attempt_id))

    def cancel(self, attempt_id: int) -> None:
        """The request was refused before a decision (bad image, overload): it does not count."""
        with self.store.write() as db:
            db.execute("DELETE FROM verification_attempts WHERE id = ?", (attempt_id,))

    def used(self, document_hash: str, db: sqlite_utils.Database | sqlite3.Connection | None = None) -> int:
        """Attempts counting against the current visit: since the window began or the last match, whichever is later."""
        conn = db if db is not None else self.store.read()
        since = iso(self.clock() - self.window)
        last_match = conn.execute(
            "SELECT max(at) FROM verification_attempts WHERE document_hash = ? AND decision = 'match' AND at >= ?",
            (document_hash, since),
        ).fetchone()[0]
        start = max(since, last_match) if last_match else since
        return int(
            conn.execute(
                "SELECT count(*) FROM verification_attempts WHERE document_hash = ? AND at >= ? AND decision != 'match'",
                (document_hash, start),
            ).fetchone()[0]
        )


def face_match(db: sqlite_utils.Database | sqlite3.Connection, attempt_id: int) -> tuple[str, str] | None:
    """(kiosk, at) of attempt `attempt_id` when it ended in a face match; None for any other attempt or none.

    What another part (a ticket of a service that needs identity) may stand on: the attempt's own record, nothing
    about the person beyond the keyed document hash it already holds."""
    row = db.execute(
        "SELECT kiosk, at FROM verification_attempts WHERE id = ? AND decision = 'match'", (attempt_id,)
    ).fetchone()
    return None if row is None else (str(row[0]), str(row[1]))
