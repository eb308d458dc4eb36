"""`markaz provision selftest`: a kiosk against a real pcscd+vpcd reader, a camera video with a face, a printer sink
and a real edge over mTLS, and with each part missing; an edge node against a real Mosquitto."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from markaz.cli import app
from tests.provisioning.edgeproc import EdgeServe, install_station_ca
from tests.telemetry.broker import Broker, Pki, free_port

run = CliRunner().invoke
FACE = Path(__file__).resolve().parent.parent / "data" / "faces" / "biden_1.jpg"


def _video(path: Path, face: bool) -> Path:
    img = cv2.imread(str(FACE)) if face else np.full((480, 640, 3), 90, np.uint8)
    frame = np.full((480, 640, 3), 128, np.uint8)
    h, w = img.shape[:2]
    scale = min(440 / h, 600 / w)
    small = cv2.resize(img, (int(w * scale), int(h * scale)))
    frame[20 : 20 + small.shape[0], 20 : 20 + small.shape[1]] = small
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (640, 480))
    for _ in range(3):
        out.write(frame)
    out.release()
    return path


def _selftest_events(data: Path) -> list[dict]:
    import sqlite3

    with sqlite3.connect(f"file:{data / 'edge.sqlite'}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT payload FROM telemetry_outbox WHERE topic LIKE '%/events/selftest' ORDER BY id")
        return [json.loads(r[0])["data"] for r in rows]


def _selftest(args: list[str], env: dict[str, str]) -> tuple[int, dict]:
    proc = subprocess.run(
        [sys.executable, "-m", "markaz.cli", "provision", "selftest", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ, **env),
        timeout=120,
    )
    return proc.returncode, json.loads(proc.stdout) if proc.stdout.strip() else {"stderr": proc.stderr}


TEST_CARD = dict(
    issuing_state="UTO", surname="TEST", given_names="CARD", document_number="T0STC4RD1", nationality="UTO",
    birth_date="800101", sex="F", expiry_date="391231",
)  # fmt: skip
TEST_CARD_KEY = "T0STC4RD1:800101:391231"


@pytest.fixture(scope="module")
def bed():
    from kiosk.card.testbed import PcscdTestbed

    rundir = Path(tempfile.mkdtemp(prefix="markaz-selftest-pcscd-"))
    bed = PcscdTestbed(rundir=rundir).start()
    yield bed
    bed.stop()


@pytest.fixture(scope="module")
def pcscd(bed):
    return {"PCSCLITE_CSOCK_NAME": str(bed.socket_path)}


@pytest.fixture(scope="module")
def test_card(bed):
    """The station's test card (a virtual eMRTD) in the vpcd reader for the whole module."""
    from kiosk.card.emulator import VirtualCard
    from kiosk.card.mrz import compose_td3

    photo = (FACE.parent.parent / "card" / "face.jp2").read_bytes()  # a chip-sized JPEG 2000, as on real cards
    card = VirtualCard.for_document(compose_td3(**TEST_CARD), photo, port=bed.port).insert()
    yield card
    card.remove()


@pytest.fixture
def kiosk(tmp_path):
    data = tmp_path / "edge"
    install_station_ca(tmp_path, data)
    port = free_port()
    edge = EdgeServe(data, args=["--device-port", str(port)]).start()
    res = run(app, ["provision", "claim", "--device", "kiosk-3", "--type", "kiosk", "--data", str(data)])
    code = res.output.strip().splitlines()[-1]
    ident = tmp_path / "identity"
    url = f"https://127.0.0.1:{port}"
    assert run(app, ["provision", "enrol", "--edge", edge.base, "--claim", code, "--out", str(ident)]).exit_code == 0
    sink = tmp_path / "receipts"
    sink.mkdir()
    profile = {
        "reader": {"pattern": "Virtual PCD"},
        "camera": {"source": str(_video(tmp_path / "cam.avi", face=True)), "width": 640, "height": 480},
        "printer": {"uri": f"file://{sink}"},
    }
    yield {"ident": ident, "url": url, "profile": profile, "tmp": tmp_path, "sink": sink, "edge": edge}
    edge.stop()


def _write(kiosk, profile) -> list[str]:
    path = kiosk["tmp"] / f"profile-{len(list(kiosk['tmp'].glob('profile-*')))}.json"
    path.write_text(json.dumps({"profile": profile}))
    return [
        "--role", "kiosk", "--profile", str(path), "--out", str(kiosk["ident"]), "--edge", kiosk["url"],
        "--test-card", TEST_CARD_KEY,
    ]  # fmt: skip


