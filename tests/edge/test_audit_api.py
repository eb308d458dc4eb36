"""The audit routes: paging through the audit log's own method, and a long verify that does not hold up the hall."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time

import httpx
import pytest

from edge.audit.chain import GENESIS, entry_hash
from tests.conftest import auth


def test_paging_walks_the_whole_log_oldest_first(client, tokens, node):
    admin = auth(tokens["admin"])
    for _ in range(5):
        client.post("/api/v1/tickets", json={"service": "general"}, headers=auth(tokens["kiosk"]))
    seen, after = [], 0
    while True:
        page = client.get("/api/v1/audit", params={"after_seq": after, "limit": 3}, headers=admin).json()
        seen += [e["seq"] for e in page["entries"]]
        if page["next_after_seq"] is None:
            break
        after = page["next_after_seq"]
    assert seen == list(range(1, node.audit.head()[0] + 1))
    issued = client.get("/api/v1/audit", params={"action": "ticket.issue"}, headers=admin).json()
    assert [e["action"] for e in issued["entries"]] == ["ticket.issue"] * 5 and issued["next_after_seq"] is None
    assert client.get("/api/v1/audit", params={"after_seq": 2**63}, headers=admin).status_code == 422


def test_the_cli_and_the_route_give_the_same_verdict(client, tokens, node):
    from tests.conftest import run_markaz

    api = client.get("/api/v1/audit/verify", headers=auth(tokens["supervisor"])).json()
    r = run_markaz("edge", "audit", "verify", "--data", str(node.settings.data_dir))
    assert api["ok"] and r.returncode == 0
    assert f"{api['entries']} entries" in r.stdout and f"head {api['head_seq']}" in r.stdout


def _long_log(db_path, rows: int) -> None:
    """Append `rows` valid entries straight into the database (as a busy year would leave them)."""
    conn = sqlite3.connect(db_path)
    head, prev = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone() or (0, GENESIS)
    batch = []
    for seq in range(head + 1, head + rows + 1):
        entry = {
            "seq": seq,
            "ts": "2026-11-23T09:00:00.000Z",
            "actor": "officer",
            "actor_kind": "staff",
            "action": "test.bulk",
            "entity": "test",
            "entity_id": str(seq),
            "before": None,
            "after": None,
        }
        digest = entry_hash(prev, entry)
        batch.append({**entry, "prev": prev, "hash": digest})
        prev = digest
    conn.executemany(
        "INSERT INTO audit_log (seq, ts, actor, actor_kind, action, entity, entity_id, before, after, prev_hash, hash) "
        "VALUES (:seq, :ts, :actor, :actor_kind, :action, :entity, :entity_id, :before, :after, :prev, :hash)",
        batch,
    )
    conn.commit()
    conn.close()


@pytest.mark.slow
def test_a_long_audit_verify_does_not_hold_up_ticket_issuing(station_template, tmp_path, server_factory):
    template, tokens = station_template
    data = tmp_path / "node"
    shutil.copytree(template, data)
    _long_log(data / "edge.sqlite", 300_000)
    srv = server_factory(data)  # signs the new head at start
    verdict: dict[str, object] = {}

    def verify() -> None:
        with httpx.Client(base_url=srv.base, timeout=300) as c:
            verdict.update(c.get("/api/v1/audit/verify", headers=auth(tokens["admin"])).json())

    t = threading.Thread(target=verify)
    t.start()
    time.sleep(0.3)  # let the verify request reach the server first (not a timing assertion)
    issued_while_verifying = 0
    with httpx.Client(base_url=srv.base, timeout=30) as c:
        for _ in range(5):
            assert (
                c.post("/api/v1/tickets", json={"service": "general"}, headers=auth(tokens["kiosk"])).status_code == 201
            )
            issued_while_verifying += t.is_alive()
    t.join()
    assert verdict["ok"] is True and verdict["entries"] > 300_000
    assert issued_while_verifying == 5, "tickets were answered while the verify was still running"
