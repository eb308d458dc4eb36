"""PACE (ICAO 9303-11 4.4): Generic Mapping over ECDH with AES or 3DES secure messaging; terminal side and the
primitives the virtual chip shares.

Elliptic-curve point arithmetic comes from `ecdsa` (pure Python, kept by the tlsfuzzer project): Generic Mapping needs
G' = s*G + H on the chip's curve, which `cryptography` does not expose (it only gives ECDH's x-coordinate).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from ecdsa import curves
from ecdsa.ellipticcurve import INFINITY, PointJacobi

from kiosk.card import icao_crypto as ic
from kiosk.card import tlv
from kiosk.card.access import PlainChannel, SecureChannel
from kiosk.card.apdu import CommandAPDU, ResponseAPDU
from kiosk.card.card_access import ID_PACE, PaceInfo
from kiosk.card.errors import AccessDenied, CardError, SecureMessagingError
from kiosk.card.passwords import AccessSource, PacePassword, PasswordRef, pace_password
from kiosk.card.secure_messaging import (
    AesSecureMessaging,
    CardSideAesSecureMessaging,
    CardSideSecureMessaging,
    ChipSecureMessaging,
    SecureMessaging,
    TripleDesSecureMessaging,
)

ECDH_GM = ID_PACE + ".2"


@dataclass(frozen=True)
class PaceSuite:
    """One PACE protocol OID: Generic Mapping over ECDH with a cipher for the nonce, the tokens and secure messaging."""

    oid: str
    cipher: str  # "3DES" or "AES"
    key_size: int  # bytes: 16 (3DES two-key, AES-128), 24 (AES-192), 32 (AES-256)

    @property
    def oid_bytes(self) -> bytes:
        return tlv.parse(_encode_oid(self.oid)).value

    def kdf(self, seed: bytes, counter: int) -> bytes:
        if self.cipher == "3DES":
            return ic.derive_key(seed, counter)
        return ic.derive_aes_key(seed, counter, self.key_size)

    def decrypt_nonce(self, k_pi: bytes, z: bytes) -> bytes:
        if self.cipher == "3DES":
            return ic.decrypt(k_pi, z)
        return ic.AesKey(k_pi).decrypt(z)

    def encrypt_nonce(self, k_pi: bytes, s: bytes) -> bytes:
        if self.cipher == "3DES":
            return ic.encrypt(k_pi, s)
        return ic.AesKey(k_pi).encrypt(s)

    def token(self, ks_mac: bytes, public_key: bytes) -> bytes:
        """Authentication token: MAC over the other side's public-key data object (ICAO 9303-11 4.4.3.4)."""
        data = public_key_object(self.oid_bytes, public_key)
        if self.cipher == "3DES":
            return ic.retail_mac(ks_mac, ic.pad(data))
        return ic.AesKey(ks_mac).cmac(data)

    def secure_messaging(self, ks_enc: bytes, ks_mac: bytes) -> SecureMessaging:
        """Terminal side, SSC from zero (after PACE and after Chip Authentication)."""
        if self.cipher == "3DES":
            return TripleDesSecureMessaging(ks_enc, ks_mac, bytes(8))
        return AesSecureMessaging(ks_enc, ks_mac, bytes(16))

    def chip_secure_messaging(self, ks_enc: bytes, ks_mac: bytes) -> ChipSecureMessaging:
        """The virtual chip's side of the same."""
        if self.cipher == "3DES":
            return CardSideSecureMessaging(ks_enc, ks_mac, bytes(8))
        return CardSideAesSecureMessaging(ks_enc, ks_mac, bytes(16))


SUITES = {
    suite.oid: suite
    for suite in (
        PaceSuite(ECDH_GM + ".1", "3DES", 16),
        PaceSuite(ECDH_GM + ".2", "AES", 16),
        PaceSuite(ECDH_GM + ".3", "AES", 24),
        PaceSuite(ECDH_GM + ".4", "AES", 32),
    )
}

# Standardised domain parameters for ECDH (ICAO 9303-11 9.5.1, table of parameter IDs).
CURVES: dict[int, curves.Curve] = {
    8: curves.NIST192p,
    9: curves.BRAINPOOLP192r1,
    10: curves.NIST224p,
    11: curves.BRAINPOOLP224r1,
    12: curves.NIST256p,
    13: curves.BRAINPOOLP256r1,
    14: curves.BRAINPOOLP320r1,
    15: curves.NIST384p,
    16: curves.BRAINPOOLP384r1,
    17: curves.BRAINPOOLP512r1,
    18: curves.NIST521p,
}
NIST_P256, BRAINPOOL_P256R1 = 12, 13
# Names a technician types (`markaz kiosk card emulate --pace-cipher/--pace-curve`).
PACE_CIPHERS = {"3des": ECDH_GM + ".1", "aes128": ECDH_GM + ".2", "aes192": ECDH_GM + ".3", "aes256": ECDH_GM + ".4"}
PACE_CURVE_NAMES = {
    "P-256": NIST_P256,
    "brainpoolP256r1": BRAINPOOL_P256R1,
    "P-384": 15,
    "brainpoolP384r1": 16,
    "brainpoolP512r1": 17,
    "P-521": 18,
}


