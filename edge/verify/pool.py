"""A bounded worker pool: verifications run on a few threads, a few more may wait, beyond that callers get Saturated (503)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


class Saturated(Exception):
    """Every worker is busy and the waiting room is full: answer 503 with Retry-After instead of queueing forever."""


class BoundedPool:
    def __init__(self, workers: int, queue_limit: int, name: str = "verify") -> None:
        self.capacity = workers + queue_limit
        self._slots = threading.BoundedSemaphore(self.capacity)
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._lock = threading.Lock()
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        if not self._slots.acquire(blocking=False):
            raise Saturated(f"{self.capacity} verifications already running or waiting")
        with self._lock:
            self._in_flight += 1
        try:
            future = self._executor.submit(fn, *args)
        except BaseException:
            self._release()
            raise
        future.add_done_callback(lambda _f: self._release())
        return future

    def _release(self) -> None:
        with self._lock:
            self._in_flight -= 1
        self._slots.release()

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
