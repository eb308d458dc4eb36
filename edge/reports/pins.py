"""Tracking PINs kept as a slow hash of a keyed hash: Argon2id (argon2-cffi, the library of staff passwords) over
HMAC-SHA256 of the reference and the PIN under the station's PIN key, a file in the keys folder (0600), never in
the database.

Why both: a 6-digit PIN has 10^6 values, so Argon2id alone does not keep it from someone who holds the database
(at staff-password cost, 150 ms each here, the whole space falls in under two core-days) while every visitor pays
those 150 ms per filing and per look-up. What protects a short PIN is (a) the lock after repeated wrong tries
(online guessing, `ReportService.track`) and (b) the key: without the key file a copied database offers nothing to
test a PIN against. The Argon2id layer (salted, memory-hard, at a cost sized to the issue's 50 ms look-up target:
`TIME_COST` passes over `MEMORY_KIB`) is the second wall for a thief who took the keys folder too. The reference is
part of the keyed message, so a stored value moved to another report does not match there. PINs stored by older
versions (Argon2id of the bare PIN, or the keyed hash alone) still verify once and are then stored in this form
(`PinCheck.upgrade`)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from functools import cached_property

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from edge.auth.passwords import Passwords

SCHEME = "k2"  # "k2:<argon2id hash of the HMAC-SHA256 hex digest>"
KEYED_ONLY = "k1:"  # an earlier form: the HMAC-SHA256 hex digest alone
LEGACY_PREFIX = "$argon2"  # the earliest form: Argon2id of the bare PIN, at staff-password cost
TIME_COST, MEMORY_KIB = 2, 8 * 1024  # about 15 ms on a quiet machine here: the PIN key, not this, is the main wall


@dataclass(frozen=True)
class PinCheck:
    ok: bool
    upgrade: str | None = None  # the current form to store instead of an older one, after a right PIN


class PinHasher:
    def __init__(self, key: bytes, passwords: Passwords | None = None) -> None:
        if len(key) < 32:
            raise ValueError("the PIN key must be at least 32 bytes")
        self._key = key
        self._passwords = passwords  # only for PINs stored as Argon2id of the bare PIN by older versions
        self._slow = PasswordHasher(time_cost=TIME_COST, memory_cost=MEMORY_KIB, parallelism=1)

    @cached_property
    def _dummy(self) -> str:
        """What an unknown reference is checked against (made on first use, not at every start of the node)."""
        return self._slow.hash("markaz-no-such-report")

    def _keyed(self, reference: str, pin: str) -> str:
        return hmac.new(self._key, f"{reference}\x00{pin}".encode(), hashlib.sha256).hexdigest()

    def hash(self, reference: str, pin: str) -> str:
        """The stored form of `pin` for `reference` (salted: two calls give two different strings)."""
        return f"{SCHEME}:{self._slow.hash(self._keyed(reference, pin))}"

    def check(self, stored: str | None, reference: str, pin: str) -> PinCheck:
        """Whether `pin` is the PIN of `reference`. With nothing stored (an unknown reference) a dummy hash is still
        checked, so both cost the same."""
        if stored is not None and stored.startswith(LEGACY_PREFIX):
            passwords = self._passwords or Passwords()
            with passwords.slot():
                ok = passwords.verify(stored, pin)
            return PinCheck(ok, self.hash(reference, pin) if ok else None)
        keyed = self._keyed(reference, pin)
        if stored is not None and stored.startswith(KEYED_ONLY):
            ok = hmac.compare_digest(stored.removeprefix(KEYED_ONLY), keyed)
            return PinCheck(ok, self.hash(reference, pin) if ok else None)
        slow = stored.removeprefix(f"{SCHEME}:") if stored is not None and stored.startswith(f"{SCHEME}:") else None
        try:
            ok = self._slow.verify(slow or self._dummy, keyed) and slow is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        return PinCheck(ok)
