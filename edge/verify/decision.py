"""The verification decision: match / no_match / retry (with a reason a kiosk can show) / spoof, with its evidence."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

MATCH = "match"
NO_MATCH = "no_match"
RETRY = "retry"
SPOOF = "spoof"

# Reason codes and the sentence a kiosk may show (it translates by code; the English text is the fallback).
REASONS = {
    "card_no_face": "No face was found in the document photo. Please see a staff member.",
    "card_several_faces": "The document photo shows more than one face. Please see a staff member.",
    "no_face": "We could not see your face. Please look at the camera.",
    "several_faces": "More than one person is in front of the camera. Please stand alone in front of the kiosk.",
    "face_too_small": "Please come closer to the camera.",
    "face_not_frontal": "Please look straight at the camera.",
    "too_dark": "The picture is too dark. Please face the light.",
    "too_bright": "The picture is too bright. Please step out of direct light.",
    "blurry": "The picture is blurred. Please hold still.",
    "face_mismatch": "The face does not match the document.",
    "presentation_attack": "Please present your own face to the camera, without photos or screens.",
    "match": "Identity confirmed.",
}


@dataclass
class Decision:
    decision: str
    reason: str
    score: float | None = None  # cosine similarity of the embeddings, higher for the same person
    threshold: float | None = None  # score threshold: match when score >= threshold
    distance: float | None = None  # Euclidean distance of unit embeddings, lower for the same person
    distance_threshold: float | None = None
    liveness: float | None = None  # p_real of the frame judged, V2 and V1SE averaged
    liveness_threshold: float | None = None
    frames: int = 0  # live frames received
    frames_used: int = 0  # live frames examined, sharpest first, until one passed every gate
    best_frame: int | None = None  # index of the live frame compared with the card
    model_versions: dict[str, str] = field(default_factory=dict)
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def message(self) -> str:
        return REASONS.get(self.reason, self.reason)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["message"] = self.message
        return out
