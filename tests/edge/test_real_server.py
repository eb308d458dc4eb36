"""Against a real `markaz edge serve` process: parallel counters, a crash in the middle of a burst, online backup."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import auth

pytestmark = pytest.mark.slow


@pytest.fixture
def served(station_template, tmp_path, server_factory):
    template, tokens = station_template
    data = tmp_path / "node"
    shutil.copytree(template, data)
    return server_factory(data, "--sample-data"), tokens


def test_parallel_counters_never_receive_the_same_ticket(served):
    srv, tokens = served
    officer = auth(tokens["officer"])
    with httpx.Client(base_url=srv.base, timeout=30) as c:
        c.post("/api/v1/counters/3/open", headers=officer)
        for _ in range(60):
            assert c.post("/api/v1/tickets", json={"service": "report"}, headers=officer).status_code == 201

    barrier = threading.Barrier(3)

    def counter_loop(code: str) -> list[int]:
        got = []
        with httpx.Client(base_url=srv.base, timeout=30) as c:
            barrier.wait()
            while True:
                r = c.post(f"/api/v1/counters/{code}/call-next", headers=officer)
                if r.status_code == 404:
                    return got
                assert r.status_code == 200, r.text
                t = r.json()
                got.append(t["id"])
                assert c.post(f"/api/v1/tickets/{t['id']}/start", headers=officer).status_code == 200

    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(counter_loop, ["1", "2", "3"]))
    everything = [t for r in results for t in r]
    assert len(everything) == 60, "every ticket called exactly once"
    assert len(set(everything)) == 60, "no ticket called by two counters"
    assert all(results), "each counter got work"


def test_kill_9_during_a_burst_keeps_every_acknowledged_ticket(served, server_factory):
    srv, tokens = served
    kiosk = auth(tokens["kiosk"])
    acknowledged: list[dict] = []
    lock = threading.Lock()
    stop = threading.Event()

    def burst():
        with httpx.Client(base_url=srv.base, timeout=5) as c:
            while not stop.is_set():
                try:
                    r = c.post("/api/v1/tickets", json={"service": "general"}, headers=kiosk)
                except httpx.HTTPError:
                    return
                if r.status_code == 201:
                    with lock:
                        acknowledged.append(r.json())

    threads = [threading.Thread(target=burst) for _ in range(4)]
    for t in threads:
        t.start()
    while True:
        with lock:
            if len(acknowledged) >= 150:
                break
        threading.Event().wait(0.01)
    srv.kill()
    stop.set()
    for t in threads:
        t.join(10)
    assert len(acknowledged) >= 150

    restarted = server_factory(srv.data)
    with httpx.Client(base_url=restarted.base, timeout=30) as c:
        stored = {t["number"]: t["id"] for t in c.get("/api/v1/tickets", headers=kiosk).json()["tickets"]}
        for t in acknowledged:
            assert stored.get(t["number"]) == t["id"], f"acknowledged ticket {t['number']} lost"
        numbers = sorted(int(n[1:]) for n in stored)
        assert numbers == list(range(1, len(numbers) + 1)), "numbering has gaps or duplicates"
        nxt = c.post("/api/v1/tickets", json={"service": "general"}, headers=kiosk).json()
        assert int(nxt["number"][1:]) == len(numbers) + 1
    ok = restarted_verify(restarted)
    assert ok.returncode == 0, ok.stderr


def restarted_verify(srv):
    from tests.conftest import run_markaz

    return run_markaz("edge", "audit", "verify", "--data", str(srv.data))


def test_online_backup_while_serving_is_consistent(served, tmp_path):
    from tests.conftest import run_markaz

    srv, tokens = served
    kiosk = auth(tokens["kiosk"])
    stop = threading.Event()

    def writer():
        with httpx.Client(base_url=srv.base, timeout=10) as c:
            while not stop.is_set():
                c.post("/api/v1/tickets", json={"service": "general"}, headers=kiosk)

    t = threading.Thread(target=writer)
    t.start()
    try:
        threading.Event().wait(0.5)
        dest = tmp_path / "backup" / "edge.sqlite"
        r = run_markaz("edge", "backup", "--data", str(srv.data), str(dest))
        assert r.returncode == 0, r.stderr
    finally:
        stop.set()
        t.join()
    conn = sqlite3.connect(dest)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    n = conn.execute("SELECT count(*) FROM tickets").fetchone()[0]
    audit_issues = conn.execute("SELECT count(*) FROM audit_log WHERE action = 'ticket.issue'").fetchone()[0]
    assert n > 0 and n == audit_issues, "the copy is one consistent moment: every ticket with its audit entry"
    conn.close()
