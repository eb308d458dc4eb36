"""A slow request does not hold up the others: routes that do blocking work run in the server's thread pool, so a
long audit verification (slow because the chain is long, not because anything sleeps) and ticket issuing proceed
side by side on a real `markaz edge serve` process."""

from __future__ import annotations

import shutil
import sqlite3
import threading

import httpx
import pytest

from edge.auth.principal import SYSTEM
from tests.conftest import auth

pytestmark = pytest.mark.slow

CHAIN = 100_000  # audit entries: verifying them takes far longer than issuing a ticket


def _long_chain(data) -> None:
    from edge.node import EdgeNode
    from edge.settings import EdgeSettings
    from markaz.config import load_settings

    node = EdgeNode(load_settings(EdgeSettings, data_dir=data))
    with node.store.write() as db:
        for i in range(CHAIN):
            node.audit.append(SYSTEM, "bench.filler", "filler", str(i), None, {"i": i}, db=db)
    node.close()


def test_tickets_are_issued_while_a_long_audit_verification_runs(station_template, tmp_path, server_factory):
    template, tokens = station_template
    data = tmp_path / "node"
    shutil.copytree(template, data)
    _long_chain(data)
    srv = server_factory(data, "--sample-data")

    verified: dict[str, object] = {}
    issued_before_verify_answered: list[int] = []

    def verify() -> None:
        with httpx.Client(base_url=srv.base, timeout=600) as c:
            r = c.get("/api/v1/audit/verify", headers=auth(tokens["supervisor"]))
            verified.update(status=r.status_code, **r.json())

    slow = threading.Thread(target=verify)
    with httpx.Client(base_url=srv.base, timeout=60) as c:
        slow.start()
        while slow.is_alive() and len(issued_before_verify_answered) < 200:
            r = c.post("/api/v1/tickets", json={"service": "general"}, headers=auth(tokens["kiosk"]))
            assert r.status_code == 201, r.text
            if slow.is_alive():  # answered while the verification was still running
                issued_before_verify_answered.append(r.json()["id"])
    slow.join()
    srv.stop()

    assert verified["status"] == 200 and verified["ok"], verified
    head = verified["head_seq"]
    with sqlite3.connect(data / "edge.sqlite") as db:
        seqs = dict(db.execute("SELECT CAST(entity_id AS INTEGER), seq FROM audit_log WHERE action = 'ticket.issue'"))
    # Entries after the head the verification read were written after it had started; their tickets were answered
    # before it answered. Served one at a time, none could be.
    during = [t for t in issued_before_verify_answered if seqs[t] > head]
    assert len(during) >= 3, f"only {len(during)} tickets issued while the verification ran"
