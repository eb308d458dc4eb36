"""The device listener: mutual TLS with certificates from the station intermediate, revocation, renewal, tokens off."""

from __future__ import annotations

import ssl

import httpx
import pytest
from typer.testing import CliRunner

from markaz.cli import app
from provisioning.device import Identity, mtls_context
from provisioning.pki import Issued, make_intermediate
from tests.provisioning.edgeproc import EdgeServe, install_station_ca
from tests.telemetry.broker import free_port

run = CliRunner().invoke


def _enrol(data, edge, out, device="kiosk-3", kind="kiosk"):
    res = run(app, ["provision", "claim", "--device", device, "--type", kind, "--data", str(data)])
    assert res.exit_code == 0, res.output
    code = res.output.strip().splitlines()[-1]
    res = run(app, ["provision", "enrol", "--edge", edge.base, "--claim", code, "--out", str(out)])
    assert res.exit_code == 0, res.output
    return Identity(out)


@pytest.fixture
def mtls_station(tmp_path):
    data = tmp_path / "edge"
    root = install_station_ca(tmp_path, data)
    device_port = free_port()
    edge = EdgeServe(data, args=["--device-port", str(device_port), "--sample-data"]).start()
    edge.device_url = f"https://127.0.0.1:{device_port}"
    yield data, root, edge
    edge.stop()


def _get(identity_or_ctx, edge, path="/api/v1/services"):
    ctx = mtls_context(identity_or_ctx) if isinstance(identity_or_ctx, Identity) else identity_or_ctx
    with httpx.Client(verify=ctx, timeout=10) as client:
        return client.get(edge.device_url + path)


def test_enrolled_kiosk_is_mapped_to_its_device_and_role_over_mtls(mtls_station, tmp_path):
    data, _, edge = mtls_station
    kiosk = _enrol(data, edge, tmp_path / "kiosk")
    resp = _get(kiosk, edge)
    assert resp.status_code == 200, resp.text
    # The kiosk role may issue tickets but not manage devices: the certificate maps to the device's role.
    assert _get(kiosk, edge, "/api/v1/devices").status_code == 403


def test_device_listener_refuses_a_client_without_certificate_or_from_another_station(mtls_station, tmp_path):
    data, root, edge = mtls_station
    bare = ssl.create_default_context(cafile=str(data / "keys" / "root-ca.crt"))
    with pytest.raises(httpx.HTTPError):
        _get(bare, edge)
    # Same root, another station's intermediate: refused at the handshake.
    other = make_intermediate(Issued(root.with_suffix(".crt"), root.with_suffix(".key")), tmp_path / "other-ca", "st-2")
    from provisioning import pki

    key = pki.write_private_key(tmp_path / "x.key")
    cert = pki.sign_device(other, pki.load_csr(pki.make_csr(key, "kiosk-3")), "kiosk-3", "kiosk", 30)
    (tmp_path / "x.crt").write_text(pki.pem(cert))
    ctx = ssl.create_default_context(cafile=str(data / "keys" / "root-ca.crt"))
    ctx.load_cert_chain(str(tmp_path / "x.crt"), str(tmp_path / "x.key"))
    with pytest.raises(httpx.HTTPError):
        _get(ctx, edge)


def test_revoked_kiosk_is_refused_at_once_and_by_the_crl_after_restart(mtls_station, tmp_path):
    data, _, edge = mtls_station
    kiosk = _enrol(data, edge, tmp_path / "kiosk")
    assert _get(kiosk, edge).status_code == 200
    res = run(app, ["provision", "revoke", "--device", "kiosk-3", "--data", str(data)])
    assert res.exit_code == 0, res.output
    refused = _get(kiosk, edge)
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
    edge.stop()
    edge.start()
    with pytest.raises(httpx.HTTPError):  # the restarted listener's CRL refuses the handshake itself
        _get(kiosk, edge)


def test_renewal_replaces_key_and_certificate_and_retires_the_old_one(mtls_station, tmp_path):
    data, _, edge = mtls_station
    kiosk = _enrol(data, edge, tmp_path / "kiosk")
    old_cert, old_key = kiosk.cert.read_bytes(), kiosk.key.read_bytes()
    (tmp_path / "old.crt").write_bytes(old_cert)
    (tmp_path / "old.key").write_bytes(old_key)
    skip = run(app, ["provision", "renew", "--out", str(kiosk.dir), "--edge", edge.device_url, "--margin-days", "1"])
    assert skip.exit_code == 0 and "nothing to do" in skip.output
    res = run(app, ["provision", "renew", "--out", str(kiosk.dir), "--edge", edge.device_url, "--margin-days", "365"])
    assert res.exit_code == 0, res.output
    assert kiosk.cert.read_bytes() != old_cert and kiosk.key.read_bytes() != old_key
    assert oct(kiosk.key.stat().st_mode & 0o777) == "0o600"
    assert _get(kiosk, edge).status_code == 200
    ctx = ssl.create_default_context(cafile=str(kiosk.root_pem()))
    ctx.load_cert_chain(str(tmp_path / "old.crt"), str(tmp_path / "old.key"))
    assert _get(ctx, edge).status_code == 401


