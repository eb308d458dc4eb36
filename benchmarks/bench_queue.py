"""Queue throughput through HTTP against a real edge node process, with the core's own cost as the baseline.

Load generator: wrk (C, epoll) with benchmarks/queue_cycle.lua, one thread and one keep-alive connection per
counter, each looping issue -> call-next -> start; without wrk, an asyncio client (aiohttp) doing the same. Either
shares the machine's two cores with the server, so the figures are a floor.
The server's CPU time during the run (its own, and espeak-ng's for the hall's announcements) gives the CPU a ticket
costs, and so one core's ceiling, a figure that hardly depends on what else the machine runs. No hall display is
connected, so the hall speaks only its first AHEAD calls (`edge/hall/announcements.py`): speech follows the displays'
pace (one announcement every few seconds), not the counters'.
Baselines measured in the same run: the same operations through the queue core in-process (no HTTP), and the raw
cost of inserting ticket rows through sqlite-utils, each insert its own transaction. With wrk, also two stations'
nodes at once on the machine (half the counters and a wrk each): what two server processes get from these cores
together, an upper bound for a node that ran several.

Run: .venv/bin/python -m benchmarks.bench_queue [--seconds 10] [--counters 8]
A quick check that it runs: --seconds 1 --warmup 1 --counters 2 --core-cycles 50 --raw-rows 100
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.report import summary_ms, write

PASSWORD = "benchmark-password"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prepare(data: Path, counters: int) -> dict[str, str]:
    from edge.auth.principal import SYSTEM
    from edge.node import EdgeNode
    from edge.queue.catalogue import SAMPLE_CATALOGUE, Catalogue, CounterDef, apply_catalogue
    from edge.settings import EdgeSettings
    from markaz.config import load_settings

    node = EdgeNode(load_settings(EdgeSettings, data_dir=data))
    extra = [CounterDef(code=f"b{i}", services=["general"], open=True) for i in range(counters)]
    apply_catalogue(node.store, node.audit, Catalogue(services=SAMPLE_CATALOGUE.services, counters=extra), SYSTEM)
    node.auth.add_user("bench-officer", PASSWORD, "officer")
    tokens = {
        "kiosk": node.auth.add_device("bench-kiosk", "kiosk"),
        "officer": node.auth.login("bench-officer", PASSWORD)[0],
    }
    node.close()
    return tokens


async def _http_load(base: str, tokens: dict[str, str], counters: int, seconds: float, warmup: float) -> dict:
    import aiohttp

    kiosk = {"Authorization": f"Bearer {tokens['kiosk']}"}
    officer = {"Authorization": f"Bearer {tokens['officer']}"}
    lat = {"issue": [], "call_next": [], "start": []}
    cycles = 0
    errors: dict[str, int] = {}
    measuring = False
    stop_at = time.monotonic() + warmup + seconds

    async def timed(session, kind, method, url, **kw):
        t0 = time.perf_counter()
        async with session.request(method, url, **kw) as r:
            body = await r.json()
            status = r.status
        if measuring:
            lat[kind].append(time.perf_counter() - t0)
        return status, body

    async def flow(code: str):
        nonlocal cycles
        conn = aiohttp.TCPConnector(limit=1)
        async with aiohttp.ClientSession(base, connector=conn) as s:
            while time.monotonic() < stop_at:
                st, _ = await timed(s, "issue", "POST", "/api/v1/tickets", json={"service": "general"}, headers=kiosk)
                st2, t = await timed(s, "call_next", "POST", f"/api/v1/counters/{code}/call-next", headers=officer)
                if st2 != 200:
                    errors[f"call_next {st2}"] = errors.get(f"call_next {st2}", 0) + 1
                    continue
                st3, _ = await timed(s, "start", "POST", f"/api/v1/tickets/{t['id']}/start", headers=officer)
                if st != 201 or st3 != 200:
                    errors[f"issue {st}/start {st3}"] = errors.get(f"issue {st}/start {st3}", 0) + 1
                if measuring:
                    cycles += 1

    tasks = [asyncio.create_task(flow(f"b{i}")) for i in range(counters)]
    await asyncio.sleep(warmup)
    measuring = True
    t0 = time.monotonic()
    await asyncio.gather(*tasks)
    elapsed = time.monotonic() - t0
    all_lat = lat["issue"] + lat["call_next"] + lat["start"]
    return {
        "tickets_per_s": round(cycles / elapsed, 1),
        "requests_per_s": round(len(all_lat) / elapsed, 1),
        "cycles": cycles,
        "seconds": round(elapsed, 2),
        "latency_all": summary_ms(all_lat),
        "latency_issue": summary_ms(lat["issue"]),
        "latency_call_next": summary_ms(lat["call_next"]),
        "latency_start": summary_ms(lat["start"]),
        "errors": errors,
    }


def _wrk_load(base: str, tokens: dict[str, str], counters: int, seconds: float, warmup: float, pid: int) -> dict:
    script = str(Path(__file__).with_name("queue_cycle.lua"))
    common = [
        "wrk",
        "-t",
        str(counters),
        "-c",
        str(counters),
        "-s",
        script,
        base,
        "--",
        tokens["kiosk"],
        tokens["officer"],
    ]
    subprocess.run([*common[:1], "-d", f"{max(1, int(warmup))}s", *common[1:]], capture_output=True, check=True)
    run, cpu = _timed_cpu(pid, [*common[:1], "-d", f"{int(seconds)}s", "--timeout", "10s", *common[1:]])
    stats = json.loads(run.stdout.strip().splitlines()[-1])
    elapsed = stats["duration_us"] / 1e6
    return {
        "tickets_per_s": round(stats["cycles"] / elapsed, 1),
        "requests_per_s": round(stats["requests"] / elapsed, 1),
        "cycles": stats["cycles"],
        "seconds": round(elapsed, 2),
        "latency_all": {
            "n": stats["requests"],
            "p50_ms": stats["p50_us"] / 1000,
            "p90_ms": stats["p90_us"] / 1000,
            "p99_ms": stats["p99_us"] / 1000,
            "max_ms": stats["max_us"] / 1000,
        },
        "errors": {
            "non_2xx": stats["non_2xx"],
            "socket": stats["socket_errors"],
            "call_next_empty": stats["call_next_empty"],
        },
        "server_cpu": {
            "cores_used": round(cpu["server_s"] / cpu["wall_s"], 2),
            "ms_per_cycle": round(cpu["server_s"] / stats["cycles"] * 1000, 2),
            "ms_per_request": round(cpu["server_s"] / stats["requests"] * 1000, 3),
            "speech_children_ms_per_cycle": round(cpu["children_s"] / stats["cycles"] * 1000, 2),
            "one_core_ceiling_tickets_per_s": round(stats["cycles"] / cpu["server_s"], 1),
        },
    }


def _wrk_floor(base: str, counters: int, seconds: float, pid: int) -> dict:
    """The HTTP stack's own ceiling on this machine, in the same run: the same connections asking `/healthz` (one
    `SELECT 1`, no token, no write). A cycle is three authenticated writes, so it cannot exceed a third of this."""
    run, cpu = _timed_cpu(
        pid, ["wrk", "-t", str(counters), "-c", str(counters), "-d", f"{int(seconds)}s", f"{base}/healthz"]
    )
    rate = float(next(line for line in run.stdout.splitlines() if line.startswith("Requests/sec:")).split()[1])
    return {
        "requests_per_s": rate,
        "what": "GET /healthz, same threads and connections",
        "server_cpu_ms_per_request": round(cpu["server_s"] / (rate * cpu["wall_s"]) * 1000, 3),
    }


def _cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU time of a process so far: its own (user + system) and its reaped children's (espeak-ng for the hall)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick, (int(fields[13]) + int(fields[14])) / tick


def _timed_cpu(pid: int, argv: list[str]) -> tuple[subprocess.CompletedProcess, dict]:
    """Run wrk and say what CPU the server spent meanwhile: unlike a rate, this hardly depends on what else the
    machine runs, and one core's ceiling follows from it."""
    own0, kids0 = _cpu_seconds(pid)
    t0 = time.perf_counter()
    run = subprocess.run(argv, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    own1, kids1 = _cpu_seconds(pid)
    return run, {"server_s": own1 - own0, "children_s": kids1 - kids0, "wall_s": wall}


def _serve(data: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`markaz edge serve` on a free port, once it answers /healthz; (process, base URL)."""
    import httpx

    port = _free_port()
    markaz = str(Path(sys.executable).parent / "markaz")
    proc = subprocess.Popen(
        [markaz, "edge", "serve", "--data", str(data), "--port", str(port)],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    return proc, f"http://127.0.0.1:{port}"


def _two_stations(work: Path, counters: int, seconds: float, warmup: float) -> dict:
    """Two stations' nodes on this machine at once, each with half the counters and its own wrk: what two server
    processes together get from these cores, an upper bound for one node that ran several processes."""
    import threading

    nodes = []
    try:
        for i in (1, 2):
            data = work / f"station-{i}"
            tokens = _prepare(data, counters // 2)
            proc, base = _serve(data, work / f"station-{i}.log")
            nodes.append((proc, base, tokens))
        results: list[dict] = [{}, {}]

        def load(i: int) -> None:
            proc, base, tokens = nodes[i]
            results[i] = _wrk_load(base, tokens, counters // 2, seconds, warmup, proc.pid)

        threads = [threading.Thread(target=load, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for proc, _base, _tokens in nodes:
            proc.terminate()
            proc.wait(15)
    return {
        "what": f"2 nodes (separate data), {counters // 2} counters and one wrk each, at the same time",
        "tickets_per_s_together": round(sum(r["tickets_per_s"] for r in results), 1),
        "tickets_per_s_each": [r["tickets_per_s"] for r in results],
        "p99_ms_each": [r["latency_all"]["p99_ms"] for r in results],
        "server_cores_used_together": round(sum(r["server_cpu"]["cores_used"] for r in results), 2),
        "server_ms_per_cycle_each": [r["server_cpu"]["ms_per_cycle"] for r in results],
    }


def _core_baseline(data: Path, cycles: int) -> dict:
    """The same issue -> call-next -> start through the queue core in this process: SQL, audit chain, no HTTP."""
    from edge.auth.principal import Principal
    from edge.node import EdgeNode
    from edge.settings import EdgeSettings
    from markaz.config import load_settings

    node = EdgeNode(load_settings(EdgeSettings, data_dir=data, sample_data=True))
    node.start()
    kiosk, officer = Principal("device", "k", "kiosk"), Principal("staff", "o", "officer")
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(cycles):
        node.queue.issue("general", kiosk)
        t = node.queue.call_next("1", officer)
        node.queue.start(t.id, officer)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    node.stop()
    return {
        "tickets_per_s": round(cycles / elapsed, 1),
        "cycles": cycles,
        "us_per_ticket": round(elapsed / cycles * 1e6, 1),
        "cpu_ms_per_cycle": round(cpu / cycles * 1000, 2),
    }


def _sqlite_utils_baseline(path: Path, rows: int) -> dict:
    """Raw writes: one ticket-shaped row inserted per transaction through sqlite-utils, WAL, synchronous=NORMAL."""
    import sqlite_utils

    db = sqlite_utils.Database(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    table = db["tickets"]
    table.create({"id": int, "number": str, "service": str, "status": str, "arrived_at": str}, pk="id")
    t0 = time.perf_counter()
    for i in range(rows):
        table.insert(
            {"number": f"A{i:03d}", "service": "general", "status": "waiting", "arrived_at": "2026-11-23T09:00:00"}
        )
    elapsed = time.perf_counter() - t0
    db.close()
    return {"rows_per_s": round(rows / elapsed, 1), "rows": rows, "us_per_row": round(elapsed / rows * 1e6, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument(
        "--counters", type=int, default=8, help="concurrent counter flows (each issue -> call-next -> start)"
    )
    ap.add_argument("--core-cycles", type=int, default=2000, help="tickets through the in-process core baseline")
    ap.add_argument("--raw-rows", type=int, default=5000, help="rows of the raw sqlite-utils baseline")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="markaz-bench-queue-"))
    try:
        data = work / "node"
        tokens = _prepare(data, args.counters)
        proc, base = _serve(data, work / "server.log")
        two = None
        try:
            if shutil.which("wrk"):
                generator = f"wrk {args.counters} threads x 1 connection, benchmarks/queue_cycle.lua"
                http = _wrk_load(base, tokens, args.counters, args.seconds, args.warmup, proc.pid)
                floor = _wrk_floor(base, args.counters, args.seconds, proc.pid)
            else:
                generator = (
                    f"asyncio + aiohttp in one process, {args.counters} concurrent counter flows (wrk not installed)"
                )
                http = asyncio.run(_http_load(base, tokens, args.counters, args.seconds, args.warmup))
                floor = None
        finally:
            proc.terminate()
            proc.wait(15)
        if shutil.which("wrk"):
            two = _two_stations(work, args.counters, args.seconds, args.warmup)
        core = _core_baseline(work / "core", cycles=args.core_cycles)
        raw = _sqlite_utils_baseline(work / "raw.sqlite", rows=args.raw_rows)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    result = {
        "what": "issue -> call-next -> start per ticket, over HTTP against `markaz edge serve` (uvicorn, 1 process)",
        "load_generator": generator + "; keep-alive; shares the 2 cores with the server",
        "http": http,
        "baseline_http_floor": floor,
        "two_nodes_at_once": two,
        "baseline_core_in_process": core,
        "baseline_sqlite_utils_insert": raw,
        "ratios": {
            "http_vs_core_tickets": round(http["tickets_per_s"] / core["tickets_per_s"], 3),
            "http_ticket_cost_vs_raw_insert": round((1e6 / http["tickets_per_s"]) / raw["us_per_row"], 1),
            "http_requests_vs_floor": round(http["requests_per_s"] / floor["requests_per_s"], 3) if floor else None,
        },
        "bar": {"tickets_per_s": 300, "p99_ms": 100},
        "goal": {"tickets_per_s": 500, "p99_ms": 50},
    }
    path = write("queue", result)
    h = http
    print(
        f"queue over HTTP: {h['tickets_per_s']} tickets/s ({h['requests_per_s']} req/s), p50 {h['latency_all']['p50_ms']} ms, "
        f"p99 {h['latency_all']['p99_ms']} ms; server CPU {h.get('server_cpu', {}).get('ms_per_cycle')} ms/ticket; "
        f"core in-process {core['tickets_per_s']} tickets/s; "
        f"raw sqlite-utils insert {raw['us_per_row']} us/row -> {path}"
    )
    if any(h["errors"].values()):
        print(f"errors: {h['errors']}", file=sys.stderr)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
