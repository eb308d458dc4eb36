"""Stations on the broker: a revoked station is refused by a real Mosquitto (crlfile); the ACL comes from the registry."""

from __future__ import annotations

import threading

from typer.testing import CliRunner

from markaz.cli import app
from provisioning.stations import StationRegistry
from tests.telemetry.broker import Broker, Pki, tls_client

run = CliRunner().invoke


def _connects(broker: Broker, identity: str) -> bool:
    client = tls_client(broker.pki, identity)
    result: list[bool] = []
    done = threading.Event()

    def on_connect(c, u, f, rc, p):
        result.append(not rc.is_failure)
        done.set()

    client.on_connect = on_connect
    try:
        client.connect("127.0.0.1", broker.port, 10)
    except OSError:
        return False  # TLS handshake refused
    client.loop_start()
    done.wait(5)
    client.loop_stop()
    client.disconnect()
    return bool(result and result[0])


def test_revoked_station_is_refused_by_mosquitto(tmp_path):
    pki = Pki.create(tmp_path / "pki")
    registry = StationRegistry(pki.ca)
    for station in ("st-1", "st-2"):
        registry.record(station, pki.client(station).cert)
    res = run(app, ["provision", "revoke-station", "--station", "st-2", "--ca", str(pki.ca.cert.with_suffix(""))])
    assert res.exit_code == 0, res.output
    broker = Broker(tmp_path / "broker", pki)
    broker.conf.write_text(broker.conf.read_text() + f"crlfile {registry.crl_path}\n")
    broker.start()
    try:
        assert _connects(broker, "st-1")
        assert not _connects(broker, "st-2")
    finally:
        broker.stop()


def test_acl_is_generated_from_the_registry(tmp_path):
    run(app, ["provision", "ca", "--out", str(tmp_path / "ca")])
    for station in ("st-1", "st-2"):
        assert (
            run(app, ["provision", "station-cert", "--station", station, "--ca", str(tmp_path / "ca")]).exit_code == 0
        )
    assert run(app, ["provision", "revoke-station", "--station", "st-2", "--ca", str(tmp_path / "ca")]).exit_code == 0
    assert run(app, ["provision", "revoke-station", "--station", "st-9", "--ca", str(tmp_path / "ca")]).exit_code == 1
    assert (
        run(app, ["provision", "broker-acl", "--out", str(tmp_path / "acl"), "--ca", str(tmp_path / "ca")]).exit_code
        == 0
    )
    acl = (tmp_path / "acl").read_text()
    assert "user st-1\ntopic write markaz/v1/st-1/status" in acl
    assert "st-2" not in acl
    assert "user central.markaz" in acl