class PaceError(ValueError):
    """A PACE message is malformed or a point is not on the curve."""


def _encode_oid(dotted: str) -> bytes:
    from asn1crypto import core

    return bytes(core.ObjectIdentifier(dotted).dump())


def supported(info: PaceInfo) -> bool:
    return info.protocol in SUITES and info.parameter_id in CURVES


def choose(infos: list[PaceInfo]) -> PaceInfo | None:
    """The first PACEInfo we can run, in the chip's order (chips list their preferred protocol first)."""
    return next((info for info in infos if supported(info)), None)


def field_size(curve: curves.Curve) -> int:
    return (int(curve.curve.p()).bit_length() + 7) // 8


def encode_point(curve: curves.Curve, point: PointJacobi) -> bytes:
    """Uncompressed encoding 04 || x || y, each coordinate as long as the field."""
    size = field_size(curve)
    return b"\x04" + int(point.x()).to_bytes(size, "big") + int(point.y()).to_bytes(size, "big")


def decode_point(curve: curves.Curve, data: bytes) -> PointJacobi:
    """A point from the other side, refused unless uncompressed, on the curve and not the point at infinity."""
    size = field_size(curve)
    if len(data) != 1 + 2 * size or data[0] != 0x04:
        raise PaceError("public key is not an uncompressed point of the right size")
    x, y = int.from_bytes(data[1 : 1 + size], "big"), int.from_bytes(data[1 + size :], "big")
    if not curve.curve.contains_point(x, y):
        raise PaceError("public key is not on the curve")
    return PointJacobi(curve.curve, x, y, 1, curve.order)


def random_scalar(curve: curves.Curve, random: Callable[[int], bytes]) -> int:
    size = (int(curve.order).bit_length() + 7) // 8
    while True:
        k = int.from_bytes(random(size), "big")
        if 1 <= k < curve.order:
            return k


def map_generator(curve: curves.Curve, s: bytes, own_secret: int, their_public: PointJacobi) -> PointJacobi:
    """Generic Mapping (ICAO 9303-11 4.4.3.3.1): G' = s*G + H, H = own_secret * their_public."""
    h = their_public * own_secret
    if h == INFINITY:
        raise PaceError("mapping gave the point at infinity")
    mapped = curve.generator * int.from_bytes(s, "big") + h
    if mapped == INFINITY:
        raise PaceError("mapped generator is the point at infinity")
    return mapped


def shared_secret(curve: curves.Curve, own_secret: int, their_public: PointJacobi) -> bytes:
    """ECDH on the mapped generator: the x-coordinate of own_secret * their_public."""
    point = their_public * own_secret
    if point == INFINITY:
        raise PaceError("key agreement gave the point at infinity")
    return int(point.x()).to_bytes(field_size(curve), "big")


def public_key_object(oid_bytes: bytes, point: bytes) -> bytes:
    """The ECDH public-key data object the tokens are computed over: 7F49 { 06 OID, 86 point }."""
    return tlv.encode(0x7F49, tlv.encode(0x06, oid_bytes) + tlv.encode(0x86, point))


def password_key(suite: PaceSuite, password: PacePassword) -> bytes:
    """K_pi = KDF_pi(pi), counter 3."""
    return suite.kdf(password.secret, ic.PASSWORD_COUNTER)


def dynamic_data(answer: ResponseAPDU, tag: int) -> bytes:
    """The value of `tag` inside the 7C dynamic-authentication-data template of a GENERAL AUTHENTICATE answer."""
    try:
        outer = tlv.parse(answer.data)
        if outer.tag != 0x7C:
            raise PaceError("GENERAL AUTHENTICATE answer is not a 7C template")
        return outer.require(tag).value
    except tlv.TLVError as exc:
        raise PaceError(f"GENERAL AUTHENTICATE answer malformed: {exc}") from None


def _retries(sw: int) -> int | None:
    return sw & 0x0F if sw & 0xFFF0 == 0x63C0 else None


