"""Speech made on the node with espeak-ng, no network: one WAV per distinct sentence, cached on disk by its text.

The cache key is a hash of everything that changes the sound (voice, speed, text), so a changed phrasing or speed
makes new files and never serves stale ones. Files are written beside their final name and renamed into place, so
a reader never meets half a WAV; two requests for the same sentence make it once."""

from __future__ import annotations

import hashlib
import io
import math
import os
import shutil
import struct
import subprocess
import threading
import wave
from pathlib import Path

from edge.errors import DomainError, Invalid
from edge.hall.phrasing import Language

VOICES = {Language.AR: "ar", Language.EN: "en"}
CHIME_NAME = "chime"
AHEAD_NICENESS = 10  # coreutils `nice`: espeak-ng made ahead of need yields the CPU to requests
_KEY_CHARS = frozenset("0123456789abcdef")


class SpeechUnavailable(DomainError):
    status = 503
    code = "speech_unavailable"


class Speech:
    def __init__(self, cache_dir: Path, espeak: str = "espeak-ng", rate_wpm: int = 150) -> None:
        self.cache_dir = Path(cache_dir)
        self.espeak = espeak
        self.rate_wpm = rate_wpm
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._nice = shutil.which("nice")

    def available(self) -> bool:
        return shutil.which(self.espeak) is not None

    def key(self, lang: Language, text: str) -> str:
        raw = f"espeak-ng|{VOICES[lang]}|{self.rate_wpm}|{text}".encode()
        return hashlib.sha256(raw).hexdigest()[:32]

    def path_of(self, key: str) -> Path:
        """The cached file of a key, refusing anything that is not one of our keys (it comes from a URL)."""
        if key != CHIME_NAME and (len(key) != 32 or not set(key) <= _KEY_CHARS):
            raise Invalid("not an announcement audio key")
        return self.cache_dir / f"{key}.wav"

    def _lock(self, key: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(key, threading.Lock())

    def synthesise(self, lang: Language, text: str, ahead: bool = False) -> str:
        """Make (or find) the WAV of `text` spoken in `lang`; returns its key.

        `ahead`: made before any display asked for it, so espeak-ng runs at a lower CPU priority (`AHEAD_NICENESS`):
        about 16 ms of CPU a phrase, two phrases a call, which in a busy hour must not slow the requests that issue
        and call tickets. A display asking for audio not made yet waits for it, so that runs at normal priority."""
        key = self.key(lang, text)
        path = self.path_of(key)
        if path.exists():
            return key
        with self._lock(key):
            if path.exists():
                return key
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.part")
            argv = [self.espeak, "-v", VOICES[lang], "-s", str(self.rate_wpm), "-w", str(tmp), "--", text]
            try:
                if ahead and self._nice is not None:
                    argv = [self._nice, "-n", str(AHEAD_NICENESS), *argv]
                done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=30, check=False)
            except (OSError, subprocess.TimeoutExpired) as exc:
                tmp.unlink(missing_ok=True)
                raise SpeechUnavailable(f"espeak-ng could not run: {exc}") from None
            if done.returncode != 0 or not tmp.exists():
                tmp.unlink(missing_ok=True)
                raise SpeechUnavailable(f"espeak-ng failed: {done.stderr.decode(errors='replace')[:200]}")
            tmp.replace(path)
        return key

    def chime(self) -> str:
        """A two-note chime (our own, made here), so the hall is alerted even with speech switched off."""
        path = self.path_of(CHIME_NAME)
        if not path.exists():
            with self._lock(CHIME_NAME):
                if not path.exists():
                    self.cache_dir.mkdir(parents=True, exist_ok=True)
                    tmp = path.with_suffix(f".{os.getpid()}.part")
                    tmp.write_bytes(chime_wav())
                    tmp.replace(path)
        return CHIME_NAME


def chime_wav(rate: int = 22050) -> bytes:
    """A soft "ding-dong": two decaying sine notes (E5 then C5), 16-bit mono."""
    frames = bytearray()
    for freq, seconds in ((659.25, 0.45), (523.25, 0.75)):
        n = int(rate * seconds)
        for i in range(n):
            t = i / rate
            envelope = math.exp(-4.0 * t) * min(1.0, i / (0.01 * rate))
            value = 0.5 * envelope * (math.sin(2 * math.pi * freq * t) + 0.3 * math.sin(4 * math.pi * freq * t))
            frames += struct.pack("<h", int(max(-1.0, min(1.0, value)) * 32767 * 0.6))
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))
    return buf.getvalue()
