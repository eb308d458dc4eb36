"""Announcements: each call or accepted recall becomes one numbered announcement, in the order they were made.

The display plays them strictly one after another by number (never two at once); the node numbers them, keeps the
last ones for a display that reconnects, and has the speech made in the background as soon as the call is seen, so
the audio is usually ready before the display asks. Recalls the queue's rate limit refused never stamp the ticket,
so they never reach here."""

from __future__ import annotations

import contextlib
import logging
import queue
import secrets
import threading
from collections import deque
from collections.abc import Callable
from datetime import date

from pydantic import BaseModel, Field

from edge.errors import NotFound
from edge.hall.phrasing import CallKind, Language, phrase
from edge.hall.settings import HallSettings
from edge.hall.speech import Speech
from edge.queue.calls import CallLog

log = logging.getLogger(__name__)
KEEP = 200
# Speech made ahead of the display's request, at most this many announcements' worth: a display plays one every few
# seconds, so a longer line (a burst of calls) is made when the display asks for it (`audio`) instead of eating the
# node's CPU while the counters are at their busiest.
AHEAD = 8


class Spoken(BaseModel):
    lang: Language
    text: str
    audio: str = Field(
        description="key of the WAV: /api/v1/hall/audio/{key}.wav, or /display/audio/{key}.wav for a display page"
    )


class Announcement(BaseModel):
    seq: int
    ticket_id: int
    number: str
    counter: str
    kind: CallKind
    at: str = Field(description="when the counter called (UTC)")
    chime: str
    speech: list[Spoken] = Field(description="empty when speech is switched off; the chime still sounds")


class Announcer:
    def __init__(self, calls: CallLog, speech: Speech, settings: HallSettings, today: Callable[[], date]) -> None:
        self.calls = calls
        self.speech = speech
        self.settings = settings
        self.today = today
        self.epoch = secrets.token_hex(4)  # a restarted node numbers afresh: displays notice the new epoch
        self._lock = threading.Lock()
        self._day: date | None = None
        self._stamp: str | None = None
        self._seen: set[tuple[int, int]] = set()
        self._seq = 0
        self._recent: deque[Announcement] = deque(maxlen=KEEP)
        self._work: queue.Queue[Spoken | None] = queue.Queue(maxsize=AHEAD * 2)
        self._stopping = threading.Event()
        self._worker: threading.Thread | None = None

    def start(self) -> None:
        """Take the calls made before this start as already announced (a restart must not repeat the morning)."""
        self.refresh(announce=False)
        self._worker = threading.Thread(target=self._synthesise_loop, name="hall-speech", daemon=True)
        self._worker.start()

    def stop(self) -> None:
        if self._worker is not None:
            self._stopping.set()
            with contextlib.suppress(queue.Full):  # full: the worker sees the flag after its current item
                self._work.put_nowait(None)
            self._worker.join(10)

    @property
    def last_seq(self) -> int:
        return self._seq

    def after(self, seq: int) -> list[Announcement]:
        with self._lock:
            return [a for a in self._recent if a.seq > seq]

    def refresh(self, announce: bool = True) -> list[Announcement]:
        """Number the calls made since the last look; called on every queue change (cheap: one indexed read)."""
        with self._lock:
            day = self.today()
            if day != self._day:
                self._day, self._stamp, self._seen = day, None, set()
            new = []
            for call in self.calls.announced_since(day, self._stamp):
                key = (call.ticket_id, call.recalls)
                if key in self._seen:
                    continue
                self._seen.add(key)
                self._stamp = max(self._stamp or "", call.announced_at)
                if not announce:
                    continue
                self._seq += 1
                kind = CallKind.RECALL if call.recalls else CallKind.CALL
                spoken = []
                if self.settings.speech:
                    for lang in self.settings.languages:
                        text = phrase(call.number, call.counter, Language(lang), kind)
                        spoken.append(
                            Spoken(lang=Language(lang), text=text, audio=self.speech.key(Language(lang), text))
                        )
                item = Announcement(
                    seq=self._seq,
                    ticket_id=call.ticket_id,
                    number=call.number,
                    counter=call.counter,
                    kind=kind,
                    at=call.announced_at,
                    chime=self.speech.chime(),
                    speech=spoken,
                )
                self._recent.append(item)
                new.append(item)
                for s in spoken:
                    with contextlib.suppress(queue.Full):  # made on demand instead (see AHEAD)
                        self._work.put_nowait(s)
            return new

    def audio(self, key: str) -> str:
        """The file of an announcement's audio, made now if the background worker has not got to it yet."""
        if key != self.speech.chime() and not self.speech.path_of(key).exists():
            spoken = next((s for a in reversed(self._recent) for s in a.speech if s.audio == key), None)
            if spoken is None:
                raise NotFound("no such announcement audio")
            self.speech.synthesise(spoken.lang, spoken.text)
        return str(self.speech.path_of(key))

    def _synthesise_loop(self) -> None:
        while not self._stopping.is_set():
            item = self._work.get()
            if item is None:
                return
            try:
                self.speech.synthesise(item.lang, item.text, ahead=True)
            except Exception:
                log.exception("speech synthesis failed")
