"""Face verification: latency of one verification against a naive baseline, 4-kiosk throughput, liveness error rates
(BPCER/APCER) and accuracy on LFW View 2 and the labelled shared photos.

One verification = a JPEG 2000 card photo (240x320, as read from a chip) + 3 camera-sized live frames (640x480),
liveness included. The baseline runs the same models naively in the same run: one image at a time, single-threaded
onnxruntime, the fixed 640x640 YuNet, every frame judged and embedded, every chip (and its mirror) in its own run,
nothing overlapped or skipped.
Bars: median <= 100 ms and >= 1.3x faster than the baseline; LFW View 2 10-fold accuracy >= 99.0% and TAR >= 96% at
FAR 0.1%. The accuracy part needs ../shared/lfw (skipped with a message when absent); photos come from ../shared/faces.

Run: .venv/bin/python -m benchmarks.bench_verify [--runs 40] [--skip-lfw]
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import platform
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from edge.verify.opencv import cv2
from edge.verify.pipeline import Verifier

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
LFW = SHARED / "lfw"
FACES = SHARED / "faces"
RESULTS = ROOT / "benchmarks" / "results"
BAR_MEDIAN_MS = 100.0
BAR_SPEEDUP = 1.3
BAR_ACCURACY = 0.990
BAR_TAR = 0.96


def pct(values: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(values), p))


def camera_frame(img: np.ndarray, face_px: float | None = None, face=None) -> np.ndarray:
    """A 640x480 frame as a kiosk camera would see the scene in the photo: scaled (so the face is `face_px` wide when
    given, else so the photo covers the frame), centred on the face, the photo's edge pixels repeated outward
    where it does not reach (a flat grey border would look like a photo's frame to the liveness models; a mirrored
    border would add faces)."""
    h, w = img.shape[:2]
    s = face_px / face.size if face_px is not None else max(640 / w, 480 / h)
    small = cv2.resize(
        img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    )
    sh, sw = small.shape[:2]
    cx, cy = face.centre * s if face is not None else np.array([sw / 2, sh / 2])
    ox, oy = round(float(cx) - 320), round(float(cy) - 240)
    pad = max(0, -ox, -oy, ox + 640 - sw, oy + 480 - sh)
    if pad:
        small = cv2.copyMakeBorder(small, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    return np.ascontiguousarray(small[oy + pad : oy + pad + 480, ox + pad : ox + pad + 640])


def enc(img: np.ndarray, ext: str = ".jpg", params=None) -> bytes:
    ok, buf = cv2.imencode(ext, img, params or [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return buf.tobytes()


# -- the naive baseline ----------------------------------------------------------------------------------------------


class NaiveVerifier:
    """The same models run the obvious way: every frame decoded, detected (fixed 640x640 YuNet), judged for liveness
    and embedded, one image and one network run at a time (the chip, then its mirror), single-threaded sessions,
    the card photo first; spoof when the mean p_real is below the threshold, else match on the smallest distance."""

    def __init__(self, settings) -> None:
        from edge.verify.detect import Detector
        from edge.verify.liveness import Liveness
        from models.registry import load_manifest, session

        self.s = settings
        manifest = load_manifest()
        self.detector = Detector(
            session("yunet_640", 1),
            fixed=640,
            score_threshold=settings.detector_score,
            nms_threshold=manifest["yunet_640"].params["nms_threshold"],
        )
        self.embed_sess = session("dlib_resnet", 1)
        self.liveness = Liveness(
            session("minifasnet_v2", 1),
            session("minifasnet_v1se", 1),
            v2_scale=manifest["minifasnet_v2"].params["crop_scale"],
            v1se_scale=manifest["minifasnet_v1se"].params["crop_scale"],
        )

    def _embed_one(self, chip: np.ndarray) -> np.ndarray:
        runs = []
        for c in (chip, chip[:, ::-1]):
            blob = np.ascontiguousarray(c.astype(np.float32).transpose(2, 0, 1)[None])
            runs.append(self.embed_sess.run(None, {"input": blob})[0][0])
        e = (runs[0] + runs[1]) / 2
        return e / np.linalg.norm(e)

    def verify(self, card: bytes, live: list[bytes]) -> str:
        from edge.verify.align import align
        from edge.verify.choose import choose_face
        from edge.verify.decode import decode_image

        card_img = decode_image(card, "card_photo")
        card_face = choose_face(self.detector.detect(card_img), card_img.shape, strict=False)
        if card_face is None:
            return "retry"
        card_emb = self._embed_one(align(card_img, card_face.landmarks))
        p_real, dists = [], []
        for i, data in enumerate(live):
            img = decode_image(data, f"live[{i}]")
            face = choose_face(self.detector.detect(img), img.shape, strict=False)
            if face is None or face.size < self.s.min_face_px:
                continue
            p_real.append(self.liveness.p_real(img, face))
            dists.append(float(np.linalg.norm(card_emb - self._embed_one(align(img, face.landmarks)))))
        if not dists:
            return "retry"
        if np.mean(p_real) < self.s.liveness_threshold:
            return "spoof"
        return "match" if min(dists) <= self.s.distance_threshold else "no_match"


# -- latency and throughput ------------------------------------------------------------------------------------------


def latency_inputs(verifier) -> tuple[bytes, list[bytes], list[bytes]]:
    """Card (JPEG 2000 240x320), 3 genuine live frames and 3 impostor frames, 640x480 JPEG with the face about 200 px
    wide (a visitor about 60 cm from a kiosk camera)."""

    def frame(path: Path) -> bytes:
        img = cv2.imread(str(path))
        return enc(camera_frame(img, 200, verifier.photo_face(img)))

    obama = sorted((FACES / "face_recognition" / "obama").glob("*.jpg"))
    biden = sorted((FACES / "face_recognition" / "biden").glob("*.jpg"))
    card_src = cv2.imread(str(obama[0]))
    h, w = card_src.shape[:2]
    card = cv2.resize(card_src, (240, round(h * 240 / w)), interpolation=cv2.INTER_AREA)
    card_jp2 = enc(card, ".jp2", [cv2.IMWRITE_JPEG2000_COMPRESSION_X1000, 200])
    live = [frame(p) for p in (obama[1:] * 3)[:3]]
    other = [frame(p) for p in (biden * 3)[:3]]
    return card_jp2, live, other


def measure_latency(fn, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return times


def throughput(verifier, card: bytes, live: list[bytes], kiosks: int, per_kiosk: int, workers: int) -> dict:
    from edge.verify.pool import BoundedPool

    pool = BoundedPool(workers, queue_limit=kiosks)
    lat: list[float] = []
    lock = threading.Lock()

    def kiosk() -> None:
        for _ in range(per_kiosk):
            t = time.perf_counter()
            pool.submit(verifier.verify, card, live).result()
            with lock:
                lat.append((time.perf_counter() - t) * 1000)

    threads = [threading.Thread(target=kiosk) for _ in range(kiosks)]
    t0 = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t0
    pool.shutdown()
    return {
        "kiosks": kiosks,
        "workers": workers,
        "verifications": len(lat),
        "per_second": round(len(lat) / wall, 2),
        "latency_median_ms": round(pct(lat, 50), 1),
        "latency_p95_ms": round(pct(lat, 95), 1),
    }


# -- liveness --------------------------------------------------------------------------------------------------------


def liveness_rates(verifier, lfw_sample: int) -> dict:
    """BPCER (genuine faces refused) and APCER (attacks accepted) by face size, at several thresholds.

    Genuine: the shared labelled photos (one face each) at their own size and as 640x480 camera frames with the face
    60-240 px wide; plus LFW thumbnails (small faces, about 57 px). Attacks: minivision's two presentation-attack
    samples, at their size and re-framed the same way. Two attack samples make APCER a sanity check, not a rate."""
    from edge.verify.choose import choose_face

    def p_of(img):
        faces = verifier.detector.detect(img)
        try:
            f = choose_face(faces, img.shape, strict=False)
        except Exception:
            return None, None
        if f is None:
            return None, None
        return verifier.liveness.p_real(img, f), f

    genuine_files = sorted(
        itertools.chain((FACES / "face_recognition").glob("*/*.*"), (FACES / "deepface").glob("img*.jpg"))
    )
    genuine_files = [p for p in genuine_files if p.suffix.lower() in (".jpg", ".jpeg", ".png")]
    genuine_files.append(FACES / "antispoof_samples" / "minivision_image_T1.jpg")
    attacks = [FACES / "antispoof_samples" / f"minivision_image_F{i}.jpg" for i in (1, 2)]
    sizes = [60, 80, 100, 140, 180, 240]
    rows: list[tuple[str, str, float, float]] = []  # (kind, setting, face_px, p_real)
    for kind, files in (("genuine", genuine_files), ("attack", attacks)):
        for path in files:
            img = cv2.imread(str(path))
            p, f = p_of(img)
            if p is None:
                continue
            rows.append((kind, "photo", f.size, p))
            for px in sizes:
                frame = camera_frame(img, px, f)
                q, g = p_of(frame)
                if q is not None:
                    rows.append((kind, "camera", g.size, q))
    if LFW.is_dir():
        from edge.verify import lfw

        pairs, _ = lfw.read_pairs(LFW / "pairsDevTrain.txt")
        names = list(dict.fromkeys(p.a for p in pairs))[:lfw_sample]
        for n in names:
            img = cv2.imread(str(LFW / "images" / n))
            if img is None:
                continue
            p, f = p_of(img)
            if p is not None:
                rows.append(("genuine", "lfw", f.size, p))
    thresholds = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
    buckets = [(0, 60), (60, 80), (80, 120), (120, 10_000)]
    table = []
    for setting in ("photo", "camera", "lfw"):
        for lo, hi in buckets:
            g = [p for k, s, px, p in rows if k == "genuine" and s == setting and lo <= px < hi]
            a = [p for k, s, px, p in rows if k == "attack" and s == setting and lo <= px < hi]
            if not g and not a:
                continue
            table.append(
                {
                    "setting": setting,
                    "face_px": f"{lo}-{hi if hi < 10_000 else 'up'}",
                    "genuine": len(g),
                    "attacks": len(a),
                    "bpcer": {str(t): round(float(np.mean(np.array(g) < t)), 4) if g else None for t in thresholds},
                    "apcer": {str(t): round(float(np.mean(np.array(a) >= t)), 4) if a else None for t in thresholds},
                }
            )
    return {
        "thresholds": thresholds,
        "table": table,
        "attack_p_real": sorted(round(p, 4) for k, _, _, p in rows if k == "attack"),
    }


# -- accuracy --------------------------------------------------------------------------------------------------------


def lfw_accuracy(verifier) -> dict:
    from edge.verify import lfw

    pairs, folds = lfw.read_pairs(LFW / "pairs.txt")
    root = LFW / "images"
    paths = [p for pr in pairs for p in (pr.a, pr.b)]
    t = time.perf_counter()
    embs = lfw.embed_files(
        verifier,
        root,
        paths,
        cache=lfw.cache_file(verifier, root),
        progress=lambda d, n: print(f"  lfw embedded {d}/{n}", flush=True) if d % 1024 < 32 else None,
    )
    elapsed = time.perf_counter() - t
    dist, same, failed = lfw.pair_distances(pairs, embs)
    fig = lfw.figures(dist, same, folds)
    thr = verifier.settings.distance_threshold
    fig.update(
        {
            "images": len(set(paths)),
            "images_without_face": sum(1 for p in set(paths) if embs.get(p) is None),
            "pairs_without_face": failed,
            "calibrated_threshold": thr,
            "at_calibrated_threshold": {
                "tar": float(np.mean(dist[same] <= thr)),
                "fmr": float(np.mean(dist[~same] <= thr)),
            },
            "embed_seconds_this_run": round(elapsed, 1),
        }
    )
    fig.pop("fold_thresholds", None)
    return fig


def shared_photo_accuracy(verifier) -> dict:
    """deepface's labelled pairs (master.csv) and all pairs of face_recognition's identity folders."""
    from edge.verify import lfw

    pairs: list[tuple[str, str, bool]] = []
    with (FACES / "deepface" / "master.csv").open() as fh:
        for row in csv.DictReader(fh):
            pairs.append((f"deepface/{row['file_x']}", f"deepface/{row['file_y']}", row["Decision"] == "Yes"))
    fr = sorted(
        p.relative_to(FACES).as_posix()
        for p in (FACES / "face_recognition").glob("*/*.*")
        if p.suffix.lower() in (".jpg", ".jpeg", ".png")
    )
    for a, b in itertools.combinations(fr, 2):
        pairs.append((a, b, a.split("/")[1] == b.split("/")[1]))
    embs = lfw.embed_files(verifier, FACES, [p for a, b, _ in pairs for p in (a, b)])
    thr = verifier.settings.distance_threshold
    d = np.array(
        [
            np.linalg.norm(embs[a] - embs[b]) if embs[a] is not None and embs[b] is not None else np.inf
            for a, b, _ in pairs
        ]
    )
    s = np.array([x for _, _, x in pairs])
    return {
        "pairs": len(pairs),
        "genuine": int(s.sum()),
        "impostor": int((~s).sum()),
        "genuine_distance_min_mean_max": [
            round(float(v), 3) for v in (d[s].min(), d[s][np.isfinite(d[s])].mean(), d[s].max())
        ],
        "impostor_distance_min_mean_max": [
            round(float(v), 3) for v in (d[~s].min(), d[~s][np.isfinite(d[~s])].mean(), d[~s].max())
        ],
        "tar_at_calibrated_threshold": round(float(np.mean(d[s] <= thr)), 4),
        "fmr_at_calibrated_threshold": round(float(np.mean(d[~s] <= thr)), 4),
        "accuracy_at_calibrated_threshold": round(float(np.mean((d <= thr) == s)), 4),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--skip-lfw", action="store_true")
    ap.add_argument("--lfw-liveness-sample", type=int, default=400)
    args = ap.parse_args()

    from edge.verify.settings import VerifySettings

    settings = VerifySettings()
    verifier = Verifier(settings)
    naive = NaiveVerifier(settings)
    card, live, other = latency_inputs(verifier)
    # warm up both (first onnxruntime runs allocate) and check they agree
    for _ in range(3):
        assert verifier.verify(card, live).decision == "match"
        assert naive.verify(card, live) == "match"
    # another person's frames never match (the naive detector's slightly different boxes can tip liveness)
    assert verifier.verify(card, other).decision != "match" and naive.verify(card, other) != "match"
    # alternate blocks of 10 so both see the same machine load over the run, while each keeps its own 22 MB of
    # embedding weights warm in cache within a block (one run each, interleaved, measures cache thrashing instead)
    ours, base = [], []
    for _ in range(max(1, args.runs // 10)):
        ours += measure_latency(lambda: verifier.verify(card, live), 10)
        base += measure_latency(lambda: naive.verify(card, live), 10)
    stages = verifier.verify(card, live).timings_ms
    lat = {
        "what": "JPEG 2000 card photo 240x320 + 3 live frames 640x480, liveness included",
        "runs": args.runs,
        "median_ms": round(pct(ours, 50), 1),
        "p95_ms": round(pct(ours, 95), 1),
        "baseline_median_ms": round(pct(base, 50), 1),
        "baseline_p95_ms": round(pct(base, 95), 1),
        "speedup_median": round(pct(base, 50) / pct(ours, 50), 2),
        "stages_ms_one_run": stages,
        "bar_median_ms": BAR_MEDIAN_MS,
        "bar_speedup": BAR_SPEEDUP,
    }
    lat["meets_bar"] = lat["median_ms"] <= BAR_MEDIAN_MS and lat["speedup_median"] >= BAR_SPEEDUP
    print(
        f"latency: median {lat['median_ms']} ms, p95 {lat['p95_ms']} ms; baseline median "
        f"{lat['baseline_median_ms']} ms -> {lat['speedup_median']}x",
        flush=True,
    )
    tput = throughput(verifier, card, live, kiosks=4, per_kiosk=max(5, args.runs // 4), workers=settings.workers)
    print(
        f"throughput, 4 kiosks: {tput['per_second']} verifications/s, median {tput['latency_median_ms']} ms", flush=True
    )

    result = {
        "benchmark": "verify",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "threads_per_session": settings.threads,
        },
        "latency": lat,
        "throughput_4_kiosks": tput,
    }
    print("liveness rates ...", flush=True)
    result["liveness"] = liveness_rates(verifier, args.lfw_liveness_sample)
    print("shared labelled photos ...", flush=True)
    result["shared_photos"] = shared_photo_accuracy(verifier)
    print(f"  {result['shared_photos']}", flush=True)
    if args.skip_lfw:
        result["lfw"] = {"skipped": "--skip-lfw given"}
    elif not (LFW / "pairs.txt").is_file():
        msg = f"LFW not found at {LFW}: accuracy on LFW View 2 skipped"
        print(msg, flush=True)
        result["lfw"] = {"skipped": msg}
    else:
        print("LFW View 2 ...", flush=True)
        fig = lfw_accuracy(verifier)
        fig["bars"] = {"accuracy": BAR_ACCURACY, "tar_at_far_0_1pct": BAR_TAR}
        fig["meets_bar"] = fig["accuracy_10fold"] >= BAR_ACCURACY and fig["tar_at_far_0_1pct"] >= BAR_TAR
        result["lfw"] = fig
        print(
            f"  10-fold {fig['accuracy_10fold']:.4f} +- {fig['accuracy_std']:.4f}, TAR@1% {fig['tar_at_far_1pct']:.4f}, "
            f"TAR@0.1% {fig['tar_at_far_0_1pct']:.4f}, EER {fig['eer']:.4f}",
            flush=True,
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "verify.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS / 'verify.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
