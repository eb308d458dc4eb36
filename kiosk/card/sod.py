"""EF.SOD: the CMS SignedData that carries the LDS Security Object (data-group hashes); parse it and build it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from kiosk.card import der, tlv

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


class SodError(ValueError):
    """EF.SOD is not the CMS structure ICAO 9303-10 describes."""


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
    signature_params: tlv.TLV | None
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


def _signer(element: tlv.TLV) -> SignerInfo:
    parts = der.children(element, der.SEQUENCE)
    if len(parts) < 5:
        raise SodError("SignerInfo too short")
    version = der.decode_int(parts[0])
    issuer = serial = ski = None
    if parts[1].tag == der.SEQUENCE:  # issuerAndSerialNumber
        sid = parts[1].children()
        if len(sid) != 2:
            raise SodError("issuerAndSerialNumber malformed")
        issuer, serial = sid[0].raw, der.decode_int(sid[1])
    elif parts[1].tag == 0x80:  # [0] subjectKeyIdentifier
        ski = parts[1].value
    else:
        raise SodError(f"SignerInfo version {version}: unknown signer identifier")
    digest = _hash_name(der.read_algorithm(parts[2])[0])
    rest = parts[3:]
    signed_attrs = message_digest = content_type = None
    if rest and rest[0].tag == 0xA0:
        # What is signed is the attributes' DER with the universal SET tag, not the [0] IMPLICIT tag (RFC 5652 5.4).
        signed_attrs = b"\x31" + rest[0].raw[1:]
        for attribute in rest[0].children():
            attr = der.children(attribute, der.SEQUENCE)
            if len(attr) != 2:
                raise SodError("attribute malformed")
            values = der.children(attr[1], der.SET)
            oid = der.read_oid(attr[0])
            if oid == OID_MESSAGE_DIGEST and values:
                message_digest = der.expect(values[0], der.OCTET_STRING).value
            elif oid == OID_CONTENT_TYPE and values:
                content_type = der.read_oid(values[0])
        rest = rest[1:]
    if len(rest) < 2:
        raise SodError("SignerInfo lacks signature")
    sig_oid, sig_params = der.read_algorithm(rest[0])
    signature = der.expect(rest[1], der.OCTET_STRING).value
    return SignerInfo(issuer, serial, ski, digest, signed_attrs, message_digest, content_type, sig_oid, sig_params,
                      signature)


def parse_sod(ef_sod: bytes) -> Sod:
    """Parse EF.SOD (tag 77 around a ContentInfo). Raises SodError on anything unexpected, never anything else."""
    try:
        return _parse(ef_sod)
    except SodError:
        raise
    except (ValueError, IndexError) as exc:  # TLVError, DerError, short sequences unpacked
        raise SodError(f"EF.SOD malformed: {exc}") from None


def _parse(ef_sod: bytes) -> Sod:
    outer = tlv.parse(ef_sod)
    if outer.tag != SOD_TAG:
        raise SodError(f"EF.SOD tag {outer.tag:X}, expected 77")
    content_info = der.children(tlv.parse(outer.value), der.SEQUENCE)
    if len(content_info) != 2 or der.read_oid(content_info[0]) != OID_SIGNED_DATA:
        raise SodError("EF.SOD is not CMS SignedData")
    explicit = der.expect(content_info[1], 0xA0).children()
    if len(explicit) != 1:
        raise SodError("SignedData wrapper malformed")
    signed = der.children(explicit[0], der.SEQUENCE)
    if len(signed) < 4:
        raise SodError("SignedData too short")
    encap = der.children(signed[2], der.SEQUENCE)
    econtent_type = der.read_oid(encap[0])
    if len(encap) != 2:
        raise SodError("no encapsulated LDS Security Object")
    econtent = der.expect(der.expect(encap[1], 0xA0).children()[0], der.OCTET_STRING).value
    certificates: list[bytes] = []
    signer_infos = None
    for element in signed[3:]:
        if element.tag == 0xA0:
            certificates = [c.raw for c in element.children()]
        elif element.tag == der.SET:
            signer_infos = element.children()
    if not signer_infos:
        raise SodError("SignedData has no SignerInfo")
    # LDSSecurityObject ::= SEQUENCE { version, hashAlgorithm, dataGroupHashValues SEQUENCE OF DataGroupHash, ...}
    lso = der.children(tlv.parse(econtent), der.SEQUENCE)
    if len(lso) < 3:
        raise SodError("LDS Security Object too short")
    hash_algorithm = _hash_name(der.read_algorithm(lso[1])[0])
    hashes: dict[int, bytes] = {}
    for entry in der.children(lso[2], der.SEQUENCE):
        number, value = der.children(entry, der.SEQUENCE)[:2]
        dg = der.decode_int(number)
        if not 1 <= dg <= 16 or dg in hashes:
            raise SodError(f"data-group number {dg} invalid or repeated")
        hashes[dg] = der.expect(value, der.OCTET_STRING).value
    return Sod(hash_algorithm, hashes, econtent, econtent_type, certificates, _signer(signer_infos[0]))


def lds_security_object(dg_contents: dict[int, bytes], hash_name: str = "sha256") -> bytes:
    """DER LDSSecurityObject (version 0) hashing each data group's full file content."""
    entries = [
        der.seq(der.encode_int(number), der.octets(hashlib.new(hash_name, content).digest()))
        for number, content in sorted(dg_contents.items())
    ]
    return der.seq(der.encode_int(0), der.algorithm(HASH_OIDS[hash_name]), der.seq(*entries))


