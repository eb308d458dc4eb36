"""Reports through HTTP against a real edge node process with many reports in the store: p50/p99 of filing a
report (desk), tracking by reference and PIN (kiosk), and the workbench list with filters.

The store is seeded in bulk (one transaction, sealed personal data, one shared PIN hash) because filing 50,000
reports one by one would spend most of an hour in Argon2. Tracking verifies a real Argon2id hash on every call:
that deliberate cost is most of its latency.

Run: .venv/bin/python -m benchmarks.bench_reports [--reports 50000] [--samples 200]
(MARKAZ_BENCH_REPORTS sets the store size too; use a tiny one to check the code runs.)
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from benchmarks.report import summary_ms, write

PASSWORD = "benchmark-password"
DETAILS = {"subject": "noise from the neighbours", "description": "every night after midnight"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _seed(data: Path, n: int) -> dict[str, str]:
    from edge.auth.passwords import Passwords
    from edge.node import EdgeNode
    from edge.reports import reference
    from edge.reports.service import PartyIn
    from edge.reports.vocabulary import PartyRole
    from edge.settings import EdgeSettings
    from markaz.clock import iso, utcnow
    from markaz.config import load_settings

    node = EdgeNode(load_settings(EdgeSettings, data_dir=data, sample_data=True))
    node.auth.add_user("bench-officer", PASSWORD, "officer")
    tokens = {
        "kiosk": node.auth.add_device("bench-kiosk", "kiosk"),
        "officer": node.auth.login("bench-officer", PASSWORD)[0],
    }
    officer = node.auth.resolve(tokens["officer"])
    known = node.reports.file("general", DETAILS, PartyIn(PartyRole.COMPLAINANT, "Bench Visitor"), officer)
    tokens |= {"reference": known["reference"], "pin": known["pin"]}
    pin_hash = Passwords().hash("000000")
    sealer, code, now = node.reports.sealer, node.settings.reports.station_code, utcnow()
    types = [t.code for t in node.reports.catalogue.types]
    states = ["submitted", "received", "under_investigation", "returned", "referred", "closed"]
    rng = random.Random(7)
    with node.store.write() as db:
        last = db.conn.execute("SELECT last_seq FROM report_sequences").fetchone()[0]
        party_id = db.conn.execute("SELECT coalesce(max(id), 0) FROM report_parties").fetchone()[0]
        reports, parties = [], []
        for i in range(n):
            rid, seq, stamp = str(uuid.uuid4()), last + 1 + i, iso(now)
            state = rng.choice(states)
            reports.append(
                (
                    rid,
                    reference.make(code, now.year, seq),
                    rng.choice(types),
                    "desk",
                    state,
                    sealer.seal(DETAILS, f"reports.details_ct:{rid}"),
                    pin_hash,
                    "staff:bench",
                    stamp,
                    stamp,
                    None if state == "closed" else stamp,
                    rng.choice(["officer", "bench-officer", None]),
                )
            )
            party_id += 1
            parties.append((party_id, rid, sealer.seal(f"Visitor {i}", f"report_parties.name_ct:{party_id}"), stamp))
        db.conn.executemany(
            "INSERT INTO reports (id, reference, type, channel, state, details_ct, pin_hash, filed_by, filed_at, "
            "state_since, sla_due_at, officer) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            reports,
        )
        db.conn.executemany(
            "INSERT INTO report_parties (id, report_id, role, name_ct, added_by, added_at) "
            "VALUES (?, ?, 'complainant', ?, 'staff:bench', ?)",
            parties,
        )
        db.conn.execute("UPDATE report_sequences SET last_seq = ?", [last + n])
    node.close()
    return tokens


def _measure(base: str, tokens: dict[str, str], samples: int) -> dict[str, dict]:
    officer = {"Authorization": f"Bearer {tokens['officer']}"}
    kiosk = {"Authorization": f"Bearer {tokens['kiosk']}"}
    body = {"type": "general", "details": DETAILS, "complainant": {"name": "Bench Visitor"}}
    timings: dict[str, list[float]] = {"file": [], "track": [], "list_filtered": [], "workbench_page_filtered": []}
    with httpx.Client(base_url=base, timeout=30) as client:
        for i in range(samples):
            t0 = time.perf_counter()
            r = client.post("/api/v1/reports", json=body, headers=officer)
            timings["file"].append(time.perf_counter() - t0)
            assert r.status_code == 201, r.text
            t0 = time.perf_counter()
            r = client.post(
                "/api/v1/reports/track", json={"reference": tokens["reference"], "pin": tokens["pin"]}, headers=kiosk
            )
            timings["track"].append(time.perf_counter() - t0)
            assert r.status_code == 200, r.text
            state = ["submitted", "received", "under_investigation"][i % 3]
            t0 = time.perf_counter()
            r = client.get(f"/api/v1/reports?state={state}&type=theft&officer=officer&limit=50", headers=officer)
            timings["list_filtered"].append(time.perf_counter() - t0)
            assert r.status_code == 200, r.text
            # the same list as the officer's browser gets it: the server-rendered workbench page (Arabic)
            t0 = time.perf_counter()
            r = client.get(
                f"/reports?state={state}&type=theft&officer=officer", cookies={"markaz_staff": tokens["officer"]}
            )
            timings["workbench_page_filtered"].append(time.perf_counter() - t0)
            assert r.status_code == 200 and 'data-screen="reports"' in r.text, r.text[:200]
    return {k: summary_ms(v) for k, v in timings.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=int(os.environ.get("MARKAZ_BENCH_REPORTS", "50000")))
    parser.add_argument("--samples", type=int, default=int(os.environ.get("MARKAZ_BENCH_SAMPLES", "200")))
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench-reports-"))
    data = tmp / "node"
    proc = None
    try:
        t0 = time.perf_counter()
        tokens = _seed(data, args.reports)
        seed_s = time.perf_counter() - t0
        port = _free_port()
        markaz = str(Path(sys.executable).parent / "markaz")
        proc = subprocess.Popen(
            [markaz, "edge", "serve", "--data", str(data), "--port", str(port), "--sample-data"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        results = _measure(base, tokens, args.samples)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(15)
        shutil.rmtree(tmp, ignore_errors=True)
    out = {
        "reports_in_store": args.reports,
        "samples": args.samples,
        "seed_s": round(seed_s, 2),
        "target_p99_ms": 50,
        **results,
    }
    path = write("reports", out)
    print(f"wrote {path}: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
