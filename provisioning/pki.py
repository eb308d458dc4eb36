"""A small X.509 authority for the MQTT link: a station CA, the broker's server certificate, client certificates.

The client certificate's common name is the broker user name (`use_identity_as_username`): the station id for a
station, `central.markaz` for central (a dot makes it impossible to collide with a station id).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CENTRAL_IDENTITY = "central.markaz"


@dataclass(frozen=True)
class Issued:
    cert: Path
    key: Path


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write(path: Path, key, cert: x509.Certificate) -> Issued:
    path.parent.mkdir(parents=True, exist_ok=True)
    key_path = path.with_suffix(".key")
    cert_path = path.with_suffix(".crt")
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return Issued(cert_path, key_path)


def make_ca(path: Path, name: str = "markaz station CA", days: int = 3650, path_length: int = 0) -> Issued:
    """A self-signed CA at `path`.crt / `path`.key (`path_length` 1 for the root above station intermediates)."""
    key = _key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return _write(Path(path), key, cert)


def issue(
    ca: Issued,
    path: Path,
    common_name: str,
    server: bool = False,
    hosts: tuple[str, ...] = (),
    days: int = 825,
) -> Issued:
    """A certificate signed by `ca`: a client certificate (CN = broker user name) or, with `server`, the broker's."""
    ca_key = serialization.load_pem_private_key(Path(ca.key).read_bytes(), password=None)
    ca_cert = x509.load_pem_x509_certificate(Path(ca.cert).read_bytes())
    key = _key()
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),
            critical=False,  # type: ignore[arg-type]
        )
    )
    if server:
        names: list[x509.GeneralName] = []
        for host in hosts or ("localhost", "127.0.0.1"):
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    return _write(Path(path), key, cert)


# -- the chain of trust for devices: root (central, offline) -> station intermediate (edge) -> device -------------

DEVICE_CERT_OU = "markaz device"


def make_intermediate(root: Issued, path: Path, station_id: str, days: int = 1825) -> Issued:
    """A station's intermediate CA, signed by the root: it signs the station's device certificates and CRL only."""
    root_key = serialization.load_pem_private_key(Path(root.key).read_bytes(), password=None)
    root_cert = x509.load_pem_x509_certificate(Path(root.cert).read_bytes())
    key = _key()
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"markaz station {station_id} CA")]))
        .issuer_name(root_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(min(now + dt.timedelta(days=days), root_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_cert.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .sign(root_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    return _write(Path(path), key, cert)


def write_private_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """Make a key on this device and write it owner-only (created 0600, never widened): it never leaves the device."""
    import os

    key = _key()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return key


def load_private_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path}: not an EC private key")
    return key


def make_csr(key: ec.EllipticCurvePrivateKey, device_id: str) -> str:
    """A PEM certificate signing request naming the device; the edge decides type and validity, not the CSR."""
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, device_id)]))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode()


class BadCsr(ValueError):
    """A CSR that cannot be parsed, is not self-consistent, or carries an unacceptable key."""


def load_csr(pem: str) -> x509.CertificateSigningRequest:
    try:
        csr = x509.load_pem_x509_csr(pem.encode())
    except ValueError as exc:
        raise BadCsr(f"not a PEM certificate request: {exc}") from None
    if not csr.is_signature_valid:
        raise BadCsr("the request's signature does not match its key")
    key = csr.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.key_size < 256:
            raise BadCsr(f"EC key on {key.curve.name}: at least P-256 expected")
    else:
        from cryptography.hazmat.primitives.asymmetric import rsa

        if not isinstance(key, rsa.RSAPublicKey) or key.key_size < 2048:
            raise BadCsr("key must be EC P-256 or larger, or RSA 2048 or larger")
    return csr


def sign_device(
    ca: Issued, csr: x509.CertificateSigningRequest, device_id: str, device_type: str, days: int
) -> x509.Certificate:
    """A client certificate for a device: CN = device id, OU = device type, from the CSR's key only (its subject and
    extensions are ignored, so a device cannot ask for more than the edge grants)."""
    ca_key = serialization.load_pem_private_key(Path(ca.key).read_bytes(), password=None)
    ca_cert = x509.load_pem_x509_certificate(Path(ca.cert).read_bytes())
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, device_type),
                    x509.NameAttribute(NameOID.COMMON_NAME, device_id),
                ]
            )
        )
        .issuer_name(ca_cert.subject)
        .public_key(csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(min(now + dt.timedelta(days=days), ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )


def make_crl(ca: Issued, revoked: list[tuple[int, dt.datetime]], days: int = 7) -> bytes:
    """A PEM CRL signed by `ca` listing (serial, revoked at); the edge reloads it and Mosquitto reads it (`crlfile`)."""
    ca_key = serialization.load_pem_private_key(Path(ca.key).read_bytes(), password=None)
    ca_cert = x509.load_pem_x509_certificate(Path(ca.cert).read_bytes())
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now - dt.timedelta(minutes=5))
        .next_update(now + dt.timedelta(days=days))
    )
    for serial, when in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build()
        )
    return builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)  # type: ignore[arg-type]


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()
