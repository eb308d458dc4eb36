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
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from central.dispatch import CommandDesk, CommandRefused
from central.staff import audit
from central.staff.roles import Permission, allowed
from central.staff.service import Staff
from central.store import CentralStore
from firmware_config.layers import ProfileRejected, default_layer, profile_hash, validate
from firmware_config.rollout import plan_waves, run_rollout_waves
from firmware_config.schema import DeviceKind
from markaz.clock import iso, parse_iso, utcnow

log = logging.getLogger(__name__)


class RolloutReason(StrEnum):
    """Why a station did not take a roll-out's version: the first word of its `reason` (`CODE` or `CODE: DETAIL`,
    the detail machine words — failed check names, an ack's error code, seconds). The dashboard shows each in the
    page's language (central/web/locales); the API and the CLI give the stored text."""

    not_sent = "not_sent"  # the command desk did not send it (its error code as detail)
    refused = "refused"  # the station refused the command or the profile
    rolled_back = "rolled_back"  # applied, a health check failed, the last good profile is back (the checks)
    no_answer = "no_answer"  # nothing within the roll-out's timeout (its seconds)
    bound_reached = "bound_reached"  # never asked: the roll-out stopped at its failure bound first
    cancelled = "cancelled"  # never asked: an operator cancelled the roll-out first (who, as detail)


class RolloutState(StrEnum):
    running = "running"
    stopped = "stopped"  # at its failure bound
    finished = "finished"
    interrupted = "interrupted"  # a restart of central (or an error) cut it short: it may be resumed
    cancelled = "cancelled"  # by an operator


def reason(code: RolloutReason, detail: str = "") -> str:
    return f"{code}: {detail}" if detail else str(code)


def parse_reason(text: str | None) -> tuple[RolloutReason | None, str]:
    """(code, detail) of a stored reason; (None, text) for text from before the codes."""
    if not text:
        return None, ""
    code, _, detail = text.partition(": ")
    try:
        return RolloutReason(code), detail
    except ValueError:
        return None, text


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


LEASE_S = 30.0  # a runner on another machine that has not said it runs for this long is taken for gone


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


