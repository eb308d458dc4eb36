"""Cameras: `cv2.VideoCapture` on a device index, an RTSP/HTTP URL or a video file (looped), newest frame only.

A grabbing thread reads continuously and keeps only the latest frame, so a slow consumer never sees stale frames
(VideoCapture's own buffer would otherwise hand out frames seconds old). Frames live in memory only.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

log = logging.getLogger(__name__)


class CameraError(RuntimeError):
    """The camera source cannot be opened."""


@dataclass(frozen=True)
class Frame:
    """One BGR frame and when it was grabbed (monotonic seconds). Never written anywhere."""

    image: np.ndarray
    grabbed_at: float
    seq: int

    def __repr__(self) -> str:
        return f"Frame(#{self.seq}, {self.image.shape[1]}x{self.image.shape[0]})"


class Camera(Protocol):
    """What the kiosk needs of a camera."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def latest(self) -> Frame | None: ...

    def fps(self) -> float: ...

    def frames(self, count: int, timeout: float) -> list[Frame]: ...


def parse_source(source: str) -> int | str:
    """`0` (a device index), `rtsp://...`/`http://...`, or a video file path."""
    text = source.strip()
    if text.isdigit():
        return int(text)
    if "://" in text:
        return text
    path = Path(text)
    if not path.is_file():
        raise CameraError(f"camera source {text!r}: no such video file (give a device index, a URL or a file)")
    return str(path)


class VideoCaptureCamera:
    """The real adapter. A video file plays at its own frame rate and starts again at its end."""

    def __init__(self, source: str, fps_window_s: float = 2.0) -> None:
        self.source = parse_source(source)
        self.is_file = isinstance(self.source, str) and "://" not in self.source
        self._capture: cv2.VideoCapture | None = None
        self._lock = threading.Condition()
        self._latest: Frame | None = None
        self._seq = 0
        self._stamps: collections.deque[float] = collections.deque()
        self._window = fps_window_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._file_period = 0.0

    def _open(self) -> cv2.VideoCapture:
        capture = cv2.VideoCapture(self.source)
        if not capture.isOpened():
            raise CameraError(f"camera source {self.source!r} cannot be opened")
        if self.is_file:
            rate = capture.get(cv2.CAP_PROP_FPS)
            self._file_period = 1.0 / rate if 0 < rate < 240 else 1.0 / 25
        return capture

    def start(self) -> None:
        if self._thread is not None:
            return
        self._capture = self._open()
        self._stop.clear()
        self._thread = threading.Thread(target=self._grab, name="camera-grab", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._capture is not None:
            self._capture.release()
            self._capture = None
        with self._lock:
            self._latest = None  # nothing of the last visitor stays in memory

    def retarget(self, source: str) -> None:
        """Use another source from now on (a device profile changed it); stopped first, started again by the caller."""
        self.stop()
        self.source = parse_source(source)
        self.is_file = isinstance(self.source, str) and "://" not in self.source

    def _grab(self) -> None:
        capture = self._capture
        assert capture is not None
        next_at = time.monotonic()
        failures = 0
        while not self._stop.is_set():
            ok, image = capture.read()
            if not ok:
                if self.is_file:
                    capture.set(cv2.CAP_PROP_POS_FRAMES, 0)  # loop the video
                    ok, image = capture.read()
                if not ok:
                    failures += 1
                    if failures % 50 == 1:
                        log.warning("camera %r gives no frames", self.source)
                    # a stream or device that dropped: reopen after a pause
                    self._stop.wait(0.2)
                    if not self.is_file and failures % 10 == 0:
                        capture.release()
                        capture = cv2.VideoCapture(self.source)
                    continue
            failures = 0
            now = time.monotonic()
            with self._lock:
                self._seq += 1
                self._latest = Frame(image, now, self._seq)
                self._stamps.append(now)
                while self._stamps and self._stamps[0] < now - self._window:
                    self._stamps.popleft()
                self._lock.notify_all()
            if self.is_file:  # play a file in real time, not as fast as it decodes
                next_at += self._file_period
                delay = next_at - time.monotonic()
                if delay > 0:
                    self._stop.wait(delay)
                else:
                    next_at = time.monotonic()
        self._capture = capture

    def latest(self) -> Frame | None:
        with self._lock:
            return self._latest

    def fps(self) -> float:
        """Frames per second over the last couple of seconds (0 when the camera gives nothing)."""
        with self._lock:
            now = time.monotonic()
            while self._stamps and self._stamps[0] < now - self._window:
                self._stamps.popleft()
            if len(self._stamps) < 2:
                return 0.0
            span = self._stamps[-1] - self._stamps[0]
            return round((len(self._stamps) - 1) / span, 1) if span > 0 else 0.0

    def frames(self, count: int, timeout: float) -> list[Frame]:
        """`count` distinct new frames (fewer if the time-out comes first)."""
        deadline = time.monotonic() + timeout
        taken: list[Frame] = []
        with self._lock:
            last = self._latest.seq if self._latest else 0
            while len(taken) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._lock.wait(remaining)
                if self._latest is not None and self._latest.seq > last:
                    taken.append(self._latest)
                    last = self._latest.seq
        return taken


def encode_jpeg(image: np.ndarray, quality: int = 85) -> bytes:
    """JPEG bytes of a frame, in memory (uploads to the edge and the localhost preview)."""
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise CameraError("frame could not be encoded")
    return bytes(data.tobytes())
