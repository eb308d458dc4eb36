"""Desired vs reported device profiles on the edge node: a technician (or central's `config.apply`) sets the version a
device should run; the device fetches it, applies it, checks its own health and reports what is in force and why.

Plain Python over the store and the audit log (like `EnrolmentService`): the API router, the CLI, the MQTT command
handler and the roll-out all call this. A profile that fails its hash or the schema is refused before anything is
stored, naming the key, the value and what was expected."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from edge.audit.log import AuditLog
from edge.auth.principal import Principal
from edge.errors import Conflict, DomainError, NotFound
from edge.store import Store
from edge.store.db import fetch_one
from firmware_config.apply import ApplyOutcome
from firmware_config.layers import ProfileRejected, for_device, profile_hash, validate
from firmware_config.rollout import RolloutReport, run_rollout, run_rollout_waves
from firmware_config.schema import DeviceKind
from markaz.clock import iso, utcnow

Listener = Callable[["Reported"], None]


class ProfileRefused(DomainError):
    """The profile failed its hash or the device type's schema: nothing was changed."""

    status = 422
    code = "profile_refused"


@dataclass(frozen=True)
class Desired:
    device_id: str
    device_type: str
    version: str
    sha256: str
    profile: dict[str, Any]
    set_by: str
    set_at: str


@dataclass(frozen=True)
class Reported:
    device_id: str
    version: str | None  # in force on the device now
    outcome: ApplyOutcome
    answers: str  # the desired version this report answers
    reasons: list[str] = field(default_factory=list)

    @property
    def failed_checks(self) -> list[str]:
        """The health checks named in the reasons (`health check failed: camera` -> camera), for telemetry."""
        return [r.rsplit(": ", 1)[1] for r in self.reasons if r.startswith("health check failed: ")]


def _ascii(text: str) -> str:
    return "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)[:300]


