"""The kiosk's side of desired vs reported profiles: fetch the version the edge wants, apply it (hash and schema
checked first), check the kiosk's own health (reader, camera, printer), keep it or roll back to the last good one, and
tell the edge what is in force and why. The camera follows the profile in force at once."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from firmware_config.apply import ApplyResult, HealthCheck, ProfileStore, apply_profile
from firmware_config.schema import DeviceKind
from kiosk.edge_client import EdgeClient

log = logging.getLogger(__name__)


class ProfileSync:
    """One `sync()` per poll, on a worker thread. `release_camera()` frees the camera before the health check opens
    the profile's source itself (a USB camera opens once); `follow(profile)` points the kiosk's camera and reader at
    the profile in force afterwards (None: the agent's own settings) and starts the camera again."""

    def __init__(
        self,
        edge: EdgeClient,
        folder: Path,
        health: HealthCheck,
        release_camera: Callable[[], None],
        follow: Callable[[dict[str, Any] | None], None],
    ) -> None:
        self.edge = edge
        self.store = ProfileStore(folder)
        self.answered = Path(folder) / "answered.json"  # the desired version last reported, so it is not retried
        self.health = health
        self.release_camera = release_camera
        self.follow = follow

    def in_force(self) -> dict[str, Any] | None:
        record = self.store.read(self.store.active)
        return dict(record["profile"]) if record else None

    def _answered(self) -> str | None:
        if not self.answered.exists():
            return None
        return str(json.loads(self.answered.read_text())["version"])

    def sync(self) -> ApplyResult | None:
        """Apply the edge's desired profile if it is one this kiosk has not answered yet; report the outcome."""
        desired = self.edge.desired_profile()
        if desired is None or desired["version"] == self._answered():
            return None
        log.info("applying profile %s", desired["version"])
        self.release_camera()
        try:
            result = apply_profile(
                self.store, DeviceKind.kiosk, desired["profile"], desired["version"], desired["sha256"], self.health
            )
        finally:
            self.follow(self.in_force())
        self.edge.report_profile(
            {
                "answers": desired["version"],
                "version": None if result.version == "none" else result.version,
                "outcome": str(result.outcome),
                "reasons": result.reasons,
            }
        )
        self.store.write(self.answered, {"version": desired["version"], "outcome": str(result.outcome)})
        log.info("profile %s: %s %s", desired["version"], result.outcome, "; ".join(result.reasons))
        return result
