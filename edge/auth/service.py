"""Sign-in with slowing, lock-out and supervisor-approved resets, staff accounts, devices and token resolution."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from cachetools import TTLCache

from edge.auth.audit import AuditWriter
from edge.auth.guard import Admission, Refusal, SignInGuard
from edge.auth.passwords import MIN_LENGTH, Passwords
from edge.auth.principal import SYSTEM, Principal
from edge.auth.roles import DeviceType, StaffRole, parse_device_type, parse_role
from edge.auth.tokens import new_token, token_hash
from edge.errors import Busy, Conflict, Invalid, NotFound, RateLimited, Unauthorized
from edge.settings import AuthSettings
from edge.store import Store
from edge.store.db import fetch_one
from markaz.clock import iso, parse_iso, utcnow
from markaz.contracts.ids import InvalidId, check_device_id

# Read aloud by a supervisor to a locked-out officer: no 0/O, 1/I/L.
_RESET_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def _normalise_reset_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


class AuthService:
    def __init__(
        self,
        store: Store,
        audit: AuditWriter,
        settings: AuthSettings,
        pseudonymise: Callable[[str], str],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """`pseudonymise` turns a typed user name into a keyed hash (the key lives outside the database)."""
        self.store = store
        self.audit = audit
        self.settings = settings
        self.pseudonymise = pseudonymise
        self.clock = clock
        self.guard = SignInGuard(settings)
        self.passwords = Passwords(settings.max_concurrent_hashes, settings.hash_wait_s)
        self._last_seen_written: dict[str, float] = {}
        # Every request carries a token: resolutions are kept briefly; any revocation here clears them all.
        self._resolved: TTLCache[str, tuple[Principal, datetime | None]] = TTLCache(
            maxsize=10_000, ttl=settings.token_cache_s
        )
        self._resolved_lock = threading.Lock()

    # -- staff -------------------------------------------------------------------------------------------------
    def add_user(self, username: str, password: str, role: str, actor: Principal = SYSTEM) -> dict[str, Any]:
        try:
            staff_role = parse_role(role)
        except ValueError as exc:
            raise Invalid(str(exc)) from None
        if len(password) < MIN_LENGTH:
            raise Invalid(f"password too short: at least {MIN_LENGTH} characters")
        if not username or len(username) > 64 or not username.isprintable() or " " in username:
            raise Invalid("user name must be 1-64 printable characters without spaces")
        pw_hash = self.passwords.hash(password)
        with self.store.write() as db:
            if fetch_one(db.conn, "SELECT 1 FROM staff WHERE username = ?", [username]):
                raise Conflict(f"user {username!r} already exists")
            now = iso(self.clock())
            db.execute(
                "INSERT INTO staff (username, password_hash, role, active, created_at) VALUES (?, ?, ?, 1, ?)",
                [username, pw_hash, staff_role.value, now],
            )
            after = {"username": username, "role": staff_role, "active": True}
            self.audit.append(actor, "staff.create", "staff", username, None, after, db=db)
        return after

    def update_user(
        self, username: str, actor: Principal, active: bool | None = None, role: StaffRole | None = None
    ) -> dict[str, Any]:
        """Enable, disable or change the role of an account; the station always keeps one active admin."""
        with self.store.write() as db:
            row = fetch_one(db.conn, "SELECT username, role, active FROM staff WHERE username = ?", [username])
            if row is None:
                raise NotFound(f"no user {username!r}")
            was_admin = row["role"] == StaffRole.ADMIN and bool(row["active"])
            new_active = bool(row["active"]) if active is None else active
            new_role = StaffRole(row["role"]) if role is None else role
            if was_admin and not (new_active and new_role == StaffRole.ADMIN):
                others = fetch_one(
                    db.conn,
                    "SELECT count(*) AS n FROM staff WHERE role = 'admin' AND active = 1 AND username != ?",
                    [username],
                )
                if others is None or others["n"] == 0:
                    raise Conflict(
                        "the last active admin cannot be disabled or demoted: make another account admin first",
                        reason="last_admin",
                    )
            before = {"active": bool(row["active"]), "role": row["role"]}
            after = {"active": new_active, "role": new_role}
            db.execute(
                "UPDATE staff SET active = ?, role = ? WHERE username = ?", [int(new_active), new_role, username]
            )
            if not new_active:
                db.execute("UPDATE tokens SET revoked = 1 WHERE kind = 'staff' AND subject = ?", [username])
            changed_before = {k: v for k, v in before.items() if after[k] != v}
            changed_after = {k: v for k, v in after.items() if before[k] != v}
            self.audit.append(actor, "staff.update", "staff", username, changed_before, changed_after, db=db)
        self.forget_tokens()
        return self._user(username)

    def set_user_active(self, username: str, active: bool, actor: Principal) -> None:
        self.update_user(username, actor, active=active)

    def list_users(self) -> list[dict[str, Any]]:
        return [
            {"username": r["username"], "role": r["role"], "active": bool(r["active"]), "created_at": r["created_at"]}
            for r in self.store.query("SELECT username, role, active, created_at FROM staff ORDER BY username")
        ]

    def _user(self, username: str) -> dict[str, Any]:
        r = self.store.query_one("SELECT username, role, active, created_at FROM staff WHERE username = ?", [username])
        if r is None:
            raise NotFound(f"no user {username!r}")
        return {
            "username": r["username"],
            "role": r["role"],
            "active": bool(r["active"]),
            "created_at": r["created_at"],
        }

    # -- sign-in -----------------------------------------------------------------------------------------------
    def login(
        self, username: str, password: str, client: str | None = None, reset_code: str | None = None
    ) -> tuple[str, Principal, datetime]:
        """Return (token, principal, expiry). Attempts are counted per typed name (known or not, kept only as a
        keyed hash) and per client address, before the password is checked; see edge/auth/guard.py."""
        now = self.clock()
        typed = username[:64]
        name_hash = self.pseudonymise(typed)
        with self.store.write() as db:
            user = fetch_one(
                db.conn, "SELECT username, password_hash, role, active FROM staff WHERE username = ?", [typed]
            )
            label = typed if user else name_hash  # an account's name, never text that matches no account
            reset_for = None
            if reset_code and user:
                code_hash = token_hash(_normalise_reset_code(reset_code))
                if self.guard.reset_valid(db.conn, typed, code_hash, now):
                    reset_for = typed
            verdict = self.guard.admit(db.conn, name_hash, client, now, reset=reset_for)
            if isinstance(verdict, Refusal) and verdict.counted:
                after = {"failures": verdict.failures, "locked": verdict.locked, "client": client, "refused": True}
                self.audit.append(self._claimant(label), "auth.login_failed", "staff", label, None, after, db=db)
        if isinstance(verdict, Refusal):
            raise RateLimited(verdict.message, verdict.retry_after_s)
        try:
            with self.passwords.slot():
                ok = self.passwords.verify(user["password_hash"] if user else None, password)
        except Busy:
            with self.store.write() as db:
                self.guard.refund(db.conn, verdict)
            raise
        if ok and user:
            issued = self._signed_in(verdict, typed, now)
            if issued is not None:
                return issued
        self._failed(verdict, label, client)
        raise Unauthorized("wrong user name or password")

    def _signed_in(self, admission: Admission, username: str, now: datetime) -> tuple[str, Principal, datetime] | None:
        token = new_token("mks_")
        expires = now + timedelta(hours=self.settings.token_ttl_hours)
        with self.store.write() as db:
            user = fetch_one(db.conn, "SELECT role, active FROM staff WHERE username = ?", [username])
            if user is None or not user["active"]:
                return None  # disabled while the password was being checked
            principal = Principal("staff", username, StaffRole(user["role"]))
            self.guard.succeeded(db.conn, admission, username)
            db.execute(
                "INSERT INTO tokens (token_hash, kind, subject, created_at, expires_at) VALUES (?, 'staff', ?, ?, ?)",
                [token_hash(token), username, iso(now), iso(expires)],
            )
            after = {"via": "reset"} if admission.via_reset else None
            self.audit.append(principal, "auth.login", "staff", username, None, after, db=db)
        return token, principal, expires

    def _failed(self, admission: Admission, label: str, client: str | None) -> None:
        after: dict[str, Any] = {"failures": admission.failures, "locked": admission.locked, "client": client}
        if admission.via_reset:
            after = {"via": "reset", "client": client}
        with self.store.write() as db:
            self.guard.failed(db.conn, admission, self.clock())
            self.audit.append(self._claimant(label), "auth.login_failed", "staff", label, None, after, db=db)

    @staticmethod
    def _claimant(label: str) -> Principal:
        return Principal("anonymous", label, "none")

    def approve_reset(self, username: str, actor: Principal, approved_by: str | None = None) -> tuple[str, datetime]:
        """A supervisor lets a locked-out account sign in once more: returns a one-time code the account holder
        gives with their password (it passes the lock-out, not the password check). Only its hash is kept."""
        code = "-".join("".join(secrets.choice(_RESET_ALPHABET) for _ in range(4)) for _ in range(3))
        now = self.clock()
        with self.store.write() as db:
            row = fetch_one(db.conn, "SELECT active FROM staff WHERE username = ?", [username])
            if row is None:
                raise NotFound(f"no user {username!r}")
            if not row["active"]:
                raise Conflict(f"account {username!r} is disabled: an admin enables it instead", reason="disabled")
            approver = approved_by or actor.subject
            expires = self.guard.approve_reset(
                db.conn, username, token_hash(_normalise_reset_code(code)), approver, now
            )
            after = {"expires_at": iso(expires), "attempts": self.settings.reset_attempts, "approved_by": approver}
            self.audit.append(actor, "auth.reset_approved", "staff", username, None, after, db=db)
        return code, expires

    def logout(self, token: str, principal: Principal) -> None:
        with self.store.write() as db:
            db.execute("UPDATE tokens SET revoked = 1 WHERE token_hash = ?", [token_hash(token)])
            self.audit.append(principal, "auth.logout", principal.kind, principal.subject, None, None, db=db)
        self.forget_tokens()

    # -- devices -----------------------------------------------------------------------------------------------
    def add_device(self, device_id: str, device_type: str, actor: Principal = SYSTEM) -> str:
        """Register a device and return its API token; only the token's hash is kept."""
        try:
            kind = parse_device_type(device_type)
        except ValueError as exc:
            raise Invalid(str(exc)) from None
        try:
            check_device_id(device_id)  # the id becomes an MQTT topic level: one definition for API, CLI and contract
        except InvalidId as exc:
            raise Invalid(str(exc)) from None
        token = new_token("mkd_")
        now = iso(self.clock())
        with self.store.write() as db:
            if fetch_one(db.conn, "SELECT 1 FROM devices WHERE id = ?", [device_id]):
                raise Conflict(f"device {device_id!r} already registered")
            db.execute(
                "INSERT INTO devices (id, type, enabled, created_at) VALUES (?, ?, 1, ?)", [device_id, kind, now]
            )
            db.execute(
                "INSERT INTO tokens (token_hash, kind, subject, created_at) VALUES (?, 'device', ?, ?)",
                [token_hash(token), device_id, now],
            )
            self.audit.append(actor, "device.register", "device", device_id, None, {"type": kind}, db=db)
        return token

    def set_device_enabled(self, device_id: str, enabled: bool, actor: Principal) -> dict[str, Any]:
        with self.store.write() as db:
            row = fetch_one(db.conn, "SELECT id, type, enabled FROM devices WHERE id = ?", [device_id])
            if row is None:
                raise NotFound(f"no device {device_id!r}")
            db.execute("UPDATE devices SET enabled = ? WHERE id = ?", [int(enabled), device_id])
            before, after = {"enabled": bool(row["enabled"])}, {"enabled": enabled}
            self.audit.append(actor, "device.update", "device", device_id, before, after, db=db)
        self.forget_tokens()
        return {"id": device_id, "type": DeviceType(row["type"]), "enabled": enabled}

    def revoke_device(self, device_id: str, actor: Principal) -> None:
        with self.store.write() as db:
            if not fetch_one(db.conn, "SELECT 1 FROM devices WHERE id = ?", [device_id]):
                raise NotFound(f"no device {device_id!r}")
            db.execute("UPDATE tokens SET revoked = 1 WHERE kind = 'device' AND subject = ?", [device_id])
            db.execute("UPDATE devices SET enabled = 0 WHERE id = ?", [device_id])
            self.audit.append(actor, "device.revoke", "device", device_id, None, {"enabled": False}, db=db)
        self.forget_tokens()

    def list_devices(self) -> list[dict[str, Any]]:
        return [
            {**r, "enabled": bool(r["enabled"])}
            for r in self.store.query("SELECT id, type, enabled, created_at, last_seen_at FROM devices ORDER BY id")
        ]

    # -- requests ----------------------------------------------------------------------------------------------
    def forget_tokens(self) -> None:
        """Drop the resolved-token cache: called on every revocation, disabling and sign-out in this process."""
        with self._resolved_lock:
            self._resolved.clear()

    def resolve_remembered(self, token: str) -> Principal | None:
        """The principal of a token resolved in the last few seconds, when answering needs neither a read nor a
        write (None otherwise: call `resolve`). Touches no file, so the API may call it on its event loop."""
        with self._resolved_lock:
            cached = self._resolved.get(token_hash(token))
        if cached is None:
            return None
        principal, expires_at = cached
        if expires_at is not None and expires_at <= self.clock():
            return None
        last_seen = self._last_seen_written.get(principal.subject, -1e9)
        if principal.kind == "device" and time.monotonic() - last_seen >= 30.0:
            return None  # its last-seen time is due to be written
        return principal

    def resolve(self, token: str) -> Principal:
        """The principal behind a bearer token, or Unauthorized. Disabled devices and users are refused.

        Resolutions are kept for `token_cache_s` (every request carries a token); any revocation in this process
        clears them, and one made by another process (the CLI) takes effect within that time."""
        digest = token_hash(token)
        with self._resolved_lock:
            cached = self._resolved.get(digest)
        if cached is not None:
            principal, expires_at = cached
            if expires_at is None or expires_at > self.clock():
                if principal.kind == "device":
                    self._touch_device(principal.subject)
                return principal
        principal, expires_at = self._resolve_from_store(digest)
        with self._resolved_lock:
            self._resolved[digest] = (principal, expires_at)
        return principal

    def _resolve_from_store(self, digest: str) -> tuple[Principal, datetime | None]:
        row = self.store.query_one(
            "SELECT t.kind, t.subject, t.expires_at, t.revoked, s.role AS staff_role, s.active AS staff_active, "
            "d.type AS device_type, d.enabled AS device_enabled "
            "FROM tokens t LEFT JOIN staff s ON t.kind = 'staff' AND s.username = t.subject "
            "LEFT JOIN devices d ON t.kind = 'device' AND d.id = t.subject WHERE t.token_hash = ?",
            [digest],
        )
        if row is None or row["revoked"]:
            raise Unauthorized("invalid or revoked token")
        expires_at = parse_iso(row["expires_at"]) if row["expires_at"] else None
        if expires_at is not None and expires_at <= self.clock():
            raise Unauthorized("token expired; sign in again")
        if row["kind"] == "staff":
            if not row["staff_active"]:
                raise Unauthorized("account disabled")
            return Principal("staff", row["subject"], StaffRole(row["staff_role"])), expires_at
        if not row["device_enabled"]:
            raise Unauthorized(f"device {row['subject']} is disabled")
        self._touch_device(row["subject"])
        return Principal("device", row["subject"], DeviceType(row["device_type"])), expires_at

    def _touch_device(self, device_id: str) -> None:
        # last_seen is for humans and telemetry: writing it at most every 30 s keeps it off the hot path.
        mono = time.monotonic()
        if mono - self._last_seen_written.get(device_id, -1e9) < 30.0:
            return
        self._last_seen_written[device_id] = mono
        with self.store.write() as db:
            db.execute("UPDATE devices SET last_seen_at = ? WHERE id = ?", [iso(self.clock()), device_id])
