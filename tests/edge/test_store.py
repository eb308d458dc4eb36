"""The store: WAL, foreign keys, numbered migrations recorded once, and the migrate command."""

from __future__ import annotations

import sqlite3

from edge.store import Store
from edge.store.migrations import available
from tests.conftest import run_markaz


def test_wal_foreign_keys_and_migrations(tmp_path):
    store = Store(tmp_path / "edge.sqlite")
    try:
        assert store.query_one("PRAGMA journal_mode")["journal_mode"] == "wal"
        assert store.query_one("PRAGMA foreign_keys")["foreign_keys"] == 1
        applied = [r["version"] for r in store.query("SELECT version FROM schema_migrations ORDER BY version")]
        assert applied == [m.version for m in available()]
    finally:
        store.close()
    again = Store(tmp_path / "edge.sqlite")  # reopening applies nothing twice
    try:
        assert len(again.query("SELECT version FROM schema_migrations")) == len(available())
    finally:
        again.close()


def test_a_failed_write_leaves_nothing_behind(tmp_path):
    store = Store(tmp_path / "edge.sqlite")
    try:
        try:
            with store.write() as db:
                db.execute("INSERT INTO devices (id, type, created_at) VALUES ('k1', 'kiosk', 'now')")
                db.execute("INSERT INTO devices (id, type, created_at) VALUES ('k2', 'toaster', 'now')")
        except sqlite3.IntegrityError:
            pass
        assert store.query("SELECT id FROM devices") == []
    finally:
        store.close()


def test_migrate_command_is_idempotent(tmp_path):
    r = run_markaz("edge", "migrate", "--data", str(tmp_path / "d"))
    assert r.returncode == 0 and "applied 0001_foundation" in r.stdout
    r = run_markaz("edge", "migrate", "--data", str(tmp_path / "d"))
    assert r.returncode == 0 and "applied" not in r.stdout and "up to date" in r.stdout


def test_sqlite_utils_table_helpers_join_the_write_transaction(tmp_path):
    """The store uses sqlite-utils' table helpers inside its own BEGIN IMMEDIATE: they must not commit on their own."""
    store = Store(tmp_path / "edge.sqlite")
    try:
        try:
            with store.write() as db:
                db.table("devices").insert({"id": "k1", "type": "kiosk", "created_at": "now"})
                db.table("devices").insert({"id": "k2", "type": "toaster", "created_at": "now"})
        except sqlite3.IntegrityError:
            pass
        assert store.query("SELECT id FROM devices") == []
    finally:
        store.close()


def test_after_commit_actions_run_only_when_the_transaction_commits(tmp_path):
    store = Store(tmp_path / "edge.sqlite")
    done: list[str] = []
    try:
        try:
            with store.write() as db:
                store.after_commit(lambda: done.append("rolled back"))
                db.execute("INSERT INTO devices (id, type, created_at) VALUES ('k1', 'toaster', 'now')")
        except sqlite3.IntegrityError:
            pass
        with store.write() as db:
            with store.write():  # a nested block joins the outer transaction: its actions wait for the outer commit
                store.after_commit(lambda: done.append("committed"))
            assert done == []
            db.execute("INSERT INTO devices (id, type, created_at) VALUES ('k1', 'kiosk', 'now')")
        assert done == ["committed"]
    finally:
        store.close()
