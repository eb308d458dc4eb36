"""Video files made from still photos: the camera of tests and the demo (a real camera cannot exist there)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np


def still_video(
    path: Path, photos: Sequence[Path], seconds_each: float = 1.0, fps: int = 15, size: tuple[int, int] = (640, 480)
) -> Path:
    """An MJPEG AVI showing each photo in turn, letterboxed to `size`, with a slight drift so frames differ."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, size)
    if not writer.isOpened():
        raise RuntimeError(f"{path}: cannot write an MJPEG video")
    try:
        width, height = size
        for photo in photos:
            image = cv2.imread(str(photo))
            if image is None:
                raise ValueError(f"{photo}: not an image")
            scale = min(width / image.shape[1], height / image.shape[0])
            fitted = cv2.resize(image, (int(image.shape[1] * scale), int(image.shape[0] * scale)))
            for i in range(max(1, int(seconds_each * fps))):
                canvas = np.full((height, width, 3), 40, np.uint8)
                dx = (width - fitted.shape[1]) // 2 + (i % 3) - 1
                dy = (height - fitted.shape[0]) // 2
                x0, y0 = max(dx, 0), max(dy, 0)
                crop = fitted[: height - y0, : width - x0]
                canvas[y0 : y0 + crop.shape[0], x0 : x0 + crop.shape[1]] = crop
                writer.write(canvas)
    finally:
        writer.release()
    return path