def build_sod(dg_contents: dict[int, bytes], ds_key, ds_cert, hash_name: str = "sha256") -> bytes:
    """A genuine EF.SOD: CMS SignedData over the LDS Security Object, signed by the Document Signer (EC or RSA key)."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    econtent = lds_security_object(dg_contents, hash_name)
    digest_alg = der.algorithm(HASH_OIDS[hash_name])
    signed_attrs = [
        der.seq(der.encode_oid(OID_CONTENT_TYPE), der.set_of(der.encode_oid(OID_LDS_SECURITY_OBJECT))),
        der.seq(der.encode_oid(OID_MESSAGE_DIGEST), der.set_of(der.octets(hashlib.new(hash_name, econtent).digest()))),
    ]
    to_sign = der.set_of(*signed_attrs)
    hash_cls = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}[hash_name]
    if isinstance(ds_key, ec.EllipticCurvePrivateKey):
        signature = ds_key.sign(to_sign, ec.ECDSA(hash_cls()))
        sig_alg = der.algorithm({"sha256": "1.2.840.10045.4.3.2", "sha384": "1.2.840.10045.4.3.3",
                                 "sha512": "1.2.840.10045.4.3.4"}[hash_name])
    elif isinstance(ds_key, rsa.RSAPrivateKey):
        signature = ds_key.sign(to_sign, padding.PKCS1v15(), hash_cls())
        sig_alg = der.algorithm({"sha256": "1.2.840.113549.1.1.11", "sha384": "1.2.840.113549.1.1.12",
                                 "sha512": "1.2.840.113549.1.1.13"}[hash_name], null_params=True)
    else:
        raise TypeError("Document Signer key must be EC or RSA")
    cert_der = ds_cert.public_bytes(serialization.Encoding.DER)
    issuer_der = ds_cert.issuer.public_bytes()
    signer_info = der.seq(
        der.encode_int(1),
        der.seq(issuer_der, der.encode_int(ds_cert.serial_number)),
        digest_alg,
        tlv.encode(0xA0, tlv.parse(to_sign).value),  # [0] IMPLICIT: same content, context tag
        sig_alg,
        der.octets(signature),
    )
    signed_data = der.seq(
        der.encode_int(3),
        der.set_of(digest_alg),
        der.seq(der.encode_oid(OID_LDS_SECURITY_OBJECT), der.explicit(0, der.octets(econtent))),
        tlv.encode(0xA0, cert_der),
        der.set_of(signer_info),
    )
    return tlv.encode(SOD_TAG, der.seq(der.encode_oid(OID_SIGNED_DATA), der.explicit(0, signed_data)))
