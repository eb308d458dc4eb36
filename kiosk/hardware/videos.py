"""Video files made from still photos: the camera of tests and the demo (a real camera cannot exist there)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np


def still_video(
    path: Path, photos: Sequence[Path], seconds_each: float = 1.0, fps: int = 15, size: tuple[int, int] | None = None
) -> Path:
    """An MJPEG AVI showing each photo in turn, fitted into `size` (default: the first photo's own size, as a camera
    framing that person would), shifted by a pixel now and then so consecutive frames differ like a camera's do."""
    images = []
    for photo in photos:
        image = cv2.imread(str(photo))
        if image is None:
            raise ValueError(f"{photo}: not an image")
        images.append(image)
    if size is None:
        size = (images[0].shape[1] // 2 * 2, images[0].shape[0] // 2 * 2)
    width, height = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, size)
    if not writer.isOpened():
        raise RuntimeError(f"{path}: cannot write an MJPEG video")
    try:
        for image in images:
            scale = min(width / image.shape[1], height / image.shape[0])
            fitted = cv2.resize(image, (int(image.shape[1] * scale), int(image.shape[0] * scale)))
            canvas = np.full((height, width, 3), 40, np.uint8)
            y0, x0 = (height - fitted.shape[0]) // 2, (width - fitted.shape[1]) // 2
            canvas[y0 : y0 + fitted.shape[0], x0 : x0 + fitted.shape[1]] = fitted
            for i in range(max(1, int(seconds_each * fps))):
                writer.write(np.roll(canvas, i % 3 - 1, axis=1))
    finally:
        writer.release()
    return path
