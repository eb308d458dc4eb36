"""Enrolment by one-time claim code against a real `markaz edge serve`, with real certificates."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner

from edge.node import EdgeNode
from edge.settings import EdgeSettings
from markaz.cli import app
from markaz.clock import utcnow
from markaz.config import load_settings
from tests.provisioning.edgeproc import EdgeServe, install_station_ca

run = CliRunner().invoke


def _claim(data, device="kiosk-3", kind="kiosk", extra=()):
    res = run(app, ["provision", "claim", "--device", device, "--type", kind, "--data", str(data), *extra])
    assert res.exit_code == 0, res.output
    return res.output.strip().splitlines()[-1]


def _audit(data, action):
    with sqlite3.connect(data / "edge.sqlite") as db:
        return [r for r in db.execute("SELECT entity_id, after FROM audit_log WHERE action = ?", [action])]


@pytest.fixture
def station(tmp_path):
    data = tmp_path / "edge"
    root = install_station_ca(tmp_path, data)
    edge = EdgeServe(data).start()
    yield data, root, edge
    edge.stop()


def test_kiosk_enrols_with_a_claim_code_and_gets_a_chain_to_the_root(station, tmp_path):
    data, root, edge = station
    code = _claim(data, extra=["--qr-svg", str(tmp_path / "code.svg")])
    assert "<svg" in (tmp_path / "code.svg").read_text()
    out = tmp_path / "kiosk-id"
    res = run(
        app,
        [
            "provision",
            "enrol",
            "--edge",
            edge.base,
            "--claim",
            code,
            "--out",
            str(out),
            "--model",
            "K100",
            "--serial",
            "SN-42",
        ],
    )
    assert res.exit_code == 0, res.output
    assert oct((out / "device.key").stat().st_mode & 0o777) == "0o600"
    cert = x509.load_pem_x509_certificate((out / "device.crt").read_bytes())
    chain = x509.load_pem_x509_certificates((out / "chain.pem").read_bytes())
    root_cert = x509.load_pem_x509_certificate(root.with_suffix(".crt").read_bytes())
    cert.verify_directly_issued_by(chain[0])
    chain[0].verify_directly_issued_by(root_cert)
    assert chain[-1] == root_cert
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "kiosk-3"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == "kiosk"
    # The key was made on the device: the edge holds no private key for it anywhere in its data folder.
    device_key = (out / "device.key").read_bytes()
    assert all(device_key not in p.read_bytes() for p in data.rglob("*") if p.is_file())
    edge.stop()
    node = EdgeNode(load_settings(EdgeSettings, data_dir=data, station_id="st-1"))
    try:
        [row] = node.enrolment.inventory()
    finally:
        node.store.close()
    assert (row["id"], row["type"], row["model"], row["serial_number"]) == ("kiosk-3", "kiosk", "K100", "SN-42")
    assert row["cert_serial"] == format(cert.serial_number, "X")
    assert _audit(data, "provision.claim") and _audit(data, "provision.enrol")


def test_used_wrong_and_expired_codes_are_refused_and_audited(station, tmp_path):
    data, _, edge = station
    code = _claim(data)
    assert (
        run(app, ["provision", "enrol", "--edge", edge.base, "--claim", code, "--out", str(tmp_path / "a")]).exit_code
        == 0
    )
    reused = run(app, ["provision", "enrol", "--edge", edge.base, "--claim", code, "--out", str(tmp_path / "b")])
    assert reused.exit_code == 1 and "already used" in reused.output
    wrong = run(
        app, ["provision", "enrol", "--edge", edge.base, "--claim", "ABCD-EFGH-JKMN-PQRS", "--out", str(tmp_path / "c")]
    )
    assert wrong.exit_code == 1 and "unknown claim code" in wrong.output
    # A claim made an hour ago with 15 minutes of validity: expired now, by the server's own clock.
    node = EdgeNode(
        load_settings(EdgeSettings, data_dir=data, station_id="st-1"), clock=lambda: utcnow() - timedelta(hours=1)
    )
    try:
        old = node.enrolment.create_claim("kiosk-4", "kiosk", minutes=15)
    finally:
        node.close()
    expired = run(app, ["provision", "enrol", "--edge", edge.base, "--claim", old.code, "--out", str(tmp_path / "d")])
    assert expired.exit_code == 1 and "expired" in expired.output
    assert not (tmp_path / "b" / "device.crt").exists() and not (tmp_path / "d" / "device.crt").exists()
    edge.stop()
    reasons = sorted(__import__("json").loads(after)["reason"] for _, after in _audit(data, "provision.enrol_refused"))
    assert reasons == ["expired", "unknown", "used"]


def test_claim_code_tolerates_look_alike_characters(station, tmp_path):
    data, _, edge = station
    code = _claim(data)
    typed = code.lower().replace("0", "o").replace("1", "l").replace("-", " ")
    res = run(app, ["provision", "enrol", "--edge", edge.base, "--claim", typed, "--out", str(tmp_path / "k")])
    assert res.exit_code == 0, res.output


def test_approval_required_parks_the_request_until_a_technician_approves(tmp_path):
    data = tmp_path / "edge"
    install_station_ca(tmp_path, data)
    edge = EdgeServe(data, env={"MARKAZ_PROVISIONING__REQUIRE_APPROVAL": "true"}).start()
    try:
        code = _claim(data)
        out = tmp_path / "k"
        first = run(app, ["provision", "enrol", "--edge", edge.base, "--claim", code, "--out", str(out)])
        assert first.exit_code == 3 and "approval" in first.output
        assert not (out / "device.crt").exists()
        assert run(app, ["provision", "approve", "--device", "kiosk-3", "--data", str(data)]).exit_code == 0
        again = run(app, ["provision", "enrol", "--edge", edge.base, "--claim", code, "--out", str(out)])
        assert again.exit_code == 0, again.output
        assert (out / "device.crt").exists()
    finally:
        edge.stop()
    assert _audit(data, "provision.enrol_pending") and _audit(data, "provision.approve")


def test_claim_without_station_ca_is_refused_clearly(tmp_path):
    res = run(app, ["provision", "claim", "--device", "kiosk-3", "--type", "kiosk", "--data", str(tmp_path / "e")])
    assert res.exit_code == 1 and "markaz provision station-ca" in res.output


def test_claim_refuses_bad_ids_and_types(station):
    data, _, _ = station
    assert (
        run(app, ["provision", "claim", "--device", "Kiosk 3!", "--type", "kiosk", "--data", str(data)]).exit_code == 1
    )
    res = run(app, ["provision", "claim", "--device", "kiosk-3", "--type", "toaster", "--data", str(data)])
    assert res.exit_code == 1 and "unknown device type" in res.output
