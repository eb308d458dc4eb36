"""The loop `markaz central serve` and `ingest` run beside the ingest: say the worker is alive, evaluate the alarms.

A failing evaluation is logged and tried again at the next period (the store may be briefly unreachable); it never
stops the ingest."""

from __future__ import annotations

import logging
import threading

from central.alarms import AlarmEvaluator
from central.ingest import Ingest

log = logging.getLogger(__name__)


class AlarmLoop:
    def __init__(self, ingest: Ingest | None, evaluator: AlarmEvaluator, every_s: float) -> None:
        self.ingest = ingest
        self.evaluator = evaluator
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> None:
        if self.ingest is not None:
            self.ingest.beat()
        run = self.evaluator.run()
        for kind, ids in (("raised", run.raised), ("escalated", run.escalated), ("cleared", run.cleared)):
            if ids:
                log.warning("alarms %s: %s", kind, ids)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="central-alarms", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.tick()
            except Exception:
                log.exception("alarm evaluation failed; trying again in %.0f s", self.every_s)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
