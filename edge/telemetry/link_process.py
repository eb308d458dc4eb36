"""The MQTT link as a process of its own: `markaz edge link` runs it, and the node supervises it as a child.

Why a process: the API, the outbox producer and paho's network loop no longer share one interpreter lock. The two
processes share the SQLite file (WAL): the node enqueues into the outbox and executes commands from the inbox; the
link drains the outbox, deletes rows on PUBACK and commits commands to the inbox before acknowledging them.

Supervised (`--supervised`, started by `markaz edge serve`), the child reads the node's heartbeats on standard
input and writes its state as JSON lines on standard output:
- stdin `beat` (every fraction of the keepalive): the node answers. No beat for a keepalive means a frozen node:
  the link drops its connection so the broker publishes `offline`, and connects again once beats return.
- stdin `wake`: new outbox rows (a beat too): publish now rather than at the next poll.
- stdin `stop`: a clean stop (the link says `offline` itself). End of stdin without `stop`: the node died; the
  link exits at once and the broker's Will says `offline`.
- stdout `{"connected": 5}` (protocol, 0 when lost), `{"commands_ready": true}`, `{"command": true}`,
  `{"central": "online"|"offline"}` (central's status as heard), `{"central_back": true}` (central restarted: the
  node publishes a full snapshot).
Run alone (systemd, `BindsTo=` the node's unit), it has no pipe: the node (setting `mqtt.link = "external"`) beats in
the database instead (`NodeBeat`), and a beat older than a keepalive is a frozen node, as above. SIGTERM stops it.
(Alone, the link re-announces the birth when central returns; the snapshots follow at their periodic intervals.)
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel

from edge.store.db import Synchronous
from edge.telemetry.settings import MqttSettings

log = logging.getLogger(__name__)


class LinkConfig(BaseModel):
    """What the link process needs of the node's settings (handed over by the supervisor as JSON)."""

    data_dir: Path
    station_id: str
    mqtt: MqttSettings
    synchronous: Synchronous = "NORMAL"
    log_level: str = "INFO"
    log_json: bool = False

    @property
    def db_path(self) -> Path:
        return self.data_dir / "edge.sqlite"


def run(config: LinkConfig, supervised: bool = False) -> int:
    """The link process's main: returns its exit status."""
    from edge.store import Store
    from edge.telemetry import samplers
    from edge.telemetry.inbox import Inbox, LinkRequests, NodeBeat
    from edge.telemetry.link import MqttLink
    from edge.telemetry.outbox import Outbox

    if not config.mqtt.url:
        log.error("link: no MQTT url in the settings; nothing to do")
        return 2
    if not config.db_path.exists():
        log.error("link: %s does not exist; start the node first (it creates and migrates it)", config.db_path)
        return 2
    store = Store(config.db_path, synchronous=config.synchronous, migrate=False)  # the node owns the schema
    try:
        store.query_one("SELECT 1 AS x FROM telemetry_inbox LIMIT 1")
    except Exception as exc:
        log.error("link: %s has no telemetry tables yet (%s); start the node first", config.db_path, exc)
        store.close()
        return 2
    s = config.mqtt
    outbox = Outbox(store, config.station_id, max_rows=s.outbox_max_rows, max_bytes=s.outbox_max_bytes)
    out = _StateWriter(sys.stdout if supervised else None)
    beats = _Heartbeats(s.keepalive) if supervised else None
    beat_row = NodeBeat(store)  # run alone: the node beats through the database instead of stdin
    link = MqttLink(
        outbox,
        s,
        versions=samplers.versions,
        inbox=Inbox(store),
        requests=LinkRequests(store),
        alive=beats.alive if beats else lambda: beat_row.fresh(s.keepalive),
        on_state=out.write,
        on_central_back=lambda: out.write("central_back", True),
    )
    stopping = threading.Event()

    def stop_cleanly(*_: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop_cleanly)
    signal.signal(signal.SIGINT, stop_cleanly)
    if beats is not None:
        beats.listen(sys.stdin, on_stop=stop_cleanly, on_wake=link.wake)
    link.start()
    log.info("link %s: publishing %s to %s", config.station_id, config.db_path, s.url)
    while not stopping.wait(0.2):
        if beats is not None and beats.parent_gone:
            log.warning("link: the node is gone; leaving without goodbye (the broker's Will says offline)")
            os._exit(1)
    link.stop()
    store.close()
    return 0


class _StateWriter:
    def __init__(self, stream: IO[str] | None) -> None:
        self.stream = stream
        self._lock = threading.Lock()

    def write(self, key: str, value: object) -> None:
        if self.stream is None:
            return
        with self._lock:
            self.stream.write(json.dumps({key: value}) + "\n")
            self.stream.flush()


