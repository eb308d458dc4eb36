"""Shared fixtures: an edge node on a real SQLite file, its API in-process or as a real server process."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import httpx
import pytest

REPO = Path(__file__).resolve().parent.parent
MARKAZ = str(Path(sys.executable).parent / "markaz")
PASSWORD = "correct-horse-battery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate: Callable[[], object], timeout: float = 30.0) -> bool:
    """Poll a state another thread or process reaches; the bound only keeps a failing test from hanging."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


class FakeClock:
    """A settable clock for rules that depend on time (roll-over, rate limits, token expiry)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture
def make_node(tmp_path: Path) -> Iterator[Callable[..., object]]:
    """Build (not start) EdgeNodes on real SQLite files under tmp_path; stopped (if a test started one) or closed
    at teardown."""
    from edge.node import EdgeNode
    from edge.settings import EdgeSettings
    from markaz.config import load_settings

    made = []

    def factory(clock=None, data_dir: Path | None = None, **overrides):
        overrides.setdefault("sample_data", True)
        settings = load_settings(EdgeSettings, data_dir=data_dir or tmp_path / "node", **overrides)
        node = EdgeNode(settings, clock=clock) if clock else EdgeNode(settings)
        made.append(node)
        return node

    yield factory
    for node in made:
        if node.started:
            node.stop()  # its threads (telemetry, hall, timers) end before the store they use is closed
        elif not node.store._closed:
            node.store.close()


@pytest.fixture(scope="session")
def station_template(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A data folder with the sample catalogue, one account per staff role and a kiosk, signed in once per session:
    Argon2 is deliberately slow (about 0.2 s a hash here), so tests copy this folder instead of hashing again."""
    from edge.node import EdgeNode
    from edge.settings import EdgeSettings
    from markaz.config import load_settings

    data = tmp_path_factory.mktemp("template") / "node"
    node = EdgeNode(load_settings(EdgeSettings, data_dir=data, sample_data=True))
    node.start()
    tokens = {}
    for role in ("officer", "supervisor", "technician", "admin", "agency_viewer"):
        node.auth.add_user(role, PASSWORD, role)
        tokens[role] = node.auth.login(role, PASSWORD)[0]
    tokens["kiosk"] = node.auth.add_device("kiosk-1", "kiosk")
    node.stop()
    return data, tokens


@pytest.fixture
def node(make_node, station_template, tmp_path):
    template, _ = station_template
    data = tmp_path / "node"
    shutil.copytree(template, data)
    n = make_node(data_dir=data)
    n.start()
    yield n
    if not n.store._closed:
        n.stop()


@pytest.fixture
def client(node):
    from fastapi.testclient import TestClient

    from edge.api.app import create_app

    with TestClient(create_app(node)) as c:
        yield c


@pytest.fixture
def tokens(station_template, client) -> dict[str, str]:
    """A bearer token per staff role (user name = role, password PASSWORD), and one for the kiosk `kiosk-1`."""
    return dict(station_template[1])


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class ServerProcess:
    """A real `markaz edge serve` process on a free port, with extra arguments and environment variables.

    The one way the tests start an edge node as a process (the telemetry and provisioning helpers build on it).
    Its face models load when first used (a health check, a verification) rather than in the background at start:
    most of these nodes never verify a face, and each load is seconds of CPU on a shared machine. A node that serves
    a kiosk's visitors passes `PRELOAD` (its first face match then finds warm models, as in service)."""

    PRELOAD: ClassVar[dict[str, str]] = {"MARKAZ_VERIFY__PRELOAD": "true"}  # copied, never changed

    def __init__(self, data: Path, *extra: str, env: dict[str, str] | None = None) -> None:
        self.data = Path(data)
        self.port = free_port()
        self.extra = extra
        self.env = {"MARKAZ_VERIFY__PRELOAD": "false", **(env or {})}
        self.proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def arguments(self) -> list[str]:
        return [*self.extra]

    def start(self) -> ServerProcess:
        self.data.mkdir(parents=True, exist_ok=True)
        self.log = self.data.parent / f"server-{self.port}.log"
        self._log_fh = self.log.open("ab")
        self.proc = subprocess.Popen(
            [MARKAZ, "edge", "serve", "--data", str(self.data), "--port", str(self.port), *self.arguments()],
            stdout=self._log_fh,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
        )
        deadline = time.monotonic() + 90  # the node and its link process start on a shared, sometimes busy machine
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"edge node exited with {self.proc.returncode}: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.base + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"edge node did not become healthy: {self.log.read_text()[-3000:]}")

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def kill(self) -> None:
        """kill -9: no clean shutdown of anything."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None
        if hasattr(self, "_log_fh"):
            self._log_fh.close()


def run_markaz(*args: str, input: str | None = None, check: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run([MARKAZ, *args], input=input, capture_output=True, text=True, check=check, timeout=120)


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    started: list[ServerProcess] = []

    def factory(data: Path | None = None, *extra: str) -> ServerProcess:
        srv = ServerProcess(data or tmp_path / "node", *extra)
        started.append(srv)
        return srv.start()

    yield factory
    for srv in started:
        srv.stop()
