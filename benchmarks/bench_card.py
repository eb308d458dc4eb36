"""Full eMRTD read through the virtual stack (pcscd + vpcd + our virtual chip in its own process): median, p95, APDUs.

What one read is (the `EmrtdSession.read` the kiosk runs), measured in the same run for two chips, each in its own
emulator process: BAC + PA (EF.CardAccess absent, BAC with 3DES secure messaging, EF.COM, EF.SOD, DG1, a 15 KB JPEG
2000 DG2, parsing, passive authentication against the CSCA) and PACE + CA + PA (PACE ECDH Generic Mapping on
brainpoolP256r1 with AES-128 secure messaging, then DG14 and Chip Authentication on P-256 restarting secure messaging,
then the same files and checks). Baselines measured
in the same run: the raw APDU round trip through pcscd/vpcd (an unprotected GET CHALLENGE), which times the APDU count
gives the transport floor; and the same full read in-process against the same virtual chip without PC/SC at all.
Real contactless chips are much slower than this: 106-848 kbit/s radio links and slow chip crypto put a real full read
at one to several seconds.

Run: .venv/bin/python -m benchmarks.bench_card [--reads 50]   (MARKAZ_BENCH_CARD_READS overrides the default)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
FACE = ROOT / "tests" / "data" / "card" / "face.jp2"
TARGET_MS = 500.0
MRZ_FIELDS = dict(
    issuing_state="UTO",
    surname="ERIKSSON",
    given_names="ANNA MARIA",
    document_number="L898902C3",
    nationality="UTO",
    birth_date="740812",
    sex="F",
    expiry_date="340415",
)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary(ms: list[float]) -> dict:
    return {
        "n": len(ms),
        "median_ms": round(statistics.median(ms), 2),
        "p95_ms": round(pct(ms, 95), 2),
        "min_ms": round(min(ms), 2),
        "max_ms": round(max(ms), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=int(os.environ.get("MARKAZ_BENCH_CARD_READS", "50")))
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS / "card.json", help="where to write the results")
    args = parser.parse_args()

    from kiosk.card.testbed import PcscdTestbed

    load_at_start = os.getloadavg()[0]
    testbed = PcscdTestbed().start()
    os.environ.update(testbed.env)  # before the first PC/SC call of this process

    from kiosk.card.access import PlainChannel
    from kiosk.card.apdu import CommandAPDU
    from kiosk.card.emrtd import EmrtdSession, select_application
    from kiosk.card.emulator import DirectConnection, EmrtdApplet
    from kiosk.card.mrz import KeyedMrzSource, compose_td3
    from kiosk.card.personalisation import personalise
    from kiosk.card.pki import CSCA_CERT, load_or_create_pki
    from kiosk.card.reader import PcscReader
    from kiosk.card.trust_store import TrustStore

    mrz = compose_td3(**MRZ_FIELDS)
    source = KeyedMrzSource("L898902C3", "740812", "340415")
    workdir = Path(tempfile.mkdtemp(prefix="markaz-bench-card-"))
    pki_dir = workdir / "pki"

    def start_emulator(access: str, chip_auth: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "markaz"),
                "kiosk",
                "card",
                "emulate",
                "--mrz",
                mrz,
                "--photo",
                str(FACE),
                "--pki",
                str(pki_dir),
                "--port",
                str(testbed.port),
                "--access",
                access,
                "--chip-auth",
                chip_auth,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **testbed.env},
        )
        assert process.stderr is not None
        while "inserted" not in (line := process.stderr.readline()):
            if not line:
                raise SystemExit("emulator exited")
        return process

    def stop_emulator(process: subprocess.Popen[str]) -> None:
        process.terminate()
        process.wait(10)
        assert reader.wait_until_empty(10), "pcscd still sees the card"

    reader = PcscReader()
    measured: dict[str, dict] = {}
    try:
        for access, chip_auth in (("bac", "none"), ("pace", "ca")):
            emulator = start_emulator(access, chip_auth)
            try:
                store = TrustStore.load(pki_dir / CSCA_CERT)
                reads, connects, apdus, statuses, parts, used = [], [], set(), set(), [], set()
                for i in range(args.warmup + args.reads):
                    started = time.perf_counter()
                    connection = reader.wait_for_card(10)
                    connected = time.perf_counter()
                    try:
                        result = EmrtdSession(connection, trust_store=store).read(source)
                    finally:
                        connection.close()
                    done = time.perf_counter()
                    if i >= args.warmup:
                        connects.append((connected - started) * 1000)
                        reads.append((done - connected) * 1000)
                        apdus.add(result.apdus)
                        statuses.add(result.passive_auth.status)
                        parts.append(result.timings_ms)
                        used.add(f"{result.access} + chip auth {result.chip_auth.status}")
                dg2_bytes = len(result.photo.data)
                measured[access] = {
                    "reads": reads,
                    "connects": connects,
                    "apdus": apdus,
                    "statuses": statuses,
                    "parts": parts,
                    "access": used,
                }
                if access == "bac":
                    # Baseline 1: raw round trip of one short unprotected APDU through pcscd + vpcd.
                    connection = reader.wait_for_card(10)
                    try:
                        channel = PlainChannel(connection)
                        select_application(channel)
                        rtts = []
                        for _ in range(300):
                            t = time.perf_counter()
                            channel.transmit(CommandAPDU(0x00, 0x84, 0x00, 0x00, le=8))
                            rtts.append((time.perf_counter() - t) * 1000)
                    finally:
                        connection.close()
            finally:
                stop_emulator(emulator)
    finally:
        reader.close()
        testbed.cleanup()

    # Baseline 2: the same full read in-process, straight to the same kind of chip (no pcscd, no vpcd, no sockets).
    pki = load_or_create_pki(pki_dir)
    applet = EmrtdApplet(personalise(mrz, FACE.read_bytes(), pki))
    direct = []
    for _ in range(args.reads):
        t = time.perf_counter()
        EmrtdSession(DirectConnection(applet), trust_store=store).read(source)
        direct.append((time.perf_counter() - t) * 1000)
        applet.reset()

    bac, pace = measured["bac"], measured["pace"]
    read_summary = summary(bac["reads"])
    rtt = summary(rtts)
    apdu_count = max(bac["apdus"])

    def stages(parts: list[dict[str, float]]) -> dict[str, float]:
        return {k: round(statistics.median(p[k] for p in parts), 2) for k in parts[0]}

    out = {
        "benchmark": "card",
        "what": "full eMRTD read: BAC (3DES SM) + EF.COM + EF.SOD + DG1 + DG2 + parse + passive auth; and, as the "
        "'_pace' keys, PACE (ECDH-GM brainpoolP256r1, AES-128 SM) + DG14 + Chip Authentication (P-256) + the same",
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "pyscard_transport": "pcscd 1.9 + vsmartcard vpcd (TCP, NODELAY+QUICKACK) + markaz virtual chip "
            "in a separate process",
            "load_average_1m": {"start": round(load_at_start, 2), "end": round(os.getloadavg()[0], 2)},
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
        "full_read": read_summary,
        "apdus_per_read": apdu_count,
        "dg2_image_bytes": dg2_bytes,
        "passive_auth_statuses": sorted(bac["statuses"] | pace["statuses"]),
        "stage_median_ms": stages(bac["parts"]),
        "full_read_pace": summary(pace["reads"]),
        "apdus_per_read_pace": max(pace["apdus"]),
        "stage_median_ms_pace": stages(pace["parts"]),
        "access_used": {"bac": sorted(bac["access"]), "pace": sorted(pace["access"])},
        "card_connect": summary(bac["connects"]),
        "baseline_raw_apdu_round_trip": rtt,
        "baseline_transport_floor_ms": round(rtt["median_ms"] * apdu_count, 2),
        "baseline_in_process_read_no_pcsc": summary(direct),
        "target_ms": TARGET_MS,
        "meets_target": read_summary["p95_ms"] < TARGET_MS and summary(pace["reads"])["p95_ms"] < TARGET_MS,
        "note": "Virtual stack on one host: real contactless chips are far slower (radio link 106-848 kbit/s, chip "
        "crypto, ISO 14443 framing); expect one to several seconds for the same read on real documents.",
    }
    path = args.out.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(
        json.dumps(
            {
                k: out[k]
                for k in (
                    "full_read",
                    "apdus_per_read",
                    "full_read_pace",
                    "apdus_per_read_pace",
                    "stage_median_ms_pace",
                    "baseline_raw_apdu_round_trip",
                    "baseline_transport_floor_ms",
                    "baseline_in_process_read_no_pcsc",
                    "stage_median_ms",
                    "meets_target",
                )
            },
            indent=1,
        )
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
