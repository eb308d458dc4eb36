"""Central's database behind one small interface, with two backends: SQLite (the default: a demo, a small region)
and PostgreSQL (the nation, several ingest workers writing at once).

The store writes its SQL once, with `?` placeholders and SQL both engines accept; what differs is kept here and
named: placeholders, the migrations' dialect tokens (`{id}` an auto-numbered key, `{bytes}` a binary column), how a
writer locks a station's row (`lock_row`), and how concurrent migrators are serialised.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from markaz.clock import iso, utcnow

Params = Sequence[Any]


class Tx(Protocol):
    def execute(self, sql: str, params: Params = ()) -> Any: ...
    def executemany(self, sql: str, rows: Sequence[Params]) -> Any: ...


class Database(Protocol):
    dialect: str
    lock_row: str  # appended to a SELECT that reads a row the transaction will update

    def transaction(self) -> Any: ...  # a context manager yielding a Tx; commits on success, rolls back on error
    def query(self, sql: str, params: Params = ()) -> list[dict[str, Any]]: ...
    def close(self) -> None: ...


def open_database(target: str | Path) -> Database:
    """A `postgresql://...` URL opens PostgreSQL; anything else is the path of a SQLite file."""
    text = str(target)
    if text.startswith(("postgresql://", "postgres://")):
        return PostgresDatabase(text)
    return SQLiteDatabase(Path(text))


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) of central/migrations/NNNN_name.sql, in order: the one set both backends run."""
    out = []
    for entry in resources.files("central.migrations").iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            out.append((int(name[:4]), name, entry.read_text(encoding="utf-8")))
    return sorted(out)


def _statements(sql: str) -> list[str]:
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


_ADD_COLUMN = re.compile(r"^ALTER TABLE (\w+) ADD COLUMN IF NOT EXISTS (\w+) (.+)$", re.IGNORECASE | re.DOTALL)


def _apply(db: Database, tx: Any, statement: str) -> None:
    """One statement of a migration. `ADD COLUMN IF NOT EXISTS` is PostgreSQL's; on SQLite it is done by hand (two
    migrations of parallel work may add the same column)."""
    match = _ADD_COLUMN.match(statement)
    if match and db.dialect == "sqlite":
        table, column, rest = match.groups()
        if any(row[1] == column for row in tx.execute(f"PRAGMA table_info({table})").fetchall()):
            return
        statement = f"ALTER TABLE {table} ADD COLUMN {column} {rest}"
    tx.execute(statement)


def migrate(db: Database, id_column: str, bytes_column: str = "BLOB") -> list[int]:
    """Apply the migrations not yet recorded in schema_migrations, each in its own transaction; the versions applied."""
    applied = []
    with db.transaction() as tx:
        tx.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT)")
    for version, _name, sql in migrations():
        with db.transaction() as tx:
            if db.dialect == "postgresql":  # two workers starting at once: one migrates, the other waits
                tx.execute("SELECT pg_advisory_xact_lock(7207001)")
            if tx.execute("SELECT 1 FROM schema_migrations WHERE version = ?", (version,)).fetchone():
                continue
            for statement in _statements(sql.replace("{id}", id_column).replace("{bytes}", bytes_column)):
                _apply(db, tx, statement)
            tx.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", (version, iso(utcnow())))
            applied.append(version)
    return applied


class SQLiteDatabase:
    dialect = "sqlite"
    lock_row = ""  # BEGIN IMMEDIATE already holds the one write lock

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = self._connect()
        migrate(self, "INTEGER PRIMARY KEY")

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def query(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        conn = self._connect()  # readers never wait for the writer (WAL)
        try:
            return [dict(r) for r in conn.execute(sql, tuple(params))]
        finally:
            conn.close()

    def close(self) -> None:
        self._conn.close()


def _pg(sql: str) -> str:
    """The store's `?` placeholders as psycopg's `%s` (a literal % doubled first)."""
    return sql.replace("%", "%%").replace("?", "%s")


class _PgTx:
    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Params = ()) -> Any:
        return self._conn.execute(_pg(sql), tuple(params))

    def executemany(self, sql: str, rows: Sequence[Params]) -> Any:
        """psycopg sends the rows in pipeline mode: one round trip for the lot, not one per row."""
        with self._conn.cursor() as cur:
            cur.executemany(_pg(sql), [tuple(r) for r in rows])


class PostgresDatabase:
    dialect = "postgresql"
    lock_row = " FOR UPDATE"

    def __init__(self, url: str) -> None:
        import psycopg
        from psycopg.rows import dict_row

        self.url = url
        self._lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._conn = psycopg.connect(url, autocommit=True)
        self._reader = psycopg.connect(url, autocommit=True, row_factory=dict_row)
        migrate(self, "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", "BYTEA")

    @contextmanager
    def transaction(self) -> Iterator[_PgTx]:
        with self._lock, self._conn.transaction():
            yield _PgTx(self._conn)

    def query(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        with self._read_lock:
            return [dict(r) for r in self._reader.execute(_pg(sql), tuple(params))]

    def close(self) -> None:
        self._conn.close()
        self._reader.close()
