"""A station enrols with central by claim code: central's enrolment endpoint (a real `markaz provision
station-enrolment-serve` over HTTPS) signs the edge node's CSR with the broker CA; the key never leaves the node; the
station is in the registry (and so in the generated ACL) and a real Mosquitto accepts its new certificate. A used or
unknown code is refused."""

from __future__ import annotations

import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import paho.mqtt.client as paho
from typer.testing import CliRunner

from markaz.cli import app
from provisioning.stations import StationRegistry
from tests.telemetry.broker import Broker, Pki, free_port

run = CliRunner().invoke


def _serve(pki: Pki, tmp: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    log = (tmp / "enrolment.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "markaz.cli", "provision", "station-enrolment-serve", "--ca",
         str(pki.ca.cert.with_suffix("")), "--host", "127.0.0.1", "--port", str(port),
         "--tls-cert", str(pki.server.cert), "--tls-key", str(pki.server.key), "--broker-url", "mqtts://127.0.0.1:1"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"https://127.0.0.1:{port}"
    ctx = ssl.create_default_context(cafile=str(pki.ca.cert))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", verify=ctx, timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("station enrolment endpoint did not start")


def _connects(broker: Broker, keys: Path, station: str) -> bool:
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=station, protocol=paho.MQTTv5)
    client.tls_set(
        ca_certs=str(keys / "mqtt-ca.crt"),
        certfile=str(keys / "mqtt-client.crt"),
        keyfile=str(keys / "mqtt-client.key"),
        cert_reqs=ssl.CERT_REQUIRED,
    )
    result: list[bool] = []
    done = threading.Event()

    def on_connect(c, u, f, rc, p):
        result.append(not rc.is_failure)
        done.set()

    client.on_connect = on_connect
    try:
        client.connect("127.0.0.1", broker.port, 10)
    except OSError:
        return False
    client.loop_start()
    done.wait(5)
    client.loop_stop()
    client.disconnect()
    return bool(result and result[0])


def test_a_station_enrols_with_central_by_claim_code_and_reaches_the_broker(tmp_path):
    pki = Pki.create(tmp_path / "pki")
    ca = str(pki.ca.cert.with_suffix(""))
    res = run(app, ["provision", "station-claim", "--station", "st-7", "--ca", ca])
    assert res.exit_code == 0, res.output
    code = res.output.strip().splitlines()[-1]
    proc, url = _serve(pki, tmp_path)
    data = tmp_path / "edge"
    broker = Broker(tmp_path / "broker", pki).start()
    try:
        enrol = ["provision", "station-enrol", "--central", url, "--data", str(data), "--central-ca", str(pki.ca.cert),
                 "--config", str(tmp_path / "edge.toml")]  # fmt: skip
        res = run(app, [*enrol, "--claim", code])
        assert res.exit_code == 0, res.output
        keys = data / "keys"
        assert (keys / "mqtt-client.key").stat().st_mode & 0o777 == 0o600
        key_pem = (keys / "mqtt-client.key").read_bytes()
        for path in (tmp_path / "pki").rglob("*"):  # central never held the station's key
            assert not path.is_file() or key_pem not in path.read_bytes(), path
        assert StationRegistry(pki.ca).active() == ["st-7"]
        assert _connects(broker, keys, "st-7")

        again = run(app, [*enrol, "--claim", code])
        assert again.exit_code == 1 and "already used" in again.output
        wrong = run(app, [*enrol, "--claim", "AAAA-BBBB-CCCC-DDDD"])
        assert wrong.exit_code == 1 and "unknown claim code" in wrong.output
        assert (keys / "mqtt-client.key").read_bytes() == key_pem  # a refused attempt leaves the enrolled key alone
    finally:
        broker.stop()
        proc.terminate()
        proc.wait(15)
    acl = tmp_path / "acl"
    assert run(app, ["provision", "broker-acl", "--out", str(acl), "--ca", ca]).exit_code == 0
    assert "user st-7\ntopic write markaz/v1/st-7/status" in acl.read_text()


SETTINGS = """# st-7's edge node (written by the installer; station-enrol fills in the MQTT link)
[edge]
station_id = "st-0"   # placeholder until enrolment
timezone = "UTC"      # the hall's zone
sample_data = true

[edge.hall]
speech = false
"""


def test_central_serve_enrols_a_station_and_the_node_reaches_the_broker_on_the_settings_written(tmp_path):
    """One central process serves the dashboard and the enrolment; `station-enrol` writes the node's settings file
    (comments and other settings kept, a backup, idempotent); `markaz edge serve --config FILE` then connects to the
    real Mosquitto over mutual TLS from that file alone, and central shows the station online."""
    from tests.central.process import CentralProcess, poll
    from tests.conftest import ServerProcess

    pki = Pki.create(tmp_path / "pki")
    broker = Broker(tmp_path / "broker", pki).start()
    ca = str(pki.ca.cert.with_suffix(""))
    https = ssl.create_default_context(cafile=str(pki.ca.cert))
    central = CentralProcess(
        broker, tmp_path / "central.sqlite", {"vera": "central_viewer"}, verify=https,
        extra=("--station-ca", ca, "--tls-cert", str(pki.server.cert), "--tls-key", str(pki.server.key)),
    ).start()  # fmt: skip
    config, data = tmp_path / "etc" / "edge.toml", tmp_path / "edge"
    config.parent.mkdir()
    config.write_text(SETTINGS)
    node = None
    try:
        enrol = ["provision", "station-enrol", "--central", central.base, "--data", str(data),
                 "--central-ca", str(pki.ca.cert), "--config", str(config)]  # fmt: skip
        res = run(app, ["provision", "station-claim", "--station", "st-7", "--ca", ca])
        res = run(app, [*enrol, "--claim", res.output.strip().splitlines()[-1]])
        assert res.exit_code == 0, res.output
        assert "wrote [edge.mqtt]" in res.output
        text = config.read_text()
        for kept in ("# st-7's edge node", 'timezone = "UTC"      # the hall\'s zone', "[edge.hall]\nspeech = false"):
            assert kept in text, text
        import tomllib

        written = tomllib.loads(text)["edge"]
        keys = (data / "keys").resolve()
        assert written["station_id"] == "st-7"
        assert written["mqtt"] == {
            "url": broker.url,
            "ca": str(keys / "mqtt-ca.crt"),
            "cert": str(keys / "mqtt-client.crt"),
            "key": str(keys / "mqtt-client.key"),
        }
        assert (tmp_path / "etc" / "edge.toml.bak").read_text() == SETTINGS
        assert "named station st-0" in res.output  # told that the file's station id changed

        # enrolling again (a new code, same paths): the file already says it all, nothing is rewritten
        res = run(app, ["provision", "station-claim", "--station", "st-7", "--ca", ca])
        res = run(app, [*enrol, "--claim", res.output.strip().splitlines()[-1]])
        assert res.exit_code == 0 and "already has these MQTT settings" in res.output, res.output
        assert config.read_text() == text and (tmp_path / "etc" / "edge.toml.bak").read_text() == SETTINGS

        node = ServerProcess(data, "--config", str(config)).start()
        http = central.client("vera")
        stations = poll(lambda: http.get("/api/stations").json(),
                        lambda v: any(s["station"] == "st-7" and s["state"] == "online" for s in v), 60)  # fmt: skip
        assert [s["station"] for s in stations] == ["st-7"]
        http.close()
        # the anchor key went with the claim: central registered it and keeps the node's signed anchors
        import sqlite3

        from edge.keys import StationKeys

        def central_db(sql: str) -> list[tuple]:
            with sqlite3.connect(f"file:{tmp_path / 'central.sqlite'}?mode=ro", uri=True) as db:
                return db.execute(sql).fetchall()

        assert central_db("SELECT station, key_id FROM station_keys") == [("st-7", StationKeys(keys).anchor_key_id)]
        poll(lambda: central_db("SELECT count(*) FROM audit_anchors WHERE station = 'st-7'")[0][0], bool, 60)
        assert central_db("SELECT reason FROM dead_letters WHERE reason LIKE 'audit anchor refused%'") == []
    finally:
        if node is not None:
            node.stop()
        central.stop()
        broker.stop()


def test_settings_that_would_not_load_are_not_written(tmp_path):
    from provisioning.settings_file import write_mqtt_settings

    config = tmp_path / "edge.toml"
    config.write_text('[edge]\nstation_id = "st-7"\nport = "not a port"\n')
    before = config.read_text()
    try:
        write_mqtt_settings(config, "st-7", "mqtts://b:8883", tmp_path / "ca", tmp_path / "c", tmp_path / "k")
    except Exception as exc:
        assert "port" in str(exc), exc
    else:
        raise AssertionError("a file the node could not start on was written")
    assert config.read_text() == before and not (tmp_path / "edge.toml.bak").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["edge.toml"]  # no temporary file left behind


def test_a_bad_anchor_key_is_refused_before_the_claim_is_spent_and_a_good_one_is_registered(tmp_path):
    """Central's registry through the real endpoint (central.anchors over a SQLite store): garbage, or a key that is
    not Ed25519, gets 422 and leaves the code usable; the station's real key is then registered with the claim."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from central.anchors import add_key, keys
    from central.store import CentralStore
    from edge.keys import StationKeys
    from provisioning import pki as provisioning_pki
    from provisioning.station_enrolment import StationEnrolment, router

    ca = Pki.create(tmp_path / "pki").ca
    store = CentralStore(str(tmp_path / "central.sqlite"))
    enrolment = StationEnrolment(ca, register_anchor_key=lambda st, pem: add_key(store, st, pem.encode(), "enrolment"))
    app = FastAPI()
    app.include_router(router(enrolment))
    client = TestClient(app)
    code, _ = enrolment.create_claim("st-9")
    csr = provisioning_pki.make_csr(provisioning_pki.write_private_key(tmp_path / "k.key"), "station")
    not_ed25519 = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    for bad in ("not a key", not_ed25519):
        r = client.post("/api/v1/stations/enrol", json={"claim": code, "csr": csr, "anchor_key": bad})
        assert r.status_code == 422 and "anchor key" in r.json()["detail"], r.text
    assert keys(store) == []
    station_keys = StationKeys(tmp_path / "edge-keys")
    good = {"claim": code, "csr": csr, "anchor_key": station_keys.anchor_public_pem.decode()}
    r = client.post("/api/v1/stations/enrol", json=good)
    assert r.status_code == 200, r.text
    assert [(k["station"], k["key_id"]) for k in keys(store)] == [("st-9", station_keys.anchor_key_id)]
    store.close()
