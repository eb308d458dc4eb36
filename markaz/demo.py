"""`markaz demo`: one whole station on this machine, started for real, with its URLs printed.

Every part runs as its own process, as in a station: the edge node (HTTP API) with the sample catalogue, a
registered kiosk and an admin account, a little traffic so the KPIs show something. Ctrl-C stops everything."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _pick_port(preferred: int) -> int:
    if preferred and _port_free(preferred):
        return preferred
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, proc: subprocess.Popen, log: Path, seconds: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"demo: a component exited early; its log:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit(f"demo: {url} did not answer in {seconds:.0f} s; see {log}")


def _bootstrap(edge_data: Path, creds_file: Path) -> dict[str, str]:
    """First run only: an admin, an officer and a kiosk, their secrets kept in a file only the owner can read."""
    if creds_file.exists():
        return dict(line.split("=", 1) for line in creds_file.read_text().splitlines() if "=" in line)
    from edge.node import EdgeNode
    from edge.settings import EdgeSettings
    from markaz.config import load_settings

    node = EdgeNode(load_settings(EdgeSettings, data_dir=edge_data, sample_data=True, station_id="demo-station"))
    creds = {"admin_password": secrets.token_urlsafe(12), "officer_password": secrets.token_urlsafe(12)}
    try:
        node.auth.add_user("admin", creds["admin_password"], "admin")
        node.auth.add_user("officer", creds["officer_password"], "officer")
        creds["kiosk_token"] = node.auth.add_device("kiosk-1", "kiosk")
    finally:
        node.close()
    fd = os.open(creds_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("".join(f"{k}={v}\n" for k, v in creds.items()))
    return creds


def _some_traffic(base: str, creds: dict[str, str]) -> None:
    import httpx

    with httpx.Client(base_url=base, timeout=10) as c:
        kiosk = {"Authorization": f"Bearer {creds['kiosk_token']}"}
        if c.get("/api/v1/tickets", headers=kiosk).json()["tickets"]:
            return
        for service in ("general", "report", "general", "follow-up", "general"):
            c.post("/api/v1/tickets", json={"service": service}, headers=kiosk)
        token = c.post("/api/v1/auth/login", json={"username": "officer", "password": creds["officer_password"]}).json()["token"]
        officer = {"Authorization": f"Bearer {token}"}
        t = c.post("/api/v1/counters/1/call-next", headers=officer).json()
        c.post(f"/api/v1/tickets/{t['id']}/start", headers=officer)


def demo(
    data: Annotated[Path, typer.Option("--data", help="where the demo station keeps its files")] = Path("var/demo"),
    port: Annotated[int, typer.Option(help="edge node HTTP port (another is picked if taken)")] = 8080,
    duration: Annotated[float, typer.Option(help="stop after this many seconds (0 = until Ctrl-C)")] = 0,
) -> None:
    """Run a demo station: the edge node with sample services, a kiosk and staff accounts, printing its URLs."""
    data = data.resolve()
    data.mkdir(parents=True, exist_ok=True)
    edge_data = data / "edge"
    creds = _bootstrap(edge_data, data / "demo-credentials.txt")
    markaz = str(Path(sys.executable).parent / "markaz")
    procs: list[subprocess.Popen] = []

    def stop_all(*_: object) -> None:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()

    edge_port = _pick_port(port)
    edge_log = data / "edge.log"
    procs.append(
        subprocess.Popen(
            [markaz, "edge", "serve", "--data", str(edge_data), "--port", str(edge_port), "--sample-data", "--station", "demo-station"],
            stdout=edge_log.open("ab"), stderr=subprocess.STDOUT,
        )
    )
    base = f"http://127.0.0.1:{edge_port}"
    try:
        _wait_http(base + "/healthz", procs[-1], edge_log)
        _some_traffic(base, creds)
        typer.echo(
            "\n".join(
                [
                    "",
                    "markaz demo station is running (station id: demo-station)",
                    f"  edge node API docs   {base}/api/v1/docs",
                    f"  health               {base}/healthz",
                    f"  OpenAPI contract     {base}/api/v1/openapi.json",
                    f"  staff sign-in        POST {base}/api/v1/auth/login  (admin / officer; passwords in {data / 'demo-credentials.txt'})",
                    f"  KPIs                 .venv/bin/markaz edge kpis --data {edge_data}",
                    f"  audit check          .venv/bin/markaz edge audit verify --data {edge_data}",
                    f"  logs                 {edge_log}",
                    "Press Ctrl-C to stop.",
                ]
            )
        )
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        deadline = time.monotonic() + duration if duration else None
        while deadline is None or time.monotonic() < deadline:
            if any(p.poll() is not None for p in procs):
                raise SystemExit(f"demo: a component stopped; see the logs in {data}")
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        stop_all()
        typer.echo("demo stopped")
