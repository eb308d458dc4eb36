"""EF.SOD: the CMS SignedData that carries the LDS Security Object (data-group hashes); parse it and build it.

The CMS and X.509 structures come from asn1crypto; only the LDS Security Object (ICAO 9303-10 4.6.2) is declared
here. `kiosk/card/tlv.py` stays for the LDS files, which are BER-TLV with application tags, not DER ASN.1 modules.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, ClassVar

from asn1crypto import algos, cms, core, x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import Certificate

from kiosk.card import tlv

OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
OID_LDS_SECURITY_OBJECT = "2.23.136.1.1.1"
OID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
SOD_TAG = 0x77

HASHES = {
    "1.3.14.3.2.26": "sha1",
    "2.16.840.1.101.3.4.2.4": "sha224",
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
}
HASH_OIDS = {name: oid for oid, name in HASHES.items()}
_EC_SIGNATURES = {"sha256": "sha256_ecdsa", "sha384": "sha384_ecdsa", "sha512": "sha512_ecdsa"}
_RSA_SIGNATURES = {"sha256": "sha256_rsa", "sha384": "sha384_rsa", "sha512": "sha512_rsa"}
_HASH_CLASSES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


class SodError(ValueError):
    """EF.SOD is not the CMS structure ICAO 9303-10 describes."""


class DataGroupHash(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[tuple[str, type]]] = [
        ("data_group_number", core.Integer),
        ("data_group_hash_value", core.OctetString),
    ]


class DataGroupHashValues(core.SequenceOf):  # type: ignore[misc]
    _child_spec = DataGroupHash


class LdsVersionInfo(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[tuple[str, type]]] = [
        ("lds_version", core.PrintableString),
        ("unicode_version", core.PrintableString),
    ]


class LdsSecurityObject(core.Sequence):  # type: ignore[misc]
    """LDSSecurityObject ::= SEQUENCE { version, hashAlgorithm, dataGroupHashValues, ldsVersionInfo OPTIONAL }"""

    _fields: ClassVar[list[tuple[str, type] | tuple[str, type, dict[str, bool]]]] = [
        ("version", core.Integer),
        ("hash_algorithm", algos.DigestAlgorithm),
        ("data_group_hash_values", DataGroupHashValues),
        ("lds_version_info", LdsVersionInfo, {"optional": True}),
    ]


@dataclass(frozen=True)
class SignerInfo:
    issuer_der: bytes | None
    serial: int | None
    subject_key_id: bytes | None
    digest_algorithm: str  # hashlib name
    signed_attrs_der: bytes | None  # re-tagged as SET, i.e. exactly what was signed
    message_digest: bytes | None
    content_type: str | None
    signature_algorithm: str  # OID
    signature: bytes


@dataclass(frozen=True)
class Sod:
    hash_algorithm: str  # hashlib name for the data-group hashes
    dg_hashes: dict[int, bytes]
    econtent: bytes  # the DER LDSSecurityObject as signed
    econtent_type: str
    certificates: list[bytes]
    signer: SignerInfo


def _hash_name(oid: str) -> str:
    try:
        return HASHES[oid]
    except KeyError:
        raise SodError(f"unknown hash algorithm {oid}") from None


def _attribute(attrs: Any, oid: str) -> Any | None:
    """The single value of a signed attribute, or None when absent; a repeated attribute is refused (RFC 5652 11)."""
    found = [a for a in attrs if a["type"].dotted == oid]
    if not found:
        return None
    if len(found) > 1 or len(found[0]["values"]) != 1:
        raise SodError(f"signed attribute {oid} repeated")
    return found[0]["values"][0]


def _signer(info: Any) -> SignerInfo:
    sid = info["sid"]
    issuer = serial = ski = None
    if sid.name == "issuer_and_serial_number":
        issuer, serial = sid.chosen["issuer"].dump(), int(sid.chosen["serial_number"].native)
    else:
        ski = bytes(sid.chosen.native)
    digest = _hash_name(info["digest_algorithm"]["algorithm"].dotted)
    signed_attrs = message_digest = content_type = None
    attrs = info["signed_attrs"]
    if attrs.contents is not None and len(attrs):
        # What is signed is the attributes' DER with the universal SET tag, not the [0] IMPLICIT tag (RFC 5652 5.4);
        # dump() gives back the bytes as read, so a chip's own encoding is what gets verified.
        signed_attrs = b"\x31" + attrs.dump()[1:]
        digest_value = _attribute(attrs, OID_MESSAGE_DIGEST)
        message_digest = bytes(digest_value.native) if digest_value is not None else None
        type_value = _attribute(attrs, OID_CONTENT_TYPE)
        content_type = type_value.dotted if type_value is not None else None
    return SignerInfo(
        issuer,
        serial,
        ski,
        digest,
        signed_attrs,
        message_digest,
        content_type,
        info["signature_algorithm"]["algorithm"].dotted,
        bytes(info["signature"].native),
    )


def parse_sod(ef_sod: bytes) -> Sod:
    """Parse EF.SOD (tag 77 around a ContentInfo). Raises SodError on anything unexpected, never anything else."""
    try:
        return _parse(ef_sod)
    except SodError:
        raise
    except Exception as exc:  # asn1crypto parses lazily: ValueError, TypeError, KeyError... all mean malformed
        raise SodError(f"EF.SOD malformed: {type(exc).__name__}: {exc}") from None


@dataclass(frozen=True)
class SignedContent:
    """A CMS SignedData with one signer, as ICAO uses it (EF.SOD, CSCA master lists)."""

    econtent: bytes  # the encapsulated content, exactly as signed
    econtent_type: str
    certificates: list[bytes]
    signer: SignerInfo


def parse_signed_data(content_info_der: bytes, what: str) -> SignedContent:
    """ContentInfo -> SignedData -> the encapsulated content, the certificates and the first SignerInfo."""
    content_info = cms.ContentInfo.load(content_info_der, strict=True)
    if content_info["content_type"].dotted != OID_SIGNED_DATA:
        raise SodError(f"{what} is not CMS SignedData")
    signed = content_info["content"]
    encap = signed["encap_content_info"]
    econtent_type = encap["content_type"].dotted
    if isinstance(encap["content"], core.Void) or encap["content"].contents is None:
        raise SodError(f"{what} encapsulates no content")
    econtent = bytes(encap["content"].contents)
    certificates = (
        []
        if isinstance(signed["certificates"], core.Void)
        else [c.chosen.dump() for c in signed["certificates"] if c.name == "certificate"]
    )
    signer_infos = signed["signer_infos"]
    if not len(signer_infos):
        raise SodError("SignedData has no SignerInfo")
    return SignedContent(econtent, econtent_type, certificates, _signer(signer_infos[0]))


def _parse(ef_sod: bytes) -> Sod:
    outer = tlv.parse(ef_sod)
    if outer.tag != SOD_TAG:
        raise SodError(f"EF.SOD tag {outer.tag:X}, expected 77")
    signed = parse_signed_data(outer.value, "EF.SOD")
    lso = LdsSecurityObject.load(signed.econtent, strict=True)
    hash_algorithm = _hash_name(lso["hash_algorithm"]["algorithm"].dotted)
    dg_hashes: dict[int, bytes] = {}
    for entry in lso["data_group_hash_values"]:
        number = int(entry["data_group_number"].native)
        if not 1 <= number <= 16 or number in dg_hashes:
            raise SodError(f"data-group number {number} invalid or repeated")
        dg_hashes[number] = bytes(entry["data_group_hash_value"].native)
    return Sod(hash_algorithm, dg_hashes, signed.econtent, signed.econtent_type, signed.certificates, signed.signer)


def lds_security_object(dg_contents: dict[int, bytes], hash_name: str = "sha256") -> bytes:
    """DER LDSSecurityObject (version 0) hashing each data group's full file content."""
    lso = LdsSecurityObject(
        {
            "version": 0,
            "hash_algorithm": {"algorithm": HASH_OIDS[hash_name]},
            "data_group_hash_values": [
                {"data_group_number": number, "data_group_hash_value": hashlib.new(hash_name, content).digest()}
                for number, content in sorted(dg_contents.items())
            ],
        }
    )
    return bytes(lso.dump())


