"""YuNet face detection through onnxruntime: letterbox, run, decode the anchor-free outputs, non-maximum suppression."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.verify.onnx import OnnxSession
from edge.verify.opencv import cv2

STRIDES = (8, 16, 32)


@dataclass(frozen=True)
class Face:
    box: np.ndarray  # x, y, w, h in image pixels
    landmarks: (
        np.ndarray
    )  # 5x2: right eye, left eye, nose tip, right mouth corner, left mouth corner (image left first)
    score: float

    @property
    def size(self) -> float:
        # the shorter box side: what a "minimum face size" means
        return float(min(self.box[2], self.box[3]))

    @property
    def centre(self) -> np.ndarray:
        return self.box[:2] + self.box[2:] / 2

    @property
    def eye_distance(self) -> float:
        return float(np.linalg.norm(self.landmarks[1] - self.landmarks[0]))


class Detector:
    """`max_side` is the detector input's longest side: larger images are scaled down to it (and smaller ones up, with
    `upscale`), then padded to multiples of 32.

    A fixed-size model (the 640x640 file) sets `fixed` and gets a letterbox of exactly that size. The score threshold
    is a setting; the NMS threshold is the model's (manifest `params`)."""

    def __init__(
        self,
        session: OnnxSession,
        *,
        score_threshold: float,
        nms_threshold: float,
        max_side: int = 320,
        fixed: int | None = None,
        upscale: bool = False,
    ) -> None:
        self.session = session
        self.input_name = session.get_inputs()[0].name
        self.output_names = [o.name for o in session.get_outputs()]
        self.max_side = fixed or max_side
        self.fixed = fixed
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self.upscale = upscale

    def _prepare(self, bgr: np.ndarray) -> tuple[np.ndarray, float]:
        h, w = bgr.shape[:2]
        scale = self.max_side / max(h, w)
        if not self.upscale and not self.fixed:
            # small images (chip photos, thumbnails) go in at their own size, padded to 32: upscaling invents no detail
            scale = min(scale, 1.0)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        resized = cv2.resize(bgr, (nw, nh), interpolation=interp) if (nw, nh) != (w, h) else bgr
        if self.fixed:
            ph = pw = self.fixed
        else:
            ph, pw = -(-nh // 32) * 32, -(-nw // 32) * 32
        canvas = np.zeros((ph, pw, 3), np.float32)
        canvas[:nh, :nw] = resized
        return canvas.transpose(2, 0, 1)[None], scale

    def detect(self, bgr: np.ndarray) -> list[Face]:
        blob, scale = self._prepare(bgr)
        pw = blob.shape[3]
        out = dict(zip(self.output_names, self.session.run(self.output_names, {self.input_name: blob}), strict=True))
        boxes, kps, scores = [], [], []
        for s in STRIDES:
            cols = pw // s
            cls = out[f"cls_{s}"][0, :, 0]
            obj = out[f"obj_{s}"][0, :, 0]
            score = np.sqrt(np.clip(cls, 0, 1) * np.clip(obj, 0, 1))
            keep = np.nonzero(score >= self.score_threshold)[0]
            if keep.size == 0:
                continue
            c = (keep % cols).astype(np.float32)
            r = (keep // cols).astype(np.float32)
            bb = out[f"bbox_{s}"][0, keep]
            cx, cy = (c + bb[:, 0]) * s, (r + bb[:, 1]) * s
            bw, bh = np.exp(bb[:, 2]) * s, np.exp(bb[:, 3]) * s
            boxes.append(np.stack([cx - bw / 2, cy - bh / 2, bw, bh], 1))
            kp = out[f"kps_{s}"][0, keep].reshape(-1, 5, 2)
            kp = (kp + np.stack([c, r], 1)[:, None, :]) * s
            kps.append(kp)
            scores.append(score[keep])
        if not boxes:
            return []
        boxes_a = np.concatenate(boxes) / scale
        kps_a = np.concatenate(kps) / scale
        scores_a = np.concatenate(scores)
        kept = cv2.dnn.NMSBoxes(boxes_a.tolist(), scores_a.tolist(), self.score_threshold, self.nms_threshold)
        idx = np.array(kept).reshape(-1)
        return [Face(boxes_a[i].astype(np.float64), kps_a[i].astype(np.float64), float(scores_a[i])) for i in idx]
