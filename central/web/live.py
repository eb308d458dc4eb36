"""Wakes the dashboard's open pages when the store changes, with one cheap read for all of them.

The ingest may run in another process (or several), so there is no in-process event to listen to: one task polls
a fingerprint of the store every `interval_s` (per station: state, last message, counts; and the dead letters and
command acks, the alarms' history, the roll-outs' progress) and wakes the pages whose part of it changed. A page still redraws every TICK_S, for its clocks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi.concurrency import run_in_threadpool

from central.store import CentralStore

log = logging.getLogger(__name__)

TICK_S = 30.0
GLOBAL = "*"  # the part of the fingerprint every page depends on


def fingerprint(store: CentralStore) -> dict[str, tuple[Any, ...]]:
    out: dict[str, tuple[Any, ...]] = {
        s["station"]: (s["state"], s["state_changed_at"], s["last_message_at"], s["received"], s["open"])
        for s in store.query(
            "SELECT s.station, s.state, s.state_changed_at, s.last_message_at, s.received, "
            "(SELECT count(*) FROM gaps g WHERE g.station = s.station) AS open FROM stations s"
        )
    }
    (extra,) = store.query(
        "SELECT (SELECT max(id) FROM dead_letters) AS dead, (SELECT count(*) FROM commands) AS sent, "
        "(SELECT count(*) FROM commands WHERE ack_at IS NOT NULL OR ack_error IS NOT NULL) AS answered, "
        "(SELECT max(id) FROM alarm_events) AS alarms, "
        "(SELECT max(updated_at) FROM rollout_targets) AS targets, "
        "(SELECT count(*) FROM rollouts WHERE finished_at IS NOT NULL) AS rollouts_done"
    )
    out[GLOBAL] = (extra["dead"], extra["sent"], extra["answered"], extra["alarms"], len(out), extra["targets"],
                   extra["rollouts_done"])  # fmt: skip
    return out


class Watch:
    """One open page's view of the hub: `wait()` returns when its station (or anything, for `None`) changed."""

    def __init__(self, hub: StoreWatch, station: str | None) -> None:
        self.hub = hub
        self.station = station
        self.event = asyncio.Event()

    def concerns(self, changed: set[str]) -> bool:
        return self.station is None or bool(changed & {self.station, GLOBAL})

    async def wait(self, timeout: float = TICK_S) -> bool:
        try:
            await asyncio.wait_for(self.event.wait(), timeout)
        except TimeoutError:
            return False
        finally:
            self.event.clear()
        return True


class StoreWatch:
    def __init__(self, store: CentralStore, interval_s: float = 1.0) -> None:
        self.store = store
        self.interval_s = interval_s
        self._watches: set[Watch] = set()
        self._task: asyncio.Task[None] | None = None
        self._last: dict[str, tuple[Any, ...]] = {}

    async def _run(self) -> None:
        self._last = await run_in_threadpool(fingerprint, self.store)  # pages render on connect: no wake for this
        while self._watches:
            await asyncio.sleep(self.interval_s)
            try:
                now = await run_in_threadpool(fingerprint, self.store)
            except Exception:  # a database hiccup: pages keep what they show, and the next poll tries again
                log.exception("dashboard: reading the store's fingerprint failed")
                continue
            changed = {k for k in now.keys() | self._last.keys() if now.get(k) != self._last.get(k)}
            self._last = now
            if changed:
                for watch in list(self._watches):
                    if watch.concerns(changed):
                        watch.event.set()
        self._task = None

    @contextlib.asynccontextmanager
    async def watch(self, station: str | None = None) -> AsyncIterator[Watch]:
        w = Watch(self, station)
        self._watches.add(w)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        try:
            yield w
        finally:
            self._watches.discard(w)
