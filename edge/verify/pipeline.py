"""The verification pipeline: card photo and live frames in, one Decision out; all images and embeddings stay local to the call."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from edge.verify import decision as d
from edge.verify.align import align
from edge.verify.choose import SeveralFaces, choose_face
from edge.verify.decode import decode_image
from edge.verify.detect import Detector, Face
from edge.verify.embed import Embedder, distance, score_from_distance
from edge.verify.liveness import Liveness
from edge.verify.opencv import cv2
from edge.verify.quality import QualityLimits, check_capture, check_pose, measure
from edge.verify.settings import VerifySettings
from models.registry import MODELS_DIR, load_manifest, session

MODEL_NAMES = ("yunet", "dlib_resnet", "minifasnet_v2", "minifasnet_v1se")


@dataclass(frozen=True)
class Thresholds:
    """The two decision thresholds a station may change live (its profile's `verify` table); both on the scale of
    VerifySettings, whose values they are when nothing overrides them."""

    distance: float
    liveness: float


@dataclass
class _Frame:
    """The live frame compared with the card: its index in the request and its aligned chip."""

    index: int
    chip: np.ndarray


def frame_sharpness(bgr: np.ndarray) -> float:
    """Variance of the Laplacian of a 160-px grey thumbnail: ranks a burst of frames by blur in well under 1 ms."""
    h, w = bgr.shape[:2]
    scale = 160 / max(h, w)
    small = cv2.resize(bgr, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), cv2.CV_32F).var())


class _Clock:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._t = time.perf_counter()
        self._start = self._t

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round(self.timings.get(name, 0.0) + (now - self._t) * 1000, 2)
        self._t = now

    def total(self) -> dict[str, float]:
        self.timings["total"] = round((time.perf_counter() - self._start) * 1000, 2)
        return self.timings


class Verifier:
    """Holds the four onnxruntime sessions; thread-safe (onnxruntime sessions may be run from several threads)."""

    def __init__(self, settings: VerifySettings | None = None) -> None:
        self.settings = s = settings or VerifySettings()
        root = s.models_dir or MODELS_DIR
        manifest = load_manifest()
        yunet = session("yunet", s.threads, root=root)
        nms = manifest["yunet"].params["nms_threshold"]
        self.detector = Detector(
            yunet,
            max_side=s.detector_side,
            score_threshold=s.detector_score,
            nms_threshold=nms,
            upscale=s.detector_upscale,
        )
        # live frames are camera frames with a face of at least min_face_px: a smaller detector input finds them
        self.live_detector = Detector(
            yunet, max_side=s.live_detector_side, score_threshold=s.detector_score, nms_threshold=nms
        )
        self.embedder = Embedder(session("dlib_resnet", s.threads, root=root))
        self.liveness = Liveness(
            session("minifasnet_v2", s.threads, root=root),
            session("minifasnet_v1se", s.threads, root=root),
            v2_scale=manifest["minifasnet_v2"].params["crop_scale"],
            v1se_scale=manifest["minifasnet_v1se"].params["crop_scale"],
        )
        self.model_versions = {name: manifest[name].version for name in MODEL_NAMES}
        # The card photo (a slow single-threaded JPEG 2000 decode, then detection) is handled on a side thread while
        # the live frames are decoded and detected: the decode overlaps onnxruntime work instead of preceding it.
        self._side = ThreadPoolExecutor(max_workers=max(2, s.workers), thread_name_prefix="verify-card")
        self.live_limits = QualityLimits(
            min_face_px=s.min_face_px,
            min_sharpness=s.min_sharpness,
            max_yaw=s.max_yaw,
            max_pitch_dev=s.max_pitch_dev,
            min_brightness=s.min_brightness,
            max_brightness=s.max_brightness,
        )

    # -- identity only (CLI pairs, calibration, benchmark) ----------------------------------------------------------

    def photo_face(self, bgr: np.ndarray) -> Face | None:
        """The face of a benchmark photo: nearest the centre, several faces allowed (LFW photos show bystanders)."""
        return choose_face(self.detector.detect(bgr), bgr.shape, strict=False)

    def embed_photos(self, images: list[np.ndarray]) -> list[np.ndarray | None]:
        faces = [self.photo_face(img) for img in images]
        chips = [align(img, f.landmarks) for img, f in zip(images, faces, strict=True) if f is not None]
        embs = iter(self.embedder.embed(chips))
        return [next(embs) if f is not None else None for f in faces]

    # -- the product path ----------------------------------------------------------------------------------------------

    def _decision(self, kind: str, reason: str, clock: _Clock, frames: int, **extra: Any) -> d.Decision:
        return d.Decision(
            kind, reason, frames=frames, model_versions=dict(self.model_versions), timings_ms=clock.total(), **extra
        )

    @staticmethod
    def _worst(reasons: list[str]) -> str:
        # the most frequent problem is the one worth telling the visitor; "several people" always wins
        return "several_faces" if "several_faces" in reasons else Counter(reasons).most_common(1)[0][0]

    def _card(self, card: bytes | bytearray) -> tuple[np.ndarray, list[Face], float]:
        t = time.perf_counter()
        s = self.settings
        img = decode_image(card, "card_photo", s.max_image_bytes, s.max_image_pixels)
        return img, self.detector.detect(img), (time.perf_counter() - t) * 1000

    def verify(
        self, card: bytes | bytearray, live: Sequence[bytes | bytearray], thresholds: Thresholds | None = None
    ) -> d.Decision:
        """Decode (raises ImageRejected for unusable files, the card photo's problem first) and verify; `thresholds`
        replaces the settings' match and liveness thresholds for this call (the pipeline is shared, its settings not
        changed)."""
        s = self.settings
        clock = _Clock()
        card_job = self._side.submit(self._card, card)
        try:
            live_imgs = [
                decode_image(b, f"live[{i}]", s.max_image_bytes, s.max_image_pixels) for i, b in enumerate(live)
            ]
        except Exception:
            card_job.result()  # raises the card photo's own problem if it has one
            raise
        clock.lap("decode")
        return self._verify(
            card_job, live_imgs, clock, thresholds or Thresholds(s.distance_threshold, s.liveness_threshold)
        )

    def _card_face(
        self, card_job: Future[tuple[np.ndarray, list[Face], float]], clock: _Clock
    ) -> tuple[np.ndarray, Face | None, str | None]:
        card_img, card_faces, card_ms = card_job.result()
        clock.timings["card"] = round(card_ms, 2)
        try:
            face = choose_face(card_faces, card_img.shape, strict=True)
        except SeveralFaces:
            return card_img, None, "card_several_faces"
        if face is None or face.size < self.settings.min_card_face_px:
            return card_img, None, "card_no_face"
        return card_img, face, None

    def _verify(
        self,
        card_job: Future[tuple[np.ndarray, list[Face], float]],
        live_imgs: list[np.ndarray],
        clock: _Clock,
        thresholds: Thresholds,
    ) -> d.Decision:
        s = self.settings
        n = len(live_imgs)
        if not 1 <= n <= s.max_live_frames:
            card_job.cancel()
            raise ValueError(f"between 1 and {s.max_live_frames} live frames, got {n}")

        # 1. the card photo is on the side thread (see _card); its problems are reported before the frames'

        # 2. live frames, sharpest first (a cheap whole-frame measure), examined one by one until one passes every
        # gate: a burst of frames of one visitor differs mostly in motion blur, and each frame examined costs a
        # detection and two liveness runs, so the first good frame is the one compared with the card.
        order = sorted(range(n), key=lambda i: frame_sharpness(live_imgs[i]), reverse=True)
        reasons: list[str] = []
        chosen: _Frame | None = None
        p_real: float | None = None
        examined = 0
        card_checked = False
        for i in order:
            img = live_imgs[i]
            examined += 1
            try:
                face = choose_face(self.live_detector.detect(img), img.shape, strict=True)
            except SeveralFaces:
                reasons.append("several_faces")
                continue
            if face is None:
                reasons.append("no_face")
                continue
            if face.size < s.min_face_px:
                # MiniFASNet's refusals of genuine faces climb steeply on small faces (docs/verification.md)
                reasons.append("face_too_small")
                continue
            chip = align(img, face.landmarks)
            report = measure(face, chip)
            # size, exposure and blur before liveness: MiniFASNet reads blur and bad light as attack cues
            problem = check_capture(report, self.live_limits)
            if problem:
                reasons.append(problem)
                continue
            clock.lap("detect")
            if not card_checked:
                card_checked = True
                card_img, card_face, card_problem = self._card_face(card_job, clock)
                clock.lap("card_wait")
                if card_problem:
                    return self._decision(d.RETRY, card_problem, clock, n, frames_used=examined)
            # 3. liveness before the pose gate and before matching: an attack is refused whoever it shows, however
            # it is posed; no other frame of the request gets a second chance
            p_real = self.liveness.p_real(img, face)
            clock.lap("liveness")
            if p_real < thresholds.liveness:
                return self._decision(
                    d.SPOOF,
                    "presentation_attack",
                    clock,
                    n,
                    frames_used=examined,
                    liveness=round(p_real, 4),
                    liveness_threshold=thresholds.liveness,
                )
            # 4. pose: a turned or tilted head matches poorly; try the next frame
            problem = check_pose(report, self.live_limits)
            if problem:
                reasons.append(problem)
                continue
            chosen = _Frame(i, chip)
            break
        clock.lap("detect")
        if not card_checked:
            card_img, card_face, card_problem = self._card_face(card_job, clock)
            if card_problem:
                return self._decision(d.RETRY, card_problem, clock, n, frames_used=examined)
        if chosen is None:
            extra = {} if p_real is None else {"liveness": round(p_real, 4), "liveness_threshold": thresholds.liveness}
            return self._decision(d.RETRY, self._worst(reasons), clock, n, frames_used=examined, **extra)

        # 5. one batched embedding run: the card chip and the chosen live chip, each with its mirror
        assert card_face is not None and p_real is not None  # a chosen frame passed liveness after the card's check
        card_chip = align(card_img, card_face.landmarks)
        embs = self.embedder.embed([card_chip, chosen.chip])
        dist = distance(embs[0], embs[1])
        clock.lap("embed")
        matched = dist <= thresholds.distance
        return self._decision(
            d.MATCH if matched else d.NO_MATCH,
            "match" if matched else "face_mismatch",
            clock,
            n,
            score=round(score_from_distance(dist), 4),
            threshold=round(score_from_distance(thresholds.distance), 4),
            distance=round(dist, 4),
            distance_threshold=thresholds.distance,
            liveness=round(p_real, 4),
            liveness_threshold=thresholds.liveness,
            frames_used=examined,
            best_frame=chosen.index,
        )
