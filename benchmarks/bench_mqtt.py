"""MQTT telemetry through the outbox against raw paho-mqtt, on a real Mosquitto (TLS, client certificates, QoS 1).

Measured in one run, same broker, same payloads, same in-flight window:
  raw      paho publishes N prepared messages, QoS 1, until every PUBACK is back (no persistence at all);
  outbox   a producer enqueues N messages one by one (each its own SQLite commit, as the node does) while the link,
           a process of its own (`markaz edge link --supervised`, as `markaz edge serve` runs it), drains them from
           the same SQLite file; from the first enqueue until the last row is deleted on PUBACK; the producer's
           store as the node runs it (synchronous=FULL), and again with NORMAL to show what the per-commit fsync costs;
  drain    a 100,000-message backlog left by an outage, from connect until the outbox is empty;
  latency  enqueue -> a subscriber's on_message, at a steady 500 msg/s (p50/p99).

Run: .venv/bin/python -m benchmarks.bench_mqtt [--n 20000] [--backlog 100000] [--latency-n 3000] [--rounds 3]
(a quick check: --n 300 --backlog 300 --latency-n 50 --rounds 1)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.report import summary_ms, write

WINDOW = 200


def _payloads(n: int) -> list[bytes]:
    from markaz.contracts import mqtt as contract

    data = contract.DeviceFault(device="kiosk-1", fault="printer_error", state="raised")
    return [
        contract.dump(
            contract.DeviceFaultMessage(
                schema="markaz.events.device_fault/1", station="st-b", seq=i + 1, ts=time.time(), data=data
            )
        )
        for i in range(n)
    ]


def raw_paho(broker, pki, n: int) -> float:
    from tests.telemetry.broker import tls_client

    payloads = _payloads(n)
    client = tls_client(pki, "st-b", client_id="raw-bench")
    client.max_inflight_messages_set(WINDOW)
    client.max_queued_messages_set(0)
    done = threading.Event()
    acked = [0]

    def on_publish(c, u, mid, rc, p):
        acked[0] += 1
        if acked[0] == n:
            done.set()

    client.on_publish = on_publish
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    time.sleep(0.3)
    start = time.perf_counter()
    for body in payloads:
        client.publish("markaz/v1/st-b/events/device_fault", body, qos=1)
    assert done.wait(300)
    elapsed = time.perf_counter() - start
    client.disconnect()
    client.loop_stop()
    return n / elapsed


def _link(tmp: Path, broker, pki, name: str, connect: bool = True, synchronous: str = "FULL"):
    """The producer's store and outbox here; the link as its own process on the same file, as the node runs it."""
    from edge.store import Store
    from edge.telemetry.link_process import LinkConfig, LinkSupervisor
    from edge.telemetry.outbox import Outbox
    from edge.telemetry.settings import MqttSettings

    data = tmp / name
    data.mkdir(parents=True, exist_ok=True)
    store = Store(data / "edge.sqlite", synchronous=synchronous)  # FULL: what the node runs with
    outbox = Outbox(store, "st-b", max_rows=10_000_000, max_bytes=2**40)
    cert = pki.client("st-b")
    settings = MqttSettings(
        url=broker.url,
        ca=pki.ca.cert,
        cert=cert.cert,
        key=cert.key,
        inflight_window=WINDOW,
        outbox_max_rows=10_000_000,
        outbox_max_bytes=2**40,
    )
    link = LinkSupervisor(LinkConfig(data_dir=data, station_id="st-b", mqtt=settings, log_level="WARNING"))
    outbox.on_enqueue(link.wake)
    if connect:
        link.start()
        assert link.commands_ready.wait(30)
    return store, outbox, link


