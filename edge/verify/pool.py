"""A bounded worker pool: verifications run on a few threads, a few more may wait, beyond that callers get Saturated (503).

The bound is on slots, not on queued jobs: a request takes its slot before its upload is read (`slot`), so the
uploads held in memory are bounded by the same number as the work."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class Saturated(Exception):
    """Every worker is busy and the waiting room is full: answer 503 with Retry-After instead of queueing forever."""


class BoundedPool:
    def __init__(self, workers: int, queue_limit: int, name: str = "verify") -> None:
        self.capacity = workers + queue_limit
        self._slots = threading.BoundedSemaphore(self.capacity)
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)

    def _acquire(self) -> None:
        if not self._slots.acquire(blocking=False):
            raise Saturated(f"{self.capacity} verifications already running or waiting")

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one slot for the block (raises Saturated at once when none is free); `run` inside it."""
        self._acquire()
        try:
            yield
        finally:
            self._slots.release()

    def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run fn on a worker and wait for it; the caller holds a slot (`slot`), which bounds the workers' queue."""
        return self._executor.submit(fn, *args).result()

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Take a slot and run fn on a worker; the slot is freed when fn ends (for callers with the work in hand)."""
        self._acquire()
        try:
            future = self._executor.submit(fn, *args)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(lambda _f: self._slots.release())
        return future

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
