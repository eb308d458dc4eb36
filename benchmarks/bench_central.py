"""Central at fleet scale, on a real Mosquitto (TLS, client certificates, QoS 1) and both store backends.

Measured in one run, side by side:
  ingest     stations publish a stream of contract messages as fast as they can; central's ingest (1 and 2 workers on
             the shared subscription, SQLite and PostgreSQL) and `mosquitto_sub` receive the same stream at once;
             each rate = messages / (first publish -> last message stored / received); the ratio ingest/mosquitto_sub
             says what validation and the store cost against the broker's own client.
  drain      the same stream published while the ingest (1 worker) and mosquitto_sub are stopped (SIGSTOP: the
             broker holds it for their sessions), then each resumed alone: messages / (resume -> last stored /
             received), the rate a worker keeps up with a backlog when the publishers do not limit it (they send
             about as fast as mosquitto_sub takes on this machine, so `ingest` alone cannot show a worker above it).
             Ingest and drain run each worker in MQTT 3.1.1 (as `markaz central ingest` does) and in MQTT 5.
  live       the fleet at its normal rate (every station a message every 60/7 s, in rounds of one message per
             station), PostgreSQL, 2 workers: how long each round takes from its publish to stored (p50/p95/max), and
             the share of a core the workers use.
  catch-up   a fleet of stations each holding a backlog (an outage of `--outage-min` minutes at the normal rate:
             a queue snapshot every 30 s, 5 devices and node health, verification, reports, queue day every 60 s)
             drains it at once; time until central has stored every message (PostgreSQL, 2 workers).
  dashboard  a store holding `--stations` x `--days` of telemetry (5-minute queue snapshots, hourly rollups, daily
             figures, alarms): p50/p95 of the fleet overview (stations + open alarms), a station page (its row,
             latest, gaps, events, a day of 5-minute and a week of hourly rollups) and the comparison over the days.

Targets (issue 11): ingest >= 5,000 msg/s per worker on PostgreSQL; the fleet at its normal rate kept up with;
500 stations x 1 h caught up within 5 minutes;
overview and station page p95 < 300 ms, comparison over 7 days p95 < 1 s.

Run: .venv/bin/python -m benchmarks.run central (full size: 500 stations x 7 days, 1 h outage; the lead runs it).
MARKAZ_BENCH_SMALL=1 (or --small) runs a tiny size that only checks the benchmark works. One part alone (its
result goes to central-<parts>-<backends>.json), with the arguments after `--`, or MARKAZ_BENCH_CENTRAL_ONLY / _BACKENDS:
  python -m benchmarks.run central -- --only dashboard --backend postgresql
  python -m benchmarks.run central -- --only comparison --backend sqlite   (fills only the daily figures)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.report import summary_ms, write

PG_BIN = Path("/usr/lib/postgresql/15/bin")
WINDOW = 200


# --- parts of the set-up ------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    """A private PostgreSQL cluster (initdb + pg_ctl as the postgres user); yields a URL without a database."""

    def as_postgres(*args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True, capture_output=True)

    root = Path(tempfile.mkdtemp(prefix="markaz-bench-pg-"))
    shutil.chown(root, "postgres", "postgres")
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    shutil.chown(sock, "postgres", "postgres")
    port = _free_port()
    as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
    opts = f"-p {port} -k {sock} -c listen_addresses='' -c synchronous_commit=off -c shared_buffers=256MB"
    as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-o", opts, "start")
    try:
        yield f"postgresql://postgres@/?host={sock}&port={port}"
    finally:
        as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


def new_pg_database(server: str) -> str:
    import psycopg

    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server.replace("/?", "/postgres?"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server.replace("/?", f"/{name}?")


def _device_message(station: str, seq: int, device: str, ts: datetime) -> bytes:
    from markaz.contracts import mqtt as contract

    state = contract.DeviceState(
        device=device, type="kiosk", enabled=True, online=True, last_heartbeat=ts, faults=[], reason="periodic"
    )
    msg = contract.DeviceMessage(schema="markaz.telemetry.devices/1", station=station, seq=seq, ts=ts, data=state)
    return contract.dump(msg)


def _queue_message(station: str, seq: int, ts: datetime, rng: random.Random) -> bytes:
    from markaz.contracts import mqtt as contract

    services = [
        contract.ServiceQueue(
            service=code,
            waiting=rng.randint(0, 20),
            longest_wait_s=rng.uniform(0, 1800),
            served=rng.randint(0, 300),
            mean_wait_s=rng.uniform(60, 900),
            no_shows=rng.randint(0, 10),
            counters_open=rng.randint(1, 5),
            target_wait_s=900,
        )
        for code in ("general", "report", "follow-up")
    ]
    snap = contract.QueueSnapshot(business_day=ts.date().isoformat(), reason="periodic", services=services)
    msg = contract.QueueMessage(schema="markaz.telemetry.queue/1", station=station, seq=seq, ts=ts, data=snap)
    return contract.dump(msg)


def station_stream(station: str, minutes: int, start: datetime, rng: random.Random) -> list[tuple[str, bytes]]:
    """A station's messages over `minutes` at the normal rate: a queue snapshot every 30 s, per minute 5 devices."""
    out: list[tuple[str, bytes]] = []
    seq = 0
    for minute in range(minutes):
        for half in (0, 30):
            seq += 1
            ts = start + timedelta(minutes=minute, seconds=half)
            out.append((f"markaz/v1/{station}/telemetry/queue", _queue_message(station, seq, ts, rng)))
        for d in range(5):
            seq += 1
            ts = start + timedelta(minutes=minute, seconds=d)
            out.append(
                (f"markaz/v1/{station}/telemetry/devices/kiosk-{d}", _device_message(station, seq, f"kiosk-{d}", ts))
            )
    return out


