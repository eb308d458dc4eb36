"""Provisioning costs, in one run: enrolment per device (claim to a working mTLS request), the TLS handshake of the
edge's device listener (client certificate) against plain HTTPS on the same node, and a staged profile roll-out to
simulated devices (validate, write, health check, keep) through `run_rollout`.

A real `markaz edge serve` with the device listener; every request on a fresh connection so each pays a handshake.
Run: .venv/bin/python -m benchmarks.bench_provision [--devices 20] [--handshakes 200] [--rollout 500]
(MARKAZ_BENCH_PROVISION_SIZE=tiny runs 2 devices, 10 handshakes, 20 roll-out targets: a quick check.)
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.report import summary_ms, write


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, verify) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, verify=verify, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


def main() -> None:
    tiny = os.environ.get("MARKAZ_BENCH_PROVISION_SIZE") == "tiny"
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", type=int, default=2 if tiny else 20)
    ap.add_argument("--handshakes", type=int, default=10 if tiny else 200)
    ap.add_argument("--rollout", type=int, default=20 if tiny else 500)
    args = ap.parse_args()

    from edge.node import EdgeNode
    from edge.settings import EdgeSettings
    from firmware_config.apply import ProfileStore, apply_profile
    from firmware_config.layers import default_layer, effective
    from firmware_config.rollout import run_rollout
    from firmware_config.schema import DeviceKind
    from markaz.config import load_settings
    from provisioning import pki
    from provisioning.device import Identity, enrol, mtls_context
    from provisioning.enrolment import StationPki
    from provisioning.listener import server_identity

    tmp = Path(tempfile.mkdtemp(prefix="markaz-bench-provision-"))
    data = tmp / "edge"
    keys = data / "keys"
    keys.mkdir(parents=True)
    root = pki.make_ca(tmp / "root", "bench root", path_length=1)
    pki.make_intermediate(root, keys / "station-ca", "bench")
    (keys / "root-ca.crt").write_bytes(root.cert.read_bytes())
    station = StationPki(keys, data / "station-ca.crl")
    https = server_identity(station, ("127.0.0.1",))  # plain HTTPS on the main listener: same key type, same chain
    port, device_port = _free_port(), _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "markaz.cli",
            "edge",
            "serve",
            "--data",
            str(data),
            "--port",
            str(port),
            "--station",
            "bench",
            "--device-port",
            str(device_port),
            "--tls-cert",
            str(https.cert),
            "--tls-key",
            str(https.key),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        root_ctx = ssl.create_default_context(cafile=str(root.cert))
        _wait(f"https://127.0.0.1:{port}/healthz", root_ctx)
        node = EdgeNode(load_settings(EdgeSettings, data_dir=data, station_id="bench"))
        enrol_s: list[float] = []
        identities = []
        try:
            for i in range(args.devices):
                t0 = time.perf_counter()
                claim = node.enrolment.create_claim(f"kiosk-{i}", "kiosk")
                ident = Identity(tmp / f"kiosk-{i}")
                enrol(f"https://127.0.0.1:{port}", claim.code, ident.dir, verify=root_ctx)
                ok = httpx.get(f"https://127.0.0.1:{device_port}/api/v1/enrolment/self", verify=mtls_context(ident))
                assert ok.status_code == 200, ok.text
                enrol_s.append(time.perf_counter() - t0)
                identities.append(ident)
        finally:
            node.close()
        # Alternate the two listeners, a fresh connection (full handshake) per request.
        mtls_ctx = mtls_context(identities[0])
        plain_s: list[float] = []
        mutual_s: list[float] = []
        for _ in range(args.handshakes):
            t0 = time.perf_counter()
            httpx.get(f"https://127.0.0.1:{port}/healthz", verify=root_ctx)
            plain_s.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            httpx.get(f"https://127.0.0.1:{device_port}/healthz", verify=mtls_ctx)
            mutual_s.append(time.perf_counter() - t0)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)

    kind = DeviceKind.kiosk
    eff = effective(kind, [("default", default_layer(kind)), ("station", {"idle_timeout_s": 90})])
    targets = [f"dev-{i:04d}" for i in range(args.rollout)]

    def apply(target: str) -> tuple[bool, str]:
        result = apply_profile(
            ProfileStore(tmp / "devices" / target), kind, eff.data, eff.version, eff.hash, lambda _p: []
        )
        return result.outcome == "applied", ",".join(result.reasons)

    t0 = time.perf_counter()
    report = run_rollout(targets, apply, failure_bound=5, first=0.1, wave_size=100)
    rollout_s = time.perf_counter() - t0
    assert len(report.applied) == args.rollout

    plain, mutual = summary_ms(plain_s), summary_ms(mutual_s)
    path = write(
        "provision",
        {
            "enrolment_claim_to_mtls": summary_ms(enrol_s),
            "fresh_connection_plain_https": plain,
            "fresh_connection_mtls": mutual,
            "mtls_over_plain_p50": round(mutual["p50_ms"] / plain["p50_ms"], 3) if plain["p50_ms"] else None,
            "rollout": {
                "devices": args.rollout,
                "seconds": round(rollout_s, 3),
                "waves": report.waves,
                "note": "simulated devices: schema check, hash check, atomic write, health stub, in one process",
            },
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
