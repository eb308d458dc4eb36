"""Face choice: the visitor's face is the one nearest the image centre among the large faces; a rival of similar size is a retry."""

from __future__ import annotations

import numpy as np

from edge.verify.detect import Face

# Only faces at least this fraction of the largest face's size compete for "nearest the centre": a small face in the
# background near the centre must not win over the visitor.
CANDIDATE_FRACTION = 0.5
# Another face this close in size to the chosen one means two people in front of the camera: ask them to retry.
RIVAL_FRACTION = 0.75


class SeveralFaces(Exception):
    pass


def choose_face(faces: list[Face], image_shape: tuple[int, ...], strict: bool = True) -> Face | None:
    """The chosen face, None without faces; with `strict`, SeveralFaces when another face rivals it.

    Nearest-centre beat largest-face on LFW View 1 (centred portraits; see docs/calibration.md), and card photos and
    kiosk frames are framed on one person too."""
    if not faces:
        return None
    h, w = image_shape[:2]
    largest = max(f.size for f in faces)
    candidates = [f for f in faces if f.size >= CANDIDATE_FRACTION * largest]
    centre = np.array([w / 2, h / 2])
    chosen = min(candidates, key=lambda f: float(np.linalg.norm(f.centre - centre)))
    if strict:
        rivals = [f for f in faces if f is not chosen and f.size >= RIVAL_FRACTION * chosen.size]
        if rivals:
            raise SeveralFaces(len(rivals) + 1)
    return chosen
