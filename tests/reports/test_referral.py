"""Referral to the prosecution: a signed package, delivered through a persistent outbox to a real
`markaz prosecution serve`, retried with back-off when the endpoint is down, slow or answers garbage."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import MARKAZ, free_port, run_markaz
from tests.reports.conftest import AGENCIES, KIOSK, OFFICER, SUPERVISOR, THEFT, VISITOR

BASE_S = 5.0


class Prosecution:
    """A real `markaz prosecution serve` process trusting the station's referral key."""

    def __init__(self, tmp: Path, trust: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/referrals"
        self.log = (tmp / f"prosecution-{self.port}.log").open("wb")
        self.proc = subprocess.Popen(
            [
                MARKAZ,
                "prosecution",
                "serve",
                "--trust",
                str(trust),
                "--data",
                str(tmp / "pp"),
                "--port",
                str(self.port),
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "prosecution service exited"
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("prosecution service did not start")

    def received(self) -> int:
        return httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=5).json()["referrals"]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()


class Misbehaving(http.server.BaseHTTPRequestHandler):
    """An endpoint that answers garbage, or too late: what a broken or overloaded receiver does."""

    mode = "garbage"
    hits = 0

    def do_POST(self):
        type(self).hits += 1
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.mode == "slow":
            time.sleep(1.5)
        body = b"<html>upstream error</html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def station(make_node, station_template, tmp_path, clock):
    template, _ = station_template
    data = tmp_path / "station"
    shutil.copytree(template, data)
    settings = {
        "agencies": AGENCIES,
        "station_code": "OLY",
        "prosecution": {"url": None, "timeout_s": 0.5, "backoff_base_s": BASE_S},
    }
    node = make_node(clock=clock, data_dir=data, reports=settings)
    node.reports.signer.key  # noqa: B018 - made now so the prosecution can be told to trust it
    return node


@pytest.fixture
def prosecution(station, tmp_path):
    p = Prosecution(tmp_path, station.reports.signer.public_path)
    yield p
    p.stop()


def refer(node) -> dict:
    filed = node.reports.file("theft", THEFT, VISITOR, OFFICER)
    ref = filed["reference"]
    node.reports.transition(ref, "receive", "received at the desk", OFFICER)
    node.reports.assign(ref, "officer", "on duty", SUPERVISOR)
    node.reports.transition(ref, "investigate", "opening", OFFICER)
    party = node.reports.get(ref, OFFICER)["parties"][0]["id"]
    node.reports.record_statement(ref, party, "The bag was on the back seat.", "signed", OFFICER)
    node.reports.transition(ref, "refer", "evidence complete", OFFICER)
    return filed


def referral(node) -> dict:
    return node.store.query_one("SELECT * FROM report_referrals")


def test_referral_is_acknowledged_once_with_the_prosecutions_case_number(station, prosecution):
    station.referrals.settings.url = prosecution.url
    filed = refer(station)
    assert station.reports.track(filed["reference"], KIOSK, pin=filed["pin"])["referral"] == "pending"
    assert station.referrals.deliver_due() == 1
    row = referral(station)
    assert row["status"] == "acknowledged" and row["case_number"].startswith("PP-")
    view = station.reports.track(filed["reference"], KIOSK, pin=filed["pin"])
    assert view["case_number"] == row["case_number"] and view["referral"] == "acknowledged"
    assert station.referrals.deliver_due() == 0, "an acknowledged referral is not sent again"
    assert prosecution.received() == 1
    again = httpx.post(prosecution.url, json=station.reports.referral_document(filed["reference"], SUPERVISOR))
    assert again.json() == {"referral_id": row["id"], "case_number": row["case_number"], "duplicate": True}
    assert prosecution.received() == 1, "a retried delivery is the same case"
    acks = station.store.query("SELECT after FROM audit_log WHERE action = 'report.referral_ack'")
    assert len(acks) == 1 and row["case_number"] in acks[0]["after"]


def test_down_garbage_or_slow_endpoint_keeps_it_pending_with_backoff_and_nothing_is_lost(
    station, prosecution, clock, make_node
):
    filed = refer(station)
    station.referrals.settings.url = f"http://127.0.0.1:{free_port()}/referrals"  # nobody listens: down
    assert station.referrals.deliver_due() == 0
    assert (referral(station)["status"], referral(station)["attempts"]) == ("pending", 1)
    assert "ConnectError" in referral(station)["last_error"]
    assert station.referrals.deliver_due() == 0 and referral(station)["attempts"] == 1, "waits its back-off"

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Misbehaving)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        station.referrals.settings.url = f"http://127.0.0.1:{server.server_address[1]}/referrals"
        clock.advance(seconds=BASE_S)
        assert station.referrals.deliver_due() == 0
        assert referral(station)["attempts"] == 2 and "not JSON" in referral(station)["last_error"]
        Misbehaving.mode = "slow"
        clock.advance(seconds=BASE_S)
        assert station.reports.counts()["referrals_pending"] == 1
        clock.advance(seconds=BASE_S)  # 2 x base after the second failure
        assert station.referrals.deliver_due() == 0
        assert referral(station)["attempts"] == 3 and "Timeout" in referral(station)["last_error"]
        assert Misbehaving.hits == 2
    finally:
        server.shutdown()
        Misbehaving.mode, Misbehaving.hits = "garbage", 0

    data = station.settings.data_dir
    station.store.close()  # the node goes down with the referral pending: it is in the database, not in memory
    station = make_node(
        clock=clock,
        data_dir=data,
        reports={
            "agencies": AGENCIES,
            "station_code": "OLY",
            "prosecution": {"url": prosecution.url, "backoff_base_s": BASE_S},
        },
    )
    assert referral(station)["status"] == "pending"
    clock.advance(seconds=4 * BASE_S)
    assert station.referrals.deliver_due() == 1
    assert referral(station)["status"] == "acknowledged" and referral(station)["attempts"] == 4
    assert prosecution.received() == 1
    assert station.reports.track(filed["reference"], KIOSK, pin=filed["pin"])["case_number"]


def test_a_tampered_referral_package_fails_verification(station, prosecution, tmp_path):
    ref = refer(station)["reference"]
    document = station.reports.referral_document(ref, SUPERVISOR)
    good = tmp_path / "referral.json"
    good.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    pub = str(station.reports.signer.public_path)
    ok = run_markaz("edge", "reports", "verify-referral", str(good), "--public-key", pub)
    assert ok.returncode == 0 and "signed by the trusted station key" in ok.stdout

    document["package"]["statements"][0]["text"] = "The bag was never in the car."
    bad = tmp_path / "tampered.json"
    bad.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    refused = run_markaz("edge", "reports", "verify-referral", str(bad), "--public-key", pub)
    assert refused.returncode == 1 and "altered" in refused.stderr
    answer = httpx.post(prosecution.url, json=document)
    assert answer.status_code == 422 and answer.json()["error"] == "invalid_referral"
    assert prosecution.received() == 0

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    stranger = tmp_path / "stranger.pub.pem"
    stranger.write_bytes(
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    foreign = run_markaz("edge", "reports", "verify-referral", str(good), "--public-key", str(stranger))
    assert foreign.returncode == 1 and "not a trusted" in foreign.stderr


def test_console_lists_and_shows_reports_and_audits_the_reads(station):
    ref = refer(station)["reference"]
    data = str(station.settings.data_dir)
    station.store.close()
    listed = run_markaz("edge", "reports", "list", "--data", data)
    assert listed.returncode == 0 and ref in listed.stdout and "referred" in listed.stdout
    shown = run_markaz("edge", "reports", "show", ref, "--data", data)
    assert (
        shown.returncode == 0 and json.loads(shown.stdout)["statements"][0]["text"] == "The bag was on the back seat."
    )
    typo = run_markaz("edge", "reports", "show", ref[:-1] + ("0" if ref[-1] != "0" else "1"), "--data", data)
    assert typo.returncode == 1 and "typing mistake" in typo.stderr
    audit = run_markaz("edge", "audit", "verify", "--data", data)
    assert audit.returncode == 0, audit.stderr
    import sqlite3

    conn = sqlite3.connect(Path(data) / "edge.sqlite")
    actions = [r[0] for r in conn.execute("SELECT action FROM audit_log WHERE actor = 'console' ORDER BY seq")]
    conn.close()
    assert actions == ["report.list", "report.read"], "the console's reads are audited too"
