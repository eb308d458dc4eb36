"""Wakes every connected live screen (hall, report workbench) when what it shows changes, so each reads its own
fresh view: no polling.

A part announces changes on the node's event bus from whatever thread made them; each screen waits on an asyncio
event of its own loop, set thread-safely, and may say which changes concern it (a report's page: that report only).
Several changes before a screen redraws fold into one redraw."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from edge.events import EventBus

Wants = Callable[[str, dict[str, Any]], bool]  # (event kind, payload) -> does this screen care


class Subscriber:
    def __init__(self, loop: asyncio.AbstractEventLoop, wants: Wants | None = None) -> None:
        self.loop = loop
        self.wants = wants
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
    def __init__(self, events: EventBus, kinds: Sequence[str] = ("queue.changed",)) -> None:
        self._subs: set[Subscriber] = set()
        self._lock = threading.Lock()
        for kind in kinds:
            events.subscribe(kind, self._on_change)

    @property
    def screens(self) -> int:
        return len(self._subs)

    def _on_change(self, kind: str, payload: dict[str, Any]) -> None:
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            if sub.wants is not None and not sub.wants(kind, payload):
                continue
            with contextlib.suppress(RuntimeError):  # that screen's loop is closing
                sub.loop.call_soon_threadsafe(sub.changed.set)

    @contextmanager
    def subscribe(self, wants: Wants | None = None) -> Iterator[Subscriber]:
        sub = Subscriber(asyncio.get_running_loop(), wants)
        with self._lock:
            self._subs.add(sub)
        try:
            yield sub
        finally:
            with self._lock:
                self._subs.discard(sub)
