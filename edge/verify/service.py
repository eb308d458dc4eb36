"""Verification service held by the node: models loaded in the background, a bounded pool, attempts, audit."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future

from edge.verify.attempts import Attempts
from edge.verify.decision import Decision
from edge.verify.pool import BoundedPool
from models.registry import ModelError

log = logging.getLogger(__name__)

# One loaded pipeline per distinct settings in a process: a node restarted in the same process (tests, the demo)
# reuses the sessions instead of loading 26 MB of models again. Sessions are stateless between calls.
_LOADED: dict[str, object] = {}
_LOADED_LOCK = threading.Lock()


def shared_verifier(settings):
    from edge.verify.pipeline import Verifier

    key = settings.model_dump_json()
    with _LOADED_LOCK:
        if key not in _LOADED:
            _LOADED[key] = Verifier(settings)
        return _LOADED[key]


class ModelsUnavailable(Exception):
    """The models could not be loaded (missing or mismatched file): verification is down, the node is not."""


class VerificationService:
    def __init__(self, node) -> None:
        self.node = node
        self.settings = node.settings.verify
        self.pool = BoundedPool(self.settings.workers, self.settings.queue_limit)
        self.attempts = Attempts(node.store, self.settings.max_attempts_per_document, self.settings.visit_minutes,
                                 node.clock)
        self._verifier = None
        self._load_error: str | None = None
        self._load_lock = threading.Lock()
        if self.settings.preload:
            # load in the background: the node starts at once, the first kiosk request finds warm models
            threading.Thread(target=self._load_quietly, name="verify-models", daemon=True).start()

    def _load_quietly(self) -> None:
        try:
            self.verifier
        except ModelsUnavailable:
            pass

    @property
    def verifier(self):
        if self._verifier is None:
            with self._load_lock:
                if self._verifier is None and self._load_error is None:
                    t = time.perf_counter()
                    try:
                        self._verifier = shared_verifier(self.settings)
                        log.info("verification models loaded in %.0f ms", (time.perf_counter() - t) * 1000)
                    except ModelError as exc:
                        self._load_error = str(exc)
                        log.error("verification models unavailable: %s", exc)
        if self._verifier is None:
            raise ModelsUnavailable(self._load_error or "verification models failed to load")
        return self._verifier

    def submit(self, card: bytes, live: list[bytes]) -> Future:
        """Run the pipeline on the pool; raises Saturated at once when the pool is full."""
        return self.pool.submit(self._run, card, live)

    def _run(self, card: bytes, live: list[bytes]) -> tuple[Decision, float]:
        started = time.perf_counter()
        return self.verifier.verify(card, live), started

    def close(self) -> None:
        self.pool.shutdown()
