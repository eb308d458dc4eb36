"""Device identity on the edge node: one-time claim codes, signing device CSRs with the station intermediate,
renewal, revocation (with the CRL the edge and Mosquitto read) and decommissioning, every step audited.

Plain Python over the store: the API router and the CLI only translate to and from it."""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from edge.audit.log import AuditLog
from edge.auth.principal import SYSTEM, Principal
from edge.errors import Conflict, DomainError, Invalid, NotFound, Unauthorized
from edge.store import Store
from edge.store.db import fetch_one
from markaz.clock import iso, parse_iso, utcnow
from markaz.contracts.devices import DeviceType
from markaz.contracts.ids import DEVICE_ID_PATTERN
from provisioning import pki
from provisioning.settings import ProvisioningSettings

# Crockford's base32 without the look-alikes: a code read aloud or typed from a phone survives O/0 and I/1/L mix-ups.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CODE_CHARS = 16  # 80 bits: guessing one of a handful of live codes in their minutes is out of reach

ENROLLING = Principal("device", "(enrolling)", "unenrolled")  # the actor of a refused or pending claim


class ClaimRefusal(StrEnum):
    unknown = "unknown"
    used = "used"
    expired = "expired"
    bad_request = "bad_request"


class EnrolStatus(StrEnum):
    issued = "issued"
    pending = "pending_approval"


class Decommissioned(DomainError):
    """The certificate belonged to a device that was retired: the device must wipe its keys."""

    status = 410
    code = "decommissioned"


class StationCaMissing(DomainError):
    status = 503
    code = "station_ca_missing"


@dataclass(frozen=True)
class Claim:
    code: str
    device_id: str
    device_type: str
    expires_at: datetime


@dataclass(frozen=True)
class Enrolled:
    status: EnrolStatus
    device_id: str
    device_type: str
    certificate_pem: str | None = None
    chain_pem: str | None = None  # the station intermediate, then the root
    serial: str | None = None
    not_after: str | None = None


_LOOK_ALIKES = str.maketrans("OIL", "011")


def normalise_code(code: str) -> str:
    cleaned = code.strip().upper().replace("-", "").replace(" ", "")
    return cleaned.translate(_LOOK_ALIKES)


def code_hash(code: str) -> str:
    return hashlib.sha256(normalise_code(code).encode()).hexdigest()


def new_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(_CODE_CHARS))
    return "-".join(raw[i : i + 4] for i in range(0, _CODE_CHARS, 4))


def serial_hex(serial: int) -> str:
    return format(serial, "X")


class StationPki:
    """The station intermediate's files in the node's keys folder (owner-only), and the CRL it publishes."""

    def __init__(self, keys_dir: Path, crl_path: Path) -> None:
        self.ca = pki.Issued(Path(keys_dir) / "station-ca.crt", Path(keys_dir) / "station-ca.key")
        self.root = Path(keys_dir) / "root-ca.crt"
        self.crl_path = Path(crl_path)

    @property
    def ready(self) -> bool:
        return self.ca.cert.exists() and self.ca.key.exists() and self.root.exists()

    def require(self) -> pki.Issued:
        if not self.ready:
            raise StationCaMissing(
                f"no station CA in {self.ca.cert.parent} (install it with `markaz provision station-ca`)"
            )
        return self.ca

    def chain_pem(self) -> str:
        return self.ca.cert.read_text() + self.root.read_text()

    def write_crl(self, revoked: list[tuple[int, datetime]]) -> None:
        data = pki.make_crl(self.require(), revoked)
        tmp = self.crl_path.with_name(self.crl_path.name + ".tmp")
        tmp.write_bytes(data)
        tmp.chmod(0o644)  # public: Mosquitto (its own user) reads it
        os.replace(tmp, self.crl_path)


