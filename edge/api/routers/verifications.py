"""Face verification endpoint: a kiosk posts the card photo and 1-5 live frames, the edge answers with a decision."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from edge.api.deps import get_node, require
from edge.auth.principal import Principal
from edge.errors import Invalid
from edge.verify.decode import ImageRejected
from edge.verify.pool import Saturated
from edge.verify.service import ModelsUnavailable
from edge.verify.upload import UploadInvalid, UploadTooLarge, parse_multipart, read_body

router = APIRouter(tags=["verifications"])

# multipart framing and the document number on top of the image bytes
_OVERHEAD = 256 * 1024


class VerificationResult(BaseModel):
    verification_id: int
    decision: str  # match | no_match | retry | spoof
    reason: str
    message: str
    score: float | None = None
    threshold: float | None = None
    distance: float | None = None
    distance_threshold: float | None = None
    liveness: float | None = None
    liveness_threshold: float | None = None
    frames: int
    frames_used: int
    best_frame: int | None = None
    model_versions: dict[str, str]
    timings_ms: dict[str, float]
    latency_ms: float
    attempts_left: int


def _too_large(detail: str) -> JSONResponse:
    return JSONResponse({"error": "too_large", "detail": detail}, status_code=413)


def _unavailable(detail: str, retry_after: int) -> JSONResponse:
    return JSONResponse({"error": "unavailable", "detail": detail}, status_code=503,
                        headers={"Retry-After": str(retry_after)})


@router.post(
    "/verifications",
    response_model=VerificationResult,
    summary="Verify the visitor's face against the document photo",
    description=(
        "multipart/form-data: `card_photo` (one file), `live` (1-5 files), `document_number` (text). JPEG, PNG or "
        "JPEG 2000, at most 8 MB and 40 megapixels each. Images are processed in memory and never stored. "
        "422: a file is not a usable image; 413: too large; 429: attempts for this document used up (see staff); "
        "503 + Retry-After: verification busy or unavailable."
    ),
    openapi_extra={"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["card_photo", "live", "document_number"],
        "properties": {
            "card_photo": {"type": "string", "format": "binary", "description": "portrait from the document's chip"},
            "live": {"type": "array", "items": {"type": "string", "format": "binary"}, "minItems": 1, "maxItems": 5,
                     "description": "live camera frames"},
            "document_number": {"type": "string", "maxLength": 64},
        }}}}}},
    # Whole multipart body: the largest card photo and live frames plus form overhead; each file is checked again.
    max_body_size=6 * 8 * 1024 * 1024 + 256 * 1024,
    responses={413: {"description": "too large"}, 422: {"description": "bad image or form"},
               429: {"description": "attempts used up"}, 503: {"description": "busy, retry later"}},
)
async def create_verification(request: Request, principal: Principal = Depends(require("verifications.create"))):
    received = time.perf_counter()
    node = get_node(request)
    service = node.verifier
    s = service.settings
    declared = request.headers.get("content-length")
    try:
        body = await read_body(request.stream(), (1 + s.max_live_frames) * s.max_image_bytes + _OVERHEAD,
                               int(declared) if declared and declared.isdigit() else None)
        parts = parse_multipart(body, request.headers.get("content-type", ""), s.max_image_bytes,
                                max_parts=s.max_live_frames + 4)
    except UploadTooLarge as exc:
        return _too_large(str(exc))
    except UploadInvalid as exc:
        raise Invalid(str(exc)) from None
    del body

    cards = [p for p in parts if p.name == "card_photo"]
    lives = [p for p in parts if p.name == "live"]
    numbers = [p for p in parts if p.name == "document_number"]
    unknown = sorted({p.name for p in parts} - {"card_photo", "live", "document_number"})
    if unknown:
        raise Invalid(f"unknown form fields: {', '.join(unknown)}")
    if len(cards) != 1:
        raise Invalid("exactly one card_photo file is required", field="card_photo")
    if not 1 <= len(lives) <= s.max_live_frames:
        raise Invalid(f"between 1 and {s.max_live_frames} live frames are required, got {len(lives)}", field="live")
    if len(numbers) != 1:
        raise Invalid("document_number is required", field="document_number")
    number = numbers[0].data.decode("utf-8", "replace").strip()
    if not 1 <= len(number) <= 64 or not number.isprintable():
        raise Invalid("document_number must be 1-64 printable characters", field="document_number")

    document_hash = node.keys.hash_document(number)
    del number
    attempt_id = service.attempts.reserve(document_hash, principal.subject)  # 429 once the visit's attempts are used
    submitted = time.perf_counter()
    try:
        future = service.submit(cards[0].data, [p.data for p in lives])
    except Saturated as exc:
        service.attempts.cancel(attempt_id)
        return _unavailable(f"verification busy: {exc}", s.retry_after_s)
    del parts, cards, lives
    try:
        decision, started = await asyncio.wrap_future(future)
    except ImageRejected as exc:
        service.attempts.cancel(attempt_id)
        if exc.too_large:
            return _too_large(str(exc))
        raise Invalid(str(exc), field=exc.field, problem=exc.problem) from None
    except ModelsUnavailable as exc:
        service.attempts.cancel(attempt_id)
        return _unavailable(f"verification unavailable: {exc}", 60)
    except BaseException:
        service.attempts.cancel(attempt_id)
        raise

    decision.timings_ms["queue"] = round((started - submitted) * 1000, 2)
    latency_ms = round((time.perf_counter() - received) * 1000, 2)
    result = decision.as_dict()
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
        "kiosk": principal.subject,
        "document_hash": document_hash,
    }
    with node.store.write() as db:
        service.attempts.record(attempt_id, decision.decision, db)
        node.audit.append(principal, "verification.decide", "verification", str(attempt_id), after=after, db=db)
        used = service.attempts.used(document_hash, db)
    result.pop("message", None)
    return VerificationResult(
        verification_id=attempt_id, message=decision.message, latency_ms=latency_ms,
        attempts_left=max(0, s.max_attempts_per_document - used), **result,
    )
