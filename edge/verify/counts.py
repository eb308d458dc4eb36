"""Verification decisions of a period, as counts and latencies: what telemetry and KPIs ask the verify package for.

The verify package writes one `verification.decide` audit entry per decision (decision, latency, model versions;
never an image or a document number); this is the one place that reads them back, so no other module depends on
how that entry is laid out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from edge.store import Store
from markaz.clock import iso

DECISIONS = ("match", "no_match", "retry", "spoof")


@dataclass(frozen=True)
class DecisionCounts:
    match: int
    no_match: int
    retry: int
    spoof: int
    latencies_ms: tuple[float, ...]


def decision_counts(store: Store, since: datetime) -> DecisionCounts:
    """Decisions taken at or after `since` (UTC)."""
    rows = store.query(
        "SELECT json_extract(after, '$.decision') AS decision, json_extract(after, '$.latency_ms') AS latency "
        "FROM audit_log WHERE action = 'verification.decide' AND ts >= ?",
        [iso(since)],
    )
    counts = dict.fromkeys(DECISIONS, 0)
    latencies = []
    for r in rows:
        if r["decision"] in counts:
            counts[r["decision"]] += 1
        if isinstance(r["latency"], int | float) and not isinstance(r["latency"], bool):
            latencies.append(float(r["latency"]))
    return DecisionCounts(**counts, latencies_ms=tuple(latencies))
