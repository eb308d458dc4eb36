"""Provisioning costs, in one run: enrolment per device (claim to a working mTLS request), the TLS handshake of the
edge's device listener (client certificate) against plain HTTPS on the same node, and a staged profile roll-out to
simulated devices through the edge (the technician's staged roll-out, each device fetching its desired profile,
applying it and reporting over the API).

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


def _fleet_rollout(data: Path, edge: str, verify: ssl.SSLContext, tmp: Path, n: int, workers: int) -> dict:
    """A profile rolled out through the edge to `n` simulated kiosks: the technician's staged roll-out sets each
    wave's desired version in the node's store; each simulated device polls `GET /profiles/self` over HTTPS (its
    device token, keep-alive), applies it (hash, schema, atomic write; the health check is the only stub) and reports
    on `POST /profiles/self/report`. Measures the whole roll-out and each device's desired -> reported time."""
    import threading

    from edge.auth.principal import SYSTEM
    from edge.node import EdgeNode
    from edge.settings import EdgeSettings
    from firmware_config.apply import ProfileStore, apply_profile
    from firmware_config.schema import DeviceKind
    from markaz.config import load_settings

    node = EdgeNode(load_settings(EdgeSettings, data_dir=data, station_id="bench"))
    try:
        devices = [f"sim-{i:04d}" for i in range(n)]
        tokens = {d: node.auth.add_device(d, "kiosk") for d in devices}
        layer = data / "profiles" / "station" / "kiosk.toml"
        layer.parent.mkdir(parents=True, exist_ok=True)
        layer.write_text("idle_timeout_s = 90\n")
        stop = threading.Event()
        answered_at: dict[str, float] = {}

        def play(mine: list[str]) -> None:
            stores = {d: ProfileStore(tmp / "sim" / d) for d in mine}
            with httpx.Client(base_url=f"{edge}/api/v1", verify=verify, timeout=30) as http:
                while not stop.is_set():
                    for d in mine:
                        headers = {"Authorization": f"Bearer {tokens[d]}"}
                        desired = http.get("/profiles/self", headers=headers).json()
                        if desired is None or stores[d].version() == desired["version"]:
                            continue
                        result = apply_profile(stores[d], DeviceKind.kiosk, desired["profile"], desired["version"],
                                               desired["sha256"], lambda _p: [])  # fmt: skip
                        body = {"answers": desired["version"], "version": result.version,
                                "outcome": str(result.outcome), "reasons": result.reasons}  # fmt: skip
                        http.post("/profiles/self/report", json=body, headers=headers).raise_for_status()
                        answered_at[d] = time.perf_counter()
                    stop.wait(0.02)

        threads = [threading.Thread(target=play, args=(devices[i::workers],), daemon=True) for i in range(workers)]
        for t in threads:
            t.start()
        asked_at: dict[str, float] = {}
        real_desire = node.profiles.desire

        def desire(device_id, actor, *a, **k):  # type: ignore[no-untyped-def]
            asked_at[device_id] = time.perf_counter()
            return real_desire(device_id, actor, *a, **k)

        node.profiles.desire = desire  # type: ignore[method-assign]
        t0 = time.perf_counter()
        report = node.profiles.rollout(
            devices, SYSTEM, failure_bound=5, first=0.1, wave_size=100, timeout_s=120, concurrent=True, poll_s=0.05
        )
        seconds = time.perf_counter() - t0
        stop.set()
        for t in threads:
            t.join(30)
        assert len(report.applied) == n, report
        latency = [answered_at[d] - asked_at[d] for d in devices]
    finally:
        node.close()
    return {
        "devices": n,
        "workers": workers,
        "seconds": round(seconds, 3),
        "waves": report.waves,
        "desired_to_reported": summary_ms(latency),
        "note": "through the edge API (HTTPS, device tokens); devices poll every 20 ms; health check stubbed",
    }


def main() -> None:
    tiny = os.environ.get("MARKAZ_BENCH_PROVISION_SIZE") == "tiny"
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", type=int, default=2 if tiny else 20)
    ap.add_argument("--handshakes", type=int, default=10 if tiny else 200)
    ap.add_argument("--rollout", type=int, default=20 if tiny else 500)
    ap.add_argument("--workers", type=int, default=4 if tiny else 16, help="threads playing the simulated devices")
    args = ap.parse_args()

    from edge.node import EdgeNode
    from edge.settings import EdgeSettings
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
        fleet = _fleet_rollout(data, f"https://127.0.0.1:{port}", root_ctx, tmp, args.rollout, args.workers)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)

    plain, mutual = summary_ms(plain_s), summary_ms(mutual_s)
    path = write(
        "provision",
        {
            "enrolment_claim_to_mtls": summary_ms(enrol_s),
            "fresh_connection_plain_https": plain,
            "fresh_connection_mtls": mutual,
            "mtls_over_plain_p50": round(mutual["p50_ms"] / plain["p50_ms"], 3) if plain["p50_ms"] else None,
            "rollout": fleet,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
