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
    result = run(
        app,
        [
            "provision",
            "broker-config",
            "--out",
            str(tmp_path / "broker"),
            "--ca-cert",
            str(ca) + ".crt",
            "--cert",
            str(tmp_path / "broker.crt"),
            "--key",
            str(tmp_path / "broker.key"),
        ],
    )
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


def test_broker_config_starts_as_debian_runs_mosquitto(tmp_path, monkeypatch):
    """Rendered with a relative --out, started as root without `user root`: Mosquitto drops to `mosquitto`, reads
    the key and ACL, writes its persistence, and serves a station over mTLS."""
    import os
    import shutil
    import signal
    import socket
    import subprocess
    import tempfile
    import time
    from pathlib import Path

    from provisioning.pki import issue, make_ca
    from tests.telemetry.broker import Pki, free_port, tls_client

    # pytest's own folders are private to root; the broker's user must be able to reach the rendered folder
    base = Path(tempfile.mkdtemp(prefix="markaz-broker-"))
    base.chmod(0o755)
    try:
        ca = make_ca(base / "pki" / "ca")
        server = issue(ca, base / "pki" / "broker", "broker", server=True, hosts=("127.0.0.1",))
        port = free_port()
        monkeypatch.chdir(base)
        result = CliRunner().invoke(
            app,
            [
                "provision",
                "broker-config",
                "--out",
                "broker",
                "--ca-cert",
                "pki/ca.crt",
                "--cert",
                "pki/broker.crt",
                "--key",
                "pki/broker.key",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
            ],
        )
        assert result.exit_code == 0, result.output
        assert "warning" not in result.output
        conf = (base / "broker" / "mosquitto.conf").read_text()
        assert "user root" not in conf and "user mosquitto" in conf
        paths = [
            line.split()[1]
            for line in conf.splitlines()
            if line.split()[:1] in (["cafile"], ["certfile"], ["keyfile"], ["acl_file"], ["persistence_location"])
        ]
        assert len(paths) == 5 and all(Path(p).is_absolute() for p in paths), paths
        monkeypatch.chdir(tmp_path)  # the broker must not depend on where it was rendered from

        proc = subprocess.Popen(
            ["mosquitto", "-c", str(base / "broker" / "mosquitto.conf")],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 10
            while True:
                assert proc.poll() is None, f"mosquitto exited {proc.returncode}: {proc.stdout.read().decode()}"
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline, "mosquitto did not listen"
                    time.sleep(0.05)
            owner = subprocess.run(["ps", "-o", "user=", "-p", str(proc.pid)], capture_output=True, text=True)
            assert owner.stdout.strip() == "mosquitto"
            pki = Pki(base / "pki", ca, server)
            client = tls_client(pki, "st-1")
            client.connect("127.0.0.1", port)
            client.loop_start()
            sent = client.publish("markaz/v1/st-1/events/device_fault", b"{}", qos=1)
            sent.wait_for_publish(10)
            assert sent.is_published()
            client.disconnect()
            client.loop_stop()
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)
        assert proc.returncode == 0
        assert (base / "broker" / "data" / "mosquitto.db").exists()  # the persistence folder was writable
        assert os.stat(base / "broker" / "tls" / "broker.key").st_mode & 0o777 == 0o640
    finally:
        shutil.rmtree(base, ignore_errors=True)
