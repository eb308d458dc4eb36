"""Several central processes on one store: a roll-out is marked interrupted only when the central that ran it is
gone (its process ended on this machine, or it has not said it runs for the lease), never while it still runs it.
On both store backends; the runners' processes are real (one alive, one ended)."""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import timedelta

from central.dispatch import CommandDesk
from central.rollouts import RolloutService
from markaz.clock import iso, utcnow


def _refuse_publish(*_: object, **__: object) -> None:
    raise AssertionError("nothing is sent to stations here")


def _rollout(store, rollout_id: str, runner: str | None, seen_s_ago: float | None) -> None:
    seen = None if seen_s_ago is None else iso(utcnow() - timedelta(seconds=seen_s_ago))
    with store.db.transaction() as tx:
        tx.execute(
            "INSERT INTO rollouts (id, version, sha256, profile, device, first_wave, wave_size, failure_bound, "
            "timeout_s, state, created_by, created_at, runner, runner_seen_at) "
            "VALUES (?, 'v2', 'x', '{}', NULL, '[]', 1, 1, 30, 'running', 'op', ?, ?, ?)",
            (rollout_id, iso(utcnow()), runner, seen),
        )


def _states(store) -> dict[str, str]:
    return {r["id"]: r["state"] for r in store.query("SELECT id, state FROM rollouts")}


def test_only_the_rollouts_of_a_central_that_is_gone_are_marked_interrupted(open_store) -> None:
    store = open_store()
    host = socket.gethostname()
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(ended.stdout)
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        _rollout(store, "live-here", f"{host}/{alive.pid}/a1b2c3", 5)  # another central on this machine, running
        _rollout(store, "ended-here", f"{host}/{dead_pid}/d4e5f6", 1)  # its process has ended, however fresh
        _rollout(store, "live-elsewhere", "central-b/4242/0a0b0c", 5)  # another machine, said so 5 s ago
        _rollout(store, "silent-elsewhere", "central-b/4242/0a0b0c", 120)  # another machine, silent past the lease
        _rollout(store, "before-runners", None, None)  # recorded by a central before runners were kept
        service = RolloutService(store, CommandDesk(store, _refuse_publish), lease_s=30)
        gone = service.interrupt_unfinished()
        assert sorted(gone) == ["before-runners", "ended-here", "silent-elsewhere"]
        assert _states(store) == {
            "live-here": "running",
            "ended-here": "interrupted",
            "live-elsewhere": "running",
            "silent-elsewhere": "interrupted",
            "before-runners": "interrupted",
        }
        # the roll-out list staff read reconciles too: once the other central on this machine ends, its roll-out says so
        alive.kill()
        alive.wait()
        assert {r["id"]: r["state"] for r in service.all()}["live-here"] == "interrupted"
    finally:
        alive.kill()
        alive.wait()


def test_a_runner_that_speaks_up_keeps_its_rollout_and_its_beat_is_recorded(open_store) -> None:
    store = open_store()
    first = RolloutService(store, CommandDesk(store, _refuse_publish), lease_s=30)
    second = RolloutService(store, CommandDesk(store, _refuse_publish), lease_s=30)  # a second central process
    _rollout(store, "r1", None, None)
    first._beat("r1", force=True)  # what the runner does when it starts a roll-out and while it waits on a wave
    (row,) = store.query("SELECT runner, runner_seen_at FROM rollouts WHERE id = 'r1'")
    assert row["runner"] == first.runner and row["runner_seen_at"]
    assert second.interrupt_unfinished() == [] and _states(store)["r1"] == "running"
    assert first.runner != second.runner
