"""Sign-in under a burst, against a real `markaz edge serve`: how much the node's peak memory grows when N sign-ins
arrive at once (Argon2 takes 64 MiB each), and how they are answered, with the hashing bound at its default and
with a bound as large as the burst (the unbounded case). Size: MARKAZ_BENCH_SIGN_IN_N (default 40)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from benchmarks.report import write

MARKAZ = str(Path(sys.executable).parent / "markaz")
MIB = 1024 * 1024


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM")


def burst(n: int, max_hashes: int | None) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        port = _free_port()
        env = {**os.environ, "MARKAZ_AUTH__CLIENT_FAILURES_LIMIT": str(10 * n)}
        if max_hashes is not None:
            env["MARKAZ_AUTH__MAX_CONCURRENT_HASHES"] = str(max_hashes)
        proc = subprocess.Popen(
            [MARKAZ, "edge", "serve", "--data", str(Path(tmp) / "node"), "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            httpx.post(base + "/api/v1/auth/login", json={"username": "warm-up", "password": "x"}, timeout=60)
            before = _peak_rss(proc.pid)
            barrier = threading.Barrier(n)

            def one(i: int) -> int:
                with httpx.Client(base_url=base, timeout=120) as c:
                    c.get("/healthz")
                    barrier.wait()
                    return c.post(
                        "/api/v1/auth/login", json={"username": f"nobody-{i}", "password": "wrong"}
                    ).status_code

            start = time.perf_counter()
            with ThreadPoolExecutor(n) as pool:
                codes = Counter(pool.map(one, range(n)))
            elapsed = time.perf_counter() - start
            grown = _peak_rss(proc.pid) - before
        finally:
            proc.terminate()
            proc.wait(15)
    return {
        "max_concurrent_hashes": max_hashes if max_hashes is not None else "default (4)",
        "sign_ins": n,
        "answers": {str(k): v for k, v in sorted(codes.items())},
        "peak_rss_growth_mib": round(grown / MIB, 1),
        "burst_s": round(elapsed, 2),
    }


def main() -> None:
    n = int(os.environ.get("MARKAZ_BENCH_SIGN_IN_N", "40"))
    runs = [burst(n, None), burst(n, n)]
    for r in runs:
        print(r, flush=True)
    write("sign_in", {"runs": runs, "note": "bound = n is the old, unbounded behaviour"})


if __name__ == "__main__":
    main()
