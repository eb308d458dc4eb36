"""Face verification endpoint: a kiosk posts the card photo and 1-5 live frames, the edge answers with a decision."""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from edge.api.deps import get_node, require
from edge.auth.principal import Principal
from edge.errors import Invalid
from edge.verify.decode import ImageRejected
from edge.verify.limits import MAX_BODY_BYTES
from edge.verify.pool import Saturated
from edge.verify.service import ModelsUnavailable, VerificationOutcome
from edge.verify.upload import UploadInvalid, UploadTimedOut, UploadTooLarge, declared_length, read_upload

router = APIRouter(tags=["verifications"])


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
    return JSONResponse(
        {"error": "unavailable", "detail": detail}, status_code=503, headers={"Retry-After": str(retry_after)}
    )


def _result(outcome: VerificationOutcome) -> VerificationResult:
    fields = outcome.decision.as_dict()
    fields.pop("message", None)
    return VerificationResult(
        verification_id=outcome.verification_id,
        message=outcome.decision.message,
        latency_ms=outcome.latency_ms,
        attempts_left=outcome.attempts_left,
        **fields,
    )


@router.post(
    "/verifications",
    response_model=VerificationResult,
    summary="Verify the visitor's face against the document photo",
    description=(
        "multipart/form-data: `card_photo` (one file), `live` (1-5 files), `document_number` (text). JPEG, PNG or "
        "JPEG 2000, at most 8 MB and 40 megapixels each. Images are processed in memory and never stored. "
        "The document number is compared in a canonical form (Unicode NFKC, any script's digits as ASCII, upper case, "
        "without '<', spaces or hyphens) and must then be 1-64 letters A-Z and digits. "
        "422: a file is not a usable image, or the form is wrong; 413: too large (refused as soon as a part passes "
        "its limit); 408: the upload did not arrive in time; 429: attempts for this document used up (see staff); "
        "503 + Retry-After: verification busy (answered before the body is read) or unavailable."
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["card_photo", "live", "document_number"],
                        "properties": {
                            "card_photo": {
                                "type": "string",
                                "format": "binary",
                                "description": "portrait from the document's chip",
                            },
                            "live": {
                                "type": "array",
                                "items": {"type": "string", "format": "binary"},
                                "minItems": 1,
                                "maxItems": 5,
                                "description": "live camera frames",
                            },
                            "document_number": {"type": "string", "maxLength": 64},
                        },
                    }
                }
            },
        }
    },
    # a backstop at the contract's ceilings; the service's own (settings) limits are enforced first, as bytes arrive
    max_body_size=MAX_BODY_BYTES,
    responses={
        408: {"description": "upload too slow"},
        413: {"description": "too large"},
        422: {"description": "bad image or form"},
        429: {"description": "attempts used up"},
        503: {"description": "busy, retry later"},
    },
)
async def create_verification(request: Request, principal: Principal = Depends(require("verifications.create"))):
    # async only to stream the upload; the blocking work (SQLite, the pipeline) runs in a thread through the service
    received = time.perf_counter()
    service = get_node(request).verifier
    try:
        with service.admission():  # before a byte of the body is read
            upload = await read_upload(
                request.stream(),
                request.headers.get("content-type", ""),
                declared_length(request.headers.get("content-length")),
                service.upload_limits,
            )
            outcome = await run_in_threadpool(
                service.verify, principal, upload.document_number, upload.card_photo, upload.live, received
            )
    except Saturated as exc:
        return _unavailable(f"verification busy: {exc}", service.settings.retry_after_s)
    except UploadTooLarge as exc:
        return _too_large(str(exc))
    except UploadTimedOut as exc:
        return JSONResponse({"error": "timeout", "detail": str(exc)}, status_code=408)
    except UploadInvalid as exc:
        raise Invalid(str(exc), **({"field": exc.field} if exc.field else {})) from None
    except ImageRejected as exc:
        if exc.too_large:
            return _too_large(str(exc))
        raise Invalid(str(exc), field=exc.field, problem=exc.problem) from None
    except ModelsUnavailable as exc:
        return _unavailable(f"verification unavailable: {exc}", 60)
    return _result(outcome)
