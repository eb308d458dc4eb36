"""dlib ResNet embeddings of aligned chips: chip and mirror averaged, L2-normalised; distances and scores between them."""

from __future__ import annotations

import numpy as np

from edge.verify.onnx import OnnxSession


class Embedder:
    def __init__(self, session: OnnxSession, mirror: bool = True) -> None:
        self.session = session
        self.input_name = session.get_inputs()[0].name
        self.mirror = mirror

    def embed(self, chips: list[np.ndarray]) -> np.ndarray:
        """(N,128) unit vectors for N RGB 150x150 chips, in one batched run."""
        if not chips:
            return np.zeros((0, 128), np.float32)
        batch = np.stack(chips).astype(np.float32).transpose(0, 3, 1, 2)
        if self.mirror:
            # the mirror image is another view of the same face: averaging both cancels some alignment noise
            batch = np.concatenate([batch, batch[:, :, :, ::-1]])
        out = self.session.run(None, {self.input_name: np.ascontiguousarray(batch)})[0]
        if self.mirror:
            n = len(chips)
            out = (out[:n] + out[n:]) / 2
        unit: np.ndarray = out / np.linalg.norm(out, axis=1, keepdims=True)
        return unit


def distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance of unit embeddings, 0..2, lower for the same person."""
    return float(np.linalg.norm(a - b))


def score_from_distance(d: float) -> float:
    """Cosine similarity, higher for the same person: 1 - d^2/2 for unit vectors."""
    return 1.0 - d * d / 2.0