class ProfileService:
    def __init__(
        self, store: Store, audit: AuditLog, profiles_dir: Path, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.store = store
        self.audit = audit
        self.profiles_dir = Path(profiles_dir)
        self.clock = clock
        self.listeners: list[Listener] = []  # told after each report is committed (telemetry's event to central)

    def _device_type(self, device_id: str) -> str:
        row = self.store.query_one("SELECT type FROM devices WHERE id = ?", [device_id])
        if row is None:
            raise NotFound(f"no device {device_id!r}")
        return str(row["type"])

    def effective(self, device_id: str) -> tuple[str, str, dict[str, Any]]:
        """The device's effective profile from this station's layers: (version, sha256, profile)."""
        kind = DeviceKind(self._device_type(device_id))
        try:
            eff = for_device(self.profiles_dir, kind, device_id)
        except ProfileRejected as exc:
            raise ProfileRefused(str(exc), problems=[str(p) for p in exc.problems]) from None
        return eff.version, eff.hash, eff.data

    def desire(
        self,
        device_id: str,
        actor: Principal,
        version: str | None = None,
        sha256: str | None = None,
        profile: dict[str, Any] | None = None,
    ) -> Desired:
        """Set the version `device_id` should run. Without `profile`, the station's effective profile (its version
        must be `version` when given: the technician confirms what they reviewed); with one (central), its hash
        must be `sha256` and it must pass the device type's schema. Refused before anything is stored."""
        device_type = self._device_type(device_id)
        if profile is None:
            eff_version, eff_hash, data = self.effective(device_id)
            if version is not None and version != eff_version:
                raise Conflict(f"the effective profile of {device_id} is version {eff_version}, not {version}")
            version, sha256 = eff_version, eff_hash
        else:
            data = profile
            if sha256 is None or profile_hash(data) != sha256:
                raise ProfileRefused("the profile's SHA-256 does not match the hash sent", problems=[])
            try:
                validate(DeviceKind(device_type), data, "profile")
            except ProfileRejected as exc:
                raise ProfileRefused(str(exc), problems=[str(p) for p in exc.problems]) from None
            version = version or sha256[:12]
        assert sha256 is not None
        now = iso(self.clock())
        with self.store.write() as db:
            db.execute(
                "INSERT INTO device_profiles (device_id, desired_version, desired_sha256, desired_profile, desired_by, "
                "desired_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET "
                "desired_version = excluded.desired_version, desired_sha256 = excluded.desired_sha256, "
                "desired_profile = excluded.desired_profile, desired_by = excluded.desired_by, "
                "desired_at = excluded.desired_at, reported_for = NULL",
                [device_id, version, sha256, json.dumps(data, sort_keys=True), actor.label, now],
            )
            after = {"version": version, "sha256": sha256}
            self.audit.append(actor, "profile.desire", "device", device_id, None, after, db=db)
        return Desired(device_id, device_type, version, sha256, data, actor.label, now)

    def desired(self, device_id: str) -> Desired | None:
        row = self.store.query_one(
            "SELECT p.*, d.type FROM device_profiles p JOIN devices d ON d.id = p.device_id WHERE p.device_id = ?",
            [device_id],
        )
        if row is None:
            return None
        return Desired(
            device_id,
            row["type"],
            row["desired_version"],
            row["desired_sha256"],
            json.loads(row["desired_profile"]),
            row["desired_by"],
            row["desired_at"],
        )

    def report(
        self, device: Principal, version: str | None, outcome: ApplyOutcome, answers: str, reasons: Sequence[str]
    ) -> Reported:
        """The device says what it did with the desired version `answers`, and which version is now in force."""
        device_id = device.subject
        reasons = [_ascii(r) for r in reasons][:20]
        now = iso(self.clock())
        with self.store.write() as db:
            row = fetch_one(db.conn, "SELECT 1 AS x FROM device_profiles WHERE device_id = ?", [device_id])
            if row is None:
                raise NotFound(f"no profile was set for {device_id}")
            db.execute(
                "UPDATE device_profiles SET reported_version = ?, reported_outcome = ?, reported_for = ?, "
                "reported_reasons = ?, reported_at = ? WHERE device_id = ?",
                [version, str(outcome), answers, json.dumps(reasons), now, device_id],
            )
            db.execute("UPDATE devices SET profile_version = ? WHERE id = ?", [version, device_id])
            after = {"version": version, "outcome": str(outcome), "answers": answers, "reasons": reasons}
            self.audit.append(device, "profile.report", "device", device_id, None, after, db=db)
        done = Reported(device_id, version, outcome, answers, reasons)
        for listener in self.listeners:
            listener(done)
        return done

    def states(self) -> dict[str, dict[str, Any]]:
        """Desired vs reported of every device with a profile set, by device id (for the inventory)."""
        rows = self.store.query("SELECT * FROM device_profiles")
        return {
            r["device_id"]: {
                "desired_version": r["desired_version"],
                "reported_version": r["reported_version"],
                "reported_outcome": r["reported_outcome"],
                "reported_for": r["reported_for"],
                "reported_reasons": json.loads(r["reported_reasons"] or "[]"),
                "reported_at": r["reported_at"],
            }
            for r in rows
        }

    def wait_reports(
        self, wanted: dict[str, str], timeout_s: float, poll_s: float = 0.5
    ) -> dict[str, tuple[bool, str]]:
        """Wait until each device answered its desired version (`wanted`: device -> version): (applied?, why not)."""
        deadline = time.monotonic() + timeout_s
        answers: dict[str, tuple[bool, str]] = {}
        while True:
            waiting = [d for d in wanted if d not in answers]
            rows = self.store.query(
                "SELECT device_id, reported_outcome, reported_for, reported_reasons FROM device_profiles "
                f"WHERE device_id IN ({','.join('?' * len(waiting))})",
                waiting,
            )
            for row in rows:
                if row["reported_for"] != wanted[row["device_id"]]:
                    continue
                if row["reported_outcome"] == ApplyOutcome.applied:
                    answers[row["device_id"]] = (True, "")
                else:
                    reasons = json.loads(row["reported_reasons"] or "[]")
                    answers[row["device_id"]] = (False, f"{row['reported_outcome']}: " + "; ".join(reasons))
            if len(answers) == len(wanted):
                return answers
            if time.monotonic() >= deadline:
                return answers | {d: (False, f"no report within {timeout_s:g} s") for d in wanted if d not in answers}
            time.sleep(poll_s)

    def wait_report(self, device_id: str, version: str, timeout_s: float, poll_s: float = 0.5) -> tuple[bool, str]:
        """Wait until the device answers the desired `version`: (applied?, why not)."""
        return self.wait_reports({device_id: version}, timeout_s, poll_s)[device_id]

    def rollout(
        self,
        devices: Sequence[str],
        actor: Principal,
        failure_bound: int,
        first: float | Sequence[str] = 0.1,
        wave_size: int = 10,
        timeout_s: float = 120.0,
        concurrent: bool = False,
        poll_s: float = 0.5,
    ) -> RolloutReport:
        """A staged roll-out of each device's effective profile: the first wave, then the rest, stopping by itself
        once `failure_bound` devices failed (rolled back, refused, or silent). Device by device (exact bound), or
        `concurrent`: each wave asked at once, the bound checked after each wave (a fleet)."""
        for device_id in devices:  # every target's profile is checked before the first one changes
            self.effective(device_id)
        if concurrent:
            asked: dict[str, str] = {}

            def start(wave: list[str]) -> None:
                for device_id in wave:
                    asked[device_id] = self.desire(device_id, actor).version

            def outcomes(wave: list[str]) -> dict[str, tuple[bool, str]]:
                return self.wait_reports({d: asked[d] for d in wave}, timeout_s, poll_s)

            return run_rollout_waves(list(devices), start, outcomes, failure_bound, first, wave_size)

        def apply(device_id: str) -> tuple[bool, str]:
            wanted = self.desire(device_id, actor)
            return self.wait_report(device_id, wanted.version, timeout_s, poll_s)

        return run_rollout(list(devices), apply, failure_bound, first, wave_size)


def with_profiles(inventory: list[dict[str, Any]], states: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The inventory rows with each device's desired profile version and its last report beside the applied one."""
    empty: dict[str, Any] = {
        "desired_version": None,
        "reported_outcome": None,
        "reported_for": None,
        "reported_reasons": [],
    }
    return [{**row, **{k: states.get(row["id"], empty).get(k, v) for k, v in empty.items()}} for row in inventory]