def test_renewal_needs_the_certificate_not_a_token(mtls_station):
    _, _, edge = mtls_station
    resp = httpx.post(edge.base + "/api/v1/enrolment/renew", json={"csr": "x" * 64})
    assert resp.status_code == 401 and "client certificate" in resp.json()["detail"]


def test_device_tokens_can_be_switched_off(tmp_path):
    from edge.node import EdgeNode
    from edge.settings import EdgeSettings
    from markaz.config import load_settings

    data = tmp_path / "edge"
    node = EdgeNode(load_settings(EdgeSettings, data_dir=data, station_id="st-1"))
    try:
        token = node.auth.add_device("kiosk-9", "kiosk")
    finally:
        node.close()
    headers = {"Authorization": f"Bearer {token}"}
    on = EdgeServe(data, args=["--sample-data"]).start()
    try:
        assert httpx.get(on.base + "/api/v1/services", headers=headers).status_code == 200
    finally:
        on.stop()
    off = EdgeServe(data, env={"MARKAZ_PROVISIONING__DEVICE_TOKENS": "false"}).start()
    try:
        resp = httpx.get(off.base + "/api/v1/services", headers=headers)
        assert resp.status_code == 401 and "mTLS" in resp.json()["detail"]
    finally:
        off.stop()


def test_decommissioned_device_is_told_to_wipe_its_keys_and_leaves_the_inventory(mtls_station, tmp_path):
    data, _, edge = mtls_station
    kiosk = _enrol(data, edge, tmp_path / "kiosk")
    other = _enrol(data, edge, tmp_path / "display", device="display-1", kind="display")
    res = run(app, ["provision", "check", "--out", str(kiosk.dir), "--edge", edge.device_url])
    assert res.exit_code == 0 and "active" in res.output and "renewed" not in res.output
    res = run(app, ["provision", "decommission", "--device", "kiosk-3", "--data", str(data)])
    assert res.exit_code == 0, res.output
    res = run(app, ["provision", "check", "--out", str(kiosk.dir), "--edge", edge.device_url])
    assert res.exit_code == 0 and "wiped" in res.output
    assert not kiosk.key.exists() and not kiosk.cert.exists()
    # The technician's view of the station, over the API, signed in as a technician.
    from edge.node import EdgeNode
    from edge.settings import EdgeSettings
    from markaz.config import load_settings

    node = EdgeNode(load_settings(EdgeSettings, data_dir=data, station_id="st-1"))
    try:
        node.auth.add_user("tech", "correct horse battery", "technician")
    finally:
        node.close()
    token = httpx.post(edge.base + "/api/v1/auth/login", json={"username": "tech", "password": "correct horse battery"})
    headers = {"Authorization": f"Bearer {token.json()['token']}"}
    inv = httpx.get(edge.base + "/api/v1/enrolment/inventory", headers=headers)
    assert inv.status_code == 200, inv.text
    [row] = inv.json()["devices"]
    assert row["id"] == "display-1" and row["cert_serial"] == format(other.certificate().serial_number, "X")
    with __import__("sqlite3").connect(data / "edge.sqlite") as db:
        actions = [a for (a,) in db.execute("SELECT action FROM audit_log WHERE entity_id = 'kiosk-3'")]
    assert actions[-2:] == ["provision.revoke", "provision.decommission"]


def test_check_renews_by_itself_inside_the_edges_margin(tmp_path):
    data = tmp_path / "edge"
    install_station_ca(tmp_path, data)
    port = free_port()
    # Certificates last 90 days and the margin is 100: every check finds the certificate due.
    edge = EdgeServe(data, args=["--device-port", str(port)], env={"MARKAZ_PROVISIONING__RENEW_MARGIN_DAYS": "100"})
    edge.start()
    edge.device_url = f"https://127.0.0.1:{port}"
    try:
        kiosk = _enrol(data, edge, tmp_path / "kiosk")
        before = kiosk.certificate().serial_number
        res = run(app, ["provision", "check", "--out", str(kiosk.dir), "--edge", edge.device_url])
        assert res.exit_code == 0 and "renewed" in res.output, res.output
        assert kiosk.certificate().serial_number != before
    finally:
        edge.stop()
    with __import__("sqlite3").connect(data / "edge.sqlite") as db:
        assert db.execute("SELECT count(*) FROM audit_log WHERE action = 'provision.renew'").fetchone()[0] == 1