# One publisher process per STATIONS_PER_PROCESS stations. Each station is its own MQTT identity (its own
# certificate and client id: the broker's ACL lets a station write only its own topics), so a 500-station fleet is 500
# connections. paho's network loop waits on select(), which cannot watch a descriptor numbered 1024 or more, and each
# client holds three (its socket and a wake-up pair): in one process the clients past about the 340th are silently
# "connection lost" from their first loop on, and their publishes fail with "client not currently connected" (this is
# what stopped the full-size run). 100 stations a process keep every descriptor well below 1024.
STATIONS_PER_PROCESS = 100


def _publish_part(pki: Any, port: int, stations: list[str], minutes: int, per_station: int | None, seed: int,
                  ready: Any, go: Any, done: Any, every_s: float | None = None, go_at: Any = None) -> None:  # fmt: skip
    """A publisher process: builds its stations' streams, connects each station and waits for its CONNACK, says
    ready, then on `go` publishes every stream at once (round robin over its stations, QoS 1, a window of WINDOW in
    flight per station) and reports (published, failed, monotonic time of the last PUBACK). `every_s`: round `i` (a
    message of each station) is published `i * every_s` after `go` instead, the fleet's normal pace."""
    import itertools

    from tests.telemetry.broker import tls_client

    start_ts = datetime(2026, 3, 1, 8, tzinfo=UTC)
    streams = {st: station_stream(st, minutes, start_ts, random.Random(f"{seed}-{st}"))[:per_station]
               for st in stations}  # fmt: skip
    clients, connected = {}, []
    for st in stations:
        c = tls_client(pki, st, client_id=st)
        c.max_inflight_messages_set(WINDOW)
        c.max_queued_messages_set(0)
        event = threading.Event()
        c.on_connect = lambda _c, _u, _f, rc, _p, event=event: None if rc.is_failure else event.set()
        c.connect("127.0.0.1", port, 120)
        c.loop_start()
        clients[st] = c
        connected.append(event)
    if not all(e.wait(120) for e in connected):
        done.put((0, sum(len(s) for s in streams.values()), time.monotonic(), "not every station connected"))
        return
    ready.put(len(stations))
    go.wait()
    t0 = go_at.value if go_at is not None else time.monotonic()
    infos = []
    rounds = itertools.zip_longest(*([(st, topic, body) for topic, body in streams[st]] for st in stations))
    for i, batch in enumerate(rounds):
        if every_s is not None:
            time.sleep(max(0.0, t0 + i * every_s - time.monotonic()))
        for item in batch:
            if item is not None:
                st, topic, body = item
                infos.append(clients[st].publish(topic, body, qos=1))
    failed, why = 0, ""
    for info in infos:
        try:
            info.wait_for_publish(900)
            failed += 0 if info.is_published() else 1
        except (RuntimeError, ValueError) as exc:
            failed, why = failed + 1, str(exc)
    last = time.monotonic()
    for c in clients.values():
        c.disconnect()
        c.loop_stop()
    done.put((len(infos) - failed, failed, last, why))


