"""Passive authentication (ICAO 9303-11 5.1): data-group hashes, the SOD signature, the DS certificate's CSCA chain."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from kiosk.card.sod import SignedContent, Sod, SodError, parse_sod
from kiosk.card.trust_store import CrlFreshness, StaleCrlPolicy, TrustStore

VALID, INVALID, NO_TRUST_ANCHOR, ABSENT = "valid", "invalid", "no_trust_anchor", "absent"

_SIGNATURES = {
    "1.2.840.10045.4.1": ("ecdsa", "sha1"),
    "1.2.840.10045.4.3.1": ("ecdsa", "sha224"),
    "1.2.840.10045.4.3.2": ("ecdsa", "sha256"),
    "1.2.840.10045.4.3.3": ("ecdsa", "sha384"),
    "1.2.840.10045.4.3.4": ("ecdsa", "sha512"),
    "1.2.840.10045.2.1": ("ecdsa", None),
    "1.2.840.113549.1.1.1": ("rsa", None),
    "1.2.840.113549.1.1.5": ("rsa", "sha1"),
    "1.2.840.113549.1.1.14": ("rsa", "sha224"),
    "1.2.840.113549.1.1.11": ("rsa", "sha256"),
    "1.2.840.113549.1.1.12": ("rsa", "sha384"),
    "1.2.840.113549.1.1.13": ("rsa", "sha512"),
    "1.2.840.113549.1.1.10": ("rsa-pss", None),
}


@dataclass(frozen=True)
class PassiveAuthResult:
    status: str  # valid | invalid | no_trust_anchor | absent
    reason: str | None = None  # why not valid; for a valid result with a stale CRL (policy "flag"), that warning
    crl: CrlFreshness | None = None  # the CSCA's CRL when the chain was checked up to a trusted CSCA, else None

    def as_dict(self) -> dict[str, str | None]:
        return {"status": self.status, "reason": self.reason, "crl": self.crl.value if self.crl else None}


_HASH_CLASSES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


def _hash_object(name: str) -> hashes.HashAlgorithm:
    return _HASH_CLASSES[name]()


def verify_cms_signature(sod: Sod | SignedContent, certificate: x509.Certificate, what: str = "SOD") -> str | None:
    """None when the signer's signature (and signed attributes) verify with this certificate, else the reason."""

    signer = sod.signer
    if signer.signed_attrs_der is not None:
        if signer.message_digest is None:
            return f"{what} signed attributes lack the message digest"
        if not hmac.compare_digest(hashlib.new(signer.digest_algorithm, sod.econtent).digest(), signer.message_digest):
            return f"{what} message digest does not match the signed content"
        if signer.content_type not in (None, sod.econtent_type):
            return f"{what} content-type attribute does not match"
        signed = signer.signed_attrs_der
    else:
        signed = sod.econtent
    kind, hash_name = _SIGNATURES.get(signer.signature_algorithm, (None, None))
    if kind is None:
        return f"{what} signature algorithm {signer.signature_algorithm} not supported"
    try:
        key = certificate.public_key()
        if kind == "ecdsa" and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signer.signature, signed, ec.ECDSA(_hash_object(hash_name or signer.digest_algorithm)))
        elif kind == "rsa" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signer.signature, signed, padding.PKCS1v15(), _hash_object(hash_name or signer.digest_algorithm))
        elif kind == "rsa-pss" and isinstance(key, rsa.RSAPublicKey):
            algorithm = _hash_object(signer.digest_algorithm)
            key.verify(signer.signature, signed, padding.PSS(padding.MGF1(algorithm), padding.PSS.AUTO), algorithm)
        else:
            return f"{what} signature algorithm does not fit the signer's key"
    except InvalidSignature:
        return (
            f"{what} signature does not verify with the "
            + ("Document Signer" if what == "SOD" else "signer's")
            + " certificate"
        )
    except (UnsupportedAlgorithm, ValueError, TypeError) as exc:
        return f"{what} signature cannot be checked: {exc}"
    return None