class PaceAccess:
    """Terminal side of PACE. Runs in the master file, before the eMRTD application is selected; one attempt per call,
    like BAC: a refusal is final for this card presentation (chips count wrong passwords)."""

    name = "PACE"
    before_application = True

    def __init__(
        self, info: PaceInfo, *, send_parameter_id: bool = False, random: Callable[[int], bytes] = os.urandom
    ) -> None:
        if not supported(info):
            raise CardError(f"PACE {info.protocol} with domain parameters {info.parameter_id} is not supported")
        assert info.parameter_id is not None  # supported() checked it
        self.info = info
        self.suite = SUITES[info.protocol]
        self.curve = CURVES[info.parameter_id]
        # Tag 84 is needed when the chip offers several parameter sets (ICAO 9303-11 4.4.4.1).
        self.send_parameter_id = send_parameter_id
        self._random = random

    def establish(self, channel: PlainChannel, source: AccessSource) -> SecureChannel:
        try:
            return self._establish(channel, pace_password(source))
        except PaceError as exc:
            raise SecureMessagingError(f"PACE failed: {exc}") from None

    def _general_authenticate(self, channel: PlainChannel, tag: int | None, value: bytes, last: bool) -> ResponseAPDU:
        inner = tlv.encode(tag, value) if tag is not None else b""
        command = CommandAPDU(0x00 if last else 0x10, 0x86, 0x00, 0x00, tlv.encode(0x7C, inner), le=256)
        return channel.transmit(command)

    def _establish(self, channel: PlainChannel, password: PacePassword) -> SecureChannel:
        suite, curve = self.suite, self.curve
        mse = tlv.encode(0x80, suite.oid_bytes) + tlv.encode(0x83, bytes([password.ref]))
        if self.send_parameter_id:
            mse += tlv.encode(0x84, bytes([self.info.parameter_id or 0]))
        answer = channel.transmit(CommandAPDU(0x00, 0x22, 0xC1, 0xA4, mse))
        if answer.sw in (0x63C0, 0x6283, 0x6983):
            raise AccessDenied(f"PACE refused: the chip has blocked this password ({answer.sw:04X})")
        if answer.sw & 0xFFF0 != 0x63C0 and not answer.ok:  # 63Cx: a warning with the retries left, PACE goes on
            raise CardError(f"MSE:Set AT for PACE refused ({answer.sw:04X})")

        first = self._general_authenticate(channel, None, b"", last=False)
        if not first.ok:
            raise CardError(f"PACE: encrypted nonce refused ({first.sw:04X})")
        s = suite.decrypt_nonce(password_key(suite, password), dynamic_data(first, 0x80))

        map_secret = random_scalar(curve, self._random)
        map_public = encode_point(curve, curve.generator * map_secret)
        second = self._general_authenticate(channel, 0x81, map_public, last=False)
        if not second.ok:
            raise CardError(f"PACE: mapping refused ({second.sw:04X})")
        chip_map_public = decode_point(curve, dynamic_data(second, 0x82))
        generator = map_generator(curve, s, map_secret, chip_map_public)

        secret = random_scalar(curve, self._random)
        public = encode_point(curve, generator * secret)
        third = self._general_authenticate(channel, 0x83, public, last=False)
        if not third.ok:
            raise CardError(f"PACE: key agreement refused ({third.sw:04X})")
        chip_public_bytes = dynamic_data(third, 0x84)
        if chip_public_bytes == public:
            raise PaceError("the chip echoed our public key")
        chip_public = decode_point(curve, chip_public_bytes)
        k = shared_secret(curve, secret, chip_public)
        ks_enc, ks_mac = suite.kdf(k, ic.ENC_COUNTER), suite.kdf(k, ic.MAC_COUNTER)

        fourth = self._general_authenticate(channel, 0x85, suite.token(ks_mac, chip_public_bytes), last=True)
        if not fourth.ok:
            # The chip checks our token first: a wrong password shows here (6300, or 63Cx with the retries left).
            retries = _retries(fourth.sw)
            left = f"; {retries} tries left" if retries is not None else ""
            raise AccessDenied(
                f"PACE refused by the chip ({fourth.sw:04X}): the {password.ref.name} does not match{left}",
                visitor_message=_REFUSED[password.ref],
            )
        if not ic.mac_equal(dynamic_data(fourth, 0x86), suite.token(ks_mac, public)):
            raise SecureMessagingError("PACE: the chip's authentication token is wrong")
        return SecureChannel(channel, suite.secure_messaging(ks_enc, ks_mac))


_REFUSED = {
    PasswordRef.CAN: "The card did not accept the card access number. Please check the six digits printed on the "
    "front of the card, then try again.",
    PasswordRef.MRZ: AccessDenied.visitor_message,
}
