"""The CSCA trust store for passive authentication: CSCA certificates (loose files or CSCA master lists, whose signer is
checked) and CRLs (checked against the CSCA that issued them), from a file or a folder; lookups by issuer."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

CERT_SUFFIXES = {".pem", ".crt", ".cer", ".der"}
CRL_SUFFIXES = {".crl"}
MASTER_LIST_SUFFIXES = {".ml"}


class StaleCrlPolicy(StrEnum):
    """What passive authentication does when the newest CRL of the Document Signer's CSCA is past its nextUpdate: the
    revocation status is then unknown. `refuse` (the default) makes the result invalid; `flag` keeps it valid and says
    so in the result."""

    REFUSE = "refuse"
    FLAG = "flag"


class CrlFreshness(StrEnum):
    """The state of the CSCA's revocation list at the time of a read."""

    FRESH = "fresh"  # the newest CRL of the issuer is within its thisUpdate..nextUpdate
    STALE = "stale"  # past its nextUpdate (or without one): a newer CRL should exist
    MISSING = "missing"  # the trust store holds no CRL of this CSCA


class TrustStoreError(ValueError):
    """The trust store path holds no readable certificate, or a master list or CRL that cannot be trusted."""


def _load_certificates(data: bytes) -> list[x509.Certificate]:
    if b"-----BEGIN CERTIFICATE-----" in data:
        return x509.load_pem_x509_certificates(data)
    return [x509.load_der_x509_certificate(data)]


def _load_crl(data: bytes) -> x509.CertificateRevocationList:
    if b"-----BEGIN X509 CRL-----" in data:
        return x509.load_pem_x509_crl(data)
    return x509.load_der_x509_crl(data)


def classify(path: Path) -> str:
    """ "certificate", "crl" or "master_list", by suffix, else by content."""
    suffix = path.suffix.lower()
    if suffix in CRL_SUFFIXES:
        return "crl"
    if suffix in MASTER_LIST_SUFFIXES:
        return "master_list"
    if suffix in CERT_SUFFIXES:
        data = path.read_bytes()
        return "crl" if b"-----BEGIN X509 CRL-----" in data else "certificate"
    raise TrustStoreError(f"{path}: unknown kind of trust file (use .pem/.crt/.cer/.der, .crl or .ml)")


def _signed_by(crl: x509.CertificateRevocationList, csca: x509.Certificate) -> bool:
    key = csca.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        return False
    return crl.is_signature_valid(key)


@dataclass
class TrustStore:
    """CSCA certificates and CRLs the station trusts."""

    certificates: list[x509.Certificate] = field(default_factory=list)
    crls: list[x509.CertificateRevocationList] = field(default_factory=list)
    stale_crl: StaleCrlPolicy = StaleCrlPolicy.REFUSE

    @classmethod
    def load(
        cls, path: str | Path, now: dt.datetime | None = None, stale_crl: StaleCrlPolicy = StaleCrlPolicy.REFUSE
    ) -> TrustStore:
        """A file or a folder: certificates (unreadable ones in a folder are skipped), master lists (refused loudly when
        their signature or signer fails), CRLs (refused when no CSCA in the store signed them). A CRL past its
        nextUpdate is kept: what it revokes stays revoked; `stale_crl` decides what a read makes of its age."""
        path = Path(path)
        files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
        store = cls(stale_crl=StaleCrlPolicy(stale_crl))
        pending_crls: list[tuple[Path, x509.CertificateRevocationList]] = []
        for file in files:
            try:
                kind = classify(file)
            except TrustStoreError:
                if path.is_dir():
                    continue
                raise
            try:
                if kind == "certificate":
                    store.certificates.extend(_load_certificates(file.read_bytes()))
                elif kind == "crl":
                    pending_crls.append((file, _load_crl(file.read_bytes())))
            except (ValueError, OSError) as exc:
                if not path.is_dir():
                    raise TrustStoreError(f"{file}: not a certificate or CRL ({exc})") from None
        for file in files:
            if file.suffix.lower() in MASTER_LIST_SUFFIXES:
                store.add_master_list(file.read_bytes(), now, source=str(file))
        for file, crl in pending_crls:
            store.add_crl(crl, source=str(file))
        if not store.certificates:
            raise TrustStoreError(f"{path}: no CSCA certificate found")
        return store

    def add_master_list(self, data: bytes, now: dt.datetime | None = None, source: str = "master list") -> int:
        from kiosk.card.master_list import MasterListError, read_master_list

        try:
            cscas = read_master_list(data, now, self.certificates)
        except MasterListError as exc:
            raise TrustStoreError(f"{source}: {exc}") from None
        known = {c.fingerprint(_SHA256) for c in self.certificates}
        fresh = [c for c in cscas if c.fingerprint(_SHA256) not in known]
        self.certificates.extend(fresh)
        return len(fresh)

    def add_crl(self, crl: x509.CertificateRevocationList, source: str = "CRL") -> None:
        if not any(_signed_by(crl, csca) for csca in self._issuers(crl.issuer)):
            raise TrustStoreError(f"{source}: not signed by a CSCA in the trust store")
        self.crls.append(crl)

    def _issuers(self, name: x509.Name) -> list[x509.Certificate]:
        return [csca for csca in self.certificates if csca.subject == name]

    def anchors_for(self, certificate: x509.Certificate) -> list[x509.Certificate]:
        return self._issuers(certificate.issuer)

    def newest_crl(self, issuer: x509.Name) -> x509.CertificateRevocationList | None:
        """The issuer's CRL with the latest thisUpdate (an older one left beside it says nothing more)."""
        own = [crl for crl in self.crls if crl.issuer == issuer]
        return max(own, key=lambda crl: crl.last_update_utc, default=None)

    def crl_freshness(self, issuer: x509.Name, now: dt.datetime) -> tuple[CrlFreshness, dt.datetime | None]:
        """Whether the issuer's newest CRL still covers `now`, and its nextUpdate (None when missing or absent).
        ICAO 9303-12 has CSCAs issue a CRL at least every 90 days; a CRL past nextUpdate may miss later revocations."""
        crl = self.newest_crl(issuer)
        if crl is None:
            return CrlFreshness.MISSING, None
        next_update = crl.next_update_utc
        if next_update is None or now > next_update:
            return CrlFreshness.STALE, next_update
        return CrlFreshness.FRESH, next_update

    def is_revoked(self, certificate: x509.Certificate) -> bool:
        """Listed in a CRL of its issuer (CRLs are checked against their CSCA when added)."""
        return any(
            crl.issuer == certificate.issuer
            and crl.get_revoked_certificate_by_serial_number(certificate.serial_number) is not None
            for crl in self.crls
        )


_SHA256 = hashes.SHA256()


def save_certificate(folder: Path, certificate: x509.Certificate) -> Path:
    """Write a CSCA into a trust folder under a name from its fingerprint (importing twice is harmless)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"csca-{certificate.fingerprint(_SHA256).hex()[:16]}.pem"
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path


def save_crl(folder: Path, crl: x509.CertificateRevocationList) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    der = crl.public_bytes(serialization.Encoding.DER)
    path = folder / f"crl-{hashlib.sha256(crl.issuer.public_bytes()).hexdigest()[:16]}.crl"
    path.write_bytes(der)  # the newest CRL of an issuer replaces the older one
    return path
