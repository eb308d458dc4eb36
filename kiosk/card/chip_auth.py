"""Clone detection (ICAO 9303-11 6.1, 6.2): Chip Authentication with the chip's static key from DG14 (ECDH, then secure
messaging restarted with the new keys), or, without it, Active Authentication with the DG15 key (INTERNAL AUTHENTICATE).

Passive authentication proves the data groups were signed by the issuer; only these prove the chip holding them is the
one the issuer made (its private key cannot be copied). The kiosk treats "hashes fine, chip authentication invalid" as
a clone.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from asn1crypto import core
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from kiosk.card import tlv
from kiosk.card.access import ReopeningChannel
from kiosk.card.apdu import CommandAPDU
from kiosk.card.card_access import SecurityInfos
from kiosk.card.datagroups import DG_FILES
from kiosk.card.errors import CardError, SecureMessagingError
from kiosk.card.pace import PaceSuite

ID_PK_ECDH = "0.4.0.127.0.7.2.2.1.2"
ID_CA_ECDH = "0.4.0.127.0.7.2.2.3.2"
ID_AA = "2.23.136.1.1.5"
DG14_TAG, DG15_TAG = 0x6E, 0x6F

CA_SUITES = {
    suite.oid: suite
    for suite in (
        PaceSuite(ID_CA_ECDH + ".1", "3DES", 16),
        PaceSuite(ID_CA_ECDH + ".2", "AES", 16),
        PaceSuite(ID_CA_ECDH + ".3", "AES", 24),
        PaceSuite(ID_CA_ECDH + ".4", "AES", 32),
    )
}
_AA_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "1.2.840.10045.4.1": hashes.SHA1,
    "1.2.840.10045.4.3.1": hashes.SHA224,
    "1.2.840.10045.4.3.2": hashes.SHA256,
    "1.2.840.10045.4.3.3": hashes.SHA384,
    "1.2.840.10045.4.3.4": hashes.SHA512,
}


class ChipAuthStatus(StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    ABSENT = "absent"


@dataclass(frozen=True)
class ChipAuthResult:
    status: ChipAuthStatus
    reason: str | None = None
    method: str | None = None  # "chip_authentication" or "active_authentication"


ABSENT = ChipAuthResult(ChipAuthStatus.ABSENT, "neither DG14 (Chip Authentication) nor DG15 (Active Authentication)")


@dataclass(frozen=True)
class ChipAuthenticationInfo:
    protocol: str
    key_id: int | None
    public_key: ec.EllipticCurvePublicKey


@dataclass(frozen=True)
class Dg14:
    chip_authentication: list[ChipAuthenticationInfo]
    aa_signature_algorithm: str | None  # from ActiveAuthenticationInfo, for ECDSA Active Authentication


class ChipAuthDataError(ValueError):
    """DG14 or DG15 is malformed."""


def _unwrap(content: bytes, tag: int, name: str) -> bytes:
    try:
        element = tlv.parse(content)
    except tlv.TLVError as exc:
        raise ChipAuthDataError(f"{name} malformed: {exc}") from None
    if element.tag != tag:
        raise ChipAuthDataError(f"{name} starts with tag {element.tag:X}")
    return element.value


def parse_dg14(content: bytes) -> Dg14:
    """ChipAuthenticationInfo and ChipAuthenticationPublicKeyInfo pairs (matched by key ID) and ActiveAuthenticationInfo."""
    body = _unwrap(content, DG14_TAG, "DG14")
    try:
        protocols: dict[int | None, str] = {}
        keys: dict[int | None, ec.EllipticCurvePublicKey] = {}
        aa_algorithm = None
        for info in SecurityInfos.load(body, strict=True):
            oid = info["protocol"].dotted
            optional = info["optional_data"]
            if oid in CA_SUITES:
                key_id = int(optional.parse(core.Integer).native) if not isinstance(optional, core.Void) else None
                protocols[key_id] = oid
            elif oid == ID_PK_ECDH:
                key_id = int(optional.parse(core.Integer).native) if not isinstance(optional, core.Void) else None
                public = serialization.load_der_public_key(info["required_data"].dump())
                if isinstance(public, ec.EllipticCurvePublicKey):
                    keys[key_id] = public
            elif oid == ID_AA and not isinstance(optional, core.Void):
                aa_algorithm = optional.parse(core.ObjectIdentifier).dotted
    except Exception as exc:  # asn1crypto parses lazily, cryptography rejects bad keys: all mean malformed
        raise ChipAuthDataError(f"DG14 malformed: {type(exc).__name__}") from None
    pairs = [ChipAuthenticationInfo(oid, key_id, keys[key_id]) for key_id, oid in protocols.items() if key_id in keys]
    if len(keys) == 1 and not pairs and len(protocols) == 1:  # key ID given on one side only: still one pair
        pairs = [ChipAuthenticationInfo(next(iter(protocols.values())), None, next(iter(keys.values())))]
    return Dg14(pairs, aa_algorithm)


def build_dg14(
    chip_key: ec.EllipticCurvePublicKey | None, aa_ecdsa: bool = False, protocol: str = ID_CA_ECDH + ".2"
) -> bytes:
    """DG14 for the virtual chip: Chip Authentication (AES-128 by default) with this key, and, for an ECDSA Active
    Authentication key in DG15, the ActiveAuthenticationInfo naming ecdsa-with-SHA256."""
    items: list[dict[str, object]] = []
    if chip_key is not None:
        spki = chip_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        items.append({"protocol": protocol, "required_data": core.Integer(1)})
        items.append({"protocol": ID_PK_ECDH, "required_data": core.Any.load(spki)})
    if aa_ecdsa:
        items.append(
            {
                "protocol": ID_AA,
                "required_data": core.Integer(1),
                "optional_data": core.ObjectIdentifier("1.2.840.10045.4.3.2"),
            }
        )
    return tlv.encode(DG14_TAG, bytes(SecurityInfos(items).dump()))


def build_dg15(aa_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey) -> bytes:
    spki = aa_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return tlv.encode(DG15_TAG, spki)


def chip_authentication(channel: ReopeningChannel, dg14: Dg14) -> ChipAuthResult:
    """Run CA with the first protocol we know; the chip is proven when the next command works under the new keys."""
    method = "chip_authentication"
    info = next((i for i in dg14.chip_authentication if i.protocol in CA_SUITES), None)
    if info is None:
        return ChipAuthResult(ChipAuthStatus.INVALID, "DG14 offers no Chip Authentication we run", method)
    suite = CA_SUITES[info.protocol]
    ephemeral = ec.generate_private_key(info.public_key.curve)
    public = ephemeral.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    key_ref = tlv.encode(0x84, bytes([info.key_id])) if info.key_id is not None else b""
    if suite.cipher == "3DES":  # MSE:Set KAT carries the key itself
        answers = [channel.transmit(CommandAPDU(0x00, 0x22, 0x41, 0xA6, tlv.encode(0x91, public) + key_ref))]
    else:  # MSE:Set AT, then GENERAL AUTHENTICATE with the ephemeral key
        answers = [channel.transmit(CommandAPDU(0x00, 0x22, 0x41, 0xA4, tlv.encode(0x80, suite.oid_bytes) + key_ref))]
        if answers[-1].ok:
            data = tlv.encode(0x7C, tlv.encode(0x80, public))
            answers.append(channel.transmit(CommandAPDU(0x00, 0x86, 0x00, 0x00, data, le=256)))
    if not answers[-1].ok:
        return ChipAuthResult(
            ChipAuthStatus.INVALID, f"the chip refused Chip Authentication ({answers[-1].sw:04X})", method
        )
    k = ephemeral.exchange(ec.ECDH(), info.public_key)
    channel.restart(suite.secure_messaging(suite.kdf(k, 1), suite.kdf(k, 2)))
    try:
        probe = channel.transmit(CommandAPDU(0x00, 0xA4, 0x02, 0x0C, DG_FILES[1].to_bytes(2, "big")))
    except SecureMessagingError:
        channel.reopen()  # the rest is read under a fresh PACE/BAC session, so the kiosk can still show the document
        return ChipAuthResult(
            ChipAuthStatus.INVALID, "the chip does not hold the private key of its DG14 public key", method
        )
    if not probe.ok or probe.authenticated is False:
        channel.reopen()
        return ChipAuthResult(
            ChipAuthStatus.INVALID, f"no secure messaging after Chip Authentication ({probe.sw:04X})", method
        )
    return ChipAuthResult(ChipAuthStatus.VALID, None, method)


def active_authentication(
    channel: ReopeningChannel,
    dg15: bytes,
    dg14: Dg14 | None,
    random: Callable[[int], bytes] = os.urandom,
    extended: bool = False,
) -> ChipAuthResult:
    """INTERNAL AUTHENTICATE with a fresh challenge; the answer must verify with the DG15 key (ECDSA here; RSA with
    ISO/IEC 9796-2 message recovery is reported as not supported)."""
    method = "active_authentication"
    try:
        key = serialization.load_der_public_key(_unwrap(dg15, DG15_TAG, "DG15"))
    except (ValueError, ChipAuthDataError) as exc:
        return ChipAuthResult(ChipAuthStatus.INVALID, f"DG15 unusable: {exc}", method)
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        return ChipAuthResult(ChipAuthStatus.INVALID, "DG15 holds neither an EC nor an RSA key", method)
    challenge = random(8)
    # A 2048-bit RSA signature under secure messaging outgrows a short answer: ask with extended Le when the chip can.
    le = 65536 if extended else 256
    answer = channel.transmit(CommandAPDU(0x00, 0x88, 0x00, 0x00, challenge, le=le))
    if not answer.ok:
        return ChipAuthResult(ChipAuthStatus.INVALID, f"INTERNAL AUTHENTICATE refused ({answer.sw:04X})", method)
    if isinstance(key, rsa.RSAPublicKey):
        problem = _iso9796_2_problem(key, answer.data, challenge)
        if problem:
            return ChipAuthResult(ChipAuthStatus.INVALID, problem, method)
        return ChipAuthResult(ChipAuthStatus.VALID, None, method)
    size = (key.curve.key_size + 7) // 8
    if len(answer.data) != 2 * size:
        return ChipAuthResult(ChipAuthStatus.INVALID, "Active Authentication signature has the wrong length", method)
    signature = encode_dss_signature(
        int.from_bytes(answer.data[:size], "big"), int.from_bytes(answer.data[size:], "big")
    )
    algorithm = _AA_HASHES.get(dg14.aa_signature_algorithm or "", hashes.SHA256) if dg14 else hashes.SHA256
    try:
        key.verify(signature, challenge, ec.ECDSA(algorithm()))
    except InvalidSignature:
        return ChipAuthResult(
            ChipAuthStatus.INVALID, "Active Authentication signature does not verify with DG15", method
        )
    return ChipAuthResult(ChipAuthStatus.VALID, None, method)


# ISO/IEC 9796-2 trailers: 0xBC means SHA-1 implicitly; xx CC names the hash (ISO/IEC 10118 identifiers).
_TRAILER_HASHES = {0x33: "sha1", 0x34: "sha256", 0x35: "sha512", 0x36: "sha384", 0x38: "sha224"}


def _iso9796_2_problem(key: rsa.RSAPublicKey, signature: bytes, challenge: bytes) -> str | None:
    """ISO/IEC 9796-2 digital signature scheme 1, partial message recovery (ICAO 9303-11 6.1): the representative is
    6A || M1 || H(M1 || challenge) || trailer. None when the signature holds."""
    numbers = key.public_numbers()
    size = (numbers.n.bit_length() + 7) // 8
    if len(signature) != size or int.from_bytes(signature, "big") >= numbers.n:
        return "Active Authentication signature has the wrong length"
    representative = pow(int.from_bytes(signature, "big"), numbers.e, numbers.n).to_bytes(size, "big")
    if representative[-1] == 0xBC:
        name, trailer = "sha1", 1
    elif representative[-1] == 0xCC and representative[-2] in _TRAILER_HASHES:
        name, trailer = _TRAILER_HASHES[representative[-2]], 2
    else:
        return "Active Authentication signature does not verify with DG15 (no ISO 9796-2 trailer)"
    digest_size = hashlib.new(name).digest_size
    if representative[0] != 0x6A or len(representative) < 1 + digest_size + trailer:
        return "Active Authentication signature does not verify with DG15 (no ISO 9796-2 header)"
    m1 = representative[1 : -(digest_size + trailer)]
    digest = representative[-(digest_size + trailer) : -trailer]
    if not hmac.compare_digest(hashlib.new(name, m1 + challenge).digest(), digest):
        return "Active Authentication signature does not verify with DG15"
    return None


def sign_challenge(
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, challenge: bytes, random: Callable[[int], bytes] = os.urandom
) -> bytes:
    """The chip's Active Authentication answer: for EC, ECDSA-SHA256 as plain r || s; for RSA, ISO/IEC 9796-2 scheme 1
    with SHA-1 and a random recoverable part."""
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    if isinstance(key, rsa.RSAPrivateKey):
        numbers = key.private_numbers()
        n = numbers.public_numbers.n
        size = (n.bit_length() + 7) // 8
        m1 = random(size - 20 - 2)
        representative = b"\x6a" + m1 + hashlib.sha1(m1 + challenge).digest() + b"\xbc"
        return pow(int.from_bytes(representative, "big"), numbers.d, n).to_bytes(size, "big")
    r, s = decode_dss_signature(key.sign(challenge, ec.ECDSA(hashes.SHA256())))
    size = (key.curve.key_size + 7) // 8
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def authenticate_chip(
    channel: ReopeningChannel, dg14: bytes | None, dg15: bytes | None, extended: bool = False
) -> ChipAuthResult:
    """CA when DG14 offers it, else AA when DG15 exists, else absent (`extended`: the chip takes extended length).
    Never raises for what the chip sends."""
    try:
        parsed = parse_dg14(dg14) if dg14 is not None else None
    except ChipAuthDataError as exc:
        return ChipAuthResult(ChipAuthStatus.INVALID, str(exc))
    try:
        if parsed is not None and parsed.chip_authentication:
            return chip_authentication(channel, parsed)
        if dg15 is not None:
            return active_authentication(channel, dg15, parsed, extended=extended)
    except SecureMessagingError as exc:
        channel.reopen()
        return ChipAuthResult(ChipAuthStatus.INVALID, f"secure messaging failed during chip authentication: {exc}")
    except CardError:
        raise
    return ABSENT
