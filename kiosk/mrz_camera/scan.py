"""The document camera: read frames until the MRZ is read the same way twice with every check digit right, or give up.

Frames come from `cv2.VideoCapture` (a device, a URL, or in tests and the demo a video file). A frame whose MRZ is
not found or fails a check is skipped; the answer needs `agree` frames giving the same MRZ (names carry no check
digit, so one lucky misread must not become the visitor's name). The result feeds BAC/PACE exactly as keyed-in
details would (`MrzScan.source()`)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from kiosk.card.mrz import FullMrzSource, MrzData
from kiosk.card.passwords import CanSource
from kiosk.mrz_camera.can import read_can_front
from kiosk.mrz_camera.read import MIN_LEAD, NO_ZONE, MrzNotRead, MrzRead, read_mrz


class MrzScanTimeout(Exception):
    """No MRZ read (and agreed) before the deadline or the frame budget: the kiosk falls back to the keyboard."""

    def __init__(self, frames: int, last_problem: str) -> None:
        super().__init__(f"no MRZ read in {frames} frame(s): {last_problem}")
        self.frames = frames
        self.last_problem = last_problem


@dataclass(frozen=True)
class MrzScan:
    """What the agreeing frames read: the MRZ with the CAN printed beside it, or only the CAN, from the photo side of
    an ID card (`data` None, `text` empty): PACE with the CAN needs nothing else."""

    data: MrzData | None
    text: str
    frames: int  # frames looked at until the answer
    can: str | None = None  # the CAN printed on an ID card, read the same way by the agreeing frames

    def source(self) -> FullMrzSource | None:
        """The access password source, as if the visitor had keyed the details in (None for a CAN-only scan)."""
        return FullMrzSource(self.text) if self.data is not None else None

    def can_source(self) -> CanSource | None:
        """The CAN read from an ID card, as if the visitor had typed it (PACE only), or None."""
        return CanSource(self.can) if self.can is not None else None

    def __repr__(self) -> str:
        kind = self.data.format if self.data is not None else "CAN only"
        return f"MrzScan({kind}, after {self.frames} frames)"


def video_frames(source: int | str, stop: Callable[[], bool] | None = None) -> Iterator[np.ndarray]:
    """Frames of a `cv2.VideoCapture` source; a video file is played once (the caller's deadline bounds a camera)."""
    capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        raise OSError(f"document camera {source!r} cannot be opened")
    try:
        while stop is None or not stop():
            ok, frame = capture.read()
            if not ok:
                return
            yield frame
    finally:
        capture.release()


def front_can(frame: np.ndarray) -> str | None:
    """The CAN on the photo side of an ID card in this frame, or None (the reader's lead for letters)."""
    return read_can_front(frame, MIN_LEAD)


def scan(
    frames: Iterable[np.ndarray],
    timeout_s: float = 10.0,
    max_frames: int | None = None,
    agree: int = 2,
    clock: Callable[[], float] = time.monotonic,
    reader: Callable[[np.ndarray], MrzRead] = read_mrz,
    front: Callable[[np.ndarray], str | None] | None = front_can,
) -> MrzScan:
    """The first MRZ read identically from `agree` frames, within `timeout_s` and `max_frames`. A frame without an
    MRZ may show the photo side of an ID card: its CAN (`front`), read identically from `agree` frames, is an answer
    too (CAN only); `front=None` looks for MRZs only."""
    deadline = clock() + timeout_s
    seen: Counter[tuple[str, str | None]] = Counter()
    fronts: Counter[str] = Counter()
    count = 0
    problem = "no frame"
    for frame in frames:
        if clock() > deadline or (max_frames is not None and count >= max_frames):
            break
        count += 1
        try:
            found = reader(frame)
        except MrzNotRead as exc:
            problem = exc.reason
            can = front(frame) if front is not None and exc.reason == NO_ZONE else None
            if can is not None:
                fronts[can] += 1
                if fronts[can] >= agree:
                    return MrzScan(None, "", count, can)
                problem = f"a CAN read once, waiting for {agree} frames to agree"
            continue
        # the CAN takes part in the agreement: frames reading the same MRZ but different CANs do not agree
        seen[found.text, found.can] += 1
        if seen[found.text, found.can] >= agree:
            return MrzScan(found.data, found.text, count, found.can)
        problem = f"read once, waiting for {agree} frames to agree"
    raise MrzScanTimeout(count, problem)
