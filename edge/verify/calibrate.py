"""Threshold calibration on LFW View 1: every cross-identity pair of its images as impostors, threshold at a target FMR."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edge.verify import lfw
from edge.verify.lfw import Progress

if TYPE_CHECKING:
    from edge.verify.pipeline import Verifier
from edge.verify.embed import score_from_distance

VIEW1 = ("pairsDevTrain.txt", "pairsDevTest.txt")


def view1_images(lfw_dir: Path) -> list[str]:
    paths: list[str] = []
    for name in VIEW1:
        pairs, _ = lfw.read_pairs(Path(lfw_dir) / name)
        for p in pairs:
            paths += [p.a, p.b]
    return list(dict.fromkeys(paths))


def calibrate(
    verifier: Verifier, lfw_dir: Path, fmr: float = 0.001, progress: Progress | None = None, cache: bool = True
) -> dict[str, Any]:
    """Threshold (distance, and the equivalent score) at the target false-match rate, with the evidence."""
    lfw_dir = Path(lfw_dir)
    paths = view1_images(lfw_dir)
    present = [p for p in paths if (lfw_dir / "images" / p).is_file()]
    root = lfw_dir / "images"
    embs = lfw.embed_files(
        verifier, root, present, progress=progress, cache=lfw.cache_file(verifier, root) if cache else None
    )
    genuine, impostor, no_face = lfw.cross_identity_impostors(embs)
    t = lfw.threshold_at_fmr(impostor, fmr)
    fm = int(np.sum(impostor <= t))
    # the listed View 1 pairs, for a figure comparable with the published protocol
    listed = []
    for name in VIEW1:
        listed += lfw.read_pairs(lfw_dir / name)[0]
    dist, same, failed = lfw.pair_distances(listed, embs)
    return {
        "data": "LFW View 1 (pairsDevTrain.txt + pairsDevTest.txt): every image they use",
        "images": len(paths),
        "images_missing": len(paths) - len(present),
        "images_without_face": no_face,
        "identities": len({lfw.identity(p) for p in present}),
        "impostor_pairs": len(impostor),
        "genuine_pairs": len(genuine),
        "target_fmr": fmr,
        "distance_threshold": round(t, 4),
        "score_threshold": round(score_from_distance(t), 4),
        "false_matches_at_threshold": fm,
        "fmr_at_threshold": fm / len(impostor),
        "fnmr_at_threshold_all_genuine": float(np.mean(genuine > t)),
        "view1_listed_pairs": len(dist),
        "view1_listed_pairs_without_face": failed,
        "view1_listed_tar": float(np.mean(dist[same] <= t)),
        "view1_listed_fmr": float(np.mean(dist[~same] <= t)),
        "view1_listed_accuracy": float(np.mean((dist <= t) == same)),
    }
