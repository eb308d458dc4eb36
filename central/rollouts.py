"""Staged roll-out of a profile version across stations, from central: waves of `config.apply` commands (each sent
through the command desk, so it is authorised, recorded and audited like any command), the stations' answers
followed as they arrive (`events/config_outcome` answering the version, or a refusing ack), and a stop by itself
once `failure_bound` stations failed — later waves are never asked (AWS IoT Jobs' abort criteria, Mender's phased
deployments). Progress is kept in the store (`rollouts`, `rollout_targets`) as it moves, so the API, the CLI and the
dashboard read one truth, and a roll-out that a restart of central cut short says `interrupted`.

The target on each station is its edge node (device = the station id), or a device id the stations share."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from central.dispatch import CommandDesk, CommandRefused
from central.staff import audit
from central.staff.roles import Permission, allowed
from central.staff.service import Staff
from central.store import CentralStore
from firmware_config.layers import ProfileRejected, default_layer, profile_hash, validate
from firmware_config.rollout import plan_waves, run_rollout_waves
from firmware_config.schema import DeviceKind
from markaz.clock import iso, utcnow

log = logging.getLogger(__name__)


class RolloutRefused(Exception):
    def __init__(self, message: str, code: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.problems = list(problems)


@dataclass(frozen=True)
class RolloutPlan:
    stations: list[str]
    version: str
    profile: dict[str, Any]
    kind: DeviceKind = DeviceKind.edge_node
    device: str | None = None  # None: each station's edge node
    first: float | list[str] = 0.1
    wave_size: int = 10
    failure_bound: int = 1
    timeout_s: float = 300.0


def effective_profile(kind: DeviceKind, overrides: dict[str, Any]) -> dict[str, Any]:
    """The model default of `kind` with `overrides` on top (tables merged key by key), validated."""
    merged = dict(default_layer(kind))
    for key, value in overrides.items():
        merged[key] = (
            {**merged[key], **value} if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
        )
    validate(kind, merged, "profile")
    return merged


class RolloutService:
    def __init__(self, store: CentralStore, desk: CommandDesk, poll_s: float = 0.5, clock: Callable[[], Any] = utcnow):
        self.store = store
        self.desk = desk
        self.poll_s = poll_s
        self.clock = clock
        self._threads: dict[str, threading.Thread] = {}

    def interrupt_unfinished(self) -> None:
        """At start: roll-outs a stopped central left `running` say so (their waves are not resumed blindly)."""
        with self.store.db.transaction() as tx:
            tx.execute("UPDATE rollouts SET state = 'interrupted', finished_at = ? WHERE state = 'running'",
                       (iso(self.clock()),))  # fmt: skip

    def start(self, who: Staff, plan: RolloutPlan) -> str:
        """Check the plan (role, profile, stations, waves), record it, and run it on a thread; its id."""
        if not allowed(who.role, Permission.COMMAND):
            raise RolloutRefused("only central operators roll profiles out", "forbidden")
        try:
            validate(plan.kind, plan.profile, "profile")
        except ProfileRejected as exc:
            raise RolloutRefused(str(exc), "invalid_profile", [str(p) for p in exc.problems]) from None
        if plan.failure_bound < 1 or plan.wave_size < 1:
            raise RolloutRefused("failure_bound and wave_size must be at least 1", "invalid_plan")
        stations = list(dict.fromkeys(plan.stations))
        known = {r["station"] for r in self.store.query("SELECT station FROM stations")}
        unknown = [s for s in stations if s not in known]
        if not stations or unknown:
            raise RolloutRefused(f"no station has reported as {', '.join(unknown) or '(none given)'}", "not_found")
        try:
            waves = plan_waves(stations, plan.first, plan.wave_size)
        except ValueError as exc:
            raise RolloutRefused(str(exc), "invalid_plan") from None
        rollout_id = uuid.uuid4().hex[:12]
        sha = profile_hash(plan.profile)
        now = iso(self.clock())
        with self.store.db.transaction() as tx:
            tx.execute(
                "INSERT INTO rollouts (id, version, sha256, profile, device, first_wave, wave_size, failure_bound, "
                "timeout_s, state, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?)",
                (rollout_id, plan.version, sha, json.dumps(plan.profile, sort_keys=True), plan.device,
                 json.dumps(plan.first), plan.wave_size, plan.failure_bound, plan.timeout_s, who.username, now),
            )  # fmt: skip
            position = 0
            for index, wave in enumerate(waves, start=1):
                for station in wave:
                    tx.execute(
                        "INSERT INTO rollout_targets (rollout_id, station, position, wave, state, updated_at) "
                        "VALUES (?, ?, ?, ?, 'waiting', ?)",
                        (rollout_id, station, position, index, now),
                    )
                    position += 1
            audit.append(tx, who.username, "staff", "rollout.start", "rollout", rollout_id,
                         {"version": plan.version, "sha256": sha, "device": plan.device, "stations": stations,
                          "first": plan.first, "wave_size": plan.wave_size, "failure_bound": plan.failure_bound})  # fmt: skip
        thread = threading.Thread(
            target=self._run, args=(rollout_id, who, plan, stations, sha), name=f"rollout-{rollout_id}", daemon=True
        )
        self._threads[rollout_id] = thread
        thread.start()
        return rollout_id

    def wait(self, rollout_id: str, timeout_s: float) -> None:
        thread = self._threads.get(rollout_id)
        if thread is not None:
            thread.join(timeout_s)

    # --- the run ----------------------------------------------------------------------------------------------

    def _run(self, rollout_id: str, who: Staff, plan: RolloutPlan, stations: list[str], sha: str) -> None:
        commands: dict[str, str] = {}
        refused: dict[str, str] = {}
        device_of = {s: plan.device or s for s in stations}

        def start(wave: list[str]) -> None:
            with self.store.db.transaction() as tx:
                tx.execute("UPDATE rollouts SET waves_started = waves_started + 1 WHERE id = ?", (rollout_id,))
            for station in wave:
                params: dict[str, object] = {"device": device_of[station], "version": plan.version, "sha256": sha,
                                          "profile": plan.profile}  # fmt: skip
                try:
                    commands[station] = self.desk.send(who, station, "config.apply", params)
                    self._target(rollout_id, station, "asked", None, commands[station])
                except CommandRefused as exc:
                    refused[station] = f"not sent: {exc}"

        def outcomes(wave: list[str]) -> dict[str, tuple[bool, str]]:
            answers = self._wait(wave, commands, refused, device_of, plan.version, plan.timeout_s)
            for station, (ok, why) in answers.items():
                self._target(rollout_id, station, "applied" if ok else "failed", why or None)
            return answers

        try:
            report = run_rollout_waves(stations, start, outcomes, plan.failure_bound, plan.first, plan.wave_size)
            state = "stopped" if report.stopped else "finished"
            for station in report.not_attempted:
                self._target(rollout_id, station, "not_attempted", "the roll-out stopped at its failure bound")
            summary = {"applied": report.applied, "failed": report.failed, "not_attempted": report.not_attempted}
        except Exception as exc:  # central keeps running; the roll-out says it broke off
            log.exception("roll-out %s broke off", rollout_id)
            state, summary = "interrupted", {"error": type(exc).__name__}
        with self.store.db.transaction() as tx:
            tx.execute("UPDATE rollouts SET state = ?, finished_at = ? WHERE id = ?",
                       (state, iso(self.clock()), rollout_id))  # fmt: skip
            audit.append(tx, "central", "system", f"rollout.{state}", "rollout", rollout_id, summary)

    def _target(
        self, rollout_id: str, station: str, state: str, reason: str | None, command: str | None = None
    ) -> None:
        with self.store.db.transaction() as tx:
            tx.execute(
                "UPDATE rollout_targets SET state = ?, reason = ?, command_id = COALESCE(?, command_id), "
                "updated_at = ? WHERE rollout_id = ? AND station = ?",
                (state, reason, command, iso(self.clock()), rollout_id, station),
            )

    def _wait(
        self,
        wave: list[str],
        commands: dict[str, str],
        refused: dict[str, str],
        device_of: dict[str, str],
        version: str,
        timeout_s: float,
    ) -> dict[str, tuple[bool, str]]:
        """Each station's answer: its `events/config_outcome` for the version, or a refusing ack, or silence."""
        answers = {s: (False, refused[s]) for s in wave if s in refused}
        deadline = time.monotonic() + timeout_s
        while True:
            waiting = [s for s in wave if s not in answers]
            if not waiting:
                return answers
            marks = ",".join("?" * len(waiting))
            for row in self.store.query(
                f"SELECT station, data FROM messages WHERE station IN ({marks}) AND topic LIKE ?",
                (*waiting, "%/events/config_outcome"),
            ):
                data = json.loads(row["data"])
                if data.get("answers") != version or data.get("device") != device_of[row["station"]]:
                    continue
                if data["outcome"] == "applied":
                    answers[row["station"]] = (True, "")
                else:
                    checks = ", ".join(data.get("failed_checks") or [])
                    answers[row["station"]] = (False, data["outcome"] + (f": {checks}" if checks else ""))
            ids = [commands[s] for s in waiting if s in commands and s not in answers]
            if ids:
                for row in self.store.query(
                    f"SELECT station, ack_error FROM commands WHERE id IN ({','.join('?' * len(ids))}) "
                    "AND ack_at IS NOT NULL AND ack_ok = 0",
                    ids,
                ):
                    answers.setdefault(row["station"], (False, f"refused: {row['ack_error']}"))
            if time.monotonic() >= deadline:
                silent = {s: (False, f"no answer within {timeout_s:g} s") for s in wave if s not in answers}
                return answers | silent
            time.sleep(self.poll_s)

    # --- progress -------------------------------------------------------------------------------------------

    def get(self, rollout_id: str) -> dict[str, Any] | None:
        rows = self.store.query("SELECT * FROM rollouts WHERE id = ?", (rollout_id,))
        if not rows:
            return None
        head = rows[0]
        targets = self.store.query(
            "SELECT station, wave, state, reason, command_id, updated_at FROM rollout_targets "
            "WHERE rollout_id = ? ORDER BY position",
            (rollout_id,),
        )
        counts = {k: 0 for k in ("waiting", "asked", "applied", "failed", "not_attempted")}
        for t in targets:
            counts[t["state"]] += 1
        return {
            "id": head["id"],
            "version": head["version"],
            "sha256": head["sha256"],
            "device": head["device"],
            "state": head["state"],
            "created_by": head["created_by"],
            "created_at": head["created_at"],
            "finished_at": head["finished_at"],
            "failure_bound": head["failure_bound"],
            "waves": max((t["wave"] for t in targets), default=0),
            "waves_started": head["waves_started"],
            "counts": counts,
            "targets": targets,
        }

    def all(self) -> list[dict[str, Any]]:
        ids = [r["id"] for r in self.store.query("SELECT id FROM rollouts ORDER BY created_at DESC")]
        return [r for r in (self.get(i) for i in ids) if r is not None]
