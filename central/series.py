"""One station's time series for the dashboard's charts: the day in 5-minute buckets, the week in hours.

Read from the rollups (central/retention.py), plus the raw snapshots the last retention run has not counted yet,
folded into the same buckets by the same definition, so a chart is current without waiting for the timer."""

from __future__ import annotations

import json
import logging
import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from central.retention import RAW_SCHEMAS, VERIFICATION_OUTCOMES, bucket_start, roll_up, samples
from central.store import CentralStore
from markaz.clock import iso, parse_iso, utcnow

log = logging.getLogger(__name__)


class Span(StrEnum):
    DAY = "day"
    WEEK = "week"

    @property
    def bucket_s(self) -> int:
        return 300 if self is Span.DAY else 3600

    @property
    def length(self) -> timedelta:
        return timedelta(days=1) if self is Span.DAY else timedelta(days=7)


# chart -> its lines (series name in the chart, how the per-key buckets combine)
CHARTS: dict[str, tuple[str, ...]] = {
    "waiting": ("waiting",),
    "waits": ("longest_wait_min",),
    "served": ("served",),
    "verification": VERIFICATION_OUTCOMES,
    "devices": ("online", "faults"),
}


@dataclass(frozen=True)
class Series:
    """Aligned columns, as uPlot wants them: x (bucket starts, epoch seconds) then one list per line (None = no data)."""

    span: Span
    x: list[int]
    lines: dict[str, dict[str, list[float | None]]]  # chart -> line -> values

    def as_json(self) -> dict[str, object]:
        return {"span": self.span.value, "x": self.x, "charts": self.lines}


# Acc: per (series, key, bucket) [samples, sum, max]
Acc = dict[tuple[str, str, str], list[float]]


def _accumulate(store: CentralStore, station: str, span: Span, start: datetime) -> Acc:
    size = span.bucket_s
    acc: Acc = defaultdict(lambda: [0.0, 0.0, float("-inf")])
    for r in store.query(
        "SELECT series, key, bucket_start, samples, value_sum, value_max FROM rollups "
        "WHERE station = ? AND bucket_s = ? AND bucket_start >= ?",
        (station, size, iso(start)),
    ):
        a = acc[(r["series"], r["key"], r["bucket_start"])]
        a[0] += r["samples"]
        a[1] += r["value_sum"]
        a[2] = max(a[2], r["value_max"])
    mark = store.query("SELECT counted_until FROM rollup_state WHERE bucket_s = ?", (size,))
    counted_until = mark[0]["counted_until"] if mark else ""
    marks = ",".join("?" * len(RAW_SCHEMAS))
    for r in store.query(
        f"SELECT schema, ts, data FROM messages WHERE station = ? AND schema IN ({marks}) AND received_at >= ? "
        "AND ts >= ?",
        (station, *RAW_SCHEMAS, counted_until, iso(start)),
    ):
        bucket = bucket_start(r["ts"], size)
        for series, key, value in samples(r["schema"], json.loads(r["data"])):
            a = acc[(series, key, bucket)]
            a[0] += 1
            a[1] += value
            a[2] = max(a[2], value)
    return acc


def station_series(store: CentralStore, station: str, span: Span, now: datetime | None = None) -> Series:
    size = span.bucket_s
    end = now or utcnow()
    first = int((end - span.length).timestamp()) // size * size + size
    x = list(range(first, int(end.timestamp()) // size * size + size, size))
    start = datetime.fromtimestamp(first, UTC)
    acc = _accumulate(store, station, span, start)
    index = {iso(datetime.fromtimestamp(t, UTC)): i for i, t in enumerate(x)}
    # per series and bucket, the keys (services, devices) combined
    mean_sum: dict[str, list[float | None]] = defaultdict(lambda: [None] * len(x))  # sum over keys of the mean
    max_max: dict[str, list[float | None]] = defaultdict(lambda: [None] * len(x))  # max over keys of the max
    sum_max: dict[str, list[float | None]] = defaultdict(lambda: [None] * len(x))  # sum over keys of the max
    for (series, _key, bucket), (n, total, peak) in acc.items():
        i = index.get(iso(parse_iso(bucket)))
        if i is None or n <= 0:
            continue
        for table, value in ((mean_sum, total / n), (sum_max, peak)):
            table[series][i] = (table[series][i] or 0.0) + value
        current = max_max[series][i]
        max_max[series][i] = peak if current is None else max(current, peak)

    def minutes(values: list[float | None]) -> list[float | None]:
        return [None if v is None else round(v / 60, 1) for v in values]

    def rounded(values: list[float | None], digits: int = 1) -> list[float | None]:
        return [None if v is None else round(v, digits) for v in values]

    empty: list[float | None] = [None] * len(x)
    lines = {
        "waiting": {"waiting": rounded(mean_sum.get("queue.waiting", empty))},
        "waits": {"longest_wait_min": minutes(max_max.get("queue.longest_wait_s", empty))},
        "served": {"served": rounded(sum_max.get("queue.served", empty), 0)},
        "verification": {o: rounded(max_max.get(f"verification.{o}", empty), 0) for o in VERIFICATION_OUTCOMES},
        "devices": {
            "online": rounded(mean_sum.get("device.online", empty)),
            "faults": rounded(sum_max.get("device.faults", empty), 0),
        },
    }
    return Series(span, x, lines)


class RollupTimer(threading.Thread):
    """Rolls new raw snapshots up every `every_s` while the dashboard runs, so a chart reads rollups plus only a few
    minutes of raw rows (the retention timer may run hourly or daily). Safe beside other rollers: the watermark is
    taken under the store's write lock."""

    def __init__(self, store: CentralStore, every_s: float = 60.0) -> None:
        super().__init__(name="central-rollup", daemon=True)
        self.store = store
        self.every_s = every_s
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.every_s):
            try:
                roll_up(self.store)
            except Exception:  # the next round tries again; charts still read the raw tail meanwhile
                log.exception("dashboard: rolling up the time series failed")

    def stop(self) -> None:
        self.stopped.set()
