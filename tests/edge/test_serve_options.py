"""`markaz edge serve` options: HTTPS with the given certificate, and JSON logs."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import ssl
import subprocess
import time

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import MARKAZ, free_port

pytestmark = pytest.mark.slow


def _self_signed(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def test_serves_https_and_logs_json(tmp_path):
    cert, key = _self_signed(tmp_path)
    port = free_port()
    base = f"https://127.0.0.1:{port}"
    log = (tmp_path / "srv.log").open("wb")
    proc = subprocess.Popen(
        [
            MARKAZ,
            "edge",
            "serve",
            "--data",
            str(tmp_path / "node"),
            "--port",
            str(port),
            "--sample-data",
            "--tls-cert",
            str(cert),
            "--tls-key",
            str(key),
            "--log-json",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    ctx = ssl.create_default_context(cafile=str(cert))
    try:
        ok = False
        for _ in range(150):
            try:
                ok = httpx.get(base + "/healthz", verify=ctx, timeout=1).status_code == 200
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert ok, (tmp_path / "srv.log").read_text()
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).raise_for_status()
    finally:
        proc.terminate()
        proc.wait(15)
        log.close()
    lines = [line for line in (tmp_path / "srv.log").read_text().splitlines() if line.startswith("{")]
    assert lines, "no JSON log lines"
    entries = [json.loads(line) for line in lines]
    assert all({"ts", "level", "logger", "msg"} <= set(e) for e in entries)
    assert any("started" in e["msg"] for e in entries)


def test_tls_cert_without_key_is_refused(tmp_path):
    from tests.conftest import run_markaz

    cert, _ = _self_signed(tmp_path)
    r = run_markaz("edge", "serve", "--data", str(tmp_path / "d"), "--tls-cert", str(cert))
    assert r.returncode == 2 and "go together" in r.stderr
