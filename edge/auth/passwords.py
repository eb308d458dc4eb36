"""Password hashing with Argon2id (argon2-cffi), with a bound on how many hashes run at once.

Each Argon2 call takes 64 MiB (RFC 9106 low-memory profile) for a fraction of a second: unbounded, 40 parallel
sign-ins took the node to 2.1 GB. `Passwords` lets at most `max_concurrent` run; a caller that cannot get a slot
within `wait_s` gets `Busy` (503 with Retry-After) instead of memory. Verification never says why it failed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from edge.errors import Busy

MIN_LENGTH = 10

_hasher = PasswordHasher()  # RFC 9106 low-memory profile defaults: 64 MiB, 3 passes, 4 lanes


class Passwords:
    def __init__(self, max_concurrent: int = 4, wait_s: float = 3.0) -> None:
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self._wait_s = wait_s
        self._dummy_hash: str | None = None

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the hashing slots, or raise Busy when none frees up in time."""
        if not self._slots.acquire(timeout=self._wait_s):
            raise Busy("too many sign-ins at once; try again in a moment", retry_after_s=1.0)
        try:
            yield
        finally:
            self._slots.release()

    def hash(self, password: str) -> str:
        with self.slot():
            return _hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """Check `password`; with no stored hash (an unknown user) a dummy one is checked, so it costs the same.

        The caller holds `slot()`: it decides what a refused slot means for its own accounting."""
        if self._dummy_hash is None:
            self._dummy_hash = _hasher.hash("markaz-no-such-user")
        try:
            return _hasher.verify(stored_hash or self._dummy_hash, password) and stored_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
