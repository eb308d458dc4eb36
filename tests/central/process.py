"""Test support: `markaz central serve` as a real process (ingest + dashboard) on a free port, with staff accounts
made by `markaz central user add` beforehand."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.central.staff import PASSWORDS
from tests.telemetry.broker import Broker, free_port


def poll(fetch: Callable[[], Any], check: Callable[[Any], bool], timeout: float = 30.0) -> Any:
    """Bounded wait for the process to answer what we expect (only to avoid hanging)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = fetch()
            if check(value):
                return value
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        time.sleep(0.1)
    raise AssertionError("central did not show it in time")


class CentralProcess:
    def __init__(
        self, broker: Broker, db: str | Path, users: dict[str, str], extra: tuple[str, ...] = (), verify: Any = None
    ) -> None:
        """`users`: name -> role, created with the CLI before the process starts; `extra`: more `serve` options;
        `verify`: an SSL context for an HTTPS central (`--tls-cert`)."""
        self.broker, self.db, self.users = broker, str(db), users
        self.extra, self.verify = extra, verify
        self.port = free_port()
        self.base = f"{'https' if verify is not None else 'http'}://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> CentralProcess:
        for name, role in self.users.items():
            subprocess.run(
                [sys.executable, "-m", "markaz.cli", "central", "user", "add", name, "--role", role, "--db", self.db,
                 "--password-stdin"],
                input=(PASSWORDS[role] + "\n").encode(), check=True, capture_output=True,
            )  # fmt: skip
        cert = self.broker.pki.client("central.markaz")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "markaz.cli", "central", "serve", "--mqtt", self.broker.url,
             "--mqtt-ca", str(self.broker.pki.ca.cert), "--mqtt-cert", str(cert.cert), "--mqtt-key", str(cert.key),
             "--db", self.db, "--port", str(self.port), *self.extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        verify = self.verify if self.verify is not None else True
        poll(lambda: httpx.get(f"{self.base}/signin", timeout=1, verify=verify).status_code, lambda code: code == 200)
        return self

    def client(self, name: str) -> httpx.Client:
        """An HTTP client signed in as `name`."""
        http = httpx.Client(base_url=self.base, timeout=5, verify=self.verify if self.verify is not None else True)
        answer = http.post("/signin", data={"username": name, "password": PASSWORDS[self.users[name]]})
        assert answer.status_code == 303 and "markaz_central" in http.cookies, answer.text
        return http

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(15)
        self.proc = None
