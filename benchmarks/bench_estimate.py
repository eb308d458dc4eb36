"""Accuracy of the wait estimates, replaying a simulated station day through the real queue core.

A day of arrivals (a morning peak and an afternoon bump, Poisson), lognormal service times per service, a few
no-shows, counters opening and closing through the day. Every ticket's estimate at issue is compared with the
wait it then really had (issue to call). Baseline in the same run: the naive rule many displays use, "people
ahead of you x a fixed service time / open counters".

Run: .venv/bin/python -m benchmarks.bench_estimate [--seed 7] [--visitors 900]
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
import shutil
import statistics
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.report import percentile, write

# service -> (share of visitors, median service time s, lognormal sigma)
MIX = {
    "general": (0.5, 240, 0.5),
    "report": (0.25, 600, 0.45),
    "follow-up": (0.2, 180, 0.4),
    "priority": (0.05, 300, 0.5),
}
NO_SHOW = 0.04
WALK_UP_S = 25


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def arrival_rate(hour: float) -> float:
    """Visitors per hour by local hour: a 10:00 peak and a smaller 17:00 bump."""
    return 40 + 110 * math.exp(-((hour - 10) ** 2) / 2) + 50 * math.exp(-((hour - 17) ** 2) / 1.5)


def simulate(seed: int, visitors: int) -> dict:
    from edge.auth.principal import Principal
    from edge.node import EdgeNode
    from edge.queue.catalogue import SAMPLE_CATALOGUE, Catalogue, CounterDef, apply_catalogue
    from edge.settings import EdgeSettings
    from markaz.config import load_settings

    rng = random.Random(seed)
    work = Path(tempfile.mkdtemp(prefix="markaz-bench-estimate-"))
    start = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)  # 08:00 in Riyadh
    clock = Clock(start)
    node = EdgeNode(load_settings(EdgeSettings, data_dir=work, timezone="Asia/Riyadh"), clock=clock)
    # Eight counters: six all-round (five open from the start, one for the peak) and two for reports only.
    counters = [CounterDef(code=str(i), services=list(MIX), open=i <= 5) for i in range(1, 7)]
    counters += [CounterDef(code=str(i), services=["report", "follow-up"], open=i == 7) for i in (7, 8)]
    apply_catalogue(node.store, node.audit, Catalogue(services=SAMPLE_CATALOGUE.services, counters=counters))
    node.start()
    kiosk, officer = Principal("device", "k", "kiosk"), Principal("staff", "o", "officer")

    events: list[tuple[datetime, int, str, dict]] = []
    n = 0

    def push(at: datetime, kind: str, **data):
        nonlocal n
        n += 1
        heapq.heappush(events, (at, n, kind, data))

    # Arrivals by thinning a Poisson process over 08:00-19:00 local.
    t = 0.0
    peak = 200.0
    count = 0
    while count < visitors and t < 11 * 3600:
        t += rng.expovariate(peak / 3600)
        if rng.random() < arrival_rate(8 + t / 3600) / peak:
            service = rng.choices(list(MIX), [m[0] for m in MIX.values()])[0]
            push(start + timedelta(seconds=t), "arrive", service=service)
            count += 1
    # Staffing: two more counters for the peak, then back.
    push(start + timedelta(hours=1, minutes=30), "open", counter="6")
    push(start + timedelta(hours=2), "open", counter="8")
    push(start + timedelta(hours=5), "close", counter="6")
    for code in "12345678":
        push(start + timedelta(seconds=1), "free", counter=code)

    estimates: dict[int, tuple[float | None, float]] = {}  # ticket id -> (estimate, naive)
    actual: dict[int, float] = {}
    issued_at: dict[int, datetime] = {}
    idle: set[str] = set()

    def naive(service_code: str) -> float | None:
        waiting = len(node.queue.tickets_today("waiting"))
        open_counters = sum(1 for c in node.queue.counters() if c.is_open and service_code in c.services)
        return None if open_counters == 0 else waiting * 300.0 / open_counters

    def try_call(code: str):
        try:
            called = node.queue.call_next(code, officer)
        except Exception:
            called = None
        if called is None:
            idle.add(code)
            return
        idle.discard(code)
        actual[called.id] = (clock.now - issued_at[called.id]).total_seconds()
        if rng.random() < NO_SHOW:
            push(clock.now + timedelta(seconds=60), "no_show", counter=code, ticket=called.id)
        else:
            push(
                clock.now + timedelta(seconds=WALK_UP_S),
                "start",
                counter=code,
                ticket=called.id,
                service=called.service,
            )

    while events:
        at, _, kind, data = heapq.heappop(events)
        clock.now = at
        if kind == "arrive":
            guess = naive(data["service"])
            t_ = node.queue.issue(data["service"], kiosk)
            issued_at[t_.id] = clock.now
            estimates[t_.id] = (node.queue.with_estimate(t_).estimated_wait_s, guess)
            for code in sorted(idle):
                try_call(code)
        elif kind == "start":
            node.queue.start(data["ticket"], officer)
            median, sigma = MIX[data["service"]][1:]
            push(
                clock.now + timedelta(seconds=rng.lognormvariate(math.log(median), sigma)),
                "free",
                counter=data["counter"],
            )
        elif kind == "no_show":
            node.queue.no_show(data["ticket"], officer)
            try_call(data["counter"])
        elif kind == "free":
            c = node.queue.counter(data["counter"])
            if c.is_open:
                try_call(data["counter"])
        elif kind == "open":
            node.queue.set_counter_open(data["counter"], True, officer)
            try_call(data["counter"])
        elif kind == "close":
            c = node.queue.counter(data["counter"])
            if c.current_ticket is None:
                node.queue.set_counter_open(data["counter"], False, officer)
            else:
                push(clock.now + timedelta(seconds=30), "close", counter=data["counter"])
    kpis = node.queue.kpis()
    node.stop()
    shutil.rmtree(work, ignore_errors=True)

    def errors(which: int) -> list[float]:
        return [estimates[i][which] - actual[i] for i in actual if estimates[i][which] is not None]

    def stats(errs: list[float]) -> dict:
        abs_e = [abs(e) for e in errs]
        return {
            "n": len(errs),
            "mae_s": round(statistics.mean(abs_e), 1),
            "median_abs_error_s": round(statistics.median(abs_e), 1),
            "p90_abs_error_s": round(percentile(abs_e, 90), 1),
            "bias_s": round(statistics.mean(errs), 1),
            "within_2_min_share": round(sum(1 for e in abs_e if e <= 120) / len(abs_e), 3),
        }

    ours, base = stats(errors(0)), stats(errors(1))
    return {
        "visitors": len(issued_at),
        "mean_actual_wait_s": round(statistics.mean(actual.values()), 1),
        "estimator": ours,
        "baseline_naive": base,
        "mae_ratio_vs_naive": round(ours["mae_s"] / base["mae_s"], 3),
        "day_kpis": {
            k: getattr(kpis.station, k)
            for k in ("served", "no_shows", "mean_wait_s", "p90_wait_s", "within_target_share")
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--visitors", type=int, default=900)
    ap.add_argument("--days", type=int, default=3, help="independent simulated days (seeds seed, seed+1, ...)")
    args = ap.parse_args()
    days = [simulate(args.seed + i, args.visitors) for i in range(args.days)]
    result = {
        "what": "estimated wait at issue vs the wait that followed, replaying simulated days through the queue core",
        "days": days,
        "median_mae_s": statistics.median(d["estimator"]["mae_s"] for d in days),
        "median_mae_s_naive": statistics.median(d["baseline_naive"]["mae_s"] for d in days),
    }
    path = write("estimate", result)
    for d in days:
        e, b = d["estimator"], d["baseline_naive"]
        print(
            f"{d['visitors']} visitors, mean wait {d['mean_actual_wait_s']} s: estimator MAE {e['mae_s']} s "
            f"(median {e['median_abs_error_s']}, p90 {e['p90_abs_error_s']}, bias {e['bias_s']}, within 2 min {e['within_2_min_share']}); "
            f"naive MAE {b['mae_s']} s -> ratio {d['mae_ratio_vs_naive']}"
        )
    print(f"-> {path}")


if __name__ == "__main__":
    main()
