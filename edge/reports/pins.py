"""Tracking PINs kept as a keyed hash: HMAC-SHA256 of the reference and the PIN under the station's PIN key, a file
in the keys folder (0600), never in the database.

Why not a slow hash: a 6-digit PIN has 10^6 values, so an attacker holding the database tests them all under
Argon2id too (about 150 ms each here: under two core-days, and far less on a GPU farm) while every visitor pays
150 ms per filing and per look-up. What protects a short PIN is (a) the lock after repeated wrong tries (online
guessing, `ReportService.track`) and (b) the key: without the key file a copied database offers nothing to test a
PIN against. The reference is part of the hashed message, so a stored value moved to another report does not match
there. PINs stored by older versions as Argon2id still verify once and are then stored keyed (`PinCheck.upgrade`)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from edge.auth.passwords import Passwords

SCHEME = "k1"  # "k1:<hex>": HMAC-SHA256 under the station's PIN key
LEGACY_PREFIX = "$argon2"


@dataclass(frozen=True)
class PinCheck:
    ok: bool
    upgrade: str | None = None  # the keyed hash to store instead of a legacy Argon2 one, after a right PIN


class PinHasher:
    def __init__(self, key: bytes, passwords: Passwords | None = None) -> None:
        if len(key) < 32:
            raise ValueError("the PIN key must be at least 32 bytes")
        self._key = key
        self._passwords = passwords  # only for PINs stored as Argon2id by older versions

    def hash(self, reference: str, pin: str) -> str:
        message = f"{reference}\x00{pin}".encode()
        return f"{SCHEME}:{hmac.new(self._key, message, hashlib.sha256).hexdigest()}"

    def check(self, stored: str | None, reference: str, pin: str) -> PinCheck:
        """Whether `pin` is the PIN of `reference`; compared in constant time, and with nothing stored (an unknown
        reference) a hash is still computed, so both cost the same."""
        if stored is not None and stored.startswith(LEGACY_PREFIX):
            passwords = self._passwords or Passwords()
            with passwords.slot():
                ok = passwords.verify(stored, pin)
            return PinCheck(ok, self.hash(reference, pin) if ok else None)
        expected = self.hash(reference, pin)
        return PinCheck(stored is not None and hmac.compare_digest(stored, expected))