def _wait_empty(outbox, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while outbox.health().backlog and time.monotonic() < deadline:
        time.sleep(0.02)  # a count over the table: often enough, without stealing the link's time
    assert not outbox.health().backlog, "outbox did not drain"


def outbox_rate(tmp: Path, broker, pki, n: int, synchronous: str = "FULL") -> dict:
    from markaz.contracts import mqtt as contract

    store, outbox, link = _link(tmp, broker, pki, "rate", synchronous=synchronous)
    data = contract.DeviceFault(device="kiosk-1", fault="printer_error", state="raised")
    start = time.perf_counter()
    for _ in range(n):
        outbox.enqueue("events.device_fault", data)
    produced = time.perf_counter() - start
    _wait_empty(outbox)
    elapsed = time.perf_counter() - start
    link.stop()
    store.close()
    return {"msgs_per_s": round(n / elapsed, 1), "enqueue_only_msgs_per_s": round(n / produced, 1)}


def drain(tmp: Path, broker, pki, backlog: int) -> dict:
    from markaz.contracts import mqtt as contract

    store, outbox, link = _link(tmp, broker, pki, "drain", connect=False)
    data = contract.DeviceFault(device="kiosk-1", fault="printer_error", state="raised")
    for start_at in range(0, backlog, 5000):  # the outage: rows pile up (batched here only to set up faster)
        with store.write():
            for _ in range(min(5000, backlog - start_at)):
                outbox.enqueue("events.device_fault", data)
    connected: list[float] = []
    link.on_connected = lambda: connected.append(time.perf_counter())  # from CONNACK: the process start is not drain
    link.start()
    _wait_empty(outbox)
    elapsed = time.perf_counter() - connected[0]
    link.stop()
    store.close()
    return {"messages": backlog, "seconds": round(elapsed, 2), "msgs_per_s": round(backlog / elapsed, 1)}


def latency(tmp: Path, broker, pki, n: int, rate: float) -> dict:
    from markaz.contracts import mqtt as contract
    from tests.telemetry.broker import tls_client

    store, outbox, link = _link(tmp, broker, pki, "latency")
    sent: dict[int, float] = {}
    got: dict[int, float] = {}
    all_in = threading.Event()
    import json

    def on_message(c, u, m):
        seq = json.loads(m.payload)["seq"]
        got.setdefault(seq, time.perf_counter())
        if len(got) >= n:
            all_in.set()

    sub = tls_client(pki, "central-1.markaz", client_id="latency-sub")  # client ids are tied to certificates
    ready = threading.Event()
    sub.on_message = on_message
    sub.on_subscribe = lambda *a: ready.set()
    sub.connect("127.0.0.1", broker.port)
    sub.loop_start()
    sub.subscribe("markaz/v1/st-b/events/#", qos=1)
    assert ready.wait(10)
    data = contract.DeviceFault(device="kiosk-1", fault="printer_error", state="raised")
    period = 1.0 / rate
    next_at = time.perf_counter()
    for _ in range(n):
        t0 = time.perf_counter()
        seq = outbox.enqueue("events.device_fault", data)
        sent[seq] = t0
        next_at += period
        pause = next_at - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
    assert all_in.wait(60)
    sub.disconnect()
    sub.loop_stop()
    link.stop()
    store.close()
    return {"rate_msgs_per_s": rate, **summary_ms([got[s] - sent[s] for s in sent])}


def main(argv: list[str] | None = None) -> None:
    from tests.telemetry.broker import Broker, Pki

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--backlog", type=int, default=100_000)
    parser.add_argument("--latency-n", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        pki = Pki.create(tmp / "pki")
        broker = Broker(tmp / "broker", pki).start()
        try:
            # Alternate the two, several rounds: the machine is shared, so load drifts; medians of paired runs.
            raws, obs, normal = [], [], []
            for r in range(args.rounds):
                raws.append(raw_paho(broker, pki, args.n))
                obs.append(outbox_rate(tmp / f"round{r}", broker, pki, args.n))
                normal.append(outbox_rate(tmp / f"round{r}-normal", broker, pki, args.n, synchronous="NORMAL"))
            dr = drain(tmp, broker, pki, args.backlog)
            lat = latency(tmp, broker, pki, args.latency_n, 500.0)
        finally:
            broker.kill()
    result = {
        "setup": f"Mosquitto 2.0 on loopback, TLS 1.2 with client certificates, QoS 1, in-flight window {WINDOW}, "
        "producer's SQLite WAL synchronous=FULL as the node runs (one fsync per enqueue; the NORMAL figures show what "
        "that fsync costs); producer, link (a process of its own) and broker share the machine",
        "publish": {
            "messages_per_round": args.n,
            "rounds": args.rounds,
            "raw_paho_msgs_per_s": round(statistics.median(raws), 1),
            "outbox_msgs_per_s": round(statistics.median(o["msgs_per_s"] for o in obs), 1),
            "outbox_enqueue_only_msgs_per_s": round(statistics.median(o["enqueue_only_msgs_per_s"] for o in obs), 1),
            "ratio_outbox_to_raw": round(
                statistics.median(o["msgs_per_s"] / r for o, r in zip(obs, raws, strict=True)), 3
            ),
            "ratio_per_round": [round(o["msgs_per_s"] / r, 3) for o, r in zip(obs, raws, strict=True)],
            "raw_per_round": [round(r, 1) for r in raws],
            "target_ratio": 0.5,
            "synchronous_normal": {
                "outbox_msgs_per_s": round(statistics.median(o["msgs_per_s"] for o in normal), 1),
                "outbox_enqueue_only_msgs_per_s": round(
                    statistics.median(o["enqueue_only_msgs_per_s"] for o in normal), 1
                ),
                "ratio_outbox_to_raw": round(
                    statistics.median(o["msgs_per_s"] / r for o, r in zip(normal, raws, strict=True)), 3
                ),
            },
        },
        "drain_backlog": dr,
        "end_to_end_latency": lat,
    }
    path = write("mqtt", result)
    print(path.read_text())


if __name__ == "__main__":
    main()
