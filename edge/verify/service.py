"""Verification as the node offers it: admission, attempts per visit, the pipeline on a bounded pool, the audit entry.

The router only translates HTTP: it takes an admission slot before reading the upload, then calls `verify`, which
does every rule (the document number's canonical form and hash, the attempt reserved before the run and cancelled
when no decision is reached, the decision recorded with its audit entry in one transaction)."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from edge.errors import Invalid
from edge.verify.attempts import Attempts
from edge.verify.decision import Decision
from edge.verify.documents import InvalidDocumentNumber, normalise_document_number
from edge.verify.pool import BoundedPool
from edge.verify.settings import VerifySettings
from edge.verify.upload import UploadLimits
from models.registry import ModelError

if TYPE_CHECKING:
    from edge.audit.log import AuditLog
    from edge.auth.principal import Principal
    from edge.store import Store
    from edge.verify.pipeline import Thresholds, Verifier

log = logging.getLogger(__name__)

# One loaded pipeline per distinct settings in a process: a node restarted in the same process (tests, the demo)
# reuses the sessions instead of loading 26 MB of models again. Sessions are stateless between calls.
_LOADED: dict[str, Verifier] = {}
_LOADED_LOCK = threading.Lock()


def shared_verifier(settings: VerifySettings) -> Verifier:
    from edge.verify.pipeline import Verifier

    key = settings.model_dump_json()
    with _LOADED_LOCK:
        if key not in _LOADED:
            _LOADED[key] = Verifier(settings)
        return _LOADED[key]


class ModelsUnavailable(Exception):
    """The models could not be loaded (missing or mismatched file): verification is down, the node is not."""


@dataclass(frozen=True)
class VerificationOutcome:
    verification_id: int
    decision: Decision
    latency_ms: float
    attempts_left: int


class VerificationService:
    """Takes exactly what it uses: its settings, the store (attempts), the audit log, the station's keyed hash of
    document numbers and the clock. Nothing runs until `start`; `close` stops the pool."""

    def __init__(
        self,
        settings: VerifySettings,
        store: Store,
        audit: AuditLog,
        hash_document: Callable[[str], str],
        clock: Callable[[], datetime],
    ) -> None:
        self.settings = settings
        self.audit = audit
        self.store = store
        self.hash_document = hash_document
        self.pool = BoundedPool(settings.workers, settings.queue_limit)
        self.attempts = Attempts(store, settings.max_attempts_per_document, settings.visit_minutes, clock)
        self.upload_limits = UploadLimits(settings.max_image_bytes, settings.max_live_frames, settings.upload_timeout_s)
        self._verifier: Verifier | None = None
        self._thresholds: Thresholds | None = None  # None: the settings' own thresholds
        self._load_error: str | None = None
        self._load_lock = threading.Lock()

    def set_thresholds(self, distance: float | None, liveness: float | None) -> None:
        """The station profile's match and liveness thresholds from the next verification on (None: the settings').
        Validated as the node validates its settings file, so a value the node would refuse at start is refused here
        too (pydantic.ValidationError) and nothing changes."""
        from edge.verify.pipeline import Thresholds

        if distance is None and liveness is None:
            self._thresholds = None
            return
        checked = VerifySettings.model_validate(
            {
                **self.settings.model_dump(),
                "distance_threshold": self.settings.distance_threshold if distance is None else distance,
                "liveness_threshold": self.settings.liveness_threshold if liveness is None else liveness,
            }
        )
        self._thresholds = Thresholds(checked.distance_threshold, checked.liveness_threshold)

    @property
    def thresholds(self) -> tuple[float, float]:
        """(distance, liveness) in force."""
        t = self._thresholds
        return (t.distance, t.liveness) if t else (self.settings.distance_threshold, self.settings.liveness_threshold)

    def start(self) -> None:
        if self.settings.preload:
            # load in the background: the node starts at once, the first kiosk request finds warm models
            threading.Thread(target=self._load_quietly, name="verify-models", daemon=True).start()

    def _load_quietly(self) -> None:
        with contextlib.suppress(ModelsUnavailable):
            _ = self.verifier

    @property
    def verifier(self) -> Verifier:
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

    @contextlib.contextmanager
    def admission(self) -> Iterator[None]:
        """One of the pool's slots, held from before the upload is read until the answer: raises Saturated at once
        when every slot is taken, so at most `workers + queue_limit` uploads are ever in memory."""
        with self.pool.slot():
            yield

    def verify(
        self,
        kiosk: Principal,
        document_number: str,
        card: bytes | bytearray,
        live: list[bytes] | list[bytearray],
        received: float | None = None,
    ) -> VerificationOutcome:
        """One verification, called inside `admission()`. `received` (a perf_counter reading) starts the latency.

        Raises Invalid (bad document number), RateLimited (the visit's attempts are used up; the kiosk sends the
        visitor to staff), ImageRejected, ModelsUnavailable; an attempt counts only when a decision was reached."""
        received = time.perf_counter() if received is None else received
        try:
            number = normalise_document_number(document_number)
        except InvalidDocumentNumber as exc:
            raise Invalid(str(exc), field="document_number") from None
        document_hash = self.hash_document(number)
        del number, document_number
        attempt_id = self.attempts.reserve(document_hash, kiosk.subject)
        submitted = time.perf_counter()
        try:
            decision, started = self.pool.run(self._run, card, live)
        except BaseException:
            self.attempts.cancel(attempt_id)  # refused before a decision (bad image, models down): it does not count
            raise
        decision.timings_ms["queue"] = round((started - submitted) * 1000, 2)
        latency_ms = round((time.perf_counter() - received) * 1000, 2)
        after = {
            "decision": decision.decision,
            "reason": decision.reason,
            "score": decision.score,
            "threshold": decision.threshold,
            "distance": decision.distance,
            "distance_threshold": decision.distance_threshold,
            "liveness": decision.liveness,
            "liveness_threshold": decision.liveness_threshold,
            "frames": decision.frames,
            "frames_used": decision.frames_used,
            "model_versions": decision.model_versions,
            "timings_ms": decision.timings_ms,
            "latency_ms": latency_ms,
            "kiosk": kiosk.subject,
            "document_hash": document_hash,
        }
        with self.store.write() as db:
            self.attempts.record(attempt_id, decision.decision, db)
            self.audit.append(kiosk, "verification.decide", "verification", str(attempt_id), after=after, db=db)
            used = self.attempts.used(document_hash, db)
        return VerificationOutcome(
            attempt_id, decision, latency_ms, max(0, self.settings.max_attempts_per_document - used)
        )

    def _run(self, card: bytes | bytearray, live: list[bytes] | list[bytearray]) -> tuple[Decision, float]:
        started = time.perf_counter()
        return self.verifier.verify(card, live, self._thresholds), started

    def close(self) -> None:
        self.pool.shutdown()
