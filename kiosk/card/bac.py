"""Basic Access Control (ICAO 9303-11 section 4.3): mutual authentication from the MRZ, giving 3DES session keys."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.card import icao_crypto as ic
from kiosk.card.access import PlainChannel, SecureChannel
from kiosk.card.apdu import CommandAPDU
from kiosk.card.errors import AccessDenied, CardError, SecureMessagingError
from kiosk.card.mrz import MrzKey
from kiosk.card.passwords import AccessSource, CanSource
from kiosk.card.secure_messaging import TripleDesSecureMessaging

GET_CHALLENGE = CommandAPDU(0x00, 0x84, 0x00, 0x00, le=8)


@dataclass(frozen=True)
class BacKeys:
    k_enc: bytes
    k_mac: bytes

    @classmethod
    def from_mrz(cls, key: MrzKey) -> BacKeys:
        seed = ic.key_seed(key.information())
        return cls(ic.derive_key(seed, ic.ENC_COUNTER), ic.derive_key(seed, ic.MAC_COUNTER))


@dataclass(frozen=True)
class SessionKeys:
    ks_enc: bytes
    ks_mac: bytes
    ssc: bytes


def session_keys(k_ifd: bytes, k_ic: bytes, rnd_ic: bytes, rnd_ifd: bytes) -> SessionKeys:
    seed = bytes(a ^ b for a, b in zip(k_ifd, k_ic, strict=True))
    return SessionKeys(
        ic.derive_key(seed, ic.ENC_COUNTER),
        ic.derive_key(seed, ic.MAC_COUNTER),
        rnd_ic[-4:] + rnd_ifd[-4:],
    )


def external_authenticate_data(keys: BacKeys, rnd_ifd: bytes, rnd_ic: bytes, k_ifd: bytes) -> bytes:
    """E_IFD || M_IFD for EXTERNAL AUTHENTICATE."""
    e_ifd = ic.encrypt(keys.k_enc, rnd_ifd + rnd_ic + k_ifd)
    return e_ifd + ic.retail_mac(keys.k_mac, ic.pad(e_ifd))


class BasicAccessControl:
    """Terminal side of BAC. One attempt per call: a refusal is final for this card presentation (no retry storm;
    some chips slow down or lock after repeated failures)."""

    name = "BAC"
    before_application = False

    def __init__(self, random: Callable[[int], bytes] = os.urandom) -> None:
        self._random = random

    def establish(self, channel: PlainChannel, source: AccessSource) -> SecureChannel:
        if isinstance(source, CanSource):
            raise AccessDenied(
                "this card offers no PACE, so the card access number cannot open it; BAC needs the MRZ details",
                visitor_message="This card cannot be opened with the card access number. Please enter the document "
                "number, date of birth and expiry date instead.",
            )
        keys = BacKeys.from_mrz(source.mrz_key())
        challenge = channel.transmit(GET_CHALLENGE)
        if not challenge.ok or len(challenge.data) != 8:
            raise CardError(f"GET CHALLENGE refused ({challenge.sw:04X})")
        rnd_ic = challenge.data
        rnd_ifd, k_ifd = self._random(8), self._random(16)
        answer = channel.transmit(
            CommandAPDU(0x00, 0x82, 0x00, 0x00, external_authenticate_data(keys, rnd_ifd, rnd_ic, k_ifd), le=40)
        )
        if not answer.ok:
            # 6300 / 6982 is how chips say the MRZ-derived keys are wrong.
            raise AccessDenied(f"BAC refused by the chip ({answer.sw:04X}): document details do not match")
        if len(answer.data) != 40:
            raise SecureMessagingError("BAC answer has the wrong length")
        e_ic, m_ic = answer.data[:32], answer.data[32:]
        if not ic.mac_equal(ic.retail_mac(keys.k_mac, ic.pad(e_ic)), m_ic):
            raise SecureMessagingError("BAC answer MAC wrong")
        plain = ic.decrypt(keys.k_enc, e_ic)
        if plain[:8] != rnd_ic or plain[8:16] != rnd_ifd:
            raise SecureMessagingError("BAC answer does not echo our challenge")
        s = session_keys(k_ifd, plain[16:32], rnd_ic, rnd_ifd)
        return SecureChannel(channel, TripleDesSecureMessaging(s.ks_enc, s.ks_mac, s.ssc))
