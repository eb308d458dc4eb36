"""Chip side of PACE for the virtual card: MSE:Set AT and the four GENERAL AUTHENTICATE steps of Generic Mapping."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from ecdsa.ellipticcurve import PointJacobi

from kiosk.card import icao_crypto as ic
from kiosk.card import pace, tlv
from kiosk.card.apdu import (
    SW_AUTH_FAILED,
    SW_CONDITIONS_NOT_SATISFIED,
    SW_OK,
    SW_WRONG_DATA,
    CommandAPDU,
    ResponseAPDU,
)
from kiosk.card.card_access import PaceInfo
from kiosk.card.passwords import PacePassword, PasswordRef
from kiosk.card.secure_messaging import ChipSecureMessaging

SW_REFERENCE_NOT_FOUND = 0x6A88


@dataclass(frozen=True)
class PaceSession:
    """Keys agreed by a successful PACE, for the chip's secure messaging."""

    suite: pace.PaceSuite
    ks_enc: bytes
    ks_mac: bytes

    def secure_messaging(self) -> ChipSecureMessaging:
        return self.suite.chip_secure_messaging(self.ks_enc, self.ks_mac)


def _template(tag: int, value: bytes) -> ResponseAPDU:
    return ResponseAPDU(tlv.encode(0x7C, tlv.encode(tag, value)), SW_OK)


class ChipPace:
    """PACE as a chip runs it: one protocol run at a time, passwords by reference, wrong tokens counted."""

    def __init__(
        self,
        offered: list[PaceInfo],
        passwords: dict[PasswordRef, PacePassword],
        random: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.offered = offered
        self.passwords = passwords
        self._random = random
        self.attempts = 0  # MSE:Set AT + GENERAL AUTHENTICATE runs started
        self.failures = 0  # wrong authentication tokens (wrong password)
        self.reset()

    def reset(self) -> None:
        self._info: PaceInfo | None = None
        self._password: PacePassword | None = None
        self._step = 0
        self._nonce = b""
        self._generator: PointJacobi | None = None
        self._secret = 0
        self._public = b""
        self._keys: tuple[bytes, bytes] | None = None
        self._terminal_public = b""

    def mse_set_at(self, apdu: CommandAPDU) -> ResponseAPDU:
        self.reset()
        try:
            objects = {element.tag: element.value for element in tlv.parse_all(apdu.data)}
        except tlv.TLVError:
            return ResponseAPDU(b"", SW_WRONG_DATA)
        info = next(
            (i for i in self.offered if pace.supported(i) and pace.SUITES[i.protocol].oid_bytes == objects.get(0x80)),
            None,
        )
        if info is None or (0x84 in objects and objects[0x84] != bytes([info.parameter_id or 0])):
            return ResponseAPDU(b"", SW_REFERENCE_NOT_FOUND)
        ref = objects.get(0x83, b"")
        password = self.passwords.get(PasswordRef(ref[0])) if len(ref) == 1 and ref[0] in (1, 2) else None
        if password is None:
            return ResponseAPDU(b"", SW_REFERENCE_NOT_FOUND)
        self._info, self._password, self._step = info, password, 1
        self.attempts += 1
        return ResponseAPDU(b"", SW_OK)

    def general_authenticate(self, apdu: CommandAPDU) -> tuple[ResponseAPDU, PaceSession | None]:
        """One step; the second element is the session once the terminal's token checked out."""
        if self._info is None or self._password is None:
            return ResponseAPDU(b"", SW_CONDITIONS_NOT_SATISFIED), None
        try:
            outer = tlv.parse(apdu.data)
            inner = {element.tag: element.value for element in outer.children()} if outer.tag == 0x7C else None
        except tlv.TLVError:
            inner = None
        if inner is None:
            self.reset()
            return ResponseAPDU(b"", SW_WRONG_DATA), None
        try:
            return self._step_answer(inner)
        except pace.PaceError:
            self.reset()
            return ResponseAPDU(b"", SW_WRONG_DATA), None

    def _step_answer(self, inner: dict[int, bytes]) -> tuple[ResponseAPDU, PaceSession | None]:
        assert self._info is not None and self._password is not None and self._info.parameter_id is not None
        suite, curve = pace.SUITES[self._info.protocol], pace.CURVES[self._info.parameter_id]
        if self._step == 1 and not inner:
            self._nonce = self._random(16)
            self._step = 2
            z = suite.encrypt_nonce(pace.password_key(suite, self._password), self._nonce)
            return _template(0x80, z), None
        if self._step == 2 and 0x81 in inner:
            terminal_map = pace.decode_point(curve, inner[0x81])
            map_secret = pace.random_scalar(curve, self._random)
            self._generator = pace.map_generator(curve, self._nonce, map_secret, terminal_map)
            self._step = 3
            return _template(0x82, pace.encode_point(curve, curve.generator * map_secret)), None
        if self._step == 3 and 0x83 in inner and self._generator is not None:
            self._terminal_public = inner[0x83]
            terminal_public = pace.decode_point(curve, self._terminal_public)
            self._secret = pace.random_scalar(curve, self._random)
            self._public = pace.encode_point(curve, self._generator * self._secret)
            if self._public == self._terminal_public:
                raise pace.PaceError("identical public keys")
            k = pace.shared_secret(curve, self._secret, terminal_public)
            self._keys = (suite.kdf(k, ic.ENC_COUNTER), suite.kdf(k, ic.MAC_COUNTER))
            self._step = 4
            return _template(0x84, self._public), None
        if self._step == 4 and 0x85 in inner and self._keys is not None:
            ks_enc, ks_mac = self._keys
            expected = suite.token(ks_mac, self._public)
            session_public = self._terminal_public
            self.reset()
            if not ic.mac_equal(inner[0x85], expected):
                self.failures += 1
                return ResponseAPDU(b"", SW_AUTH_FAILED), None
            return _template(0x86, suite.token(ks_mac, session_public)), PaceSession(suite, ks_enc, ks_mac)
        self.reset()
        return ResponseAPDU(b"", SW_CONDITIONS_NOT_SATISFIED), None