class EnrolmentService:
    def __init__(
        self, store: Store, audit: AuditLog, settings: ProvisioningSettings, station_pki: StationPki, clock=utcnow
    ) -> None:
        self.store = store
        self.audit = audit
        self.settings = settings
        self.pki = station_pki
        self.clock = clock
        self._seen: dict[str, float] = {}

    # -- claims ------------------------------------------------------------------------------------------------
    def create_claim(
        self, device_id: str, device_type: str, actor: Principal = SYSTEM, minutes: float | None = None
    ) -> Claim:
        """A one-time code for enrolling `device_id`; an already registered id is a replacement of the same type."""
        import re

        if not re.fullmatch(DEVICE_ID_PATTERN, device_id):
            raise Invalid(f"device id {device_id!r}: a letter or digit, then letters, digits, _ . : - (64 at most)")
        if device_type not in set(DeviceType):
            raise Invalid(f"unknown device type {device_type!r}; expected one of {', '.join(DeviceType)}")
        self.pki.require()
        code = new_code()
        now = self.clock()
        expires = now + timedelta(minutes=minutes if minutes is not None else self.settings.claim_minutes)
        with self.store.write() as db:
            row = fetch_one(db.conn, "SELECT type FROM devices WHERE id = ?", [device_id])
            if row is not None and row["type"] != device_type:
                raise Conflict(f"device {device_id!r} is registered as a {row['type']}, not a {device_type}")
            # A new code replaces any unused one for the same device: only the latest printed code works.
            db.execute("UPDATE claims SET used_at = ? WHERE device_id = ? AND used_at IS NULL", [iso(now), device_id])
            db.execute(
                "INSERT INTO claims (code_hash, device_id, device_type, created_by, created_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [code_hash(code), device_id, device_type, actor.label, iso(now), iso(expires)],
            )
            after = {"type": device_type, "expires_at": iso(expires), "replacement": row is not None}
            self.audit.append(actor, "provision.claim", "device", device_id, None, after, db=db)
        return Claim(code, device_id, device_type, expires)

    def _refuse(self, reason: ClaimRefusal, device_id: str | None, message: str, code: str) -> Unauthorized:
        # Audited in its own transaction: the refusal is recorded even though nothing else changes.
        after = {"reason": str(reason), "code_hash": code_hash(code)[:16]}
        self.audit.append(ENROLLING, "provision.enrol_refused", "device", device_id, None, after)
        return Unauthorized(message, reason=str(reason))

    def enrol(self, code: str, csr_pem: str, model: str | None = None, serial: str | None = None) -> Enrolled:
        """Sign the device's CSR if `code` is a live, unused claim (or, with approval required, park it)."""
        now = self.clock()
        claim = self.store.query_one("SELECT * FROM claims WHERE code_hash = ?", [code_hash(code)])
        if claim is None:
            raise self._refuse(ClaimRefusal.unknown, None, "unknown claim code", code)
        device_id = claim["device_id"]
        if claim["used_at"]:
            raise self._refuse(ClaimRefusal.used, device_id, "claim code already used; ask for a new one", code)
        if parse_iso(claim["expires_at"]) <= now:
            raise self._refuse(ClaimRefusal.expired, device_id, "claim code expired; ask for a new one", code)
        try:
            csr = pki.load_csr(csr_pem)
        except pki.BadCsr as exc:
            self._refuse(ClaimRefusal.bad_request, device_id, str(exc), code)
            raise Invalid(str(exc)) from None
        public = (
            csr.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
        if self.settings.require_approval and not claim["approved_at"]:
            with self.store.write() as db:
                first = claim["pending_csr"] is None
                db.execute("UPDATE claims SET pending_csr = ? WHERE code_hash = ?", [public, claim["code_hash"]])
                if first or claim["pending_csr"] != public:
                    self.audit.append(
                        ENROLLING,
                        "provision.enrol_pending",
                        "device",
                        device_id,
                        None,
                        {"model": model, "serial": serial},
                        db=db,
                    )
            return Enrolled(EnrolStatus.pending, device_id, claim["device_type"])
        if claim["approved_at"] and claim["pending_csr"] != public:
            raise self._refuse(ClaimRefusal.bad_request, device_id, "this is not the key that was approved", code)
        ca = self.pki.require()  # only a good claim learns whether the station can sign yet
        cert = pki.sign_device(ca, csr, device_id, claim["device_type"], self.settings.device_cert_days)
        with self.store.write() as db:
            again = fetch_one(db.conn, "SELECT used_at FROM claims WHERE code_hash = ?", [claim["code_hash"]])
            if again is None or again["used_at"]:  # two devices raced with one code: the first one wins
                raise Unauthorized("claim code already used; ask for a new one", reason=str(ClaimRefusal.used))
            db.execute("UPDATE claims SET used_at = ? WHERE code_hash = ?", [iso(now), claim["code_hash"]])
            superseded = self._install(db, cert, device_id, claim["device_type"], model, serial, now)
            after = {
                "serial": serial_hex(cert.serial_number),
                "not_after": iso(cert.not_valid_after_utc),
                "type": claim["device_type"],
                "model": model,
                "hardware_serial": serial,
                "superseded": superseded,
            }
            self.audit.append(ENROLLING, "provision.enrol", "device", device_id, None, after, db=db)
        if superseded:
            self._publish_crl()
        return self._issued(cert, device_id, claim["device_type"])

    def _install(self, db, cert: x509.Certificate, device_id: str, device_type: str, model, serial, now) -> list[str]:
        """Register (or re-enable) the device and record its certificate; its older certificates are revoked."""
        existing = fetch_one(db.conn, "SELECT id FROM devices WHERE id = ?", [device_id])
        if existing is None:
            db.execute(
                "INSERT INTO devices (id, type, enabled, created_at, model, serial_number) VALUES (?, ?, 1, ?, ?, ?)",
                [device_id, device_type, iso(now), model, serial],
            )
        else:
            db.execute(
                "UPDATE devices SET enabled = 1, model = coalesce(?, model), serial_number = coalesce(?, serial_number) "
                "WHERE id = ?",
                [model, serial, device_id],
            )
        old = [
            r["serial"]
            for r in db.conn.execute(
                "SELECT serial FROM device_certs WHERE device_id = ? AND revoked_at IS NULL", [device_id]
            ).fetchall()
        ]
        db.execute(
            "UPDATE device_certs SET revoked_at = ?, revoke_reason = 'superseded' WHERE device_id = ? AND revoked_at IS NULL",
            [iso(now), device_id],
        )
        db.execute(
            "INSERT INTO device_certs (serial, device_id, not_before, not_after, issued_at) VALUES (?, ?, ?, ?, ?)",
            [
                serial_hex(cert.serial_number),
                device_id,
                iso(cert.not_valid_before_utc),
                iso(cert.not_valid_after_utc),
                iso(now),
            ],
        )
        return old

    def _issued(self, cert: x509.Certificate, device_id: str, device_type: str) -> Enrolled:
        return Enrolled(
            EnrolStatus.issued,
            device_id,
            device_type,
            pki.pem(cert),
            self.pki.chain_pem(),
            serial_hex(cert.serial_number),
            iso(cert.not_valid_after_utc),
        )

    def approve(self, device_id: str, actor: Principal) -> None:
        """A technician approves the pending enrolment of `device_id`; the device's next poll gets its certificate."""
        now = self.clock()
        with self.store.write() as db:
            row = fetch_one(
                db.conn,
                "SELECT code_hash, expires_at FROM claims WHERE device_id = ? AND used_at IS NULL "
                "AND pending_csr IS NOT NULL ORDER BY created_at DESC LIMIT 1",
                [device_id],
            )
            if row is None:
                raise NotFound(f"no enrolment of {device_id!r} is waiting for approval")
            if parse_iso(row["expires_at"]) <= now:
                raise Conflict(f"the claim of {device_id!r} expired; make a new one")
            db.execute(
                "UPDATE claims SET approved_by = ?, approved_at = ? WHERE code_hash = ?",
                [actor.label, iso(now), row["code_hash"]],
            )
            self.audit.append(actor, "provision.approve", "device", device_id, None, {"approved": True}, db=db)

    def pending(self) -> list[dict[str, Any]]:
        """Enrolments waiting for a technician's approval (a device sent its CSR on a live claim)."""
        rows = self.store.query(
            "SELECT device_id, device_type, created_by, created_at, expires_at FROM claims "
            "WHERE used_at IS NULL AND pending_csr IS NOT NULL AND approved_at IS NULL ORDER BY created_at"
        )
        now = self.clock()
        return [r for r in rows if parse_iso(r["expires_at"]) > now]

    # -- renewal, revocation, decommissioning ------------------------------------------------------------------
    def renew(self, device_id: str, csr_pem: str) -> Enrolled:
        """A device holding a valid certificate asks for a new one (a new key); the old one is revoked."""
        ca = self.pki.require()
        row = self.store.query_one("SELECT type, enabled FROM devices WHERE id = ?", [device_id])
        if row is None or not row["enabled"]:
            raise Unauthorized(f"device {device_id!r} is not enrolled")
        try:
            csr = pki.load_csr(csr_pem)
        except pki.BadCsr as exc:
            raise Invalid(str(exc)) from None
        now = self.clock()
        cert = pki.sign_device(ca, csr, device_id, row["type"], self.settings.device_cert_days)
        with self.store.write() as db:
            superseded = self._install(db, cert, device_id, row["type"], None, None, now)
            after = {
                "serial": serial_hex(cert.serial_number),
                "not_after": iso(cert.not_valid_after_utc),
                "superseded": superseded,
            }
            self.audit.append(
                Principal("device", device_id, row["type"]), "provision.renew", "device", device_id, None, after, db=db
            )
        self._publish_crl()
        return self._issued(cert, device_id, row["type"])

    def revoke(self, device_id: str, actor: Principal, reason: str = "revoked") -> list[str]:
        """Revoke every live certificate of the device and disable it; the CRL is re-published."""
        now = self.clock()
        with self.store.write() as db:
            if fetch_one(db.conn, "SELECT 1 AS x FROM devices WHERE id = ?", [device_id]) is None:
                raise NotFound(f"no device {device_id!r}")
            serials = [
                r["serial"]
                for r in db.conn.execute(
                    "SELECT serial FROM device_certs WHERE device_id = ? AND revoked_at IS NULL", [device_id]
                ).fetchall()
            ]
            db.execute(
                "UPDATE device_certs SET revoked_at = ?, revoke_reason = ? WHERE device_id = ? AND revoked_at IS NULL",
                [iso(now), reason, device_id],
            )
            db.execute("UPDATE devices SET enabled = 0 WHERE id = ?", [device_id])
            db.execute("UPDATE tokens SET revoked = 1 WHERE kind = 'device' AND subject = ?", [device_id])
            self.audit.append(
                actor, "provision.revoke", "device", device_id, None, {"serials": serials, "reason": reason}, db=db
            )
        self._publish_crl()
        return serials

    def decommission(self, device_id: str, actor: Principal) -> list[str]:
        """Revoke, then remove the device from the registry (its certificate history stays for the CRL)."""
        serials = self.revoke(device_id, actor, "decommissioned")
        with self.store.write() as db:
            db.execute("DELETE FROM tokens WHERE kind = 'device' AND subject = ?", [device_id])
            db.execute("DELETE FROM devices WHERE id = ?", [device_id])
            self.audit.append(actor, "provision.decommission", "device", device_id, None, {"removed": True}, db=db)
        return serials

    def _publish_crl(self) -> None:
        rows = self.store.query("SELECT serial, revoked_at FROM device_certs WHERE revoked_at IS NOT NULL")
        self.pki.write_crl([(int(r["serial"], 16), parse_iso(r["revoked_at"])) for r in rows])

    # -- lookups -----------------------------------------------------------------------------------------------
    def certificate_owner(self, serial: int) -> dict[str, Any] | None:
        """The enabled device holding the live certificate `serial`, or None (unknown, revoked, disabled)."""
        return self.store.query_one(
            "SELECT d.id, d.type FROM device_certs c JOIN devices d ON d.id = c.device_id "
            "WHERE c.serial = ? AND c.revoked_at IS NULL AND d.enabled = 1",
            [serial_hex(serial)],
        )

    def certificate_principal(self, serial: int) -> Principal:
        """The device behind a client certificate the TLS layer accepted; refused when revoked (including revocations
        made after the listener loaded its CRL), superseded, or the device is disabled or gone."""
        owner = self.certificate_owner(serial)
        if owner is None:
            cert = self.store.query_one("SELECT revoke_reason FROM device_certs WHERE serial = ?", [serial_hex(serial)])
            if cert is not None and cert["revoke_reason"] == "decommissioned":
                raise Decommissioned("this device was decommissioned: wipe its keys", action="wipe")
            raise Unauthorized("certificate revoked, superseded or unknown on this station")
        mono = time.monotonic()
        if mono - self._seen.get(owner["id"], -1e9) >= 30.0:  # last seen is for people: at most every 30 s
            self._seen[owner["id"]] = mono
            with self.store.write() as db:
                db.execute("UPDATE devices SET last_seen_at = ? WHERE id = ?", [iso(self.clock()), owner["id"]])
        return Principal("device", owner["id"], owner["type"])

    def renewal_due(self, device_id: str) -> bool:
        """The device's live certificate expires within `renew_margin_days`: it should renew now."""
        row = self.store.query_one(
            "SELECT min(not_after) AS not_after FROM device_certs WHERE device_id = ? AND revoked_at IS NULL",
            [device_id],
        )
        if row is None or row["not_after"] is None:
            return False
        due: bool = parse_iso(row["not_after"]) - self.clock() < timedelta(days=self.settings.renew_margin_days)
        return due

    def inventory(self) -> list[dict[str, Any]]:
        rows = self.store.query(
            "SELECT d.id, d.type, d.model, d.serial_number, d.enabled, d.last_seen_at, d.profile_version, "
            "c.serial AS cert_serial, c.not_after AS cert_not_after FROM devices d "
            "LEFT JOIN device_certs c ON c.device_id = d.id AND c.revoked_at IS NULL ORDER BY d.id"
        )
        return [{**r, "enabled": bool(r["enabled"])} for r in rows]