def build_sod(
    dg_contents: dict[int, bytes],
    ds_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
    ds_cert: Certificate,
    hash_name: str = "sha256",
) -> bytes:
    """A genuine EF.SOD: CMS SignedData over the LDS Security Object, signed by the Document Signer (EC or RSA key)."""
    econtent = lds_security_object(dg_contents, hash_name)
    signed_attrs = cms.CMSAttributes(
        [
            {"type": "content_type", "values": [OID_LDS_SECURITY_OBJECT]},
            {"type": "message_digest", "values": [hashlib.new(hash_name, econtent).digest()]},
        ]
    )
    to_sign = signed_attrs.dump()  # DER SET OF, as RFC 5652 5.4 signs it
    hash_algorithm = _HASH_CLASSES[hash_name]()
    if isinstance(ds_key, ec.EllipticCurvePrivateKey):
        signature = ds_key.sign(to_sign, ec.ECDSA(hash_algorithm))
        signature_algorithm = _EC_SIGNATURES[hash_name]
    elif isinstance(ds_key, rsa.RSAPrivateKey):
        signature = ds_key.sign(to_sign, padding.PKCS1v15(), hash_algorithm)
        signature_algorithm = _RSA_SIGNATURES[hash_name]
    else:
        raise TypeError("Document Signer key must be EC or RSA")
    certificate = x509.Certificate.load(ds_cert.public_bytes(serialization.Encoding.DER))
    digest_algorithm = {"algorithm": HASH_OIDS[hash_name]}
    signer_info = {
        "version": "v1",
        "sid": cms.SignerIdentifier(
            {"issuer_and_serial_number": {"issuer": certificate.issuer, "serial_number": certificate.serial_number}}
        ),
        "digest_algorithm": digest_algorithm,
        "signed_attrs": signed_attrs,
        "signature_algorithm": {"algorithm": signature_algorithm},
        "signature": signature,
    }
    signed_data = cms.SignedData(
        {
            "version": "v3",
            "digest_algorithms": [digest_algorithm],
            "encap_content_info": {
                "content_type": OID_LDS_SECURITY_OBJECT,
                "content": core.ParsableOctetString(econtent),
            },
            "certificates": [certificate],
            "signer_infos": [signer_info],
        }
    )
    content_info = cms.ContentInfo({"content_type": "signed_data", "content": signed_data})
    return tlv.encode(SOD_TAG, bytes(content_info.dump()))
