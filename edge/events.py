"""A tiny in-process notice board: the core announces changes ("queue.changed"), transports (telemetry, WebSocket)
listen, and the core never imports them. Listeners must be quick and must not raise."""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

Listener = Callable[[str, dict[str, Any]], None]


class EventBus:
    def __init__(self) -> None:
        self._listeners: dict[str, list[Listener]] = defaultdict(list)
        self._lock = threading.Lock()

    def subscribe(self, kind: str, listener: Listener) -> None:
        with self._lock:
            self._listeners[kind].append(listener)

    def publish(self, kind: str, payload: dict[str, Any] | None = None) -> None:
        with self._lock:
            listeners = list(self._listeners.get(kind, ())) + list(self._listeners.get("*", ()))
        for listener in listeners:
            try:
                listener(kind, payload or {})
            except Exception:  # a broken listener must not break the business operation that announced
                log.exception("event listener failed for %s", kind)
