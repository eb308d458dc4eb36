"""Central staff accounts and sign-in: Argon2id hashes (argon2-cffi, the library the edge uses), lock-out after
repeated failures, sessions whose token only the browser holds (the store keeps its SHA-256).

A failed attempt at an account is counted *before* its password is checked, in the same transaction as the check
of the lock, so parallel guesses cannot all slip in under the limit. Unknown names are checked against a dummy hash
(the same cost) and are not stored: there is no account to lock and a typed name may be a password."""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from central.db import Database
from central.staff import audit
from central.staff.roles import CentralRole, parse_role
from markaz.clock import iso, parse_iso, utcnow

MIN_PASSWORD = 10
_hasher = PasswordHasher()  # RFC 9106 low-memory profile (64 MiB), the edge's settings


class StaffError(Exception):
    """A refused staff operation, with a message fit to show."""


class SignInRefused(StaffError):
    """Wrong name or password, or a locked account (`retry_after_s` set)."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class StaffPolicy:
    lock_after_failures: int = 5
    lock_minutes: float = 15.0
    session_hours: float = 12.0
    max_concurrent_hashes: int = 4


@dataclass(frozen=True)
class Staff:
    """A signed-in member of central's staff."""

    username: str
    role: CentralRole


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class StaffService:
    def __init__(self, db: Database, policy: StaffPolicy | None = None, clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.policy = policy or StaffPolicy()
        self.clock = clock
        self._slots = threading.BoundedSemaphore(self.policy.max_concurrent_hashes)
        self._dummy = _hasher.hash("markaz-central-no-such-user")

    # -- accounts ------------------------------------------------------------------------------------------------
    def add_user(self, username: str, password: str, role: str, actor: str = "cli") -> Staff:
        staff_role = parse_role(role)
        if not username or len(username) > 64 or not username.isprintable() or " " in username:
            raise StaffError("user name must be 1-64 printable characters without spaces")
        if len(password) < MIN_PASSWORD:
            raise StaffError(f"password too short: at least {MIN_PASSWORD} characters")
        with self._slots:
            pw_hash = _hasher.hash(password)
        with self.db.transaction() as tx:
            if tx.execute("SELECT 1 FROM staff WHERE username = ?", (username,)).fetchone():
                raise StaffError(f"user {username!r} already exists")
            tx.execute(
                "INSERT INTO staff (username, password_hash, role, active, created_at) VALUES (?, ?, ?, 1, ?)",
                (username, pw_hash, staff_role.value, iso(self.clock())),
            )
            audit.append(tx, actor, "staff", "staff.create", "staff", username, {"role": staff_role.value})
        return Staff(username, staff_role)

    def set_active(self, username: str, active: bool, actor: Staff) -> None:
        """Enable or disable an account (an admin cannot disable their own); disabling ends its sessions."""
        if username == actor.username and not active:
            raise StaffError("you cannot disable your own account")
        with self.db.transaction() as tx:
            row = tx.execute("SELECT active FROM staff WHERE username = ?", (username,)).fetchone()
            if row is None:
                raise StaffError(f"no user {username!r}")
            tx.execute("UPDATE staff SET active = ? WHERE username = ?", (int(active), username))
            if not active:
                tx.execute("UPDATE staff_sessions SET revoked = 1 WHERE username = ?", (username,))
            audit.append(tx, actor.username, "staff", "staff.update", "staff", username, {"active": active},
                         {"active": bool(row[0])})  # fmt: skip

    def unlock(self, username: str, actor: Staff) -> None:
        """Lift a lock-out before it runs out (the account holder was verified another way)."""
        with self.db.transaction() as tx:
            if tx.execute("SELECT 1 FROM staff WHERE username = ?", (username,)).fetchone() is None:
                raise StaffError(f"no user {username!r}")
            tx.execute("UPDATE staff SET failures = 0, locked_until = NULL WHERE username = ?", (username,))
            audit.append(tx, actor.username, "staff", "staff.unlock", "staff", username)

    def users(self) -> list[dict[str, object]]:
        return self.db.query(
            "SELECT username, role, active, created_at, failures, locked_until FROM staff ORDER BY username"
        )

    # -- sign-in -------------------------------------------------------------------------------------------------
    def sign_in(self, username: str, password: str, client: str | None = None) -> tuple[str, Staff, datetime]:
        """(session token, who, expiry) or SignInRefused. The token is shown once and kept only as its hash."""
        now = self.clock()
        typed = username[:64]
        refused: SignInRefused | None = None
        failures, locked = 0, False
        with self.db.transaction() as tx:
            row = tx.execute(
                "SELECT password_hash, role, active, failures, locked_until FROM staff WHERE username = ?"
                + self.db.lock_row,
                (typed,),
            ).fetchone()
            if row is not None:
                locked_until = parse_iso(row[4]) if row[4] else None
                if locked_until is not None and locked_until > now:
                    wait = (locked_until - now).total_seconds()
                    audit.append(tx, typed, "anonymous", "auth.login_refused", "staff", typed,
                                 {"locked": True, "client": client})  # fmt: skip
                    refused = SignInRefused(f"account locked; try again in {int(wait) + 1} s", wait)
                else:
                    failures, locked = self._count_failure(tx, typed, row, locked_until, now)
        if refused is not None:  # raised after the commit, so the refusal's audit entry stays
            raise refused
        with self._slots:
            ok = self._verify(row[0] if row else None, password)
        if not ok or row is None or not row[2]:
            label = typed if row is not None else "(unknown name)"
            with self.db.transaction() as tx:
                audit.append(tx, label, "anonymous", "auth.login_failed", "staff", label,
                             {"failures": failures, "locked": locked, "client": client})  # fmt: skip
            if locked:
                raise SignInRefused(
                    f"account locked after {failures} failed sign-ins; try again in "
                    f"{int(self.policy.lock_minutes * 60)} s",
                    self.policy.lock_minutes * 60,
                )
            raise SignInRefused("wrong user name or password")
        token = "mkc_" + secrets.token_urlsafe(32)
        expires = now + timedelta(hours=self.policy.session_hours)
        with self.db.transaction() as tx:
            # a success takes back its own count (and any older failures)
            tx.execute("UPDATE staff SET failures = 0, locked_until = NULL WHERE username = ?", (typed,))
            tx.execute(
                "INSERT INTO staff_sessions (token_hash, username, created_at, expires_at) VALUES (?, ?, ?, ?)",
                (token_hash(token), typed, iso(now), iso(expires)),
            )
            audit.append(tx, typed, "staff", "auth.login", "staff", typed, {"client": client})
        return token, Staff(typed, CentralRole(row[1])), expires

    def _count_failure(
        self, tx: Any, username: str, row: tuple[Any, ...], locked_until: datetime | None, now: datetime
    ) -> tuple[int, bool]:
        """Count this attempt as a failure before its password is checked (a success takes it back)."""
        failures = (0 if locked_until is not None else int(row[3])) + 1  # a lock that ran out: a fresh start
        locked = failures >= self.policy.lock_after_failures
        until = iso(now + timedelta(minutes=self.policy.lock_minutes)) if locked else None
        tx.execute(
            "UPDATE staff SET failures = ?, last_failure_at = ?, locked_until = ? WHERE username = ?",
            (failures, iso(now), until, username),
        )
        return failures, locked

    def _verify(self, stored: str | None, password: str) -> bool:
        try:
            return _hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def resolve(self, token: str | None) -> Staff | None:
        """Who holds this session token now (None if unknown, revoked, expired or the account is disabled)."""
        if not token or len(token) > 200:
            return None
        rows = self.db.query(
            "SELECT s.username, s.expires_at, s.revoked, u.role, u.active FROM staff_sessions s "
            "JOIN staff u ON u.username = s.username WHERE s.token_hash = ?",
            (token_hash(token),),
        )
        if not rows:
            return None
        r = rows[0]
        if r["revoked"] or not r["active"] or parse_iso(r["expires_at"]) <= self.clock():
            return None
        try:
            return Staff(r["username"], CentralRole(r["role"]))
        except ValueError:
            return None

    def sign_out(self, token: str) -> None:
        who = self.resolve(token)
        with self.db.transaction() as tx:
            tx.execute("UPDATE staff_sessions SET revoked = 1 WHERE token_hash = ?", (token_hash(token),))
            if who is not None:
                audit.append(tx, who.username, "staff", "auth.logout", "staff", who.username)
