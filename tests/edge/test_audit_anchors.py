"""Every anchor the station holds is used: the table and the file are checked against each other, a missing, emptied
or shrunk file is a failure, and anchoring by count leaves little unsigned when the node is killed."""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading

import httpx
import pytest

from edge.auth.principal import SYSTEM
from tests.conftest import auth, run_markaz


def _tamper(db_path, *statements):
    conn = sqlite3.connect(db_path)
    conn.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
    conn.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    for sql in statements:
        conn.execute(sql)
    conn.commit()
    conn.close()


def _rewrite_from(db_path, index: int, actor: str = "forged") -> None:
    """Edit entry `index` (0-based) and recompute every later hash: the chain alone is self-consistent again."""
    from edge.audit.chain import entry_hash

    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    rows = [dict(r) for r in conn.execute("SELECT * FROM audit_log ORDER BY seq")]
    conn.close()
    rows[index]["actor"] = actor
    prev = rows[index - 1]["hash"] if index else "0" * 64
    stmts = []
    for row in rows[index:]:
        row["prev_hash"] = prev
        row["hash"] = entry_hash(prev, row)
        prev = row["hash"]
        stmts.append(
            f"UPDATE audit_log SET actor = '{row['actor']}', prev_hash = '{row['prev_hash']}', hash = '{row['hash']}' "
            f"WHERE seq = {row['seq']}"
        )
    _tamper(db_path, *stmts)


def _verify(node):
    return run_markaz("edge", "audit", "verify", "--data", str(node.settings.data_dir))


def _some_entries(node, n: int) -> None:
    for i in range(n):
        node.audit.append(SYSTEM, "test.step", "test", str(i))


def _anchors_in_db(node) -> list[int]:
    conn = sqlite3.connect(node.settings.db_path)
    try:
        return [r[0] for r in conn.execute("SELECT head_seq FROM audit_anchors ORDER BY id")]
    finally:
        conn.close()


def _anchors_in_file(node) -> list[int]:
    return [json.loads(line)["head_seq"] for line in node.audit.anchors_file.read_text().splitlines()]


def test_a_new_station_has_an_anchor_in_both_places(node):
    assert _anchors_in_db(node) and _anchors_in_db(node) == _anchors_in_file(node)
    r = _verify(node)
    assert r.returncode == 0, r.stderr


def test_the_head_is_signed_every_n_entries_in_the_same_transaction(make_node):
    node = make_node(audit={"anchor_every_entries": 5})
    node.start()
    try:
        start = node.audit.head()[0]
        first = _anchors_in_db(node)[-1]
        assert first == start
        _some_entries(node, 12)
        with node.store.write() as db:  # one transaction of many entries is anchored inside it
            for i in range(7):
                node.audit.append(SYSTEM, "test.bulk", "test", str(i), db=db)
        heads = _anchors_in_db(node)
        assert [h for h in heads if h > start] == [start + 5, start + 10, start + 15]
        assert _anchors_in_file(node) == heads, "the file holds the same anchors, in the same order"
    finally:
        node.stop()


def test_a_rolled_back_transaction_leaves_no_anchor_anywhere(make_node):
    node = make_node(audit={"anchor_every_entries": 3})
    node.start()
    try:
        before_db, before_file = _anchors_in_db(node), _anchors_in_file(node)
        with pytest.raises(RuntimeError), node.store.write() as db:
            for i in range(4):
                node.audit.append(SYSTEM, "test.bulk", "test", str(i), db=db)
            raise RuntimeError("the change fails after its entries were written")
        assert _anchors_in_db(node) == before_db and _anchors_in_file(node) == before_file
    finally:
        node.stop()


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        ("empty", "is empty"),
        ("delete", "is missing"),
        ("shrink", "was shrunk"),
    ],
)
def test_a_damaged_anchors_file_is_a_failure_even_with_a_rehashed_chain(make_node, damage, said):
    """Before: an emptied, deleted or trimmed file read as 'no anchors' and a rehashed chain passed as intact."""
    node = make_node()
    node.start()
    _some_entries(node, 120)  # anchors by count at +50 and +100, plus the one at start and the one at stop
    node.stop()
    path = node.audit.anchors_file
    lines = path.read_text().splitlines(keepends=True)
    assert len(lines) >= 3
    if damage == "empty":
        path.write_text("")
    elif damage == "delete":
        path.unlink()
    else:
        path.write_text(lines[0])
    conn = sqlite3.connect(node.settings.db_path)
    first_anchored = conn.execute("SELECT min(head_seq) FROM audit_anchors").fetchone()[0]
    conn.close()
    _rewrite_from(node.settings.db_path, first_anchored + 1)
    r = _verify(node)
    assert r.returncode == 1, r.stdout
    assert said in r.stderr


def test_anchors_deleted_from_the_database_are_caught_by_the_file(make_node):
    node = make_node()
    node.start()
    _some_entries(node, 60)
    node.stop()
    _tamper(node.settings.db_path, "DELETE FROM audit_anchors WHERE id > 1")
    r = _verify(node)
    assert r.returncode == 1
    assert "not in the database" in r.stderr


