"""Presentation-attack detection: MiniFASNet V2 (crop 2.7x) and V1SE (crop 4.0x) on the live frame, fused by averaging p_real."""

from __future__ import annotations

import numpy as np

from edge.verify.detect import Face
from edge.verify.onnx import OnnxSession
from edge.verify.opencv import cv2

INPUT = 80


def crop_box(box: np.ndarray, scale: float, width: int, height: int) -> tuple[int, int, int, int]:
    """Minivision's crop: the face box scaled about its centre, shifted (not clipped) to stay inside the image.

    The models were trained on exactly this crop, so it is reproduced rather than improved."""
    x, y, bw, bh = (float(v) for v in box)
    scale = min((height - 1) / bh, (width - 1) / bw, scale)
    nw, nh = bw * scale, bh * scale
    cx, cy = x + bw / 2, y + bh / 2
    x1, y1, x2, y2 = cx - nw / 2, cy - nh / 2, cx + nw / 2, cy + nh / 2
    if x1 < 0:
        x2 -= x1
        x1 = 0
    if y1 < 0:
        y2 -= y1
        y1 = 0
    if x2 > width - 1:
        x1 -= x2 - width + 1
        x2 = width - 1
    if y2 > height - 1:
        y1 -= y2 - height + 1
        y2 = height - 1
    return int(x1), int(y1), int(x2), int(y2)


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max())
    probabilities: np.ndarray = e / e.sum()
    return probabilities


class Liveness:
    """Each session with the crop scale it was trained on (the manifest's `crop_scale`)."""

    def __init__(
        self, v2_session: OnnxSession, v1se_session: OnnxSession, *, v2_scale: float, v1se_scale: float
    ) -> None:
        self.models = [(v2_session, v2_scale), (v1se_session, v1se_scale)]

    def p_real(self, bgr: np.ndarray, face: Face) -> float:
        """Fused probability that the face is a live person (class 1), 0..1."""
        h, w = bgr.shape[:2]
        probs = []
        for sess, scale in self.models:
            x1, y1, x2, y2 = crop_box(face.box, scale, w, h)
            crop = cv2.resize(bgr[y1 : y2 + 1, x1 : x2 + 1], (INPUT, INPUT), interpolation=cv2.INTER_LINEAR)
            blob = crop.astype(np.float32).transpose(2, 0, 1)[None]
            logits = sess.run(None, {sess.get_inputs()[0].name: blob})[0][0]
            probs.append(_softmax(logits)[1])
        return float(np.mean(probs))
