"""Wakes every connected hall screen when the queue changes, so each reads its own fresh view: no polling.

The queue announces changes on the node's event bus from whatever thread made them; each screen waits on an
asyncio event of its own loop, set thread-safely. Several changes before a screen redraws fold into one redraw."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from edge.events import EventBus


class Subscriber:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.changed = asyncio.Event()

    async def wait(self, timeout: float) -> bool:
        """True when woken by a change, False when `timeout` passed (time-based parts of a view move too)."""
        try:
            await asyncio.wait_for(self.changed.wait(), timeout)
        except TimeoutError:
            return False
        finally:
            self.changed.clear()
        return True


class LiveHub:
    def __init__(self, events: EventBus) -> None:
        self._subs: set[Subscriber] = set()
        self._lock = threading.Lock()
        events.subscribe("queue.changed", self._on_change)

    @property
    def screens(self) -> int:
        return len(self._subs)

    def _on_change(self, kind: str, payload: dict[str, Any]) -> None:
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            with contextlib.suppress(RuntimeError):  # that screen's loop is closing
                sub.loop.call_soon_threadsafe(sub.changed.set)

    @contextmanager
    def subscribe(self) -> Iterator[Subscriber]:
        sub = Subscriber(asyncio.get_running_loop())
        with self._lock:
            self._subs.add(sub)
        try:
            yield sub
        finally:
            with self._lock:
                self._subs.discard(sub)
