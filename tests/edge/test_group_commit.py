"""Group commit in the store: writers queued behind one another share one commit (one fsync), yet each returns only
once its own work is on disk, and a writer whose block fails takes back its own work alone."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from edge.store import Store


def _visible(path: Path) -> list[str]:
    """What another connection (another process, a reader after a crash) sees: committed rows only."""
    conn = sqlite3.connect(path)
    try:
        return sorted(r[0] for r in conn.execute("SELECT name FROM t"))
    finally:
        conn.close()


class Writer(threading.Thread):
    """`with store.write(): INSERT name` in a thread of its own; optionally parks inside the block until released."""

    def __init__(self, store: Store, name: str, park: bool = False, fail: bool = False) -> None:
        super().__init__(daemon=True)
        self.store, self.row, self.fail = store, name, fail
        self.inside, self.go = threading.Event(), threading.Event()
        if not park:
            self.go.set()
        self.returned = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with self.store.write() as db:
                db.execute("INSERT INTO t (name) VALUES (?)", [self.row])
                self.inside.set()
                assert self.go.wait(30)
                if self.fail:
                    raise ValueError(f"{self.row} refused")
        except BaseException as exc:
            self.error = exc
        finally:
            self.returned.set()


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


@pytest.fixture
def store(tmp_path: Path):
    s = Store(tmp_path / "edge.sqlite")
    with s.write() as db:
        db.execute("CREATE TABLE t (name TEXT NOT NULL)")
    yield s
    s.close()


def _three_queued(store: Store, fail_b: bool = False) -> tuple[Writer, Writer, Writer]:
    """A holds the writer while B and C queue behind it; C parks inside its block when it gets there."""
    a = Writer(store, "a", park=True)
    a.start()
    assert a.inside.wait(30)
    b, c = Writer(store, "b", fail=fail_b), Writer(store, "c", park=True)
    b.start()
    c.start()
    _until(lambda: store._queued == 2, "B and C to queue for the writer")
    a.go.set()
    assert c.inside.wait(30)  # C holds the writer now, with A's (and maybe B's) finished work in the same transaction
    return a, b, c


def test_queued_writers_share_one_commit_and_each_returns_only_once_committed(store: Store) -> None:
    a, b, c = _three_queued(store)
    # A's block is over, but its work waits for the group's commit: not visible, and A has not returned
    assert not a.returned.is_set()
    assert _visible(store.path) == []
    c.go.set()
    for w in (a, b, c):
        assert w.returned.wait(30) and w.error is None
    assert _visible(store.path) == ["a", "b", "c"]


def test_a_failing_writer_in_a_group_takes_back_its_own_work_alone(store: Store) -> None:
    a, b, c = _three_queued(store, fail_b=True)
    c.go.set()
    for w in (a, b, c):
        assert w.returned.wait(30)
    assert isinstance(b.error, ValueError) and "b refused" in str(b.error)
    assert a.error is None and c.error is None
    assert _visible(store.path) == ["a", "c"]


def test_after_commit_actions_of_a_group_run_after_its_commit_in_order(store: Store) -> None:
    seen: list[tuple[str, list[str]]] = []

    class Noting(Writer):
        def run(self) -> None:
            try:
                with self.store.write() as db:
                    db.execute("INSERT INTO t (name) VALUES (?)", [self.row])
                    self.store.after_commit(lambda: seen.append((self.row, _visible(self.store.path))))
                    self.inside.set()
                    assert self.go.wait(30)
            finally:
                self.returned.set()

    a = Noting(store, "a", park=True)
    a.start()
    assert a.inside.wait(30)
    b = Noting(store, "b")
    b.start()
    _until(lambda: store._queued == 1, "B to queue")
    a.go.set()
    assert a.returned.wait(30) and b.returned.wait(30)
    # each action saw the database with both rows: it ran after the one commit, A's before B's
    assert seen == [("a", ["a", "b"]), ("b", ["a", "b"])]


def test_many_concurrent_writers_lose_nothing_and_nest(store: Store) -> None:
    def work(n: int) -> None:
        for i in range(40):
            with store.write() as db:
                db.execute("INSERT INTO t (name) VALUES (?)", [f"{n}-{i}"])
                with store.write() as inner:  # a nested write joins the caller's
                    inner.execute("INSERT INTO t (name) VALUES (?)", [f"{n}-{i}-inner"])
            assert f"{n}-{i}" in _visible(store.path)  # on return, committed

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(_visible(store.path)) == 6 * 40 * 2
