"""`markaz provision`: the CA and certificates the broker and its ACL rely on."""

from __future__ import annotations

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from typer.testing import CliRunner

from markaz.cli import app


def _cn(path) -> str:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    return cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


def test_provision_ca_and_certificates(tmp_path):
    run = CliRunner().invoke
    ca = tmp_path / "ca"
    assert run(app, ["provision", "ca", "--out", str(ca)]).exit_code == 0
    assert run(app, ["provision", "ca", "--out", str(ca)]).exit_code == 1  # never replaces a CA
    assert run(app, ["provision", "station-cert", "--station", "st-1", "--ca", str(ca)]).exit_code == 0
    assert run(app, ["provision", "station-cert", "--station", "St 1!", "--ca", str(ca)]).exit_code == 2
    assert run(app, ["provision", "central-cert", "--ca", str(ca)]).exit_code == 0
    assert run(app, ["provision", "broker-cert", "--host", "broker.local", "--ca", str(ca)]).exit_code == 0
    result = run(app, ["provision", "broker-config", "--out", str(tmp_path / "broker"), "--ca-cert", str(ca) + ".crt",
                       "--cert", str(tmp_path / "broker.crt"), "--key", str(tmp_path / "broker.key")])
    assert result.exit_code == 0, result.output
    assert _cn(tmp_path / "station-st-1.crt") == "st-1"
    assert _cn(tmp_path / "central.crt") == "central.markaz"
    station = x509.load_pem_x509_certificate((tmp_path / "station-st-1.crt").read_bytes())
    station.verify_directly_issued_by(x509.load_pem_x509_certificate((tmp_path / "ca.crt").read_bytes()))
    assert ExtendedKeyUsageOID.CLIENT_AUTH in station.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    conf = (tmp_path / "broker" / "mosquitto.conf").read_text()
    assert "require_certificate true" in conf and "use_identity_as_username true" in conf
    acl = (tmp_path / "broker" / "acl").read_text()
    assert "pattern write markaz/v1/%u/telemetry/#" in acl and "user central.markaz" in acl
    assert oct((tmp_path / "station-st-1.key").stat().st_mode & 0o777) == "0o600"
