"""Central tests share the telemetry fixtures (throw-away CA, real Mosquitto) and run against both store backends:
SQLite files, and a real PostgreSQL server (Debian's package, a private cluster started once per session)."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from central.store import CentralStore
from tests.telemetry.conftest import broker, pki  # noqa: F401
from tests.ui.fixtures import chromium, page  # noqa: F401

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True, capture_output=True, text=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """A private PostgreSQL cluster on a free port (initdb + pg_ctl as the postgres user); yields a server URL
    without a database name."""
    if not (PG_BIN / "initdb").exists():
        pytest.fail("PostgreSQL 15 is not installed: `make venv` installs the postgresql package")
    root = Path(tempfile.mkdtemp(prefix="markaz-pg-"))
    shutil.chown(root, "postgres", "postgres")
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    shutil.chown(sock, "postgres", "postgres")
    port = _free_port()
    _as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
    _as_postgres(
        str(PG_BIN / "pg_ctl"),
        "-D",
        str(data),
        "-l",
        str(root / "server.log"),
        "-w",
        "-o",
        f"-p {port} -k {sock} -c listen_addresses='' -c fsync=off",
        "start",
    )
    try:
        yield f"postgresql://postgres@/?host={sock}&port={port}"
    finally:
        _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


def _new_database(server: str) -> str:
    import psycopg

    name = f"central_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server.replace("/?", "/postgres?"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server.replace("/?", f"/{name}?")


@pytest.fixture(params=["sqlite", "postgresql"])
def central_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a test's central store lives: a fresh SQLite file, or a fresh database on the private cluster."""
    if request.param == "sqlite":
        return str(tmp_path / "central.sqlite")
    return _new_database(request.getfixturevalue("postgres"))


@pytest.fixture
def open_store(central_db: str) -> Iterator[Callable[[], CentralStore]]:
    """Open (and close at the end) stores on the test's database; call it twice for two workers or a restart."""
    opened: list[CentralStore] = []

    def make() -> CentralStore:
        store = CentralStore(central_db)
        opened.append(store)
        return store

    yield make
    for store in opened:
        with contextlib.suppress(Exception):  # already closed by the test
            store.close()
