"""One percentile definition for the whole project (telemetry, benchmarks): `statistics.quantiles`, inclusive
method, i.e. linear interpolation between the closest ranks (numpy's default too)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def percentile(values: Sequence[float], p: float) -> float | None:
    """The p-th percentile (0 <= p <= 100) of `values`; None when there are none."""
    if not 0 <= p <= 100:
        raise ValueError(f"percentile {p} is outside 0..100")
    if not values:
        return None
    if len(values) == 1:
        return float(values[0])
    if p == 0:
        return float(min(values))
    if p == 100:
        return float(max(values))
    if float(p).is_integer():
        return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]
    # a fractional percentile (e.g. 99.9): enough cut points to land on it exactly
    n = 1000
    return statistics.quantiles(values, n=n, method="inclusive")[round(p * n / 100) - 1]
