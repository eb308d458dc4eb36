"""SQLite access with a single-writer discipline: every write is one BEGIN IMMEDIATE transaction under one lock.

Readers use their own connection per thread (WAL lets them read while the writer writes), so concurrent requests
never meet "database is locked". sqlite-utils wraps each connection for queries and schema work; writes go through
`Database.execute` inside our own transaction because sqlite-utils' table helpers commit on their own.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

from edge.store.migrations import apply_migrations


def backup_database(src: Path, dest: Path) -> None:
    """A consistent online copy through SQLite's backup API, safe while the node serves; written beside `dest`
    and renamed into place so a half-made copy never looks complete."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".partial")
    tmp.unlink(missing_ok=True)
    if not Path(src).exists():
        raise FileNotFoundError(f"no database at {src}")
    source = sqlite3.connect(Path(src), timeout=30.0)
    try:
        out = sqlite3.connect(tmp)
        try:
            source.backup(out, pages=1024)
            out.execute("PRAGMA journal_mode=DELETE")
        finally:
            out.close()
    finally:
        source.close()
    tmp.replace(dest)


def fetch_all(conn: sqlite3.Connection, sql: str, params: Any = ()) -> list[dict[str, Any]]:
    cur = conn.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def fetch_one(conn: sqlite3.Connection, sql: str, params: Any = ()) -> dict[str, Any] | None:
    cur = conn.execute(sql, params)
    row = cur.fetchone()
    return None if row is None else dict(zip([d[0] for d in cur.description], row))


class Store:
    def __init__(self, path: Path, synchronous: str = "NORMAL", migrate: bool = True) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._synchronous = synchronous
        self._write_lock = threading.RLock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._writer = self._connect()
        self._writer_db = sqlite_utils.Database(self._writer)
        self._closed = False
        if migrate:
            with self._write_lock:
                apply_migrations(self._writer)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite_utils.Database]:
        """One atomic write transaction; nested calls join the outer one."""
        with self._write_lock:
            if self._writer.in_transaction:
                yield self._writer_db
                return
            self._writer.execute("BEGIN IMMEDIATE")
            try:
                yield self._writer_db
            except BaseException:
                self._writer.execute("ROLLBACK")
                raise
            else:
                self._writer.execute("COMMIT")

    def read(self) -> sqlite_utils.Database:
        """A read handle for the calling thread (sees every committed write)."""
        db = getattr(self._local, "db", None)
        if db is None:
            conn = self._connect()
            conn.execute("PRAGMA query_only=ON")
            with self._readers_lock:
                self._readers.append(conn)
            db = sqlite_utils.Database(conn)
            self._local.db = db
        return db

    def query(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        # Straight through the connection: sqlite-utils' query() wraps every statement in a savepoint, which
        # costs more than the statement on the hot path.
        return fetch_all(self.read().conn, sql, params)

    def query_one(self, sql: str, params: Any = ()) -> dict[str, Any] | None:
        return fetch_one(self.read().conn, sql, params)

    def backup(self, dest: Path) -> None:
        backup_database(self.path, dest)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
        with self._write_lock:
            try:
                self._writer.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error:
                pass
            self._writer.close()
