"""Quality gates on a chosen face: size, blur, pose from the landmarks, exposure; each failure is a reason a kiosk can show."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.verify.detect import Face
from edge.verify.opencv import cv2

# YuNet's nose tip sits at 0.58 of the way from the eyes to the mouth on frontal faces (median of the shared photos,
# range 0.52-0.67); looking up or down moves it.
PITCH_FRONTAL = 0.58


@dataclass(frozen=True)
class QualityLimits:
    min_face_px: float
    min_sharpness: float
    max_yaw: float
    max_pitch_dev: float
    min_brightness: float
    max_brightness: float


@dataclass(frozen=True)
class QualityReport:
    face_px: float
    sharpness: float
    yaw: float
    pitch: float
    brightness: float


def measure(face: Face, chip_rgb: np.ndarray) -> QualityReport:
    lm = face.landmarks
    eyes_mid = (lm[0] + lm[1]) / 2
    mouth_mid = (lm[3] + lm[4]) / 2
    eye_dist = max(float(np.linalg.norm(lm[1] - lm[0])), 1e-6)
    # yaw: the nose tip moves sideways from the eyes' midpoint as the head turns (0 frontal, ~0.5 at 45 degrees);
    # measured along the eye axis so a tilted head does not count as turned
    axis = (lm[1] - lm[0]) / eye_dist
    yaw = float(np.dot(lm[2] - eyes_mid, axis) / eye_dist)
    # pitch: where the nose tip sits between the eyes and the mouth (PITCH_FRONTAL when looking straight ahead)
    normal = np.array([-axis[1], axis[0]])
    span = max(float(np.dot(mouth_mid - eyes_mid, normal)), 1e-6)
    pitch = float(np.dot(lm[2] - eyes_mid, normal) / span)
    grey = cv2.cvtColor(chip_rgb, cv2.COLOR_RGB2GRAY)
    centre = grey[30:120, 30:120]  # the face itself, not the background the chip's padding includes
    sharpness = float(cv2.Laplacian(centre, cv2.CV_64F).var())
    return QualityReport(face.size, sharpness, yaw, pitch, float(centre.mean()))


def check(report: QualityReport, limits: QualityLimits) -> str | None:
    """The first failed gate as a reason code, None when the face is usable."""
    return check_capture(report, limits) or check_pose(report, limits)


def check_pose(report: QualityReport, limits: QualityLimits) -> str | None:
    if abs(report.yaw) > limits.max_yaw or abs(report.pitch - PITCH_FRONTAL) > limits.max_pitch_dev:
        return "face_not_frontal"
    return None


def check_capture(report: QualityReport, limits: QualityLimits) -> str | None:
    """Size, exposure and blur: the capture itself is unusable, for liveness as much as for matching.

    Checked before liveness: MiniFASNet reads blur and bad exposure as attack cues, and a visitor with a shaky frame
    should be asked to hold still, not refused as an attacker."""
    if report.face_px < limits.min_face_px:
        return "face_too_small"
    if report.brightness < limits.min_brightness:
        return "too_dark"
    if report.brightness > limits.max_brightness:
        return "too_bright"
    if report.sharpness < limits.min_sharpness:
        return "blurry"
    return None