class Publishers:
    """The stations, in processes of STATIONS_PER_PROCESS, connected and waiting; `go()` starts every stream at once
    and returns its monotonic start; `wait()` the time the broker had acknowledged every message."""

    def __init__(self, broker: Any, pki: Any, stations: list[str], minutes: int, per_station: int | None = None,
                 seed: int = 7, every_s: float | None = None) -> None:  # fmt: skip
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")  # no fork of a process with threads
        self._ready, self._done, self._go = ctx.Queue(), ctx.Queue(), ctx.Event()
        self._go_at = ctx.Value("d", 0.0)  # the start every paced process counts from
        parts = [stations[i : i + STATIONS_PER_PROCESS] for i in range(0, len(stations), STATIONS_PER_PROCESS)]
        self.procs = [
            ctx.Process(target=_publish_part, daemon=True,
                        args=(pki, broker.port, part, minutes, per_station, seed, self._ready, self._go, self._done,
                              every_s, self._go_at))
            for part in parts
        ]  # fmt: skip
        for p in self.procs:
            p.start()
        for _ in self.procs:
            try:
                self._ready.get(timeout=600)
            except Exception:
                self.close()
                raise RuntimeError(f"publishers did not connect: {self._done.get_nowait()}") from None

    def go(self) -> float:
        t0 = time.monotonic()  # CLOCK_MONOTONIC: the same clock in every process of the machine
        self._go_at.value = t0
        self._go.set()
        return t0

    def wait(self) -> tuple[int, float]:
        """(messages the broker acknowledged, monotonic time of the last PUBACK); raises if any publish failed."""
        results = [self._done.get(timeout=3600) for _ in self.procs]
        failed = [r for r in results if r[1]]
        if failed:
            raise RuntimeError(f"{sum(r[1] for r in failed)} publishes failed: {failed[0][3]}")
        return sum(r[0] for r in results), max(r[2] for r in results)

    def close(self) -> None:
        for p in self.procs:
            p.join(30)
            if p.is_alive():
                p.kill()


def mosquitto_sub(broker: Any, pki: Any, count: int, identity: str, *extra: str) -> subprocess.Popen[bytes]:
    cert = pki.client(identity)
    argv = [
        "mosquitto_sub",
        "-h",
        "127.0.0.1",
        "-p",
        str(broker.port),
        "-q",
        "1",
        "-V",
        "mqttv5",
        "-i",
        identity,
        *extra,
    ]
    argv += ["--cafile", str(pki.ca.cert), "--cert", str(cert.cert), "--key", str(cert.key)]
    argv += ["-t", "markaz/v1/+/telemetry/#", "-C", str(count)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system, every thread) a live process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _stored(store: Any) -> int:
    return int(store.query("SELECT count(*) AS n FROM messages")[0]["n"])


class IngestWorkers:
    """`markaz central ingest --worker N` as real processes, as central runs them (each its own interpreter and
    certificate, side by side on the shared subscription); ready once each has recorded its subscription."""

    def __init__(self, store: Any, target: str, broker: Any, pki: Any, workers: int, protocol: str = "3.1.1") -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        for i in range(1, workers + 1):
            own = pki.client(f"central-{i}.markaz")
            self.procs.append(subprocess.Popen(
                [sys.executable, "-m", "markaz.cli", "central", "ingest", "--mqtt", broker.url,
                 "--mqtt-ca", str(pki.ca.cert), "--mqtt-cert", str(own.cert), "--mqtt-key", str(own.key),
                 "--db", target, "--worker", str(i), "--mqtt-protocol", protocol],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ))  # fmt: skip
        names = {f"central-ingest-{i}" for i in range(1, workers + 1)}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            up = {w["client_id"] for w in store.ingest_workers() if w["connected_at"]}
            if names <= up:
                return
            if any(p.poll() is not None for p in self.procs):
                break
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("the ingest workers did not subscribe")

    def pause(self) -> None:
        for p in self.procs:
            p.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        for p in self.procs:
            p.send_signal(signal.SIGCONT)

    def cpu_s(self) -> float:
        """CPU seconds the workers have used so far (a figure the machine's load does not inflate)."""
        return sum(_cpu_s(p.pid) for p in self.procs)

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()


def _wait_stored(store: Any, total: int, timeout_s: float) -> tuple[int, float]:
    """(messages stored, monotonic time the count reached `total`, or the timeout)."""
    deadline = time.monotonic() + timeout_s
    n = _stored(store)
    while n < total and time.monotonic() < deadline:
        time.sleep(0.02)
        n = _stored(store)
    return n, time.monotonic()


# --- the measurements ---------------------------------------------------------------------------------------------


def _tear_down(publishers: Any, ingest: Any, store: Any, sub: subprocess.Popen[bytes] | None = None) -> None:
    """End a measurement's processes: the publishers, the ingest workers, the store and a mosquitto_sub (resumed
    first, should it still be stopped)."""
    if publishers is not None:
        publishers.close()
    ingest.stop()
    store.close()
    if sub is not None and sub.poll() is None:
        sub.send_signal(signal.SIGCONT)
        sub.kill()


