"""5-point similarity alignment of a detected face onto dlib's 150x150 chip geometry (the embedding's training frame)."""

from __future__ import annotations

import numpy as np

from edge.verify.opencv import cv2

CHIP_SIZE = 150
PADDING = 0.25
# The 5-point fit frames the face about 10% wider than dlib's own 68-point chips; zooming the template in by 1.10 about
# the chip centre undoes that. Chosen on LFW View 1 (all cross-identity pairs): FNMR at FMR 0.1% 6.6% -> 5.8%,
# EER 1.16% -> 1.06% (1.05: 6.1%, 1.15: 6.3%); see docs/calibration.md.
ZOOM = 1.10

# dlib's mean face (interpolation.h, get_face_chip_details), points 17..67 in the unit square.
_MEAN_X = np.array(
    [
        0.000213256,
        0.0752622,
        0.18113,
        0.29077,
        0.393397,
        0.586856,
        0.689483,
        0.799124,
        0.904991,
        0.98004,
        0.490127,
        0.490127,
        0.490127,
        0.490127,
        0.36688,
        0.426036,
        0.490127,
        0.554217,
        0.613373,
        0.121737,
        0.187122,
        0.265825,
        0.334606,
        0.260918,
        0.182743,
        0.645647,
        0.714428,
        0.793132,
        0.858516,
        0.79751,
        0.719335,
        0.254149,
        0.340985,
        0.428858,
        0.490127,
        0.551395,
        0.639268,
        0.726104,
        0.642159,
        0.556721,
        0.490127,
        0.423532,
        0.338094,
        0.290379,
        0.428096,
        0.490127,
        0.552157,
        0.689874,
        0.553364,
        0.490127,
        0.42689,
    ]
)
_MEAN_Y = np.array(
    [
        0.106454,
        0.038915,
        0.0187482,
        0.0344891,
        0.0773906,
        0.0773906,
        0.0344891,
        0.0187482,
        0.038915,
        0.106454,
        0.203352,
        0.307009,
        0.409805,
        0.515625,
        0.587326,
        0.609345,
        0.628106,
        0.609345,
        0.587326,
        0.216423,
        0.178758,
        0.179852,
        0.231733,
        0.245099,
        0.244077,
        0.231733,
        0.179852,
        0.178758,
        0.216423,
        0.244077,
        0.245099,
        0.780233,
        0.745405,
        0.727388,
        0.742578,
        0.727388,
        0.745405,
        0.780233,
        0.864805,
        0.902192,
        0.909281,
        0.902192,
        0.864805,
        0.784792,
        0.778746,
        0.785343,
        0.778746,
        0.784792,
        0.824182,
        0.831803,
        0.824182,
    ]
)


def _mean_point(indices: list[int]) -> np.ndarray:
    i = np.array(indices) - 17
    return np.array([_MEAN_X[i].mean(), _MEAN_Y[i].mean()])


def template(size: int = CHIP_SIZE, padding: float = PADDING, zoom: float = ZOOM) -> np.ndarray:
    """YuNet's 5 points (image-left eye first) placed where dlib's chip puts the matching 68-point landmarks."""
    unit = np.stack(
        [
            _mean_point(list(range(36, 42))),  # eye on the image left (the subject's right): YuNet point 0
            _mean_point(list(range(42, 48))),
            _mean_point([30]),  # nose tip
            _mean_point([48]),  # mouth corner on the image left
            _mean_point([54]),
        ]
    )
    points = (padding + unit) / (2 * padding + 1) * size
    return (points - size / 2) * zoom + size / 2


TEMPLATE = template()


def umeyama(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2x3 least-squares similarity transform (rotation, uniform scale, translation) mapping src onto dst."""
    n = src.shape[0]
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s0, d0 = src - mu_s, dst - mu_d
    cov = d0.T @ s0 / n
    u, sig, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[1] = -1
    rot = u @ np.diag(d) @ vt
    var_s = (s0**2).sum() / n
    scale = (sig * d).sum() / var_s
    t = mu_d - scale * rot @ mu_s
    return np.hstack([scale * rot, t[:, None]])


def align(bgr: np.ndarray, landmarks: np.ndarray, size: int = CHIP_SIZE, tmpl: np.ndarray = TEMPLATE) -> np.ndarray:
    """The aligned chip, RGB uint8 size x size (the embedding wants RGB)."""
    m = umeyama(np.asarray(landmarks, np.float64), tmpl * (size / CHIP_SIZE))
    chip = cv2.warpAffine(bgr, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return cv2.cvtColor(chip, cv2.COLOR_BGR2RGB)
