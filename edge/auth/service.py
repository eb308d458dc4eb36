"""Sign-in with slowing and lock-out, staff accounts, device registration and token resolution."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from edge.audit.log import AuditLog
from edge.auth.passwords import MIN_LENGTH, hash_password, verify_password
from edge.auth.principal import SYSTEM, Principal
from edge.auth.roles import DEVICE_TYPES, STAFF_ROLES
from edge.auth.tokens import new_token, token_hash
from edge.errors import Conflict, Invalid, NotFound, RateLimited, Unauthorized
from edge.settings import AuthSettings
from edge.store import Store
from edge.store.db import fetch_one
from markaz.clock import iso, parse_iso, utcnow
from markaz.contracts.ids import InvalidId, check_device_id

TOKEN_CACHE_S = 5.0


class AuthService:
    def __init__(self, store: Store, audit: AuditLog, settings: AuthSettings, clock=utcnow) -> None:
        self.store = store
        self.audit = audit
        self.settings = settings
        self.clock = clock
        self._last_seen_written: dict[str, float] = {}
        self._resolved: dict[str, tuple[Principal, datetime | None, float]] = {}

    # -- staff -------------------------------------------------------------------------------------------------
    def add_user(self, username: str, password: str, role: str, actor: Principal = SYSTEM) -> dict[str, Any]:
        if role not in STAFF_ROLES:
            raise Invalid(f"unknown role {role!r}; expected one of {', '.join(STAFF_ROLES)}")
        if len(password) < MIN_LENGTH:
            raise Invalid(f"password too short: at least {MIN_LENGTH} characters")
        if not username or len(username) > 64 or not username.isprintable() or " " in username:
            raise Invalid("user name must be 1-64 printable characters without spaces")
        pw_hash = hash_password(password)
        with self.store.write() as db:
            if self.store_has(db, "SELECT 1 FROM staff WHERE username = ?", [username]):
                raise Conflict(f"user {username!r} already exists")
            now = iso(self.clock())
            db.execute(
                "INSERT INTO staff (username, password_hash, role, active, created_at) VALUES (?, ?, ?, 1, ?)",
                [username, pw_hash, role, now],
            )
            after = {"username": username, "role": role, "active": True}
            self.audit.append(actor, "staff.create", "staff", username, None, after, db=db)
        return after

    def set_user_active(self, username: str, active: bool, actor: Principal) -> None:
        with self.store.write() as db:
            row = self._one(db, "SELECT username, role, active FROM staff WHERE username = ?", [username])
            if row is None:
                raise NotFound(f"no user {username!r}")
            db.execute("UPDATE staff SET active = ? WHERE username = ?", [int(active), username])
            if not active:
                db.execute("UPDATE tokens SET revoked = 1 WHERE kind = 'staff' AND subject = ?", [username])
            self.audit.append(actor, "staff.update", "staff", username, {"active": bool(row["active"])}, {"active": active}, db=db)
        self.forget_tokens()

    def list_users(self) -> list[dict[str, Any]]:
        return [
            {"username": r["username"], "role": r["role"], "active": bool(r["active"]), "created_at": r["created_at"]}
            for r in self.store.query("SELECT username, role, active, created_at FROM staff ORDER BY username")
        ]

    # -- sign-in -----------------------------------------------------------------------------------------------
    def login(self, username: str, password: str) -> tuple[str, Principal, datetime]:
        """Return (token, principal, expiry). Failures are counted per user name, known or not."""
        now = self.clock()
        key = username[:64]
        fail = self.store.query_one("SELECT * FROM login_failures WHERE username = ?", [key])
        if fail:
            if fail["locked_until"] and parse_iso(fail["locked_until"]) > now:
                wait = (parse_iso(fail["locked_until"]) - now).total_seconds()
                raise RateLimited(f"account locked after repeated failed sign-ins; try again in {int(wait) + 1} s", wait)
            over = fail["failures"] - self.settings.slow_after_failures
            if over >= 0 and not fail["locked_until"]:
                delay = min(2.0**over, 60.0)
                since = (now - parse_iso(fail["last_failure_at"])).total_seconds()
                if since < delay:
                    raise RateLimited(f"too many failed sign-ins; wait {delay - since:.0f} s", delay - since)
        user = self.store.query_one("SELECT username, password_hash, role, active FROM staff WHERE username = ?", [key])
        ok = verify_password(user["password_hash"] if user else None, password)
        if not ok or not user or not user["active"]:
            self._record_failure(key, now)
            raise Unauthorized("wrong user name or password")
        token = new_token("mks_")
        expires = now + timedelta(hours=self.settings.token_ttl_hours)
        principal = Principal("staff", user["username"], user["role"])
        with self.store.write() as db:
            db.execute("DELETE FROM login_failures WHERE username = ?", [key])
            db.execute(
                "INSERT INTO tokens (token_hash, kind, subject, created_at, expires_at) VALUES (?, 'staff', ?, ?, ?)",
                [token_hash(token), principal.subject, iso(now), iso(expires)],
            )
            self.audit.append(principal, "auth.login", "staff", principal.subject, None, None, db=db)
        return token, principal, expires

    def _record_failure(self, key: str, now: datetime) -> None:
        with self.store.write() as db:
            row = self._one(db, "SELECT failures, locked_until FROM login_failures WHERE username = ?", [key])
            failures = 1
            if row:
                expired_lock = row["locked_until"] and parse_iso(row["locked_until"]) <= now
                failures = 1 if expired_lock else row["failures"] + 1
            locked_until = None
            if failures >= self.settings.lock_after_failures:
                locked_until = iso(now + timedelta(minutes=self.settings.lock_minutes))
            db.execute(
                "INSERT INTO login_failures (username, failures, last_failure_at, locked_until) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(username) DO UPDATE SET failures = excluded.failures, "
                "last_failure_at = excluded.last_failure_at, locked_until = excluded.locked_until",
                [key, failures, iso(now), locked_until],
            )
            after = {"failures": failures, "locked": locked_until is not None}
            self.audit.append(Principal("staff", key, "unknown"), "auth.login_failed", "staff", key, None, after, db=db)

    def logout(self, token: str, principal: Principal) -> None:
        with self.store.write() as db:
            db.execute("UPDATE tokens SET revoked = 1 WHERE token_hash = ?", [token_hash(token)])
            self.audit.append(principal, "auth.logout", principal.kind, principal.subject, None, None, db=db)
        self.forget_tokens()

    # -- devices -----------------------------------------------------------------------------------------------
    def add_device(self, device_id: str, device_type: str, actor: Principal = SYSTEM) -> str:
        """Register a device and return its API token; only the token's hash is kept."""
        if device_type not in DEVICE_TYPES:
            raise Invalid(f"unknown device type {device_type!r}; expected one of {', '.join(DEVICE_TYPES)}")
        try:
            check_device_id(device_id)  # the id becomes an MQTT topic level: one definition for API, CLI and contract
        except InvalidId as exc:
            raise Invalid(str(exc)) from None
        token = new_token("mkd_")
        now = iso(self.clock())
        with self.store.write() as db:
            if self.store_has(db, "SELECT 1 FROM devices WHERE id = ?", [device_id]):
                raise Conflict(f"device {device_id!r} already registered")
            db.execute(
                "INSERT INTO devices (id, type, enabled, created_at) VALUES (?, ?, 1, ?)", [device_id, device_type, now]
            )
            db.execute(
                "INSERT INTO tokens (token_hash, kind, subject, created_at) VALUES (?, 'device', ?, ?)",
                [token_hash(token), device_id, now],
            )
            self.audit.append(actor, "device.register", "device", device_id, None, {"type": device_type}, db=db)
        return token

    def set_device_enabled(self, device_id: str, enabled: bool, actor: Principal) -> dict[str, Any]:
        with self.store.write() as db:
            row = self._one(db, "SELECT id, type, enabled FROM devices WHERE id = ?", [device_id])
            if row is None:
                raise NotFound(f"no device {device_id!r}")
            db.execute("UPDATE devices SET enabled = ? WHERE id = ?", [int(enabled), device_id])
            self.audit.append(
                actor, "device.update", "device", device_id, {"enabled": bool(row["enabled"])}, {"enabled": enabled}, db=db
            )
        self.forget_tokens()
        return {"id": device_id, "type": row["type"], "enabled": enabled}

    def revoke_device(self, device_id: str, actor: Principal) -> None:
        with self.store.write() as db:
            if not self.store_has(db, "SELECT 1 FROM devices WHERE id = ?", [device_id]):
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
        self._resolved.clear()

    def resolve_remembered(self, token: str) -> Principal | None:
        """The principal of a token resolved in the last few seconds, when answering needs neither a read nor a
        write (None otherwise: call `resolve`). Touches no file, so the API may call it on its event loop."""
        cached = self._resolved.get(token_hash(token))
        if cached is None or time.monotonic() - cached[2] >= TOKEN_CACHE_S:
            return None
        principal, expires_at, _ = cached
        if expires_at is not None and expires_at <= self.clock():
            return None
        if principal.kind == "device" and time.monotonic() - self._last_seen_written.get(principal.subject, -1e9) >= 30.0:
            return None  # its last-seen time is due to be written
        return principal

    def resolve(self, token: str) -> Principal:
        """The principal behind a bearer token, or Unauthorized. Disabled devices and users are refused.

        Resolutions are kept for a few seconds (every request carries a token); any revocation in this process clears
        them, and one made by another process (the CLI) takes effect within TOKEN_CACHE_S."""
        digest = token_hash(token)
        cached = self._resolved.get(digest)
        mono = time.monotonic()
        if cached is not None and mono - cached[2] < TOKEN_CACHE_S:
            principal, expires_at, _ = cached
            if expires_at is None or expires_at > self.clock():
                if principal.kind == "device":
                    self._touch_device(principal.subject)
                return principal
        principal, expires_at = self._resolve_from_store(token)
        if len(self._resolved) > 10_000:
            self._resolved.clear()
        self._resolved[digest] = (principal, expires_at, mono)
        return principal

    def _resolve_from_store(self, token: str) -> tuple[Principal, datetime | None]:
        row = self.store.query_one(
            "SELECT t.kind, t.subject, t.expires_at, t.revoked, s.role AS staff_role, s.active AS staff_active, "
            "d.type AS device_type, d.enabled AS device_enabled "
            "FROM tokens t LEFT JOIN staff s ON t.kind = 'staff' AND s.username = t.subject "
            "LEFT JOIN devices d ON t.kind = 'device' AND d.id = t.subject WHERE t.token_hash = ?",
            [token_hash(token)],
        )
        if row is None or row["revoked"]:
            raise Unauthorized("invalid or revoked token")
        expires_at = parse_iso(row["expires_at"]) if row["expires_at"] else None
        if expires_at is not None and expires_at <= self.clock():
            raise Unauthorized("token expired; sign in again")
        if row["kind"] == "staff":
            if not row["staff_active"]:
                raise Unauthorized("account disabled")
            return Principal("staff", row["subject"], row["staff_role"]), expires_at
        if not row["device_enabled"]:
            raise Unauthorized(f"device {row['subject']} is disabled")
        self._touch_device(row["subject"])
        return Principal("device", row["subject"], row["device_type"]), expires_at

    def _touch_device(self, device_id: str) -> None:
        # last_seen is for humans and telemetry: writing it at most every 30 s keeps it off the hot path.
        mono = time.monotonic()
        if mono - self._last_seen_written.get(device_id, -1e9) < 30.0:
            return
        self._last_seen_written[device_id] = mono
        with self.store.write() as db:
            db.execute("UPDATE devices SET last_seen_at = ? WHERE id = ?", [iso(self.clock()), device_id])

    # -- small helpers on the writer handle --------------------------------------------------------------------
    @staticmethod
    def _one(db, sql: str, params: list[Any]) -> dict[str, Any] | None:
        return fetch_one(db.conn, sql, params)

    @classmethod
    def store_has(cls, db, sql: str, params: list[Any]) -> bool:
        return cls._one(db, sql, params) is not None
