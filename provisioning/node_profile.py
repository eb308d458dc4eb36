"""The edge node's own profile (queue, verification and telemetry settings it can change live): central's
`config.apply` for the station id itself lands here. The hash and the schema are checked at once (a refusal is the
command's ack); then, off the command thread, the profile is switched live, the node's health is checked (database
writable, the model files it verifies with, the broker link when it has one), and it is kept or the last good profile
goes back live, with the outcome reported to central as `events/config_outcome` for the station id.

The profile's `verify` table is on the node's own scale (the calibrated distance of docs/calibration.md and the
measured liveness threshold), bounded near them by the schema, and checked once more as the settings file is before
the next verification uses it."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.audit.log import AuditLog
from edge.auth.principal import Principal
from firmware_config.apply import ApplyOutcome, ApplyResult, HealthCheck, ProfileStore, apply_profile
from firmware_config.layers import ProfileRejected, profile_hash, validate
from firmware_config.schema import DeviceKind, EdgeNodeProfile
from provisioning.profiles import ProfileRefused

log = logging.getLogger(__name__)

Outcome = Callable[[str, str, str | None, str, list[str]], None]  # device, answers, version, outcome, failed checks


@dataclass(frozen=True)
class NodeChecks:
    """The node's health after a change; each callable answers True when that part works."""

    database: Callable[[], bool]
    models: Callable[[], bool]
    broker: Callable[[], bool] | None = None  # None: the node has no MQTT link configured

    def __call__(self, profile: dict[str, Any]) -> list[str]:
        failed = [name for name, ok in (("database", self.database), ("models", self.models)) if not _safe(ok)]
        if self.broker is not None and not _safe(self.broker):
            failed.append("broker")
        return failed


def _safe(check: Callable[[], bool]) -> bool:
    try:
        return bool(check())
    except Exception:
        log.exception("node health check failed")
        return False


class NodeProfile:
    """`start()` puts the profile in force (or the settings file's values) live, at start and after a roll-back; `desire()` is `config.apply` for the node."""

    def __init__(
        self,
        station: str,
        folder: Path,
        switch: Callable[[EdgeNodeProfile | None], None],  # None: the settings file's values
        health: HealthCheck,
        audit: AuditLog,
        actor: Principal,
        outcome: Outcome,
    ) -> None:
        self.station = station
        self.store = ProfileStore(folder)
        self.switch = switch
        self.health = health
        self.audit = audit
        self.actor = actor
        self.outcome = outcome
        self._lock = threading.Lock()
        self.last: ApplyResult | None = None
        self.applied = threading.Event()  # set after each outcome (tests and the CLI wait on it)

    def in_force(self) -> dict[str, Any] | None:
        record = self.store.read(self.store.active)
        return dict(record["profile"]) if record else None

    def start(self) -> None:
        profile = self.in_force()
        self.switch(EdgeNodeProfile.model_validate(profile) if profile is not None else None)

    def desire(self, version: str, sha256: str, profile: dict[str, Any]) -> str:
        """Refuse a wrong hash or schema now (nothing changes); otherwise apply on a thread and answer `pending`."""
        if profile_hash(profile) != sha256:
            raise ProfileRefused("the profile's SHA-256 does not match the hash sent", problems=[])
        try:
            validate(DeviceKind.edge_node, profile, "profile")
        except ProfileRejected as exc:
            raise ProfileRefused(str(exc), problems=[str(p) for p in exc.problems]) from None
        self.applied.clear()
        threading.Thread(target=self._apply, args=(version, sha256, profile), name="node-profile", daemon=True).start()
        return version

    def _apply(self, version: str, sha256: str, profile: dict[str, Any]) -> None:
        with self._lock:
            try:
                result = apply_profile(
                    self.store, DeviceKind.edge_node, profile, version, sha256, self._switch_and_check
                )
                if result.outcome is not ApplyOutcome.applied:
                    self.start()  # the last good profile (or the settings file's values) live again
            except Exception as exc:  # the node keeps serving; central hears why
                log.exception("applying the node profile %s failed", version)
                result = ApplyResult(ApplyOutcome.refused, self.store.version() or "none", [f"error: {exc}"[:200]])
            self._report(version, result)

    def _switch_and_check(self, profile: dict[str, Any]) -> list[str]:
        self.switch(EdgeNodeProfile.model_validate(profile))
        return self.health(profile)

    def _report(self, answers: str, result: ApplyResult) -> None:
        version = None if result.version == "none" else result.version
        after = {"version": version, "outcome": str(result.outcome), "answers": answers, "reasons": result.reasons}
        self.audit.append(self.actor, "profile.report", "node", self.station, None, after)
        failed = [r.rsplit(": ", 1)[1] for r in result.reasons if r.startswith("health check failed: ")]
        self.outcome(self.station, answers, version, str(result.outcome), failed)
        self.last = result
        self.applied.set()
        log.info("node profile %s: %s %s", answers, result.outcome, "; ".join(result.reasons))
