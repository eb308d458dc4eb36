"""Periodic work that never spins: each step keeps its own cadence, and a step that fails waits an exponential
backoff before it is tried again instead of being retried at once (a bad row must not become 500k log lines).

Also the reconnect delay of the MQTT clients (full jitter, so a thousand stations do not return in lock-step).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


def backoff_delay(failures: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2^failures)]."""
    return (rng or random).uniform(0, min(cap, base * 2 ** min(failures, 32)))


def retry_delay(failures: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Backoff after the n-th failure in a row (n >= 1): between half and all of min(cap, base * 2^(n-1)).

    Half jitter keeps a floor, so failures can never come faster than the doubling allows."""
    ceiling: float = min(cap, base * 2 ** min(max(failures - 1, 0), 32))
    return ceiling * (rng or random).uniform(0.5, 1.0)


@dataclass
class Step:
    name: str
    run: Callable[[str], None]  # called with the reason: "periodic" or the reason it was poked with
    interval_s: float
    min_gap_s: float = 0.0  # a poke runs it no sooner than this after its last start
    due: float = 0.0
    reason: str = "periodic"
    failures: int = 0
    attempts: int = 0
    last_start: float = float("-inf")
    retry_at: float = float("-inf")


class Periodic:
    """Named steps run from one thread: `run_due()` runs what is due and says how long to sleep until the next."""

    def __init__(
        self,
        monotonic: Callable[[], float] = time.monotonic,
        backoff_base_s: float = 0.5,
        rng: random.Random | None = None,
    ) -> None:
        self.monotonic = monotonic
        self.backoff_base_s = backoff_base_s
        self.rng = rng or random.Random()
        self.steps: dict[str, Step] = {}

    def every(
        self, name: str, interval_s: float, run: Callable[[str], None], min_gap_s: float = 0.0, first_in_s: float = 0.0
    ) -> Step:
        step = Step(name, run, interval_s, min_gap_s, due=self.monotonic() + first_in_s)
        self.steps[name] = step
        return step

    def poke(self, name: str, reason: str) -> None:
        """Run the step soon (after its minimum gap, and never inside a failure's backoff)."""
        step = self.steps[name]
        step.due = min(step.due, max(step.last_start + step.min_gap_s, step.retry_at))
        step.reason = reason

    def run_due(self) -> float:
        for step in self.steps.values():
            now = self.monotonic()
            if now < step.due:
                continue
            reason, step.reason = step.reason, "periodic"
            step.last_start = now
            step.attempts += 1
            try:
                step.run(reason)
            except Exception:
                step.failures += 1
                delay = retry_delay(step.failures, self.backoff_base_s, step.interval_s, self.rng)
                step.retry_at = step.due = self.monotonic() + delay
                log.exception("%s failed (%d in a row); next try in %.1f s", step.name, step.failures, delay)
            else:
                step.failures = 0
                step.retry_at = float("-inf")
                step.due = now + step.interval_s
        if not self.steps:
            return 1.0
        return max(0.0, min(s.due for s in self.steps.values()) - self.monotonic())
