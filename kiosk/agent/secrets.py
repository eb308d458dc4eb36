"""What one visitor's session holds that must never outlive it: the chip photo and the document number."""

from __future__ import annotations

import threading


class SessionSecrets:
    """In memory only, for the session that read them; `wipe()` overwrites the photo and forgets both."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._photo: bytearray | None = None
        self._document_number: str | None = None
        self.session: int | None = None

    def keep(self, session: int, photo: bytes, document_number: str) -> None:
        with self._lock:
            self._wipe()
            self.session = session
            self._photo = bytearray(photo)
            self._document_number = document_number

    def get(self, session: int) -> tuple[bytes, str] | None:
        """The photo and number, only for the session that read them."""
        with self._lock:
            if self.session != session or self._photo is None or self._document_number is None:
                return None
            return bytes(self._photo), self._document_number

    @property
    def empty(self) -> bool:
        with self._lock:
            return self._photo is None and self._document_number is None

    def wipe(self) -> None:
        with self._lock:
            self._wipe()

    def _wipe(self) -> None:
        if self._photo is not None:
            self._photo[:] = bytes(len(self._photo))  # overwrite, so the bytes do not linger in freed memory
        self._photo = None
        self._document_number = None
        self.session = None

    def __repr__(self) -> str:
        return "SessionSecrets(<redacted>)"
