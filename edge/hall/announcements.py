"""Announcements: each call or accepted recall becomes one numbered announcement, in the order they were made.

The display plays them strictly one after another by number (never two at once); the node numbers them, keeps the
last ones for a display that reconnects, and has the speech made in the background a few announcements ahead of the
newest one a display has asked to hear (`AHEAD`), so the audio is usually ready when the display asks and a busy
hall's calls are not all spoken to files nobody plays. Recalls the queue's rate limit refused never stamp the
ticket, so they never reach here."""

from __future__ import annotations

import logging
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
# Speech made ahead of the displays, at most this many announcements beyond the newest one a display has asked to
# hear: a display plays one every few seconds, so the rest of a long line (a burst of calls, a busy hour) is made when
# its turn comes near or when a display asks for it (`audio`), instead of eating the node's CPU (espeak-ng, about
# 16 ms a phrase) while the counters are at their busiest. With no display asking, only the first AHEAD are made.
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
        self._heard = 0  # the newest announcement a display has asked to hear
        self._made = 0  # the speech ahead has been made (or tried) up to this announcement
        self._wake = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._worker: threading.Thread | None = None

    def start(self) -> None:
        """Take the calls made before this start as already announced (a restart must not repeat the morning)."""
        self.refresh(announce=False)
        self._worker = threading.Thread(target=self._synthesise_loop, name="hall-speech", daemon=True)
        self._worker.start()

    def stop(self) -> None:
        if self._worker is not None:
            with self._wake:  # the worker sees the flag after its current item
                self._stopping.set()
                self._wake.notify_all()
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
            if new:
                self._wake.notify_all()
            return new

    def audio(self, key: str) -> str:
        """The file of an announcement's audio, made now if the background worker has not got to it yet."""
        if key == self.speech.chime():
            return str(self.speech.path_of(key))
        path = self.speech.path_of(key)
        with self._lock:
            owner = next(((a, s) for a in reversed(self._recent) for s in a.speech if s.audio == key), None)
            if owner is not None and owner[0].seq > self._heard:
                self._heard = owner[0].seq  # a display is this far: the speech ahead follows it
                self._wake.notify_all()
        if not path.exists():
            if owner is None:
                raise NotFound("no such announcement audio")
            self.speech.synthesise(owner[1].lang, owner[1].text)
        return str(path)

    def _next_ahead(self) -> Announcement | None:
        """The next announcement whose speech to make ahead, if one is within AHEAD of what displays have asked."""
        want = max(self._made, self._heard) + 1  # a display asks for the one it plays now (made on demand if need be)
        if not self._recent or want > min(self._heard + AHEAD, self._recent[-1].seq):
            return None
        item = self._recent[max(0, want - self._recent[0].seq)]  # the kept announcements' seqs run without a hole
        self._made = item.seq
        return item

    def _synthesise_loop(self) -> None:
        while True:
            with self._wake:
                item = self._next_ahead()
                while item is None and not self._stopping.is_set():
                    self._wake.wait()
                    item = self._next_ahead()
                if self._stopping.is_set() or item is None:
                    return
            for spoken in item.speech:
                try:
                    self.speech.synthesise(spoken.lang, spoken.text, ahead=True)
                except Exception:
                    log.exception("speech synthesis failed")