def ingest_rate(
    broker: Any, pki: Any, target: str, workers: int, stations: list[str], per_station: int, protocol: str
) -> dict:
    """Central's ingest and mosquitto_sub on the same stream; rates from the first publish."""
    from central.store import CentralStore

    minutes = -(-per_station // 7)  # 7 messages a minute
    total = len(stations) * per_station
    store = CentralStore(target)  # migrated before the workers start
    ingest = IngestWorkers(store, target, broker, pki, workers, protocol)
    sub = mosquitto_sub(broker, pki, total, broker.recorder_identity())
    publishers = None
    try:
        time.sleep(1.0)  # mosquitto_sub connected and subscribed
        publishers = Publishers(broker, pki, stations, minutes, per_station)
        done_sub: list[float] = []
        sub_cpu: list[float] = []

        def reap() -> None:  # mosquitto_sub's end, with the CPU it used
            _pid, status, usage = os.wait4(sub.pid, 0)
            sub.returncode = os.waitstatus_to_exitcode(status)
            done_sub.append(time.monotonic())
            sub_cpu.append(usage.ru_utime + usage.ru_stime)

        cpu0 = ingest.cpu_s()
        t0 = publishers.go()
        threading.Thread(target=reap, daemon=True).start()
        _acked, published = publishers.wait()
        n, stored_at = _wait_stored(store, total, 900)
        ingest_cpu = ingest.cpu_s() - cpu0
        deadline = time.monotonic() + 60
        while not done_sub and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        _tear_down(publishers, ingest, store, sub)
    ingest_s, sub_s = stored_at - t0, (done_sub[0] if done_sub else float("nan")) - t0
    return {
        "protocol": protocol,
        "workers": workers,
        "stations": len(stations),
        "messages": total,
        "stored": n,
        "publish_s": round(published - t0, 3),
        "ingest_msg_per_s": round(total / ingest_s, 1),
        "ingest_msg_per_s_per_worker": round(total / ingest_s / workers, 1),
        "mosquitto_sub_msg_per_s": round(total / sub_s, 1),
        "ratio_ingest_to_mosquitto_sub": round(sub_s / ingest_s, 3),
        # CPU per message, every worker together, against mosquitto_sub's (its start included): what a message costs
        # whatever else the machine is doing; 1e6 / it is the rate one core could sustain
        "ingest_cpu_us_per_msg": round(ingest_cpu / total * 1e6, 1),
        "mosquitto_sub_cpu_us_per_msg": round(sub_cpu[0] / total * 1e6, 1) if sub_cpu else None,
    }


def drain_rate(broker: Any, pki: Any, target: str, stations: list[str], per_station: int, protocol: str) -> dict:
    """A backlog the broker holds for one stopped worker and a stopped mosquitto_sub, then drained by each alone."""
    from central.store import CentralStore

    minutes = -(-per_station // 7)
    total = len(stations) * per_station
    store = CentralStore(target)
    ingest = IngestWorkers(store, target, broker, pki, 1, protocol)
    sub = mosquitto_sub(broker, pki, total, broker.recorder_identity())
    publishers = None
    try:
        time.sleep(1.0)  # mosquitto_sub connected and subscribed
        ingest.pause()
        sub.send_signal(signal.SIGSTOP)
        publishers = Publishers(broker, pki, stations, minutes, per_station)
        t_pub = publishers.go()
        _acked, published = publishers.wait()  # the broker holds every message (well within the 30 s keepalive)
        cpu0 = ingest.cpu_s()
        t0 = time.monotonic()
        ingest.resume()
        n, stored_at = _wait_stored(store, total, 900)
        ingest_cpu = ingest.cpu_s() - cpu0
        ingest.stop()  # mosquitto_sub drains alone
        t1 = time.monotonic()
        sub.send_signal(signal.SIGCONT)
        _pid, status, usage = os.wait4(sub.pid, 0)
        sub.returncode = os.waitstatus_to_exitcode(status)
        sub_done = time.monotonic()
    finally:
        _tear_down(publishers, ingest, store, sub)
    return {
        "protocol": protocol,
        "workers": 1,
        "messages": total,
        "stored": n,
        "publish_s": round(published - t_pub, 3),
        "ingest_drain_s": round(stored_at - t0, 3),
        "ingest_msg_per_s": round(total / (stored_at - t0), 1),
        "mosquitto_sub_drain_s": round(sub_done - t1, 3),
        "mosquitto_sub_msg_per_s": round(total / (sub_done - t1), 1),
        "ratio_ingest_to_mosquitto_sub": round((sub_done - t1) / (stored_at - t0), 3),
        "ingest_cpu_us_per_msg": round(ingest_cpu / total * 1e6, 1),
        "mosquitto_sub_cpu_us_per_msg": round((usage.ru_utime + usage.ru_stime) / total * 1e6, 1),
        "mosquitto_sub_exit": sub.returncode,
    }


def live_fleet(broker: Any, pki: Any, target: str, stations: list[str], minutes: int, workers: int) -> dict:
    """The fleet at its normal pace for `minutes`: each round's time from its publish to stored, the workers' CPU."""
    from central.store import CentralStore

    every_s = 60 / 7  # 7 messages a station a minute (station_stream)
    rounds = max(1, int(minutes * 7))
    total = len(stations) * rounds
    store = CentralStore(target)
    ingest = IngestWorkers(store, target, broker, pki, workers)
    publishers = None
    lags: list[float] = []
    try:
        publishers = Publishers(broker, pki, stations, -(-rounds // 7), rounds, seed=13, every_s=every_s)
        cpu0 = ingest.cpu_s()
        t0 = publishers.go()
        for i in range(rounds):
            n, at = _wait_stored(store, (i + 1) * len(stations), 120)
            lags.append(at - (t0 + i * every_s))
        elapsed = time.monotonic() - t0
        cpu = ingest.cpu_s() - cpu0
        publishers.wait()
        gaps = store.query("SELECT count(*) AS n FROM gaps")[0]["n"]
    finally:
        _tear_down(publishers, ingest, store)
    ordered = sorted(lags)
    return {
        "stations": len(stations),
        "workers": workers,
        "minutes": minutes,
        "rounds": rounds,
        "messages": total,
        "stored": n,
        "open_gaps": gaps,
        "msg_per_s": round(total / elapsed, 1),
        "round_publish_to_stored_ms": {
            "p50": round(ordered[len(ordered) // 2] * 1000, 1),
            "p95": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000, 1),
            "max": round(ordered[-1] * 1000, 1),
        },
        "workers_cores_used": round(cpu / elapsed, 3),
        "ingest_cpu_us_per_msg": round(cpu / total * 1e6, 1),
    }


def catch_up(broker: Any, pki: Any, target: str, stations: list[str], outage_min: int, workers: int) -> dict:
    """Every station drains an outage's backlog at once; time until central has stored it all."""
    from central.store import CentralStore

    total = len(stations) * outage_min * 7
    store = CentralStore(target)
    ingest = IngestWorkers(store, target, broker, pki, workers)
    publishers = None
    try:
        publishers = Publishers(broker, pki, stations, outage_min, seed=11)
        t0 = publishers.go()
        acked, published = publishers.wait()
        n, stored_at = _wait_stored(store, total, 3600)
        gaps = store.query("SELECT count(*) AS n FROM gaps")[0]["n"]
        duplicates = store.query("SELECT coalesce(sum(duplicates), 0) AS n FROM stations")[0]["n"]
    finally:
        _tear_down(publishers, ingest, store)
    elapsed = stored_at - t0
    return {
        "stations": len(stations),
        "outage_min": outage_min,
        "workers": workers,
        "publisher_processes": len(publishers.procs),
        "messages": total,
        "acknowledged_by_broker": acked,
        "stored": n,
        "open_gaps": gaps,
        "duplicates": int(duplicates),
        "broker_took_backlog_s": round(published - t0, 2),
        "catch_up_s": round(elapsed, 2),
        "msg_per_s": round(total / elapsed, 1),
        "target_s": 300,
    }


def fill_dashboard_store(target: str, stations: int, days: int, raw: bool = True) -> dict:
    """A store as `stations` x `days` of telemetry leaves it, written straight to the tables (bulk, fast). `raw`:
    also the 5-minute snapshots and the rollups (the overview and station page read them; the comparison reads only
    the daily figures, so a run of the comparison alone skips them)."""
    from central import queue_days
    from central.store import CentralStore

    rng = random.Random(3)
    store = CentralStore(target)
    end = datetime(2026, 3, 8, tzinfo=UTC)
    start = end - timedelta(days=days)
    names = [f"st-{i:04d}" for i in range(stations)]
    counts = {"messages": 0, "rollups": 0, "daily": 0}
    with store.db.transaction() as tx:
        for s_i, st in enumerate(names):
            tx.execute(
                "INSERT INTO stations (station, state, state_since, versions, last_message_at, max_seq, received, "
                "state_changed_at, first_seen_at) VALUES (?, ?, ?, '{}', ?, ?, ?, ?, ?)",
                (st, "online" if s_i % 50 else "offline", start.isoformat(), end.isoformat(), 0, 0,
                 start.isoformat(), start.isoformat()),
            )  # fmt: skip
            seq = 0
            rows = []
            t = start if raw else end
            while t < end:  # a queue snapshot every 5 minutes, a device state every 15
                seq += 1
                data = json.loads(_queue_message(st, seq, t, rng))["data"]
                rows.append((st, seq, "markaz.telemetry.queue/1", f"markaz/v1/{st}/telemetry/queue", t.isoformat(),
                             t.isoformat(), json.dumps(data)))  # fmt: skip
                if seq % 3 == 0:
                    seq += 1
                    body = json.loads(_device_message(st, seq, "kiosk-1", t))["data"]
                    rows.append((st, seq, "markaz.telemetry.devices/1", f"markaz/v1/{st}/telemetry/devices/kiosk-1",
                                 t.isoformat(), t.isoformat(), json.dumps(body)))  # fmt: skip
                t += timedelta(minutes=5)
            for r in rows:
                tx.execute(
                    "INSERT INTO messages (station, seq, schema, topic, ts, received_at, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    r,
                )
            counts["messages"] += len(rows)
            tx.execute("UPDATE stations SET max_seq = ?, received = ? WHERE station = ?", (seq, seq, st))
            last = json.loads(rows[-2][6]) if len(rows) > 1 else {}
            tx.execute(
                "INSERT INTO latest (station, channel, seq, ts, data) VALUES (?, 'telemetry.queue', ?, ?, ?)",
                (st, seq, end.isoformat(), json.dumps(last)),
            )
            for bucket_s, step in ((300, timedelta(minutes=5)), (3600, timedelta(hours=1))) if raw else ():
                b = start if bucket_s == 3600 else end - timedelta(days=1)
                while b < end:
                    for series in ("queue.waiting", "queue.longest_wait_s", "queue.served"):
                        tx.execute(
                            "INSERT INTO rollups (station, series, key, bucket_s, bucket_start, samples, value_sum, "
                            "value_max) VALUES (?, ?, 'general', ?, ?, 1, ?, ?)",
                            (st, series, bucket_s, b.isoformat(), rng.uniform(0, 50), rng.uniform(50, 100)),
                        )
                        counts["rollups"] += 1
                    b += step
            for d in range(days):
                day = (start + timedelta(days=d)).date().isoformat()
                waits = [rng.expovariate(1 / 400) for _ in range(rng.randint(200, 600))]
                svc = {"service": "general", "target_wait_s": 900, "waits_s": waits, "served": len(waits) - 5,
                       "no_shows": 5}  # fmt: skip
                tx.execute(
                    "INSERT INTO daily (station, channel, business_day, seq, data) VALUES (?, ?, ?, ?, ?)",
                    (st, "telemetry.queue_day", day, d + 1, json.dumps({"business_day": day, "services": [svc]})),
                )
                ver = {"business_day": day, "match": rng.randint(100, 400), "no_match": rng.randint(0, 20), "retry": 3,
                       "spoof": rng.randint(0, 3), "latency_ms_p50": 20.0, "latency_ms_p95": 40.0}  # fmt: skip
                tx.execute(
                    "INSERT INTO daily (station, channel, business_day, seq, data) VALUES (?, ?, ?, ?, ?)",
                    (st, "telemetry.verification", day, d + 1, json.dumps(ver)),
                )
                counts["daily"] += 2
            if s_i % 25 == 0:
                tx.execute(
                    "INSERT INTO alarms (station, rule, subject, severity, state, since, raised_at, detail) "
                    "VALUES (?, 'station_offline', '', 'major', 'active', ?, ?, '{}')",
                    (st, end.isoformat(), end.isoformat()),
                )
    # the comparison's queue days, rolled up from the daily rows written above as on a store's first comparison
    # after migration 0030: a one-off, timed apart, so the rounds measure the steady state
    t0 = time.perf_counter()
    rolled = queue_days.refresh(store, start.date(), (end - timedelta(days=1)).date())
    counts["queue_days_rolled_up"] = rolled
    counts["queue_days_roll_up_s"] = round(time.perf_counter() - t0, 2)
    store.close()
    return {"stations": stations, "days": days, "raw": raw, **counts}


DASHBOARD = ("overview", "station", "comparison")  # the dashboard's parts, each its query and its page over HTTP


def dashboard_queries(target: str, stations: int, days: int, rounds: int, parts: set[str]) -> dict:
    """p50/p95 of each chosen part's queries, then of its pages (`dashboard_pages`)."""
    from central.alarms import open_alarms_by_station
    from central.comparison import compare
    from central.store import CentralStore

    store = CentralStore(target)
    end = datetime(2026, 3, 8, tzinfo=UTC)
    names = [f"st-{i:04d}" for i in range(stations)]
    rng = random.Random(5)
    overview: list[float] = []
    page: list[float] = []
    comparison: list[float] = []
    try:
        for _ in range(rounds):
            if "overview" in parts:
                t = time.perf_counter()
                rows = store.stations()
                alarms = open_alarms_by_station(store)
                assert len(rows) == stations and alarms
                overview.append(time.perf_counter() - t)

            st = rng.choice(names)
            if "station" in parts:
                t = time.perf_counter()
                detail = store.station(st)
                day = store.query(
                    "SELECT series, key, bucket_start, samples, value_sum, value_max FROM rollups WHERE station = ? "
                    "AND bucket_s = 300 AND bucket_start >= ? ORDER BY bucket_start",
                    (st, (end - timedelta(days=1)).isoformat()),
                )
                week = store.query(
                    "SELECT series, key, bucket_start, samples, value_sum, value_max FROM rollups WHERE station = ? "
                    "AND bucket_s = 3600 AND bucket_start >= ? ORDER BY bucket_start",
                    (st, (end - timedelta(days=7)).isoformat()),
                )
                assert detail is not None and day and week
                page.append(time.perf_counter() - t)

            if "comparison" in parts:
                t = time.perf_counter()
                first, last = (end - timedelta(days=days)).date(), (end - timedelta(days=1)).date()
                result = compare(store, first, last, "general")
                assert len(result.stations) == stations
                comparison.append(time.perf_counter() - t)
        pages = dashboard_pages(store, stations, days, rounds, names, end, parts)
    finally:
        store.close()
    out = {"overview": overview, "station_page": page, "comparison": comparison}
    return {**{k: summary_ms(v) for k, v in out.items() if v}, **pages}


def dashboard_pages(store: Any, stations: int, days: int, rounds: int, names: list[str], end: datetime,
                    parts: set[str]) -> dict:  # fmt: skip
    """The pages as staff get them (signed in, rendered, over HTTP in-process): the overview with 20 stations'
    rows changed between two requests (as a running ingest changes them), a station's page, the comparison page."""
    from fastapi.testclient import TestClient

    from central.staff.service import StaffService
    from central.web import create_app
    from markaz.clock import iso, utcnow

    StaffService(store.db).add_user("bench", "bench-password-1", "central_viewer")
    client = TestClient(create_app(store))
    assert client.post("/signin", data={"username": "bench", "password": "bench-password-1"},
                       follow_redirects=False).status_code == 303  # fmt: skip
    rng = random.Random(9)
    overview: list[float] = []
    page: list[float] = []
    comparison: list[float] = []
    first, last = (end - timedelta(days=days)).date(), (end - timedelta(days=1)).date()
    for _ in range(rounds):
        with store.db.transaction() as tx:
            for st in rng.sample(names, min(20, len(names))):
                tx.execute("UPDATE stations SET last_message_at = ?, received = received + 1 WHERE station = ?",
                           (iso(utcnow()), st))  # fmt: skip
        if "overview" in parts:
            t = time.perf_counter()
            answer = client.get("/?lang=ar")
            overview.append(time.perf_counter() - t)
            assert answer.status_code == 200 and answer.text.count("<tr data-station=") == stations
        station, span = rng.choice(names), rng.choice(["day", "week"])
        if "station" in parts:
            t = time.perf_counter()
            answer = client.get(f"/stations/{station}?lang=ar&span={span}")
            page.append(time.perf_counter() - t)
            assert answer.status_code == 200
        if "comparison" in parts:
            t = time.perf_counter()
            answer = client.get(f"/comparison?lang=ar&period=custom&start={first}&end={last}&service=general")
            comparison.append(time.perf_counter() - t)
            assert answer.status_code == 200 and answer.text.count("<tr data-station=") == stations
    out = {"overview_page": overview, "station_page_http": page, "comparison_page": comparison}
    return {k: summary_ms(v) for k, v in out.items() if v}


# --- main ---------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    from tests.telemetry.broker import Broker, Pki

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", action="store_true", default=bool(os.environ.get("MARKAZ_BENCH_SMALL")))
    parser.add_argument("--ingest-stations", type=int, default=20)
    parser.add_argument("--ingest-per-station", type=int, default=1000)
    parser.add_argument("--stations", type=int, default=500)
    parser.add_argument("--outage-min", type=int, default=60)
    parser.add_argument("--live-min", type=float, default=2.0, help="minutes of the fleet at its normal pace")
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--only", default=os.environ.get("MARKAZ_BENCH_CENTRAL_ONLY",
                        "ingest,drain,live,catch-up,dashboard"),
                        help="which parts to run, comma-separated: ingest, drain, live, catch-up, dashboard (all three pages) or "
                        "some of its parts: overview, station, comparison")  # fmt: skip
    parser.add_argument("--backends", "--backend", default=os.environ.get("MARKAZ_BENCH_CENTRAL_BACKENDS",
                        "sqlite,postgresql"), help="comma-separated: sqlite, postgresql (or postgres)")  # fmt: skip
    parser.add_argument("--workers", default="1,2", help="ingest workers side by side, comma-separated: 1,2")
    parser.add_argument("--protocols", default="3.1.1,5", help="the ingest workers' MQTT, comma-separated: 3.1.1,5")
    args = parser.parse_args(argv)
    parts = set(args.only.split(","))
    if "dashboard" in parts:
        parts = (parts - {"dashboard"}) | set(DASHBOARD)
    chosen = {"postgres": "postgresql", "pg": "postgresql"}
    asked = {chosen.get(b, b) for b in args.backends.split(",")}
    backends = [b for b in ("sqlite", "postgresql") if b in asked]
    protocols = args.protocols.split(",")
    if (
        unknown := (parts - {"ingest", "drain", "live", "catch-up", *DASHBOARD})
        | (asked - set(backends))
        | (set(protocols) - {"3.1.1", "5"})
    ):
        parser.error(f"unknown part or backend: {', '.join(sorted(unknown))}")
    if args.small:
        args.ingest_stations, args.ingest_per_station = 4, 60
        args.stations, args.outage_min, args.days, args.rounds, args.live_min = 6, 2, 2, 5, 0.3
    result: dict[str, Any] = {"size": "small" if args.small else "full", "args": vars(args)}
    dashboard = parts & set(DASHBOARD)
    needs_pg = bool(parts & {"catch-up", "live"}) or (
        "postgresql" in backends and bool(parts & {"ingest", "drain", *DASHBOARD})
    )
    with (
        tempfile.TemporaryDirectory(prefix="markaz-bench-central-") as tmp_name,
        postgres() if needs_pg else contextlib.nullcontext("") as pg,
    ):
        tmp = Path(tmp_name)
        pki = Pki.create(tmp / "pki")
        ingest_names = [f"in-{i:03d}" for i in range(args.ingest_stations)]
        result["ingest"] = []
        for backend in backends if "ingest" in parts else ():
            for workers, protocol in [(int(w), p) for w in args.workers.split(",") for p in protocols]:
                broker = Broker(tmp / f"broker-{backend}-{workers}-{protocol}", pki).start()
                try:
                    name = f"ingest-{workers}-{protocol}.sqlite"
                    target = str(tmp / name) if backend == "sqlite" else new_pg_database(pg)
                    row = ingest_rate(broker, pki, target, workers, ingest_names, args.ingest_per_station, protocol)
                    row["backend"] = backend
                    print(json.dumps(row), flush=True)
                    result["ingest"].append(row)
                finally:
                    broker.kill()
        result["drain"] = []
        for backend, protocol in [(b, p) for b in backends for p in protocols] if "drain" in parts else ():
            broker = Broker(tmp / f"broker-drain-{backend}-{protocol}", pki).start()
            try:
                name = f"drain-{protocol}.sqlite"
                target = str(tmp / name) if backend == "sqlite" else new_pg_database(pg)
                row = drain_rate(broker, pki, target, ingest_names, args.ingest_per_station * 2, protocol)
                row["backend"] = backend
                print(json.dumps(row), flush=True)
                result["drain"].append(row)
            finally:
                broker.kill()

        def fleet_part(key: str, prefix: str, measure: Any) -> None:
            """A part of the whole fleet (`--stations`) on a broker of its own and a fresh PostgreSQL database."""
            broker = Broker(tmp / f"broker-{key}", pki).start()
            try:
                fleet = [f"{prefix}-{i:04d}" for i in range(args.stations)]
                result[key] = {**measure(broker, new_pg_database(pg), fleet), "backend": "postgresql"}
                print(json.dumps(result[key]), flush=True)
            finally:
                broker.kill()

        if "live" in parts:
            fleet_part("live", "lv", lambda b, db, fleet: live_fleet(b, pki, db, fleet, args.live_min, workers=2))
        if "catch-up" in parts:
            fleet_part("catch_up", "fl", lambda b, db, fleet: catch_up(b, pki, db, fleet, args.outage_min, workers=2))
        result["dashboard"] = {}
        for backend in backends if dashboard else ():
            target = str(tmp / "dashboard.sqlite") if backend == "sqlite" else new_pg_database(pg)
            t = time.perf_counter()
            filled = fill_dashboard_store(target, args.stations, args.days, raw=bool(dashboard - {"comparison"}))
            filled["fill_s"] = round(time.perf_counter() - t, 1)
            filled["parts"] = sorted(dashboard)
            filled.update(dashboard_queries(target, args.stations, args.days, args.rounds, dashboard))
            print(backend, json.dumps(filled), flush=True)
            result["dashboard"][backend] = filled
    whole = (
        parts >= {"ingest", "drain", "live", "catch-up", *DASHBOARD} and len(backends) == 2 and args.workers == "1,2"
    )
    # a part run alone keeps its own file (central-comparison-sqlite.json, ...), so parts measured apart add up
    partial = "central-" + "-".join([*sorted(set(args.only.split(","))), *backends])
    path = write("central-small" if args.small else ("central" if whole else partial), result)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
