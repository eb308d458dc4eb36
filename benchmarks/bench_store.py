"""What durability costs: the same write workload with SQLite `synchronous=NORMAL` and `FULL` (WAL), in one run.

The workload is the node's own write path for a visitor: `QueueService.issue` (a ticket row and its audit entry in one
BEGIN IMMEDIATE transaction, an anchor by count every 50 entries with its fsync'd line in the anchors file), one
ticket per transaction as the kiosks send them. The two modes run in alternating rounds on fresh nodes in the same
folder, so drift of the machine falls on both; the folder should be on the disk the station uses (not tmpfs, where
fsync costs nothing). Reported: per-ticket latency (median, p99), tickets/s, and FULL/NORMAL ratios.

Run: .venv/bin/python -m benchmarks.bench_store [--tickets 2000] [--rounds 4] [--dir var/bench-store]
(MARKAZ_BENCH_STORE_TICKETS sets --tickets too, e.g. 20 for a quick check.)
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from benchmarks.report import summary_ms, write

MODES = ("NORMAL", "FULL")


def _filesystem(folder: Path) -> str:
    try:
        out = subprocess.run(["df", "--output=fstype", str(folder)], capture_output=True, text=True, check=True).stdout
        return out.split()[-1]
    except (OSError, subprocess.CalledProcessError, IndexError):
        return "unknown"


def _round(folder: Path, mode: str, tickets: int) -> list[float]:
    from edge.auth.principal import Principal
    from edge.node import EdgeNode
    from edge.settings import EdgeSettings
    from markaz.config import load_settings

    shutil.rmtree(folder, ignore_errors=True)
    node = EdgeNode(load_settings(EdgeSettings, data_dir=folder, sample_data=True, synchronous=mode))
    node.start()
    kiosk = Principal("device", "kiosk-1", "kiosk")
    latencies = []
    try:
        for _ in range(tickets):
            t0 = time.perf_counter()
            node.queue.issue("general", kiosk)
            latencies.append(time.perf_counter() - t0)
    finally:
        node.stop()
    return latencies


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--tickets",
        type=int,
        default=int(os.environ.get("MARKAZ_BENCH_STORE_TICKETS", "2000")),
        help="tickets per round and mode",
    )
    ap.add_argument("--rounds", type=int, default=4, help="alternating NORMAL/FULL rounds")
    ap.add_argument("--dir", type=Path, default=Path("var/bench-store"), help="work folder (on the station's disk)")
    args = ap.parse_args()

    work = args.dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    samples: dict[str, list[float]] = {m: [] for m in MODES}
    elapsed: dict[str, float] = dict.fromkeys(MODES, 0.0)
    try:
        for n in range(args.rounds):
            order = MODES if n % 2 == 0 else MODES[::-1]
            for mode in order:
                lat = _round(work / f"node-{mode.lower()}", mode, args.tickets)
                samples[mode] += lat
                elapsed[mode] += sum(lat)
    finally:
        fs = _filesystem(work)
        shutil.rmtree(work, ignore_errors=True)

    modes: dict[str, Any] = {
        m: {**summary_ms(samples[m]), "tickets_per_s": round(len(samples[m]) / elapsed[m], 1)} for m in MODES
    }
    median = {m: statistics.median(samples[m]) for m in MODES}
    result = {
        "what": "QueueService.issue in-process, one ticket per transaction, WAL; synchronous NORMAL vs FULL",
        "tickets_per_round": args.tickets,
        "rounds": args.rounds,
        "filesystem": fs,
        "modes": modes,
        "ratios_full_vs_normal": {
            "median_latency": round(median["FULL"] / median["NORMAL"], 2),
            "throughput": round(modes["FULL"]["tickets_per_s"] / modes["NORMAL"]["tickets_per_s"], 3),
        },
    }
    path = write("store", result)
    print(
        f"durability: NORMAL p50 {modes['NORMAL']['p50_ms']} ms ({modes['NORMAL']['tickets_per_s']}/s), "
        f"FULL p50 {modes['FULL']['p50_ms']} ms ({modes['FULL']['tickets_per_s']}/s), "
        f"median ratio {result['ratios_full_vs_normal']['median_latency']} on {fs} -> {path}"
    )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
