"""The queue and verification measures, defined once: the edge's KPIs and central's comparison of stations both
compute them with these functions, from the same per-ticket waits and counts, so a station's figure is the same
number at the station and at central.

- wait: from entering a service's queue (issue, or transfer in) to the first call, of every ticket called;
- p90: nearest rank (the smallest wait that at least 90 % of waits do not exceed);
- within target: a wait no longer than its service's target (a service without a target counts as target 0);
- no-show rate: no-shows over the tickets that ended at a counter (served + no-shows);
- match rate: matches over the verifications that reached a decision (match, no match, spoof; retries are not);
- report SLA compliance: the open reports (every state but closed) not past their SLA, over the open reports.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
from numpy.typing import NDArray


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def p90_index(count: int) -> int:
    """The nearest rank of p90 among `count` ordered values, counted from 0."""
    return max(0, math.ceil(0.9 * count) - 1)


def p90(values: Iterable[float]) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[p90_index(len(ordered))]


def p90_selected(values: NDArray[np.float64]) -> float | None:
    """The same p90 of a float64 array by selection (`numpy.partition`), not a full sort: the comparison of stations
    takes it over a period's waits of every station (about a million for 500 stations x 7 days)."""
    if not len(values):
        return None
    k = p90_index(len(values))
    return float(np.partition(values, k)[k])


def within_target(wait_s: float, target_s: float | None) -> bool:
    return wait_s <= (target_s or 0)


def share(part: int, whole: int) -> float | None:
    """A share rounded to 4 places, None when there is nothing to share."""
    return round(part / whole, 4) if whole else None


def within_target_count(waits: Iterable[float], target_s: float | None) -> int:
    """How many of a service's waits are within its target."""
    return sum(within_target(w, target_s) for w in waits)


def within_target_share(waits: Iterable[tuple[float, float | None]]) -> float | None:
    """Share of (wait, target) pairs within their target."""
    pairs = list(waits)
    return share(sum(within_target(w, t) for w, t in pairs), len(pairs))


def no_show_rate(served: int, no_shows: int) -> float | None:
    return share(no_shows, served + no_shows)


def match_rate(match: int, no_match: int, spoof: int) -> float | None:
    return share(match, match + no_match + spoof)


def rounded(value: float | None) -> float | None:
    """Seconds as the KPIs show them: one decimal."""
    return None if value is None else round(value, 1)


def sla_compliance(open_reports: int, breaches: int) -> float | None:
    """Share of the open reports not past their SLA."""
    return share(max(0, open_reports - breaches), open_reports)
