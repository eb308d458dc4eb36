"""Profiles of the devices whose screen the edge node serves (the hall display, the counter terminal): the device is a
browser showing a page of the node, so the node applies the profile on the device's behalf when the device checks
in (its heartbeat), runs that device's health check, keeps the profile or rolls back to the last good one, and
reports the outcome as the device (the same `ProfileService.report` a kiosk calls). The page is then rendered from
the profile in force (layout, speech, chime, volume, recent calls, default language; the terminal's counter).

Each device keeps its own `active.json` / `last-good.json` / `answered.json` under DATA/profiles/served/DEVICE, like
a kiosk keeps them on its own disk."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge.auth.principal import Principal
from firmware_config.apply import ApplyResult, HealthCheck, ProfileStore, apply_profile
from firmware_config.schema import DeviceKind
from provisioning.profiles import ProfileService

log = logging.getLogger(__name__)

SERVED_KINDS = (DeviceKind.display, DeviceKind.counter_terminal)


def speech_works(espeak: str) -> bool:
    """espeak-ng runs and produces audio for a short Arabic phrase (what the display speaks with)."""
    program = shutil.which(espeak)
    if program is None:
        return False
    try:
        done = subprocess.run([program, "-v", "ar", "--stdout", "1 2 3"], capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and done.stdout[:4] == b"RIFF"


def display_health(espeak: str) -> HealthCheck:
    """A display's profile: if it speaks, the node's speech works (the chime needs nothing but the page)."""

    def run(profile: dict[str, Any]) -> list[str]:
        return ["speech"] if profile.get("speech") and not speech_works(espeak) else []

    return run


def counter_terminal_health(counters: Callable[[], list[str]]) -> HealthCheck:
    """A counter terminal's profile: the counter it is pinned to exists at this station ('' = chosen at sign-in)."""

    def run(profile: dict[str, Any]) -> list[str]:
        counter = str(profile.get("counter", ""))
        return ["counter"] if counter and counter not in counters() else []

    return run


class ServedProfiles:
    """`sync(device)` on each check-in of a display or counter terminal; `in_force(device_id)` for rendering."""

    def __init__(self, profiles: ProfileService, folder: Path, health: dict[DeviceKind, HealthCheck]) -> None:
        self.profiles = profiles
        self.folder = Path(folder)
        self.health = health
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _store(self, device_id: str) -> ProfileStore:
        return ProfileStore(self.folder / device_id)

    def _lock(self, device_id: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(device_id, threading.Lock())

    def in_force(self, device_id: str) -> dict[str, Any] | None:
        record = self._store(device_id).read(self._store(device_id).active)
        return dict(record["profile"]) if record else None

    def version(self, device_id: str) -> str:
        """The version in force on the device ('' when none)."""
        return self._store(device_id).version() or ""

    def _answered(self, device_id: str) -> str | None:
        path = self.folder / device_id / "answered.json"
        return str(json.loads(path.read_text())["version"]) if path.exists() else None

    def sync(self, device: Principal) -> ApplyResult | None:
        """Apply the device's desired profile if it has not answered that version yet; report the outcome as it."""
        kind = DeviceKind(str(device.role)) if str(device.role) in {k.value for k in SERVED_KINDS} else None
        if kind is None or device.kind != "device":
            return None
        device_id = device.subject
        desired = self.profiles.desired(device_id)
        if desired is None or desired.version == self._answered(device_id):
            return None
        with self._lock(device_id):  # two check-ins at once apply it once
            if desired.version == self._answered(device_id):
                return None
            store = self._store(device_id)
            result = apply_profile(store, kind, desired.profile, desired.version, desired.sha256, self.health[kind])
            version = None if result.version == "none" else result.version
            self.profiles.report(device, version, result.outcome, desired.version, result.reasons)
            store.write(self.folder / device_id / "answered.json", {"version": desired.version})
        log.info("profile %s of %s: %s %s", desired.version, device_id, result.outcome, "; ".join(result.reasons))
        return result