def test_kiosk_selftest_passes_with_every_part_present(kiosk, pcscd, test_card):
    code, report = _selftest(_write(kiosk, kiosk["profile"]), pcscd)
    assert code == 0, report["checks"]
    names = {c["name"]: c for c in report["checks"]}
    assert set(names) == {"reader", "test_card", "camera", "printer", "edge_mtls", "clock_skew", "disk", "memory"}
    assert names["test_card"]["detail"].startswith("test card read (DG1, DG2")
    assert "T0STC4RD1" not in json.dumps(report) and "TEST" not in names["test_card"]["detail"]
    # the outcome reached the edge over mTLS and waits in its outbox for central: names only
    assert report["sent_to_central"] == "sent through the edge"
    assert _selftest_events(kiosk["edge"].data)[-1] == {"device": "kiosk-3", "role": "kiosk", "ok": True, "failed": []}
    assert "face(s) detected" in names["camera"]["detail"] and "0 face" not in names["camera"]["detail"]
    assert list(kiosk["sink"].glob("selftest-*.escpos"))


@pytest.mark.parametrize("missing", ["reader", "camera", "face", "printer", "edge_mtls"])
def test_kiosk_selftest_names_the_missing_part(kiosk, pcscd, test_card, missing):
    profile = json.loads(json.dumps(kiosk["profile"]))
    env = dict(pcscd)
    if missing == "reader":
        profile["reader"]["pattern"] = "No Such Reader"
    elif missing == "camera":
        profile["camera"]["source"] = str(kiosk["tmp"] / "unplugged.avi")
    elif missing == "face":
        profile["camera"]["source"] = str(_video(kiosk["tmp"] / "empty.avi", face=False))
    elif missing == "printer":
        profile["printer"]["uri"] = f"file://{kiosk['tmp'] / 'no-printer'}"
    elif missing == "edge_mtls":
        kiosk["edge"].stop()
    code, report = _selftest(_write(kiosk, profile), env)
    assert code == 1
    expected = "camera" if missing == "face" else missing
    assert expected in report["failed"]
    # no edge: no clock to compare either; no reader: no test card read either
    assert report["failed"] == {"edge_mtls": ["edge_mtls", "clock_skew"], "reader": ["reader", "test_card"]}.get(
        missing, [expected]
    )


def test_kiosk_selftest_fails_naming_the_test_card_when_none_is_in_the_reader_or_it_is_another(kiosk, pcscd, test_card):
    code, report = _selftest([*_write(kiosk, kiosk["profile"])[:-2], "--test-card", "X1234567<:900101:300101"], pcscd)
    assert code == 1 and report["failed"] == ["test_card"], report
    assert "refused the test card's key" in {c["name"]: c for c in report["checks"]}["test_card"]["detail"]
    test_card.remove()
    try:
        code, report = _selftest(_write(kiosk, kiosk["profile"]), pcscd)
        assert code == 1 and report["failed"] == ["test_card"], report
        assert "no card in the reader" in {c["name"]: c for c in report["checks"]}["test_card"]["detail"]
    finally:
        test_card.insert()


def test_edge_selftest_against_a_real_broker_and_without_it(tmp_path):
    pki = Pki.create(tmp_path / "pki")
    broker = Broker(tmp_path / "broker", pki).start()
    cert = pki.client("st-1")
    data = tmp_path / "edge"
    EdgeServe(data).start().stop()  # a node that ran: database and audit chain exist
    args = [
        "--role",
        "edge_node",
        "--data",
        str(data),
        "--station",
        "st-1",
        "--backups",
        str(tmp_path / "backups"),
        "--mqtt",
        broker.url,
        "--mqtt-ca",
        str(pki.ca.cert),
        "--mqtt-cert",
        str(cert.cert),
        "--mqtt-key",
        str(cert.key),
    ]
    try:
        code, report = _selftest(args, {})
        assert code == 0, report
        assert {c["name"] for c in report["checks"]} >= {"broker_mtls", "models", "backups_writable", "audit_chain"}
    finally:
        broker.stop()
    code, report = _selftest(args, {})
    assert code == 1 and report["failed"] == ["broker_mtls"]
    assert report["sent_to_central"] == "queued in the node's outbox"  # the link sends it once the broker is back
    assert _selftest_events(data) == [
        {"device": None, "role": "edge_node", "ok": True, "failed": []},
        {"device": None, "role": "edge_node", "ok": False, "failed": ["broker_mtls"]},
    ]
