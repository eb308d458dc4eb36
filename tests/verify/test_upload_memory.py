"""Concurrent oversized uploads to a real `markaz edge serve` process leave its memory within the bound the design
states: at most `workers + queue_limit` uploads are admitted, each held to at most its body limit; the others are
answered 503 before their body is read, and an admitted one is refused (413) as soon as a part passes its limit.
The process's peak resident memory (VmHWM, reset through /proc/PID/clear_refs) is read from /proc."""

from __future__ import annotations

import select
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from edge.verify.upload import UploadLimits

pytestmark = pytest.mark.slow

MiB = 1024 * 1024
IMAGE_LIMIT = 4 * MiB
WORKERS, QUEUE_LIMIT = 1, 1
UPLOADS = 12  # at once, in each of ROUNDS rounds
ROUNDS = 3
UPLOAD_SIZE = 40 * MiB  # each: one card_photo part ten times its limit, sent chunked (no Content-Length to refuse)
SLACK = 32 * MiB  # the interpreter's own churn while it serves a burst (parsers, responses, connections)
CHUNK = 64 * 1024


def _status(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) * 1024
    return fields


def _reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS (Linux >= 4.0)


def _upload(port: int, token: str, size: int, start: threading.Barrier | None = None) -> str:
    """Send one chunked multipart upload, watching for an early answer before every chunk; returns the status code
    (or what happened to the connection). A client that stops sending once answered, as any HTTP client should."""
    boundary = "mem-test"
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    if start is not None:
        start.wait(30)  # every upload of the round begins at once
    try:
        head = (
            f"POST /api/v1/verifications HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\nTransfer-Encoding: chunked\r\n\r\n"
        ).encode()
        part = f'--{boundary}\r\nContent-Disposition: form-data; name="card_photo"; filename="c.jpg"\r\n\r\n'.encode()
        sock.sendall(head + b"%x\r\n%s\r\n" % (len(part), part))
        block = b"%x\r\n" % CHUNK + b"\xff" * CHUNK + b"\r\n"
        sent = 0
        while sent < size:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(block)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += CHUNK
        answer = b""
        while b"\r\n" not in answer:
            got = sock.recv(4096)
            if not got:
                return "closed"
            answer += got
        return answer.split(b" ", 2)[1].decode()
    except ConnectionResetError:
        return "reset"
    finally:
        sock.close()


def test_concurrent_oversized_uploads_stay_within_the_stated_bound(
    server_factory, station_template, tmp_path, monkeypatch
):
    template, tokens = station_template
    data = tmp_path / "node"
    shutil.copytree(template, data)
    for key, value in {
        "MAX_IMAGE_BYTES": IMAGE_LIMIT,
        "WORKERS": WORKERS,
        "QUEUE_LIMIT": QUEUE_LIMIT,
        "PRELOAD": "false",
    }.items():
        monkeypatch.setenv(f"MARKAZ_VERIFY__{key}", str(value))
    srv = server_factory(data)
    pid = srv.proc.pid
    token = tokens["kiosk"]

    limits = UploadLimits(IMAGE_LIMIT, 5, 30.0)
    bound = (WORKERS + QUEUE_LIMIT) * limits.body_bytes + SLACK

    # warm up the code paths of a refusal, then measure from a settled baseline
    assert _upload(srv.port, token, UPLOAD_SIZE) == "413"
    time.sleep(0.5)
    baseline = _status(pid)["VmRSS"]
    _reset_peak(pid)

    statuses: list[str] = []
    lock = threading.Lock()

    def one(start: threading.Barrier) -> None:
        status = _upload(srv.port, token, UPLOAD_SIZE, start)
        with lock:
            statuses.append(status)

    for _ in range(ROUNDS):
        start = threading.Barrier(UPLOADS)
        threads = [threading.Thread(target=one, args=(start,)) for _ in range(UPLOADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    peak = _status(pid)["VmHWM"] - baseline
    after = _status(pid)["VmRSS"] - baseline

    print(
        f"uploads {UPLOADS}x{ROUNDS} of {UPLOAD_SIZE // MiB} MiB: peak +{peak / MiB:.1f} MiB, after "
        f"+{after / MiB:.1f} MiB, bound {bound / MiB:.1f} MiB; statuses {sorted(set(statuses))}"
    )
    assert peak <= bound, f"peak RSS grew {peak / MiB:.0f} MiB, the bound is {bound / MiB:.0f} MiB"
    assert after <= bound, f"RSS stayed {after / MiB:.0f} MiB above the baseline"
    assert len(statuses) == UPLOADS * ROUNDS
    assert set(statuses) <= {"413", "503"}, statuses  # every upload answered: refused as too large, or busy
    assert statuses.count("503") > 0  # more uploads than slots arrived at once
    # the node still serves its queue
    import httpx

    r = httpx.post(
        srv.base + "/api/v1/tickets",
        json={"service": "general"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert r.status_code == 201
