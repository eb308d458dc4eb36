"""The pipeline on real photos: genuine pairs match, impostors don't, attacks are refused, bad inputs give retry reasons."""

from __future__ import annotations

import numpy as np
import pytest

from edge.verify.align import align
from edge.verify.opencv import cv2
from tests.verify.conftest import encode, load, no_face_image, photo

GENUINE = [
    ("obama_1.jpg", "obama_2.jpg"),
    ("obama_1.jpg", "obama_3.jpg"),
    ("biden_1.jpg", "biden_2.jpg"),
    ("harington_1.jpg", "harington_2.jpg"),
    ("leslie_1.jpg", "leslie_2.jpg"),
]
IMPOSTOR = [
    ("obama_1.jpg", "biden_2.jpg"),
    ("biden_1.jpg", "obama_2.jpg"),
    ("harington_2.jpg", "obama_3.jpg"),
    ("leslie_1.jpg", "harington_2.jpg"),
    ("obama_2.jpg", "leslie_2.jpg"),
]


@pytest.mark.parametrize("card,live", GENUINE)
def test_genuine_pairs_match(verifier, card, live):
    d = verifier.verify(photo(card), [photo(live)])
    assert d.decision == "match", d.as_dict()
    assert d.score >= d.threshold and d.distance <= d.distance_threshold
    assert d.liveness >= d.liveness_threshold
    assert set(d.model_versions) == {"yunet", "dlib_resnet", "minifasnet_v2", "minifasnet_v1se"}
    assert {"decode", "detect", "liveness", "embed", "total"} <= set(d.timings_ms)


@pytest.mark.parametrize("card,live", IMPOSTOR)
def test_impostor_pairs_do_not_match(verifier, card, live):
    d = verifier.verify(photo(card), [photo(live)])
    assert d.decision == "no_match", d.as_dict()
    assert d.reason == "face_mismatch" and d.score < d.threshold


def test_best_of_several_live_frames(verifier):
    d = verifier.verify(photo("obama_1.jpg"), [no_face_image(), photo("obama_2.jpg"), photo("obama_3.jpg")])
    # frames are examined sharpest first until one passes every gate; the one without a face is never compared
    assert d.decision == "match" and d.frames == 3 and d.frames_used in (1, 2) and d.best_frame in (1, 2)


@pytest.mark.parametrize("attack", ["antispoof_F1.jpg", "antispoof_F2.jpg"])
def test_presentation_attacks_are_refused_whoever_they_show(verifier, attack):
    # the card is the attack photo itself: identity would match, liveness must refuse first
    d = verifier.verify(photo(attack), [photo(attack)])
    assert d.decision == "spoof" and d.reason == "presentation_attack", d.as_dict()
    assert d.liveness < d.liveness_threshold and d.score is None


def test_live_sample_passes_liveness(verifier):
    d = verifier.verify(photo("antispoof_T1.jpg"), [photo("antispoof_T1.jpg")])
    assert d.decision == "match" and d.liveness > 0.9


def test_no_face_in_live_frames_is_retry(verifier):
    d = verifier.verify(photo("obama_1.jpg"), [no_face_image(), no_face_image()])
    assert d.decision == "retry" and d.reason == "no_face" and d.score is None


def test_no_face_on_card_is_retry(verifier):
    d = verifier.verify(no_face_image(), [photo("obama_2.jpg")])
    assert d.decision == "retry" and d.reason == "card_no_face"


def test_several_faces_is_retry(verifier):
    d = verifier.verify(photo("obama_1.jpg"), [photo("couple.jpg")])
    assert d.decision == "retry" and d.reason == "several_faces"
    d = verifier.verify(photo("couple.jpg"), [photo("obama_2.jpg")])
    assert d.decision == "retry" and d.reason == "card_several_faces"


def test_small_face_is_retry_come_closer(verifier):
    img = load("obama_2.jpg")
    small = cv2.resize(img, (img.shape[1] // 5, img.shape[0] // 5), interpolation=cv2.INTER_AREA)
    canvas = np.full((480, 640, 3), 128, np.uint8)
    canvas[100 : 100 + small.shape[0], 250 : 250 + small.shape[1]] = small
    d = verifier.verify(photo("obama_1.jpg"), [encode(canvas)])
    assert d.decision == "retry" and d.reason == "face_too_small"


def test_dark_frame_is_retry(verifier):
    dark = (load("obama_2.jpg").astype(np.float32) * 0.12).astype(np.uint8)
    d = verifier.verify(photo("obama_1.jpg"), [encode(dark)])
    assert d.decision == "retry", d.as_dict()


def test_grayscale_card_photo_matches(verifier):
    grey = cv2.cvtColor(load("obama_1.jpg"), cv2.COLOR_BGR2GRAY)
    d = verifier.verify(encode(grey), [photo("obama_2.jpg")])
    assert d.decision == "match", d.as_dict()


def test_jpeg2000_card_photo_matches(verifier):
    # chips store the portrait as JPEG 2000, small (ICAO 9303: often about 240x320 and 15-20 kB)
    img = load("biden_1.jpg")
    h, w = img.shape[:2]
    small = cv2.resize(img, (240, round(h * 240 / w)), interpolation=cv2.INTER_AREA)
    jp2 = encode(small, ".jp2", [cv2.IMWRITE_JPEG2000_COMPRESSION_X1000, 200])
    assert jp2[:12] == b"\x00\x00\x00\x0cjP  \r\n\x87\n"
    d = verifier.verify(jp2, [photo("biden_2.jpg")])
    assert d.decision == "match", d.as_dict()
    d = verifier.verify(jp2, [photo("obama_2.jpg")])
    assert d.decision == "no_match"


def test_identity_only_embeddings_for_pairs(verifier):
    embs = verifier.embed_photos(
        [
            load("obama_1.jpg"),
            load("obama_2.jpg"),
            load("biden_1.jpg"),
            cv2.imdecode(np.frombuffer(no_face_image(), np.uint8), cv2.IMREAD_COLOR),
        ]
    )
    assert embs[3] is None
    assert np.linalg.norm(embs[0] - embs[1]) < np.linalg.norm(embs[0] - embs[2])
    assert abs(np.linalg.norm(embs[0]) - 1) < 1e-5


def test_blurred_frame_is_retry_not_spoof(verifier):
    # MiniFASNet reads blur as an attack cue: blur is gated before liveness so a shaky visitor is asked to hold still
    blurred = cv2.GaussianBlur(load("obama_2.jpg"), (0, 0), 5)
    d = verifier.verify(photo("obama_1.jpg"), [encode(blurred)])
    assert d.decision == "retry" and d.reason == "blurry", d.as_dict()


def test_pose_gate_from_landmarks(verifier):
    from edge.verify.detect import Face
    from edge.verify.quality import check, measure

    img = load("obama_2.jpg")
    face = max(verifier.detector.detect(img), key=lambda x: x.size)
    chip = align(img, face.landmarks)
    assert check(measure(face, chip), verifier.live_limits) is None
    eye = face.eye_distance
    turned = face.landmarks.copy()
    turned[2, 0] = (turned[0, 0] + turned[1, 0]) / 2 + 0.5 * eye  # nose tip half an eye distance aside: turned
    assert check(measure(Face(face.box, turned, face.score), chip), verifier.live_limits) == "face_not_frontal"
    tilted_down = face.landmarks.copy()
    tilted_down[2, 1] += 0.5 * (face.landmarks[3, 1] - face.landmarks[0, 1])  # nose tip down at the mouth
    assert check(measure(Face(face.box, tilted_down, face.score), chip), verifier.live_limits) == "face_not_frontal"
