"""Test support: a real edge node process, a real `markaz kiosk run` process, the ESC/POS sink and camera videos."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import httpx

from tests.conftest import MARKAZ, PASSWORD, auth, free_port

FACES = Path(__file__).resolve().parent.parent / "data" / "faces"


def register_kiosk(data_dir: Path, device: str = "kiosk-1") -> str:
    """Register a kiosk in a new edge node's database (before its process runs); returns the device token."""
    from edge.node import EdgeNode
    from edge.settings import EdgeSettings
    from markaz.config import load_settings

    node = EdgeNode(load_settings(EdgeSettings, data_dir=data_dir, sample_data=True))
    node.start()
    try:
        node.auth.add_user("admin", PASSWORD, "admin")
        return node.auth.add_device(device, "kiosk")
    finally:
        node.stop()


def admin_token(edge) -> str:
    r = httpx.post(f"{edge.base}/api/v1/auth/login", json={"username": "admin", "password": PASSWORD}, timeout=30)
    r.raise_for_status()
    return str(r.json()["token"])


def add_kiosk(edge, device: str) -> str:
    """Register another kiosk through the API, as a technician would; returns its token."""
    r = httpx.post(
        f"{edge.base}/api/v1/devices", json={"id": device, "type": "kiosk"}, headers=auth(admin_token(edge)), timeout=10
    )
    r.raise_for_status()
    return str(r.json()["token"])


def set_kiosk_enabled(edge, device: str, enabled: bool) -> None:
    """What central's kiosk.disable / kiosk.enable command does at the edge."""
    r = httpx.patch(
        f"{edge.base}/api/v1/devices/{device}", json={"enabled": enabled}, headers=auth(admin_token(edge)), timeout=10
    )
    r.raise_for_status()


def device_status(edge, device: str) -> dict:
    r = httpx.get(f"{edge.base}/api/v1/devices", headers=auth(admin_token(edge)), timeout=10)
    r.raise_for_status()
    return next(d for d in r.json()["devices"] if d["id"] == device)["status"] or {}


class KioskProcess:
    """`markaz kiosk run` on a free port with a settings file; the UI at `.url`."""

    def __init__(self, folder: Path, settings: dict[str, object], env: dict[str, str]) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = folder / "kiosk.toml"
        self.log = folder / f"kiosk-{self.port}.log"
        self.env = env
        self.settings = {**settings, "port": self.port}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> KioskProcess:
        import tomli_w

        self.folder.mkdir(parents=True, exist_ok=True)
        self.config.write_text(tomli_w.dumps({"kiosk": self.settings}))
        log = self.log.open("ab")
        # its own working, home and temporary folders: the privacy test searches everything the agent could write
        (self.folder / "tmp").mkdir(exist_ok=True)
        env = {
            **os.environ,
            **self.env,
            "PYTHONUNBUFFERED": "1",
            "HOME": str(self.folder),
            "TMPDIR": str(self.folder / "tmp"),
        }
        self.proc = subprocess.Popen(
            [MARKAZ, "kiosk", "run", "--config", str(self.config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=self.folder,
        )
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kiosk agent exited: {self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"kiosk agent did not start: {self.log.read_text()}")

    def health(self) -> dict[str, object]:
        return dict(httpx.get(f"{self.url}/healthz", timeout=5).json())

    def wait_health(self, key: str, value: object, timeout: float = 20) -> dict[str, object]:
        deadline = time.monotonic() + timeout
        while True:
            health = self.health()
            if health.get(key) == value or time.monotonic() > deadline:
                return health
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
