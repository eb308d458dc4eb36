"""A test PKI for the virtual card: a CSCA and a Document Signer made with `cryptography`, kept in a folder."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

CSCA_CERT, CSCA_KEY, DS_CERT, DS_KEY = "csca.pem", "csca.key.pem", "ds.pem", "ds.key.pem"


@dataclass(frozen=True)
class TestPki:
    csca_key: ec.EllipticCurvePrivateKey
    csca_cert: x509.Certificate
    ds_key: ec.EllipticCurvePrivateKey
    ds_cert: x509.Certificate


def _name(country: str, common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, country[:2]),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "markaz test PKI (not for production)"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def create_test_pki(
    country: str = "UT",
    label: str = "markaz test",
    *,
    ds_not_before: dt.datetime | None = None,
    ds_not_after: dt.datetime | None = None,
) -> TestPki:
    """CSCA (self-signed, CA) and a Document Signer it issued, both ECDSA P-256, valid from yesterday for 20 years
    (the DS's dates can be set, e.g. to make an expired or not yet valid Document Signer)."""
    now = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    until = now + dt.timedelta(days=365 * 20)
    csca_key = ec.generate_private_key(ec.SECP256R1())
    csca_name = _name(country, f"{label} CSCA")
    csca_ski = x509.SubjectKeyIdentifier.from_public_key(csca_key.public_key())
    csca_cert = (
        x509.CertificateBuilder()
        .subject_name(csca_name)
        .issuer_name(csca_name)
        .public_key(csca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(until)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(csca_ski, critical=False)
        .sign(csca_key, hashes.SHA256())
    )
    ds_key = ec.generate_private_key(ec.SECP256R1())
    ds_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(country, f"{label} Document Signer"))
        .issuer_name(csca_name)
        .public_key(ds_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(ds_not_before or now)
        .not_valid_after(ds_not_after or until)
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(csca_ski), critical=False)
        .sign(csca_key, hashes.SHA256())
    )
    return TestPki(csca_key, csca_cert, ds_key, ds_cert)


def save_pki(pki: TestPki, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    pem = serialization.Encoding.PEM
    (folder / CSCA_CERT).write_bytes(pki.csca_cert.public_bytes(pem))
    (folder / DS_CERT).write_bytes(pki.ds_cert.public_bytes(pem))
    for name, key in ((CSCA_KEY, pki.csca_key), (DS_KEY, pki.ds_key)):
        path = folder / name
        path.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        path.chmod(0o600)


def load_pki(folder: Path) -> TestPki:
    def key(name: str) -> ec.EllipticCurvePrivateKey:
        loaded = serialization.load_pem_private_key((folder / name).read_bytes(), password=None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{folder / name}: not an EC private key")
        return loaded

    def cert(name: str) -> x509.Certificate:
        return x509.load_pem_x509_certificate((folder / name).read_bytes())

    return TestPki(key(CSCA_KEY), cert(CSCA_CERT), key(DS_KEY), cert(DS_CERT))


def load_or_create_pki(folder: Path, country: str = "UT") -> TestPki:
    """Reuse the PKI in `folder`, or create and save one, so `read --csca FOLDER/csca.pem` trusts the card."""
    folder = Path(folder)
    if all((folder / name).exists() for name in (CSCA_CERT, CSCA_KEY, DS_CERT, DS_KEY)):
        return load_pki(folder)
    pki = create_test_pki(country)
    save_pki(pki, folder)
    return pki


def issue_master_list_signer(
    pki: TestPki, *, not_before: dt.datetime | None = None, not_after: dt.datetime | None = None
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A Master List Signer certificate issued by the test CSCA (its dates can be set, e.g. to make it expired)."""
    now = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    key = ec.generate_private_key(ec.SECP256R1())
    country = pki.csca_cert.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(str(country), "markaz test Master List Signer"))
        .issuer_name(pki.csca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now)
        .not_valid_after(not_after or now + dt.timedelta(days=365 * 3))
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        .sign(pki.csca_key, hashes.SHA256())
    )
    return key, cert


def create_crl(
    pki: TestPki,
    revoked: list[x509.Certificate],
    *,
    signer: ec.EllipticCurvePrivateKey | None = None,
    last_update: dt.datetime | None = None,
    next_update: dt.datetime | None = None,
) -> x509.CertificateRevocationList:
    """A CRL from the test CSCA (or from `signer`, to make a forged one) revoking these certificates; issued a minute
    ago for 90 days unless `last_update`/`next_update` say otherwise (an out-of-date CRL for freshness tests)."""
    now = last_update or dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(pki.csca_cert.subject)
        .last_update(now)
        .next_update(next_update or now + dt.timedelta(days=90))
    )
    for cert in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(cert.serial_number).revocation_date(now).build()
        )
    return builder.sign(signer or pki.csca_key, hashes.SHA256())