class _Heartbeats:
    """The supervising node's beats on stdin: fresh means the node runs; EOF means it is gone."""

    def __init__(self, keepalive_s: float) -> None:
        self.timeout_s = float(keepalive_s)
        self.last = time.monotonic()
        self.parent_gone = False

    def alive(self) -> bool:
        return time.monotonic() - self.last < self.timeout_s

    def listen(self, stream: IO[str], on_stop: Callable[[], None], on_wake: Callable[[], None]) -> None:
        def read() -> None:
            for line in stream:
                word = line.strip()
                if word in ("beat", "wake"):
                    self.last = time.monotonic()
                if word == "wake":
                    on_wake()
                elif word == "stop":
                    on_stop()
                    return
            self.parent_gone = True

        threading.Thread(target=read, name="link-beats", daemon=True).start()


class LinkSupervisor:
    """The node's side: starts `markaz edge link --supervised`, beats, restarts it when it dies, stops it with the node.

    Offers what callers of an in-process link use: `commands_ready`, `connected`, `protocol`, `connects`."""

    def __init__(
        self,
        config: LinkConfig,
        on_connected: Callable[[], None] | None = None,
        on_command: Callable[[], None] | None = None,
        on_central_back: Callable[[], None] | None = None,
    ) -> None:
        self.config = config
        self.on_connected = on_connected
        self.on_command = on_command
        self.on_central_back = on_central_back
        self.central: str | None = None  # central's status as the link last heard it
        self.commands_ready = threading.Event()
        self.connected = False
        self.protocol = 5 if config.mqtt.protocol == "5" else 4
        self.connects = 0
        self.restarts = 0
        self.proc: subprocess.Popen[str] | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.beat_s = max(0.1, min(1.0, config.mqtt.keepalive / 4))

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def start(self) -> None:
        self._spawn()
        self._thread = threading.Thread(target=self._supervise, name="link-supervisor", daemon=True)
        self._thread.start()

    def _spawn(self) -> None:
        # what `markaz edge link --supervised` runs, without the CLI's own imports (typer, rich): up sooner
        argv = [
            sys.executable,
            "-m",
            "edge.telemetry.link_process",
            "--supervised",
            "--settings-json",
            self.config.model_dump_json(),
        ]
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        with self._lock:
            self.proc = proc
        threading.Thread(target=self._read, args=(proc,), name="link-state", daemon=True).start()
        log.info("link process started (pid %d)", proc.pid)

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                state = json.loads(line)
            except ValueError:
                continue
            if "connected" in state:
                self.connected = bool(state["connected"])
                if self.connected:
                    self.protocol = int(state["connected"])
                    self.connects += 1
                    if self.on_connected is not None:
                        self.on_connected()
                else:
                    self.commands_ready.clear()
            if state.get("commands_ready"):
                self.commands_ready.set()
            if state.get("command") and self.on_command is not None:
                self.on_command()
            if "central" in state:
                self.central = state["central"]
            if state.get("central_back") and self.on_central_back is not None:
                try:
                    self.on_central_back()
                except Exception:
                    log.exception("the node's answer to central's return failed")

    def _send(self, word: str) -> bool:
        proc = self.proc
        if proc is None or proc.stdin is None:
            return False
        try:
            proc.stdin.write(word + "\n")
            proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            return False
        return True

    def _supervise(self) -> None:
        failures = 0
        connects_before = 0
        while not self._stop.is_set():
            proc = self.proc
            assert proc is not None
            if proc.poll() is None:
                woken = self._wake.is_set()
                self._wake.clear()
                self._send("wake" if woken else "beat")
                if woken:
                    time.sleep(0.002)  # at most one wake line per 2 ms: a busy link is not waiting for them anyway
                self._wake.wait(self.beat_s)
                continue
            if self._stop.is_set():
                break
            self.connected = False
            self.commands_ready.clear()
            # a link that got connected before it died starts the backoff over; one that never did waits longer
            failures = 1 if self.connects > connects_before else failures + 1
            connects_before = self.connects
            delay = min(self.config.mqtt.link_restart_max_s, 0.5 * 2 ** min(failures - 1, 10))
            log.error("link process exited with %s; restarting in %.1f s", proc.returncode, delay)
            if self._stop.wait(delay):
                break
            self.restarts += 1
            self._spawn()

    def wake(self) -> None:
        """New outbox rows: tell the child (coalesced: one line however many rows came meanwhile)."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        self._send("stop")
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.error("link process did not stop in %.0f s; killing it", timeout)
            proc.kill()
            proc.wait(5)


def main(argv: list[str] | None = None) -> int:
    """`python -m edge.telemetry.link_process --supervised --settings-json JSON`: what the supervisor starts."""
    import argparse

    from markaz.logs import setup_logging

    parser = argparse.ArgumentParser(description="the MQTT link, supervised by the node (see `markaz edge link`)")
    parser.add_argument("--supervised", action="store_true")
    parser.add_argument("--settings-json", required=True)
    args = parser.parse_args(argv)
    config = LinkConfig.model_validate_json(args.settings_json)
    setup_logging(config.log_level, config.log_json)
    return run(config, supervised=args.supervised)


if __name__ == "__main__":
    sys.exit(main())