def test_anchors_removed_from_both_copies_show_as_an_unsigned_tail(make_node):
    node = make_node()
    node.start()
    _some_entries(node, 120)
    node.stop()
    first = _anchors_in_db(node)[0]
    _tamper(node.settings.db_path, f"DELETE FROM audit_anchors WHERE head_seq > {first}")
    path = node.audit.anchors_file
    path.write_text(
        "".join(line + "\n" for line in path.read_text().splitlines() if json.loads(line)["head_seq"] == first)
    )
    r = _verify(node)
    assert r.returncode == 1
    assert "unsigned" in r.stderr and "removed" in r.stderr


def test_a_log_with_no_anchor_at_all_is_a_failure(make_node):
    node = make_node()
    node.start()
    _some_entries(node, 3)
    node.stop()
    _tamper(node.settings.db_path, "DELETE FROM audit_anchors")
    node.audit.anchors_file.unlink()
    r = _verify(node)
    assert r.returncode == 1
    assert "no anchor" in r.stderr


def test_a_missing_anchor_key_is_an_error_not_a_pass(node):
    node.stop()
    (node.settings.keys_dir / "audit-anchor.pem").unlink()
    r = _verify(node)
    assert r.returncode == 2 and "no anchor key" in r.stderr
    assert not (node.settings.keys_dir / "audit-anchor.pem").exists(), "verifying must not create a new key"


def test_verify_while_entries_are_written_reports_no_false_tampering(make_node):
    """The table is read in one snapshot and the file as of that snapshot: anchors committed meanwhile are neither
    'missing from the file' nor 'missing from the database'."""
    node = make_node(audit={"anchor_every_entries": 2})
    node.start()
    stop = threading.Event()

    def writer() -> None:
        while not stop.is_set():
            node.audit.append(SYSTEM, "test.step", "test")

    t = threading.Thread(target=writer)
    t.start()
    reports = []
    try:
        while len(reports) < 500 and (len(reports) < 10 or reports[-1].entries < reports[0].entries + 30):
            reports.append(node.audit.verify())
    finally:
        stop.set()
        t.join()
    assert all(r.ok for r in reports), [r.problems for r in reports if not r.ok]
    assert reports[-1].entries >= reports[0].entries + 30, "entries (and anchors) were written while verifying"
    node.stop()


@pytest.mark.slow
def test_after_kill_9_deleting_every_entry_since_start_is_caught(station_template, tmp_path, server_factory):
    """Before: after kill -9, deleting 650 of 652 entries went unnoticed because the newest anchor was minutes old:
    everything written after the anchor made at start is deleted here."""
    template, tokens = station_template
    data = tmp_path / "node"
    shutil.copytree(template, data)
    srv = server_factory(data, "--sample-data")
    kiosk = auth(tokens["kiosk"])
    with httpx.Client(base_url=srv.base, timeout=30) as c:
        assert c.get("/healthz").status_code == 200
        conn = sqlite3.connect(data / "edge.sqlite")
        kept = conn.execute("SELECT max(seq) FROM audit_log").fetchone()[0]  # the head signed at start
        conn.close()
        for _ in range(650):
            assert c.post("/api/v1/tickets", json={"service": "general"}, headers=kiosk).status_code == 201
    srv.kill()

    conn = sqlite3.connect(data / "edge.sqlite")
    head = conn.execute("SELECT max(seq) FROM audit_log").fetchone()[0]
    newest_anchor = conn.execute("SELECT max(head_seq) FROM audit_anchors").fetchone()[0]
    conn.close()
    assert head - kept >= 650
    _tamper(data / "edge.sqlite", f"DELETE FROM audit_log WHERE seq > {kept}")
    r = run_markaz("edge", "audit", "verify", "--data", str(data))
    assert r.returncode == 1, r.stdout
    assert "cut off" in r.stderr and f"entry {kept + 1}" in r.stderr
    assert head - newest_anchor < 50, "anchoring by count leaves fewer than 50 entries unsigned after a crash"


def test_an_anchor_committed_but_not_yet_in_the_file_is_written_at_start(make_node):
    """kill -9 or a power cut between the commit and the file write leaves only the newest anchor missing from the
    file: the next start writes it and records that in the log; verify fails until then."""
    node = make_node()
    node.start()
    _some_entries(node, 3)
    node.stop()
    path = node.audit.anchors_file
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-1]))
    assert _verify(node).returncode == 1

    again = make_node(data_dir=node.settings.data_dir)
    again.start()
    try:
        assert again.store.query("SELECT action FROM audit_log WHERE action = 'audit.anchor_restored'")
        assert again.audit.verify().ok
    finally:
        again.stop()


def test_older_anchors_missing_from_the_file_are_not_written_back(make_node):
    node = make_node(audit={"anchor_every_entries": 2})
    node.start()
    _some_entries(node, 6)
    node.stop()
    path = node.audit.anchors_file
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:1] + lines[2:]))
    again = make_node(data_dir=node.settings.data_dir, audit={"anchor_every_entries": 2})
    again.start()
    try:
        report = again.audit.verify()
        assert not report.ok and any("not in the anchors file" in p for p in report.problems)
        assert not again.store.query("SELECT action FROM audit_log WHERE action = 'audit.anchor_restored'")
    finally:
        again.stop()
