"""The audit log: every state change recorded, the chain provable, and tampering found, including a cut-off tail."""

from __future__ import annotations

import contextlib
import json
import sqlite3

from edge.auth.principal import SYSTEM
from tests.conftest import auth, run_markaz


def _tamper(db_path, *statements):
    # A tamperer with file access can drop the append-only triggers; the chain must still betray them.
    conn = sqlite3.connect(db_path)
    conn.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
    conn.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    for sql in statements:
        conn.execute(sql)
    conn.commit()
    conn.close()


def _busy_day(client, tokens):
    officer = auth(tokens["officer"])
    for _ in range(3):
        client.post("/api/v1/tickets", json={"service": "general"}, headers=auth(tokens["kiosk"]))
    t = client.post("/api/v1/counters/1/call-next", headers=officer).json()
    client.post(f"/api/v1/tickets/{t['id']}/start", headers=officer)
    client.post(f"/api/v1/tickets/{t['id']}/finish", headers=officer)


def test_state_changes_are_audited_with_who_what_before_after(client, tokens, node):
    _busy_day(client, tokens)
    rows = node.store.query(
        "SELECT actor, actor_kind, action, entity_id, before, after FROM audit_log WHERE entity = 'ticket' ORDER BY seq"
    )
    actions = [r["action"] for r in rows]
    assert actions == ["ticket.issue"] * 3 + ["ticket.call", "ticket.start", "ticket.finish"]
    issue = rows[0]
    assert issue["actor"] == "kiosk-1" and issue["actor_kind"] == "device"
    start = rows[4]
    assert start["actor"] == "officer"
    assert json.loads(start["before"])["status"] == "called" and json.loads(start["after"])["status"] == "serving"


def test_the_database_refuses_updates_and_deletes_of_the_log(node):
    node.audit.append(SYSTEM, "test", "test")
    conn = sqlite3.connect(node.settings.db_path)
    for sql in ("UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log"):
        try:
            conn.execute(sql)
            raise AssertionError(f"{sql} was allowed")
        except sqlite3.DatabaseError as exc:
            assert "append-only" in str(exc)
    conn.close()


def test_verify_passes_on_an_intact_log(client, tokens, node):
    _busy_day(client, tokens)
    node.audit.anchor()
    r = client.get("/api/v1/audit/verify", headers=auth(tokens["admin"])).json()
    assert r["ok"] and r["anchors"] >= 1
    r = run_markaz("edge", "audit", "verify", "--data", str(node.settings.data_dir))
    assert r.returncode == 0, r.stderr
    assert "intact" in r.stdout


def test_an_edited_entry_is_named(client, tokens, node):
    _busy_day(client, tokens)
    node.stop()
    conn = sqlite3.connect(node.settings.db_path)
    seq = conn.execute("SELECT seq FROM audit_log WHERE action = 'ticket.start'").fetchone()[0]
    conn.close()
    _tamper(node.settings.db_path, f"UPDATE audit_log SET actor = 'someone-else' WHERE seq = {seq}")
    r = run_markaz("edge", "audit", "verify", "--data", str(node.settings.data_dir))
    assert r.returncode == 1
    assert f"entry {seq}" in r.stderr and "edited" in r.stderr


def test_a_deleted_entry_is_named(client, tokens, node):
    _busy_day(client, tokens)
    node.stop()
    _tamper(node.settings.db_path, "DELETE FROM audit_log WHERE seq = 3")
    r = run_markaz("edge", "audit", "verify", "--data", str(node.settings.data_dir))
    assert r.returncode == 1 and "entry 3" in r.stderr


def test_a_rewritten_chain_is_caught_by_the_signed_anchor(client, tokens, node):
    """Edit a row and recompute every later hash: the chain is self-consistent again, but the signature is not."""
    from edge.audit.chain import entry_hash

    _busy_day(client, tokens)
    node.stop()  # anchors the head at shutdown
    conn = sqlite3.connect(node.settings.db_path)
    conn.row_factory = sqlite3.Row
    rows = [dict(r) for r in conn.execute("SELECT * FROM audit_log ORDER BY seq")]
    conn.close()
    rows[2]["actor"] = "forged"
    prev = rows[1]["hash"]
    stmts = []
    for row in rows[2:]:
        row["prev_hash"] = prev
        row["hash"] = entry_hash(prev, row)
        prev = row["hash"]
        stmts.append(
            f"UPDATE audit_log SET actor = '{row['actor']}', prev_hash = '{row['prev_hash']}', hash = '{row['hash']}' WHERE seq = {row['seq']}"
        )
    _tamper(node.settings.db_path, *stmts)
    r = run_markaz("edge", "audit", "verify", "--data", str(node.settings.data_dir))
    assert r.returncode == 1 and "signed" in r.stderr


def test_cutting_off_the_tail_is_detected(client, tokens, node):
    _busy_day(client, tokens)
    node.stop()
    head = sqlite3.connect(node.settings.db_path).execute("SELECT max(seq) FROM audit_log").fetchone()[0]
    _tamper(node.settings.db_path, f"DELETE FROM audit_log WHERE seq > {head - 2}")
    r = run_markaz("edge", "audit", "verify", "--data", str(node.settings.data_dir))
    assert r.returncode == 1
    assert "cut off" in r.stderr and f"entry {head - 1}" in r.stderr


def test_no_audit_entry_without_its_state_change(node, tokens):
    """An operation that fails leaves neither the change nor an audit entry (same transaction)."""
    from edge.auth.principal import Principal
    from edge.errors import Conflict

    before = node.store.query_one("SELECT count(*) AS n FROM audit_log")["n"]
    t = node.queue.issue("general", Principal("device", "kiosk-1", "kiosk"))
    with contextlib.suppress(Conflict):
        node.queue.finish(t.id, Principal("staff", "officer", "officer"))
    after = node.store.query_one("SELECT count(*) AS n FROM audit_log")["n"]
    assert after == before + 1