class RolloutService:
    """Runs roll-outs on threads of this central process. Each roll-out records its runner (host/pid/start) and
    the runner's last word (`runner_seen_at`, renewed while it waits on a wave), so several central processes can
    share one store: only the roll-outs of a runner that is gone are marked `interrupted`, at start and whenever
    roll-outs are read or resumed."""

    def __init__(
        self,
        store: CentralStore,
        desk: CommandDesk,
        poll_s: float = 0.5,
        clock: Callable[[], Any] = utcnow,
        lease_s: float = LEASE_S,
    ):
        self.store = store
        self.desk = desk
        self.poll_s = poll_s
        self.clock = clock
        self.lease_s = lease_s
        self.runner = f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:6]}"
        self._threads: dict[str, threading.Thread] = {}
        self._beats: dict[str, float] = {}

    def interrupt_unfinished(self) -> list[str]:
        """Roll-outs left `running` by a central that is gone say so (their waves are not resumed blindly): one run
        on this machine by a process that has ended, or one whose runner has not said it runs for `lease_s` (another
        machine, or a process id reused). A live central's roll-outs, this one's too, are left running."""
        now = self.clock()
        stale = now - timedelta(seconds=self.lease_s)
        host = socket.gethostname()
        gone = []
        for row in self.store.query("SELECT id, runner, runner_seen_at FROM rollouts WHERE state = 'running'"):
            runner, seen = row["runner"], row["runner_seen_at"]
            thread = self._threads.get(row["id"])
            if runner == self.runner and thread is not None and thread.is_alive():
                continue
            parts = str(runner or "").split("/")
            ended_here = (
                len(parts) == 3 and parts[0] == host and parts[1].isdigit() and not _process_alive(int(parts[1]))
            )
            if runner is None or seen is None or ended_here or parse_iso(seen) < stale:
                gone.append((row["id"], runner or ""))
        if not gone:  # the usual case, on every read of the roll-outs: no write at all
            return []
        with self.store.db.transaction() as tx:
            for rollout_id, runner in gone:  # unless its runner spoke up meanwhile
                tx.execute(
                    "UPDATE rollouts SET state = 'interrupted', finished_at = ? "
                    "WHERE id = ? AND state = 'running' AND COALESCE(runner, '') = ?",
                    (iso(now), rollout_id, runner),
                )
        return [rollout_id for rollout_id, _ in gone]

    def _beat(self, rollout_id: str, force: bool = False) -> None:
        """Say this process still runs the roll-out (at most every third of the lease)."""
        mono = time.monotonic()
        if not force and mono - self._beats.get(rollout_id, -1e9) < self.lease_s / 3:
            return
        self._beats[rollout_id] = mono
        with self.store.db.transaction() as tx:
            tx.execute(
                "UPDATE rollouts SET runner = ?, runner_seen_at = ? WHERE id = ?",
                (self.runner, iso(self.clock()), rollout_id),
            )

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
        self._spawn(rollout_id, who, plan, waves, plan.failure_bound)
        return rollout_id

    def _spawn(self, rollout_id: str, who: Staff, plan: RolloutPlan, waves: list[list[str]], bound: int) -> None:
        thread = threading.Thread(
            target=self._run, args=(rollout_id, who, plan, waves, bound), name=f"rollout-{rollout_id}", daemon=True
        )
        self._threads[rollout_id] = thread
        self._beat(rollout_id, force=True)
        thread.start()

    def _head(self, rollout_id: str) -> dict[str, Any]:
        rows = self.store.query("SELECT * FROM rollouts WHERE id = ?", (rollout_id,))
        if not rows:
            raise RolloutRefused(f"no roll-out {rollout_id!r}", "not_found")
        return dict(rows[0])

    def cancel(self, who: Staff, rollout_id: str) -> str:
        """Stop a running roll-out before its next wave (the stations of a wave already asked answer as usual), or
        close an interrupted one; its stations not yet asked are `not_attempted: cancelled`. Audited
        `rollout.cancel`; the new state (`cancelled`, or `running` until its wave in flight ends). The request is
        kept in the store, so the runner sees it whichever dashboard process took the cancel."""
        if not allowed(who.role, Permission.COMMAND):
            raise RolloutRefused("only central operators cancel roll-outs", "forbidden")
        head = self._head(rollout_id)
        state = RolloutState(head["state"])
        if state not in (RolloutState.running, RolloutState.interrupted) or head["cancelled_by"]:
            raise RolloutRefused(f"roll-out {rollout_id} is {state}: nothing to cancel", "conflict")
        now = iso(self.clock())
        with self.store.db.transaction() as tx:
            marked = tx.execute(
                "UPDATE rollouts SET cancelled_by = ?, cancelled_at = ? WHERE id = ? AND state = ? "
                "AND cancelled_by IS NULL",
                (who.username, now, rollout_id, str(state)),
            )
            if marked.rowcount != 1:  # its runner ended it meanwhile
                raise RolloutRefused(f"roll-out {rollout_id} has just ended", "conflict")
            audit.append(tx, who.username, "staff", "rollout.cancel", "rollout", rollout_id, {"was": str(state)})
            if state is RolloutState.interrupted:  # nobody runs it: it ends now
                self._close_cancelled(tx, rollout_id, who.username, now)
        return str(RolloutState.running if state is RolloutState.running else RolloutState.cancelled)

    def _cancelled_by(self, rollout_id: str) -> str | None:
        rows = self.store.query("SELECT cancelled_by FROM rollouts WHERE id = ?", (rollout_id,))
        return str(rows[0]["cancelled_by"]) if rows and rows[0]["cancelled_by"] else None

    def _close_cancelled(self, tx: Any, rollout_id: str, by: str, now: str) -> None:
        tx.execute(
            "UPDATE rollout_targets SET state = 'not_attempted', reason = ?, updated_at = ? "
            "WHERE rollout_id = ? AND state IN ('waiting', 'asked')",
            (reason(RolloutReason.cancelled, by), now, rollout_id),
        )
        tx.execute("UPDATE rollouts SET state = 'cancelled', finished_at = ? WHERE id = ?", (now, rollout_id))

    def resume(self, who: Staff, rollout_id: str) -> None:
        """Go on with an `interrupted` roll-out from the waves not yet done: stations that answered keep their
        answer (their failures still count towards the bound), stations asked without an answer are asked again.
        Audited `rollout.resume`; refused when it is not interrupted or its failures already reach the bound."""
        if not allowed(who.role, Permission.COMMAND):
            raise RolloutRefused("only central operators resume roll-outs", "forbidden")
        self.interrupt_unfinished()  # a roll-out whose central has gone since is resumable now
        head = self._head(rollout_id)
        if head["state"] != RolloutState.interrupted:
            raise RolloutRefused(
                f"roll-out {rollout_id} is {head['state']}: only an interrupted one resumes", "conflict"
            )
        targets = self.store.query(
            "SELECT station, wave, state FROM rollout_targets WHERE rollout_id = ? ORDER BY position", (rollout_id,)
        )
        failed = sum(1 for t in targets if t["state"] == "failed")
        bound = int(head["failure_bound"]) - failed
        if bound < 1:
            raise RolloutRefused("its failures already reach the failure bound", "conflict")
        left: dict[int, list[str]] = {}
        for t in targets:
            if t["state"] in ("waiting", "asked"):
                left.setdefault(int(t["wave"]), []).append(str(t["station"]))
        waves = [left[w] for w in sorted(left)]
        plan = RolloutPlan(
            [str(t["station"]) for t in targets],
            str(head["version"]),
            json.loads(head["profile"]),
            device=head["device"],
            failure_bound=int(head["failure_bound"]),
            timeout_s=float(head["timeout_s"]),
        )
        with self.store.db.transaction() as tx:
            done_waves = len({int(t["wave"]) for t in targets}) - len(waves)  # each wave left counts again as it starts
            tx.execute("UPDATE rollouts SET state = 'running', finished_at = NULL, waves_started = ?, cancelled_by = NULL, "
                       "cancelled_at = NULL WHERE id = ?", (done_waves, rollout_id))  # fmt: skip
            tx.execute(
                "UPDATE rollout_targets SET state = 'waiting', updated_at = ? WHERE rollout_id = ? AND state = 'asked'",
                (iso(self.clock()), rollout_id),
            )
            audit.append(tx, who.username, "staff", "rollout.resume", "rollout", rollout_id,
                         {"waves_left": len(waves), "stations_left": sum(len(w) for w in waves),
                          "failed_before": failed})  # fmt: skip
        self._spawn(rollout_id, who, plan, waves, bound)

    def wait(self, rollout_id: str, timeout_s: float) -> None:
        thread = self._threads.get(rollout_id)
        if thread is not None:
            thread.join(timeout_s)

    # --- the run ----------------------------------------------------------------------------------------------

    def _run(self, rollout_id: str, who: Staff, plan: RolloutPlan, waves: list[list[str]], bound: int) -> None:
        commands: dict[str, str] = {}
        refused: dict[str, str] = {}
        stations = [s for w in waves for s in w]
        device_of = {s: plan.device or s for s in stations}
        sha = profile_hash(plan.profile)

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
                    refused[station] = reason(RolloutReason.not_sent, exc.code)

        def outcomes(wave: list[str]) -> dict[str, tuple[bool, str]]:
            answers = self._wait(
                wave, commands, refused, device_of, plan.version, plan.timeout_s, lambda: self._beat(rollout_id)
            )
            for station, (ok, why) in answers.items():
                self._target(rollout_id, station, "applied" if ok else "failed", why or None)
            return answers

        def proceed() -> bool:
            return self._cancelled_by(rollout_id) is None

        try:
            report = run_rollout_waves(stations, start, outcomes, bound, proceed=proceed, waves=waves)
            state = (
                RolloutState.cancelled
                if report.cancelled
                else RolloutState.stopped
                if report.stopped
                else RolloutState.finished
            )
            why = (
                reason(RolloutReason.cancelled, self._cancelled_by(rollout_id) or "")
                if report.cancelled
                else reason(RolloutReason.bound_reached)
            )
            for station in report.not_attempted:
                self._target(rollout_id, station, "not_attempted", why)
            summary = {"applied": report.applied, "failed": report.failed, "not_attempted": report.not_attempted}
        except Exception as exc:  # central keeps running; the roll-out says it broke off
            log.exception("roll-out %s broke off", rollout_id)
            state, summary = RolloutState.interrupted, {"error": type(exc).__name__}
        with self.store.db.transaction() as tx:
            tx.execute("UPDATE rollouts SET state = ?, finished_at = ? WHERE id = ?",
                       (str(state), iso(self.clock()), rollout_id))  # fmt: skip
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
        beat: Callable[[], None] = lambda: None,
    ) -> dict[str, tuple[bool, str]]:
        """Each station's answer: its `events/config_outcome` for the version, or a refusing ack, or silence."""
        answers = {s: (False, refused[s]) for s in wave if s in refused}
        deadline = time.monotonic() + timeout_s
        while True:
            beat()
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
                    code = RolloutReason.rolled_back if data["outcome"] == "rolled_back" else RolloutReason.refused
                    answers[row["station"]] = (False, reason(code, checks))
            ids = [commands[s] for s in waiting if s in commands and s not in answers]
            if ids:
                for row in self.store.query(
                    f"SELECT station, ack_error FROM commands WHERE id IN ({','.join('?' * len(ids))}) "
                    "AND ack_at IS NOT NULL AND ack_ok = 0",
                    ids,
                ):
                    answers.setdefault(row["station"], (False, reason(RolloutReason.refused, str(row["ack_error"]))))
            if time.monotonic() >= deadline:
                silent = {
                    s: (False, reason(RolloutReason.no_answer, f"{timeout_s:g}")) for s in wave if s not in answers
                }
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
            "cancelled_by": head["cancelled_by"],
            "cancelled_at": head["cancelled_at"],
            "waves": max((t["wave"] for t in targets), default=0),
            "waves_started": head["waves_started"],
            "counts": counts,
            "targets": targets,
        }

    def all(self) -> list[dict[str, Any]]:
        self.interrupt_unfinished()  # what staff see says so when a roll-out's central has gone
        ids = [r["id"] for r in self.store.query("SELECT id FROM rollouts ORDER BY created_at DESC")]
        return [r for r in (self.get(i) for i in ids) if r is not None]
