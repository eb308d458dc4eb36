"""LFW protocol: read the pair files, embed every image once, and compute verification figures from distances."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from edge.verify.pipeline import Verifier

Progress = Callable[[int, int], None]  # (done, total), for long embedding runs


@dataclass(frozen=True)
class Pair:
    a: str  # relative image path, NAME/NAME_NNNN.jpg
    b: str
    same: bool


def _image(name: str, n: str) -> str:
    return f"{name}/{name}_{int(n):04d}.jpg"


def read_pairs(path: Path) -> tuple[list[Pair], int]:
    """Pairs of a View 1 or View 2 file, in file order; also the number of folds (1 for View 1)."""
    lines = Path(path).read_text().splitlines()
    head = lines[0].split()
    folds = int(head[0]) if len(head) == 2 else 1
    pairs = []
    for line in lines[1:]:
        parts = line.split("\t")
        if len(parts) == 3:
            pairs.append(Pair(_image(parts[0], parts[1]), _image(parts[0], parts[2]), True))
        elif len(parts) == 4:
            pairs.append(Pair(_image(parts[0], parts[1]), _image(parts[2], parts[3]), False))
    return pairs, folds


def identity(path: str) -> str:
    return path.split("/")[0]


def threshold_at_fmr(impostor: np.ndarray, fmr: float) -> float:
    """Largest distance threshold (decide "same" when d <= t) whose false-match rate on `impostor` is <= fmr."""
    imp = np.sort(impostor)
    k = int(np.floor(fmr * len(imp)))  # at most k impostors may fall at or below the threshold
    if k == 0:
        return float(np.nextafter(imp[0], -np.inf))
    # midpoint between the k-th and (k+1)-th smallest impostor distance
    return float((imp[k - 1] + imp[k]) / 2)


def tar_at_far(genuine: np.ndarray, impostor: np.ndarray, far: float) -> tuple[float, float]:
    t = threshold_at_fmr(impostor, far)
    return float(np.mean(genuine <= t)), t


def eer(genuine: np.ndarray, impostor: np.ndarray) -> float:
    ts = np.unique(np.concatenate([genuine, impostor]))
    accepted = np.searchsorted(np.sort(genuine), ts, side="right")
    frr = 1 - accepted / len(genuine)
    far = np.searchsorted(np.sort(impostor), ts, side="right") / len(impostor)
    i = int(np.argmin(np.abs(frr - far)))
    return float((frr[i] + far[i]) / 2)


def best_threshold(dist: np.ndarray, same: np.ndarray) -> float:
    """Threshold maximising accuracy on (dist, same)."""
    order = np.argsort(dist)
    d, s = dist[order], same[order]
    # deciding "same" for the first i pairs: correct = genuines among them + impostors after them
    correct = np.concatenate([[0], np.cumsum(s)]) + (np.sum(~s) - np.concatenate([[0], np.cumsum(~s)]))
    i = int(np.argmax(correct))
    if i == 0:
        return float(d[0] - 1e-6)
    if i == len(d):
        return float(d[-1] + 1e-6)
    return float((d[i - 1] + d[i]) / 2)


def ten_fold(dist: np.ndarray, same: np.ndarray, folds: int = 10) -> tuple[float, float, list[float]]:
    """Mean and std of accuracy with the threshold chosen on the other folds (pairs are in fold order)."""
    n = len(dist) // folds
    accs, thresholds = [], []
    for k in range(folds):
        test = np.zeros(len(dist), bool)
        test[k * n : (k + 1) * n] = True
        t = best_threshold(dist[~test], same[~test])
        thresholds.append(t)
        accs.append(float(np.mean((dist[test] <= t) == same[test])))
    return float(np.mean(accs)), float(np.std(accs)), thresholds


def figures(dist: np.ndarray, same: np.ndarray, folds: int = 10) -> dict[str, Any]:
    gen, imp = dist[same], dist[~same]
    acc, std, ts = ten_fold(dist, same, folds)
    tar1, t1 = tar_at_far(gen, imp, 0.01)
    tar01, t01 = tar_at_far(gen, imp, 0.001)
    return {
        "pairs": len(dist),
        "genuine": len(gen),
        "impostor": len(imp),
        "accuracy_10fold": acc,
        "accuracy_std": std,
        "fold_thresholds": ts,
        "tar_at_far_1pct": tar1,
        "threshold_far_1pct": t1,
        "tar_at_far_0_1pct": tar01,
        "threshold_far_0_1pct": t01,
        "eer": eer(gen, imp),
    }


def cache_file(verifier: Verifier, root: Path) -> Path:
    """Where embeddings of a benchmark folder may be cached between runs (outside the repository; benchmark photos
    only, never visitors): keyed by the models and every setting that changes an embedding."""
    import hashlib
    import tempfile

    from edge.verify import align, choose
    from models.registry import load_manifest

    m = load_manifest()
    s = verifier.settings
    key = "|".join(
        [
            m["yunet"].sha256,
            m["dlib_resnet"].sha256,
            str(s.detector_side),
            str(s.detector_score),
            str(s.detector_upscale),
            str(verifier.embedder.mirror),
            str(choose.CANDIDATE_FRACTION),
            align.TEMPLATE.round(4).tobytes().hex(),
            str(Path(root).resolve()),
        ]
    )
    return Path(tempfile.gettempdir()) / f"markaz-bench-embeddings-{hashlib.sha256(key.encode()).hexdigest()[:16]}.npz"


def _load_cache(path: Path) -> dict[str, np.ndarray | None]:
    if not path.is_file():
        return {}
    with np.load(path, allow_pickle=False) as z:
        names, embs, ok = list(z["names"]), z["embs"], z["ok"]
    return {str(n): (e if k else None) for n, e, k in zip(names, embs, ok, strict=True)}


def _or_zeros(embedding: np.ndarray | None) -> np.ndarray:
    return embedding if embedding is not None else np.zeros(128, np.float32)


def _save_cache(path: Path, embs: dict[str, np.ndarray | None]) -> None:
    names = sorted(embs)
    mat = np.stack([_or_zeros(embs[n]) for n in names]) if names else np.zeros((0, 128))
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, names=np.array(names), embs=mat.astype(np.float32), ok=np.array([embs[n] is not None for n in names]))
    tmp.replace(path)


def embed_files(
    verifier: Verifier,
    root: Path,
    rel_paths: list[str],
    batch: int = 32,
    progress: Progress | None = None,
    cache: Path | None = None,
) -> dict[str, np.ndarray | None]:
    """Embedding of each file (None when no face is found or the file is unusable), each file embedded once.

    Identity only (no liveness, no quality gates): the benchmark and calibration path. With `cache`, embeddings
    already computed with the same models and settings are reused and new ones added."""
    from edge.verify.decode import ImageRejected, decode_image

    wanted = list(dict.fromkeys(rel_paths))
    cached = _load_cache(cache) if cache else {}
    out: dict[str, np.ndarray | None] = {p: cached[p] for p in wanted if p in cached}
    todo = [p for p in wanted if p not in out]
    for start in range(0, len(todo), batch):
        names, images = [], []
        for rel in todo[start : start + batch]:
            try:
                img = decode_image((Path(root) / rel).read_bytes(), rel)
            except (OSError, ImageRejected):
                out[rel] = None
                continue
            names.append(rel)
            images.append(img)
        for rel, emb in zip(names, verifier.embed_photos(images), strict=True):
            out[rel] = emb
        if progress:
            progress(min(start + batch, len(todo)), len(todo))
        if cache and (start // batch) % 40 == 39:  # save now and then: a long run interrupted keeps its work
            _save_cache(cache, {**cached, **out})
    if cache and todo:
        _save_cache(cache, {**cached, **out})
    return out


def cross_identity_impostors(embs: dict[str, np.ndarray | None]) -> tuple[np.ndarray, np.ndarray, int]:
    """Distances of ALL pairs of images of different identities, and of all same-identity pairs, among the images
    with a face; also the number of images without a face."""
    names = sorted(k for k, v in embs.items() if v is not None)
    missing = sum(1 for v in embs.values() if v is None)
    if not names:
        return np.zeros(0), np.zeros(0), missing
    ids = np.array([identity(n) for n in names])
    mat = np.stack([_or_zeros(embs[n]) for n in names]).astype(np.float64)  # names: the ones with a face
    gram = np.clip(mat @ mat.T, -1, 1)
    dist = np.sqrt(np.maximum(0.0, 2 - 2 * gram))
    iu = np.triu_indices(len(names), 1)
    same = ids[iu[0]] == ids[iu[1]]
    d = dist[iu]
    return d[same], d[~same], missing


def pair_distances(pairs: list[Pair], embs: dict[str, np.ndarray | None]) -> tuple[np.ndarray, np.ndarray, int]:
    """Distance of each pair (inf when a face is missing: it counts as "different"), labels, and failures."""
    dist, same, failed = [], [], 0
    for p in pairs:
        ea, eb = embs.get(p.a), embs.get(p.b)
        if ea is None or eb is None:
            failed += 1
            dist.append(np.inf)
        else:
            dist.append(float(np.linalg.norm(ea - eb)))
        same.append(p.same)
    return np.array(dist), np.array(same), failed
