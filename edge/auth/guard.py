"""Sign-in accounting: slowing, lock-out, per-address throttling and supervisor-approved resets.

Every attempt is counted *before* its password is checked, in the same transaction as the check of the lock, so
parallel guesses cannot all pass a check made before any of them was counted (30 at once used to give 29 x 401 and
1 x 200 with no lock). An attempt refused by the slowing counts too: hammering during a back-off is itself guessing.
Attempts at a locked account, or from a refused address, are not counted against the account (no hashing happens)
but do count against the address, so one address cannot keep locking accounts or flood the log. A success takes its
own count back; an attempt refused for lack of a hashing slot (`refund`) never happened.

The guard works on the writer's connection of the caller's transaction and holds no state of its own."""

from __future__ import annotations

import hmac
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta

from edge.settings import AuthSettings
from markaz.clock import iso, parse_iso

MAX_DELAY_S = 60.0


@dataclass(frozen=True)
class Admission:
    """The attempt may check its password; it is already counted."""

    name_hash: str
    client: str | None
    via_reset: str | None  # the account whose supervisor-approved reset this attempt uses
    failures: int
    locked: bool


@dataclass(frozen=True)
class Refusal:
    """The attempt is refused without checking its password."""

    message: str
    retry_after_s: float
    counted: bool  # counted against the account (and so audited)
    failures: int
    locked: bool


