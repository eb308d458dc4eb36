"""Reports through HTTP against a real edge node process with many reports in the store: p50/p99 of filing a
report (desk), tracking by reference and PIN (kiosk), the API list with filters, the workbench's list page, a
report's page (API and workbench) and the search by a party's document number (API and the workbench's find form).

The store is seeded in bulk through the node's own store (one transaction, sealed personal data, each report's PIN
kept keyed as filing keeps it, filing times spread over a year) because filing 50,000 reports one by one through
the API would take long. The tracking PIN is an HMAC under the station's PIN key (edge/reports/pins.py says why, not
Argon2id); staff sign-in still hashes with Argon2id, once, before the timing starts. Three untimed rounds of every
request come first (a process compiles its templates on its first render): the figures are the steady state.

Run: .venv/bin/python -m benchmarks.bench_reports [--reports 50000] [--samples 200]
(MARKAZ_BENCH_REPORTS and MARKAZ_BENCH_SAMPLES set them too; use a tiny size to check the code runs.)
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
WARM_UP = 3  # rounds of every request before the timed ones: a process's first render compiles its templates
WANTED = "L898902C3"  # a document number that is a party to every 500th seeded report: what the search looks for


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _seed(data: Path, n: int) -> dict[str, str]:
    from datetime import timedelta

    from edge.node import EdgeNode
    from edge.reports import reference
    from edge.reports.service import PartyIn
    from edge.reports.vocabulary import PartyRole
    from edge.settings import EdgeSettings
    from markaz.clock import iso, utcnow
    from markaz.config import load_settings

    node = EdgeNode(load_settings(EdgeSettings, data_dir=data, sample_data=True))
    node.auth.add_user("bench-officer", PASSWORD, "officer")
    wanted = node.keys.hash_document(WANTED)
    tokens = {
        "kiosk": node.auth.add_device("bench-kiosk", "kiosk"),
        "officer": node.auth.login("bench-officer", PASSWORD)[0],
    }
    officer = node.auth.resolve(tokens["officer"])
    known = node.reports.file("general", DETAILS, PartyIn(PartyRole.COMPLAINANT, "Bench Visitor"), officer)
    tokens |= {"reference": known["reference"], "pin": known["pin"]}
    pins, sealer = node.reports.pins, node.reports.sealer
    seeded_pin = pins.hash("seeded", "000000")
    code, now = node.settings.reports.station_code, utcnow()
    types = [t.code for t in node.reports.catalogue.types]
    states = ["submitted", "received", "under_investigation", "returned", "referred", "closed"]
    rng = random.Random(7)
    with node.store.write() as db:
        last = db.conn.execute("SELECT last_seq FROM report_sequences").fetchone()[0]
        party_id = db.conn.execute("SELECT coalesce(max(id), 0) FROM report_parties").fetchone()[0]
        reports, parties = [], []
        for i in range(n):
            # filed over the last year, oldest first, as a station's store fills up
            rid, seq, stamp = str(uuid.uuid4()), last + 1 + i, iso(now - timedelta(minutes=10 * (n - i)))
            state, ref = rng.choice(states), reference.make(code, now.year, seq)
            reports.append(
                (
                    rid,
                    ref,
                    rng.choice(types),
                    "desk",
                    state,
                    sealer.seal(DETAILS, f"reports.details_ct:{rid}"),
                    seeded_pin,  # one salted slow hash for all: these reports are never tracked, only listed
                    "staff:bench",
                    stamp,
                    stamp,
                    None if state == "closed" else stamp,
                    rng.choice(["officer", "bench-officer", None]),
                )
            )
            party_id += 1
            doc = wanted if i % 500 == 0 else None
            parties.append(
                (party_id, rid, sealer.seal(f"Visitor {i}", f"report_parties.name_ct:{party_id}"), doc, stamp)
            )
        db.conn.executemany(
            "INSERT INTO reports (id, reference, type, channel, state, details_ct, pin_hash, filed_by, filed_at, "
            "state_since, sla_due_at, officer) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            reports,
        )
        db.conn.executemany(
            "INSERT INTO report_parties (id, report_id, role, name_ct, document_hmac, added_by, added_at) "
            "VALUES (?, ?, 'complainant', ?, ?, 'staff:bench', ?)",
            parties,
        )
        db.conn.execute("UPDATE report_sequences SET last_seq = ?", [last + n])
    node.close()
    return tokens


def _timed(timings: dict[str, list[float]], name: str, call, check) -> None:
    t0 = time.perf_counter()
    r = call()
    timings.setdefault(name, []).append(time.perf_counter() - t0)
    assert check(r), f"{name}: {r.status_code} {r.text[:200]}"


def _measure(base: str, tokens: dict[str, str], samples: int) -> dict[str, dict]:
    officer = {"Authorization": f"Bearer {tokens['officer']}"}
    kiosk = {"Authorization": f"Bearer {tokens['kiosk']}"}
    cookie = {"markaz_staff": tokens["officer"]}
    same_origin = {"origin": base}
    body = {"type": "general", "details": DETAILS, "complainant": {"name": "Bench Visitor"}}
    timings: dict[str, list[float]] = {}
    ref = tokens["reference"]
    with httpx.Client(base_url=base, timeout=30) as c:
        for i in range(-WARM_UP, samples):  # the first rounds (templates compiled, caches filled) are not kept
            if i == 0:
                timings.clear()
            state = ["submitted", "received", "under_investigation"][i % 3]
            _timed(timings, "file", lambda: c.post("/api/v1/reports", json=body, headers=officer),
                   lambda r: r.status_code == 201)  # fmt: skip
            _timed(timings, "track", lambda: c.post("/api/v1/reports/track", headers=kiosk,
                                                    json={"reference": ref, "pin": tokens["pin"]}),
                   lambda r: r.status_code == 200)  # fmt: skip
            _timed(timings, "list_filtered",
                   lambda s=state: c.get(f"/api/v1/reports?state={s}&type=theft&officer=officer&limit=50", headers=officer),
                   lambda r: r.status_code == 200)  # fmt: skip
            _timed(timings, "list_newest", lambda: c.get("/api/v1/reports?limit=50", headers=officer),
                   lambda r: r.status_code == 200 and len(r.json()["reports"]) == 50)  # fmt: skip
            _timed(timings, "search_document",
                   lambda: c.post("/api/v1/reports/search", json={"document_number": WANTED}, headers=officer),
                   lambda r: r.status_code == 200 and r.json()["reports"])  # fmt: skip
            _timed(timings, "report_api", lambda: c.get(f"/api/v1/reports/{ref}", headers=officer),
                   lambda r: r.status_code == 200)  # fmt: skip
            # the same as the officer's browser gets them: the server-rendered workbench (Arabic)
            _timed(timings, "workbench_page_filtered",
                   lambda s=state: c.get(f"/reports?state={s}&type=theft&officer=officer", cookies=cookie),
                   lambda r: r.status_code == 200 and 'data-screen="reports"' in r.text)  # fmt: skip
            _timed(timings, "workbench_report_page", lambda: c.get(f"/reports/{ref}", cookies=cookie),
                   lambda r: r.status_code == 200 and 'data-screen="report"' in r.text)  # fmt: skip
            _timed(timings, "workbench_find_document",
                   lambda: c.post("/reports/find", data={"find": WANTED}, cookies=cookie, headers=same_origin),
                   lambda r: r.status_code == 200 and 'id="searched"' in r.text)  # fmt: skip
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
            stderr=(tmp / "server.log").open("wb"),
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120  # a busy machine starts the node slowly
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    print((tmp / "server.log").read_text(errors="replace")[-3000:], file=sys.stderr)
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
