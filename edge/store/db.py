"""SQLite access with a single-writer discipline: every write is one BEGIN IMMEDIATE transaction under one lock.

Readers use their own connection per thread (WAL lets them read while the writer writes), so concurrent requests
never meet "database is locked".

Durability: a write acknowledged to a caller is on disk. WAL with `synchronous=FULL` fsyncs the log at every commit,
so a power cut cannot drop a ticket or an audit entry that was already answered (NORMAL survives a crash of the
process but not of the machine); `benchmarks/bench_store.py` measures what it costs. See docs/store.md.

Group commit: the fsync is most of a small write's cost, so when other threads are already waiting for the writer,
a caller's finished work (released as a savepoint) stays in the open transaction and the caller waits; the last
caller of the group commits once for all (at most GROUP_MAX of them) and wakes the others. Every caller still returns
only after its own work is committed, and a caller whose block raises rolls back its savepoint alone.

sqlite-utils wraps each connection. Since 4.x its table helpers (`insert`, `rows_where`, ...) run inside an open
transaction as a savepoint instead of committing, so they join our BEGIN IMMEDIATE transaction and roll back with it
(`tests/edge/test_store.py` holds it to that). They are used where a statement is not on the hot path (audit paging,
anchors); hot-path statements go straight through `Database.execute` / the connection, because a table helper costs
about 50-80 us more per insert (it introspects the table and wraps a savepoint), several times the statement itself.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Literal

import sqlite_utils

from edge.store.files import create_private, fsync_dir, private_dir, restrict
from edge.store.migrations import apply_migrations

log = logging.getLogger(__name__)

Synchronous = Literal["NORMAL", "FULL"]
GROUP_MAX = 32  # callers whose work one commit (one fsync) may carry: bounds how long the first of them waits
COMPANIONS = ("-wal", "-shm", "-journal")


def restrict_database(path: Path) -> None:
    """Create the database file owner-only before SQLite opens it (its -wal and -shm then inherit the mode), and
    tighten a database and companions left wider by an older version."""
    create_private(path)
    for suffix in COMPANIONS:
        restrict(path.with_name(path.name + suffix))


def backup_database(src: Path, dest: Path) -> None:
    """A consistent online copy through SQLite's backup API, safe while the node serves; written beside `dest`
    (owner-only: it holds the same secrets as the database) and renamed into place so a half-made copy never looks
    complete."""
    dest = Path(dest)
    if not Path(src).exists():
        raise FileNotFoundError(f"no database at {src}")
    if not dest.parent.exists():
        private_dir(dest.parent)
    tmp = dest.with_name(dest.name + ".partial")
    tmp.unlink(missing_ok=True)
    restrict_database(tmp)
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
    fsync_dir(dest.parent)


def fetch_all(conn: sqlite3.Connection, sql: str, params: Any = ()) -> list[dict[str, Any]]:
    cur = conn.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def fetch_one(conn: sqlite3.Connection, sql: str, params: Any = ()) -> dict[str, Any] | None:
    cur = conn.execute(sql, params)
    row = cur.fetchone()
    return None if row is None else dict(zip([d[0] for d in cur.description], row, strict=True))


class Store:
    def __init__(self, path: Path, synchronous: Synchronous = "FULL", migrate: bool = True) -> None:
        self.path = Path(path)
        if not self.path.parent.exists():
            private_dir(self.path.parent)
        restrict_database(self.path)
        self._synchronous = synchronous
        self._write_lock = threading.RLock()
        self._after_commit: list[Callable[[], None]] = []
        # group commit: threads queued for the writer, the open group's number and size, what has been committed
        self._group_state = threading.Condition(threading.Lock())
        self._queued = 0
        self._group = 0
        self._members = 0
        self._committed = 0
        self._failed: dict[int, BaseException] = {}
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
        """One atomic write transaction, on disk when the block returns; nested calls join the outer one."""
        depth = getattr(self._local, "depth", 0)
        if depth:
            self._local.depth = depth + 1
            try:
                yield self._writer_db
            finally:
                self._local.depth = depth
            return
        with self._group_state:
            self._queued += 1
        self._write_lock.acquire()
        with self._group_state:
            self._queued -= 1
        self._local.depth = 1
        try:
            group = self._join_group()
        except BaseException:  # BEGIN failed: no transaction, nothing of anyone's to commit
            self._local.depth = 0
            self._write_lock.release()
            raise
        actions_before = len(self._after_commit)
        try:
            self._writer.execute("SAVEPOINT caller")
            yield self._writer_db
        except BaseException as exc:
            del self._after_commit[actions_before:]
            self._undo_caller(group, exc)
            with suppress(Exception):  # the others' work is still theirs to commit; this caller's error stands
                self._finish(group)
            raise
        try:
            self._writer.execute("RELEASE caller")
        except BaseException as exc:
            self._undo_caller(group, exc)
            with suppress(Exception):
                self._finish(group)
            raise
        self._finish(group)

    def _join_group(self) -> int:
        if not self._writer.in_transaction:
            self._writer.execute("BEGIN IMMEDIATE")
            self._group += 1
            self._members = 0
        self._members += 1
        return self._group

    def _undo_caller(self, group: int, exc: BaseException) -> None:
        """Take back this caller's work alone; if that cannot be done, the whole group's transaction fails."""
        try:
            self._writer.execute("ROLLBACK TO caller")
            self._writer.execute("RELEASE caller")
        except sqlite3.Error:
            # SQLite rolled the whole transaction back (e.g. disk full), or the savepoint is gone: the group fails
            with suppress(sqlite3.Error):
                if self._writer.in_transaction:
                    self._writer.execute("ROLLBACK")
            self._after_commit.clear()
            self._settle(group, exc)

    def _finish(self, group: int) -> None:
        """Under the write lock, this caller's work released: hand the open transaction to a queued writer, or commit
        it; return (or raise) once this group's fate is known."""
        with self._group_state:
            hand_off = self._queued > 0 and self._members < GROUP_MAX and self._writer.in_transaction
        if hand_off:
            self._local.depth = 0
            self._write_lock.release()
            with self._group_state:
                self._group_state.wait_for(lambda: self._committed >= group)
                failure = self._failed.get(group)
            if failure is not None:
                raise failure
            return
        try:
            if self._writer.in_transaction:
                try:
                    self._writer.execute("COMMIT")
                except BaseException as exc:
                    self._after_commit.clear()
                    with suppress(sqlite3.Error):
                        if self._writer.in_transaction:
                            self._writer.execute("ROLLBACK")
                    self._settle(group, exc)
                    raise
                self._settle(group, None)
                self._run_after_commit()
            else:
                with self._group_state:
                    failure = self._failed.get(group)
                if failure is not None:
                    raise failure
        finally:
            self._local.depth = 0
            self._write_lock.release()

    def _settle(self, group: int, failure: BaseException | None) -> None:
        with self._group_state:
            if failure is not None:
                self._failed[group] = failure
                for old in [g for g in self._failed if g < group - GROUP_MAX]:
                    del self._failed[old]
            self._committed = max(self._committed, group)
            self._group_state.notify_all()

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run `action` once the current write transaction has committed (dropped if it rolls back), in commit order;
        outside a write transaction, run it now. For side effects outside the database that must never get ahead of
        it (the audit anchors file)."""
        if getattr(self._local, "depth", 0):
            self._after_commit.append(action)
            return
        action()

    def _run_after_commit(self) -> None:
        actions, self._after_commit = self._after_commit, []
        for action in actions:
            try:
                action()
            except Exception:  # the transaction is committed; the caller's answer must not turn into an error
                log.exception("action after commit failed")

    def read(self) -> sqlite_utils.Database:
        """A read handle for the calling thread (sees every committed write)."""
        db: sqlite_utils.Database | None = getattr(self._local, "db", None)
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
            if self._writer.in_transaction:  # a group handed to a writer that never came: commit it for its callers
                try:
                    self._writer.execute("COMMIT")
                except BaseException as exc:
                    with suppress(sqlite3.Error):
                        self._writer.execute("ROLLBACK")
                    self._settle(self._group, exc)
                else:
                    self._settle(self._group, None)
                    self._run_after_commit()
            with suppress(sqlite3.Error):
                self._writer.execute("PRAGMA wal_checkpoint(PASSIVE)")
            self._writer.close()