class SignInGuard:
    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings

    def admit(
        self, conn: sqlite3.Connection, name_hash: str, client: str | None, now: datetime, reset: str | None = None
    ) -> Admission | Refusal:
        """Decide and count one attempt. `reset` names an account whose valid reset code the attempt presented."""
        if reset is not None:
            conn.execute("UPDATE sign_in_resets SET attempts_left = attempts_left - 1 WHERE username = ?", [reset])
            return Admission(name_hash, client, reset, 0, False)
        if client is not None:
            # Windows that have run out say nothing any more: keep the table as small as the current window.
            stale = iso(now - timedelta(minutes=self.settings.client_window_minutes))
            conn.execute("DELETE FROM sign_in_client_failures WHERE window_start <= ?", [stale])
            count, start = self._client_window(conn, client, now)
            if count >= self.settings.client_failures_limit:
                end = start + timedelta(minutes=self.settings.client_window_minutes)
                wait = max((end - now).total_seconds(), 1.0)
                return Refusal(
                    f"too many failed sign-ins from this address; try again in {int(wait) + 1} s",
                    wait,
                    counted=False,
                    failures=0,
                    locked=False,
                )
        row = conn.execute(
            "SELECT failures, last_failure_at, locked_until FROM sign_in_failures WHERE name_hash = ?", [name_hash]
        ).fetchone()
        failures = 0 if row is None else int(row[0])
        last = None if row is None else parse_iso(row[1])
        locked_until = None if row is None or row[2] is None else parse_iso(row[2])
        if locked_until is not None and locked_until > now:
            self._count_client(conn, client, now, +1)
            wait = (locked_until - now).total_seconds()
            return Refusal(
                f"account locked after repeated failed sign-ins; try again in {int(wait) + 1} s",
                wait,
                counted=False,
                failures=failures,
                locked=True,
            )
        if locked_until is not None:
            failures = 0  # the lock has run out: a fresh start
        wait = 0.0
        over = failures - self.settings.slow_after_failures
        if over >= 0 and last is not None:
            delay = min(2.0**over, MAX_DELAY_S)
            wait = delay - (now - last).total_seconds()
        failures += 1
        locked = failures >= self.settings.lock_after_failures
        new_lock = iso(now + timedelta(minutes=self.settings.lock_minutes)) if locked else None
        conn.execute(
            "INSERT INTO sign_in_failures (name_hash, failures, last_failure_at, locked_until) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(name_hash) DO UPDATE SET failures = excluded.failures, "
            "last_failure_at = excluded.last_failure_at, locked_until = excluded.locked_until",
            [name_hash, failures, iso(now), new_lock],
        )
        self._count_client(conn, client, now, +1)
        if wait > 0:
            if locked:
                lock_s = self.settings.lock_minutes * 60
                return Refusal(
                    f"account locked after repeated failed sign-ins; try again in {int(lock_s) + 1} s",
                    lock_s,
                    counted=True,
                    failures=failures,
                    locked=True,
                )
            return Refusal(
                f"too many failed sign-ins; wait {wait:.0f} s", wait, counted=True, failures=failures, locked=False
            )
        return Admission(name_hash, client, None, failures, locked)

    def succeeded(self, conn: sqlite3.Connection, admission: Admission, username: str) -> None:
        """The password was right: the account starts afresh and the attempt does not count against the address."""
        conn.execute("DELETE FROM sign_in_failures WHERE name_hash = ?", [admission.name_hash])
        conn.execute("DELETE FROM sign_in_resets WHERE username = ?", [username])
        if admission.via_reset is None:
            self._count_client(conn, admission.client, None, -1)

    def failed(self, conn: sqlite3.Connection, admission: Admission, now: datetime) -> None:
        """The password was wrong (already counted): the slowing's delay runs from now, when that became known."""
        if admission.via_reset is None:
            conn.execute(
                "UPDATE sign_in_failures SET last_failure_at = ? WHERE name_hash = ?", [iso(now), admission.name_hash]
            )

    def refund(self, conn: sqlite3.Connection, admission: Admission) -> None:
        """The password was never checked (no hashing slot): take the attempt's count back."""
        if admission.via_reset is not None:
            conn.execute(
                "UPDATE sign_in_resets SET attempts_left = attempts_left + 1 WHERE username = ?", [admission.via_reset]
            )
            return
        conn.execute(
            "UPDATE sign_in_failures SET failures = max(failures - 1, 0), "
            "locked_until = CASE WHEN failures - 1 < ? THEN NULL ELSE locked_until END WHERE name_hash = ?",
            [self.settings.lock_after_failures, admission.name_hash],
        )
        self._count_client(conn, admission.client, None, -1)

    def reset_valid(self, conn: sqlite3.Connection, username: str, code_hash: str, now: datetime) -> bool:
        row = conn.execute(
            "SELECT code_hash, expires_at, attempts_left FROM sign_in_resets WHERE username = ?", [username]
        ).fetchone()
        if row is None or int(row[2]) <= 0 or parse_iso(row[1]) <= now:
            return False
        return hmac.compare_digest(str(row[0]), code_hash)

    def approve_reset(
        self, conn: sqlite3.Connection, username: str, code_hash: str, approved_by: str, now: datetime
    ) -> datetime:
        expires = now + timedelta(minutes=self.settings.reset_minutes)
        conn.execute(
            "INSERT INTO sign_in_resets (username, code_hash, approved_by, expires_at, attempts_left) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT(username) DO UPDATE SET code_hash = excluded.code_hash, "
            "approved_by = excluded.approved_by, expires_at = excluded.expires_at, "
            "attempts_left = excluded.attempts_left",
            [username, code_hash, approved_by, iso(expires), self.settings.reset_attempts],
        )
        return expires

    # -- per client address --------------------------------------------------------------------------------------
    def _client_window(self, conn: sqlite3.Connection, client: str, now: datetime) -> tuple[int, datetime]:
        row = conn.execute(
            "SELECT failures, window_start FROM sign_in_client_failures WHERE address = ?", [client]
        ).fetchone()
        if row is None:
            return 0, now
        start = parse_iso(row[1])
        if now - start >= timedelta(minutes=self.settings.client_window_minutes):
            return 0, now
        return int(row[0]), start

    def _count_client(self, conn: sqlite3.Connection, client: str | None, now: datetime | None, step: int) -> None:
        if client is None:
            return
        if step < 0:
            conn.execute(
                "UPDATE sign_in_client_failures SET failures = max(failures - 1, 0) WHERE address = ?", [client]
            )
            return
        assert now is not None
        count, start = self._client_window(conn, client, now)
        conn.execute(
            "INSERT INTO sign_in_client_failures (address, failures, window_start) VALUES (?, ?, ?) "
            "ON CONFLICT(address) DO UPDATE SET failures = excluded.failures, window_start = excluded.window_start",
            [client, count + step, iso(start)],
        )
