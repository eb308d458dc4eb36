"""The CSCA trust store for passive authentication: certificates from a file or a folder, looked up by issuer."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509

_SUFFIXES = {".pem", ".crt", ".cer", ".der"}


class TrustStoreError(ValueError):
    """The trust store path holds no readable certificate."""


def _load_file(path: Path) -> list[x509.Certificate]:
    data = path.read_bytes()
    if b"-----BEGIN CERTIFICATE-----" in data:
        return x509.load_pem_x509_certificates(data)
    return [x509.load_der_x509_certificate(data)]


@dataclass
class TrustStore:
    """CSCA certificates the station trusts.

    Later: load ICAO/national CSCA master lists (CMS-signed lists of CSCAs) and CRLs; `is_revoked` is where revocation
    answers will plug in, and `anchors_for` already picks candidates by name so a large store stays cheap.
    """

    certificates: list[x509.Certificate] = field(default_factory=list)

    @classmethod
    def load(cls, path: str | Path) -> TrustStore:
        path = Path(path)
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in _SUFFIXES) if path.is_dir() else [path]
        certs: list[x509.Certificate] = []
        for file in files:
            try:
                certs.extend(_load_file(file))
            except (ValueError, OSError) as exc:
                if not path.is_dir():
                    raise TrustStoreError(f"{file}: not a certificate ({exc})") from None
        if not certs:
            raise TrustStoreError(f"{path}: no CSCA certificate found")
        return cls(certs)

    def anchors_for(self, certificate: x509.Certificate) -> list[x509.Certificate]:
        return [csca for csca in self.certificates if csca.subject == certificate.issuer]

    def is_revoked(self, certificate: x509.Certificate) -> bool:
        return False  # no CRLs configured yet
