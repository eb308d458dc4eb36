"""The document camera in the agent: while the details screen is shown, scan its frames for the MRZ and hand what it
reads to the session as `MrzScanned` (the session decides whether it still applies). Frames stay in memory."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator

import numpy as np

from kiosk.hardware.camera import Camera
from kiosk.mrz_camera.scan import MrzScanTimeout, scan
from kiosk.session.messages import Event, MrzScanned
from kiosk.session.vocabulary import Screen

log = logging.getLogger(__name__)

# (screen, session number, whether the visitor typed anything): what decides if a scan is still wanted
SessionState = Callable[[], tuple[Screen, int, bool]]


class DocumentWatcher:
    """Runs in its own thread; one scan per session shown the details screen, stopped as soon as it is left."""

    def __init__(
        self, camera: Camera, state: SessionState, post: Callable[[Event], None], stop: threading.Event
    ) -> None:
        self.camera = camera
        self.state = state
        self.post = post
        self.stop = stop
        self.poll_s = 0.1

    def _wanted(self, session: int) -> bool:
        screen, current, typed = self.state()
        return not self.stop.is_set() and screen == Screen.MRZ_ENTRY and current == session and not typed

    def _frames(self, session: int) -> Iterator[np.ndarray]:
        last = -1
        while self._wanted(session):
            frame = self.camera.latest()
            if frame is None or frame.seq == last:
                self.stop.wait(self.poll_s / 4)
                continue
            last = frame.seq
            yield frame.image

    def run(self) -> None:
        done: set[int] = set()
        while not self.stop.is_set():
            screen, session, typed = self.state()
            if screen != Screen.MRZ_ENTRY or typed or session in done:
                self.stop.wait(self.poll_s)
                continue
            done.add(session)
            try:
                found = scan(self._frames(session), timeout_s=120.0)
            except MrzScanTimeout as exc:
                log.info("document camera: no MRZ (%s frames)", exc.frames)  # no document data in the log
                continue
            except Exception:
                log.exception("document camera failed; the keyboard stays")
                continue
            data = found.data
            if data is None:  # the photo side of an ID card: its CAN alone opens a PACE chip
                self.post(MrzScanned(session, "", "", "", found.can))
            else:
                self.post(
                    MrzScanned(session, data.document_number, data.birth_date_raw, data.expiry_date_raw, found.can)
                )
