"""Applying a profile on the device: validate, switch, check the device's own health, keep it or roll back to the
last good profile, and say why. The outcome is what the device reports (and acks to `config.apply`)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from firmware_config.layers import ProfileRejected, profile_hash, validate
from firmware_config.schema import DeviceKind

HealthCheck = Callable[[dict[str, Any]], list[str]]  # the profile's data -> names of the failed checks


class ApplyOutcome(StrEnum):
    applied = "applied"
    rolled_back = "rolled_back"
    refused = "refused"


@dataclass(frozen=True)
class ApplyResult:
    outcome: ApplyOutcome
    version: str  # the version now in force
    reasons: list[str] = field(default_factory=list)


class ProfileStore:
    """`active.json` (in force) and `last-good.json` (the one to go back to) in the device's profile folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.active = self.folder / "active.json"
        self.last_good = self.folder / "last-good.json"

    def read(self, path: Path) -> dict[str, Any] | None:
        return json.loads(path.read_text()) if path.exists() else None

    def write(self, path: Path, record: dict[str, Any]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(record, indent=2, sort_keys=True))
        os.replace(tmp, path)

    def version(self) -> str | None:
        rec = self.read(self.active)
        return rec["version"] if rec else None


def apply_profile(
    store: ProfileStore, kind: DeviceKind, data: dict[str, Any], version: str, sha256: str, health: HealthCheck
) -> ApplyResult:
    """Apply `data` as `version`; refused untouched if its hash or schema is wrong, rolled back if health fails."""
    current = store.version() or "none"
    if profile_hash(data) != sha256:
        return ApplyResult(ApplyOutcome.refused, current, ["hash does not match the profile sent"])
    try:
        validate(kind, data, "profile")
    except ProfileRejected as exc:
        return ApplyResult(ApplyOutcome.refused, current, [str(p) for p in exc.problems])
    previous = store.read(store.active)
    store.write(store.active, {"version": version, "sha256": sha256, "profile": data})
    failed = health(data)
    if not failed:
        store.write(store.last_good, {"version": version, "sha256": sha256, "profile": data})
        return ApplyResult(ApplyOutcome.applied, version)
    good = store.read(store.last_good) or previous
    if good is not None:
        store.write(store.active, good)
    else:
        store.active.unlink(missing_ok=True)
    return ApplyResult(
        ApplyOutcome.rolled_back,
        good["version"] if good else "none",
        [f"health check failed: {name}" for name in failed],
    )