def _signer_certificate(sod: Sod) -> x509.Certificate | None:
    certificates = []
    for raw in sod.certificates:
        try:
            certificates.append(x509.load_der_x509_certificate(raw))
        except ValueError:
            continue
    signer = sod.signer
    for cert in certificates:
        if (
            signer.serial is not None
            and cert.serial_number == signer.serial
            and (signer.issuer_der is None or cert.issuer.public_bytes() == signer.issuer_der)
        ):
            return cert
        if signer.subject_key_id is not None:
            try:
                ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
            except x509.ExtensionNotFound:
                continue
            if ski == signer.subject_key_id:
                return cert
    return None


def passive_authentication(
    ef_sod: bytes | None, data_groups: dict[int, bytes], trust_store: TrustStore | None, now: dt.datetime | None = None
) -> PassiveAuthResult:
    """Check, in order: EF.SOD present and well-formed, every data group read matches its hash, the SOD signature
    verifies with the DS certificate, that certificate is within its validity dates (`now`, UTC, defaults to the
    clock) and was issued by a trusted CSCA. The first failure is the reason. Active/Chip Authentication (clone
    detection) would be a further, separate step after this one."""
    if ef_sod is None:
        return PassiveAuthResult(ABSENT, "no EF.SOD on the chip")
    try:
        sod = parse_sod(ef_sod)
    except SodError as exc:
        return PassiveAuthResult(INVALID, str(exc))
    for number, content in sorted(data_groups.items()):
        expected = sod.dg_hashes.get(number)
        if expected is None:
            return PassiveAuthResult(INVALID, f"DG{number} has no hash in EF.SOD")
        if not hmac.compare_digest(hashlib.new(sod.hash_algorithm, content).digest(), expected):
            return PassiveAuthResult(INVALID, f"DG{number} hash mismatch")
    try:
        return _signature_and_chain(sod, trust_store, now or dt.datetime.now(dt.UTC))
    except Exception as exc:  # a hostile certificate must end as "invalid", never crash the agent
        return PassiveAuthResult(INVALID, f"Document Signer certificate unusable: {type(exc).__name__}")


def _validity_problem(certificate: x509.Certificate, now: dt.datetime) -> str | None:
    """The DS certificate is issued to cover the signing period plus the life of every document signed (ICAO 9303-12),
    so a document still in use must find it valid today."""
    if now < certificate.not_valid_before_utc:
        return f"Document Signer certificate not valid before {certificate.not_valid_before_utc:%Y-%m-%d}"
    if now > certificate.not_valid_after_utc:
        return f"Document Signer certificate expired on {certificate.not_valid_after_utc:%Y-%m-%d}"
    return None


def _signature_and_chain(sod: Sod, trust_store: TrustStore | None, now: dt.datetime) -> PassiveAuthResult:
    ds_cert = _signer_certificate(sod)
    if ds_cert is None:
        return PassiveAuthResult(INVALID, "Document Signer certificate missing from EF.SOD")
    problem = verify_cms_signature(sod, ds_cert) or _validity_problem(ds_cert, now)
    if problem:
        return PassiveAuthResult(INVALID, problem)
    anchors = trust_store.anchors_for(ds_cert) if trust_store else []
    if not anchors:
        return PassiveAuthResult(NO_TRUST_ANCHOR, "no trusted CSCA for the Document Signer's issuer")
    assert trust_store is not None  # anchors come from it
    for csca in anchors:
        try:
            ds_cert.verify_directly_issued_by(csca)
        except (ValueError, TypeError, InvalidSignature):  # not this CSCA (e.g. a re-keyed one with the same name)
            continue
        freshness, next_update = trust_store.crl_freshness(csca.subject, now)
        if trust_store.is_revoked(ds_cert):  # revoked stays revoked, however old the list that says so
            return PassiveAuthResult(INVALID, "Document Signer certificate revoked", freshness)
        if freshness == CrlFreshness.STALE:
            since = f"since {next_update:%Y-%m-%d}" if next_update else "(it has no nextUpdate)"
            problem = f"CSCA CRL out of date {since}: the Document Signer's revocation is unknown"
            if trust_store.stale_crl == StaleCrlPolicy.REFUSE:
                return PassiveAuthResult(INVALID, problem, freshness)
            return PassiveAuthResult(VALID, problem, freshness)
        return PassiveAuthResult(VALID, crl=freshness)
    return PassiveAuthResult(INVALID, "Document Signer certificate not signed by the trusted CSCA")
