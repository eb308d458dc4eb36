"""Numbered schema migrations: `NNNN_name.sql` files in this folder, applied in order, each in its own transaction.

A migration, once released, is never edited: add a new file. Each part owns its own numbers
(0001-0009 foundation, 0010-0019 verification, 0020-0029 telemetry, 0030-0039 kiosk/devices, 0040+ reports).
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available() -> list[Migration]:
    found = []
    for entry in resources.files(__package__).iterdir():
        m = _NAME.match(entry.name)
        if m:
            found.append(Migration(int(m.group(1)), m.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda mig: mig.version)
    versions = [mig.version for mig in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a number: {versions}")
    return found


def applied(conn: sqlite3.Connection) -> set[int]:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    return {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}


def apply_migrations(conn: sqlite3.Connection) -> list[Migration]:
    """Apply every migration not yet applied; returns those applied now."""
    done = applied(conn)
    newly = []
    for mig in available():
        if mig.version in done:
            continue
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds")
        script = (
            "BEGIN IMMEDIATE;\n"
            + mig.sql
            + f"\n;INSERT INTO schema_migrations (version, name, applied_at) VALUES ({mig.version}, '{mig.name}', '{stamp}');\nCOMMIT;"
        )
        try:
            conn.executescript(script)
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise RuntimeError(f"migration {mig.version:04d}_{mig.name} failed: {exc}") from exc
        newly.append(mig)
    return newly
