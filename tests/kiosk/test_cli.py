"""`markaz kiosk card read` and `emulate` as processes: JSON keys, exit codes, one-line reasons, the photo tool."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from kiosk.card.emulator import ForeignApplet
from kiosk.card.pki import CSCA_CERT
from kiosk.card.reader import PcscReader

MARKAZ = str(Path(sys.executable).parent / "markaz")
RIGHT = ["--doc-number", "L898902C3", "--birth", "740812", "--expiry", "340415"]
KEYS = {
    "document_type",
    "issuing_state",
    "document_number",
    "surname",
    "given_names",
    "nationality",
    "birth_date",
    "expiry_date",
    "sex",
    "expired",
    "photo_format",
    "passive_auth",
    "apdus",
    "timings_ms",
    "access",
    "chip_auth",
}


def card_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    # The environment carries PCSCLITE_CSOCK_NAME (set in conftest): the child talks to the test pcscd.
    return subprocess.run(
        [MARKAZ, "kiosk", "card", *args], capture_output=True, text=True, timeout=timeout, env=os.environ.copy()
    )


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def test_read_json_with_trust_store_and_photo_tool(emrtd, pki_dir, pki, face, tmp_path):
    emrtd()
    out = tmp_path / "chip-photo.jp2"
    result = card_cli(
        "read", *RIGHT, "--csca", str(pki_dir / CSCA_CERT), "--timeout", "10", "--json", "--photo-out", str(out)
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == KEYS
    assert data["passive_auth"] == {"status": "valid", "reason": None, "crl": "missing"}
    assert (data["birth_date"], data["expiry_date"], data["photo_format"]) == ("1974-08-12", "2034-04-15", "jpeg2000")
    assert out.read_bytes() == face


def test_read_human_output_with_csca_folder(emrtd, pki_dir, pki):
    emrtd()
    result = card_cli("read", *RIGHT, "--csca", str(pki_dir), "--reader", "Virtual", "--timeout", "10")
    assert result.returncode == 0, result.stderr
    assert "ERIKSSON, ANNA MARIA" in result.stdout and "passive auth  valid" in result.stdout


def test_exit_2_when_bac_is_refused(emrtd):
    emrtd()
    result = card_cli(
        "read", "--doc-number", "X1234567", "--birth", "740812", "--expiry", "340415", "--json", "--timeout", "10"
    )
    assert result.returncode == 2 and result.stdout == ""
    assert "BAC refused" in one_line(result.stderr)


def test_exit_3_without_a_card(pcscd):
    result = card_cli("read", *RIGHT, "--timeout", "0.5")
    assert result.returncode == 3
    assert "no card before the time-out" in one_line(result.stderr)


def test_exit_4_for_a_card_that_is_not_an_emrtd(insert):
    insert(ForeignApplet())
    result = card_cli("read", *RIGHT, "--timeout", "10")
    assert result.returncode == 4
    assert "unsupported card" in one_line(result.stderr)


def test_exit_1_on_bad_input():
    result = card_cli("read", "--doc-number", "L898902C3", "--birth", "741399", "--expiry", "340415")
    assert result.returncode == 1 and "date" in one_line(result.stderr)


def test_emulate_command_serves_a_card_that_read_trusts(pcscd, td3, tmp_path):
    pki_dir = tmp_path / "pki"
    proc = subprocess.Popen(
        [
            MARKAZ,
            "kiosk",
            "card",
            "emulate",
            "--mrz",
            td3,
            "--photo",
            str(Path(__file__).parent.parent / "data" / "card" / "face.jp2"),
            "--pki",
            str(pki_dir),
            "--port",
            str(pcscd.port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        while "inserted" not in (line := proc.stderr.readline()):  # the PKI exists once the card is in
            assert line, "emulate exited early"
        result = card_cli("read", *RIGHT, "--csca", str(pki_dir / CSCA_CERT), "--timeout", "20", "--json")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["passive_auth"]["status"] == "valid"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
        watcher = PcscReader()
        try:
            assert watcher.wait_until_empty(10)
        finally:
            watcher.close()
        time.sleep(1.0)  # the emulator ran in another process: keep the slot empty as VirtualCard would
    assert proc.returncode == 0
    assert {"csca.pem", "csca.key.pem", "ds.pem", "ds.key.pem"} <= {p.name for p in pki_dir.iterdir()}


def test_watch_prints_insertion(pcscd, td3, face):
    from kiosk.card.emulator import VirtualCard

    proc = subprocess.Popen(
        [MARKAZ, "kiosk", "card", "watch", "--reader", "00 00", "--seconds", "4"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    card = VirtualCard.for_document(td3, face, port=pcscd.port)
    try:
        time.sleep(1.0)  # let the watcher see the empty reader first
        card.insert()
        out, err = proc.communicate(timeout=20)
    finally:
        card.remove()
        watcher = PcscReader()
        try:
            assert watcher.wait_until_empty(10)
        finally:
            watcher.close()
    assert proc.returncode == 0, err
    assert out.splitlines()[0].startswith("inserted Virtual PCD 00 00 3B88")
