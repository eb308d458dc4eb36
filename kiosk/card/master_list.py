"""CSCA master lists (ICAO 9303-12 9): CMS SignedData holding CSCA certificates, signed by a Master List Signer whose
certificate a CSCA issued. Read them, check the signer, build them for the test PKI."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any, ClassVar

from asn1crypto import cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kiosk.card.passive_auth import verify_cms_signature
from kiosk.card.sod import HASH_OIDS, SodError, parse_signed_data

OID_CSCA_MASTER_LIST = "2.23.136.1.1.2"


class MasterListError(ValueError):
    """Not a master list, or its signature or signer cannot be trusted."""


class CscaMasterList(core.Sequence):  # type: ignore[misc]
    """CscaMasterList ::= SEQUENCE { version INTEGER, certList SET OF Certificate }"""

    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("version", core.Integer),
        ("cert_list", core.SetOf, {"spec": asn1_x509.Certificate}),
    ]


def _signer_certificate(
    certificates: list[x509.Certificate], issuer: bytes | None, serial: int | None, ski: bytes | None
) -> x509.Certificate | None:
    for cert in certificates:
        if (
            serial is not None
            and cert.serial_number == serial
            and (issuer is None or cert.issuer.public_bytes() == issuer)
        ):
            return cert
        if ski is not None:
            try:
                if cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest == ski:
                    return cert
            except x509.ExtensionNotFound:
                continue
    return None


def read_master_list(
    data: bytes, now: dt.datetime | None = None, trusted: list[x509.Certificate] | None = None
) -> list[x509.Certificate]:
    """The CSCA certificates of a master list whose signature verifies with its Master List Signer, whose signer is
    within its validity dates and was issued by a CSCA in the list itself or already trusted. Raises MasterListError."""
    now = now or dt.datetime.now(dt.UTC)
    try:
        signed = parse_signed_data(data, "master list")
        if signed.econtent_type != OID_CSCA_MASTER_LIST:
            raise MasterListError("not a CSCA master list (wrong content type)")
        content = CscaMasterList.load(signed.econtent, strict=True)
        cscas = [x509.load_der_x509_certificate(c.dump()) for c in content["cert_list"]]
        carried = [x509.load_der_x509_certificate(raw) for raw in signed.certificates]
    except MasterListError:
        raise
    except (SodError, ValueError, TypeError, KeyError) as exc:
        raise MasterListError(f"master list malformed: {exc}") from None
    signer = signed.signer
    signer_cert = _signer_certificate(carried, signer.issuer_der, signer.serial, signer.subject_key_id)
    if signer_cert is None:
        raise MasterListError("master list signer certificate missing")
    problem = verify_cms_signature(signed, signer_cert, "master list")
    if problem:
        raise MasterListError(problem)
    if not signer_cert.not_valid_before_utc <= now <= signer_cert.not_valid_after_utc:
        raise MasterListError(
            f"master list signer certificate expired on {signer_cert.not_valid_after_utc:%Y-%m-%d}"
            if now > signer_cert.not_valid_after_utc
            else "master list signer not yet valid"
        )
    for issuer in [c for c in cscas + (trusted or []) if c.subject == signer_cert.issuer]:
        try:
            signer_cert.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return cscas
    raise MasterListError("master list signer not issued by a CSCA in the list or already trusted")


def build_master_list(
    cscas: list[x509.Certificate],
    signer_key: ec.EllipticCurvePrivateKey,
    signer_cert: x509.Certificate,
    hash_name: str = "sha256",
) -> bytes:
    """A master list for the test PKI (DER ContentInfo), signed by a Master List Signer."""
    der = serialization.Encoding.DER
    content = CscaMasterList(
        {
            "version": 0,
            "cert_list": [asn1_x509.Certificate.load(c.public_bytes(der)) for c in cscas],
        }
    )
    econtent = bytes(content.dump())
    signed_attrs = cms.CMSAttributes(
        [
            {"type": "content_type", "values": [OID_CSCA_MASTER_LIST]},
            {"type": "message_digest", "values": [hashlib.new(hash_name, econtent).digest()]},
        ]
    )
    signature = signer_key.sign(signed_attrs.dump(), ec.ECDSA(hashes.SHA256()))
    certificate = asn1_x509.Certificate.load(signer_cert.public_bytes(der))
    signed_data = cms.SignedData(
        {
            "version": "v3",
            "digest_algorithms": [{"algorithm": HASH_OIDS[hash_name]}],
            "encap_content_info": {"content_type": OID_CSCA_MASTER_LIST, "content": core.ParsableOctetString(econtent)},
            "certificates": [certificate],
            "signer_infos": [
                {
                    "version": "v1",
                    "sid": cms.SignerIdentifier(
                        {
                            "issuer_and_serial_number": {
                                "issuer": certificate.issuer,
                                "serial_number": certificate.serial_number,
                            }
                        }
                    ),
                    "digest_algorithm": {"algorithm": HASH_OIDS[hash_name]},
                    "signed_attrs": signed_attrs,
                    "signature_algorithm": {"algorithm": "sha256_ecdsa"},
                    "signature": signature,
                }
            ],
        }
    )
    return bytes(cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump())
