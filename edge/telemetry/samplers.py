"""Turn what the node's owners report into contract payloads: queue snapshot, device states, verification
counters, node health.

Pure functions over what they are handed (the queue's KPIs, auth's device registry, the verify package's decision
counts, psutil): only counts, durations and states leave here, and nothing here reads another module's tables.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import platform
import re
import time
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from edge.queue.models import Kpis
from edge.verify.counts import DecisionCounts
from markaz import __version__
from markaz.clock import parse_iso
from markaz.contracts import mqtt as contract
from markaz.contracts.ids import InvalidId, check_device_id
from markaz.stats import percentile

log = logging.getLogger(__name__)

_STARTED = time.monotonic()
_VERSION_KEY = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_VERSION_TEXT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+:-]{0,63}$")


@functools.cache
def _software_versions() -> tuple[tuple[str, str], ...]:
    import importlib.metadata as md

    found = {"markaz": __version__, "python": platform.python_version()}
    for dist in ("paho-mqtt", "onnxruntime"):
        with contextlib.suppress(md.PackageNotFoundError):
            found[dist] = md.version(dist)
    try:  # the face models this node ships (from the manifest: no model is loaded for this)
        from models.registry import load_manifest

        for name, entry in load_manifest().items():
            key, text = f"model.{name}".lower(), str(entry.version)
            if _VERSION_KEY.match(key) and _VERSION_TEXT.match(text):  # keep only what the contract can carry
                found[key] = text
    except Exception:  # a missing or broken manifest must not stop telemetry
        pass
    return tuple(found.items())


def versions() -> dict[str, str]:
    """Software and model versions for the status birth and node health."""
    return dict(_software_versions())


def queue_snapshot(kpis: Kpis, targets: Mapping[str, float], day: str, reason: str) -> contract.QueueSnapshot:
    """From the queue's KPIs (`QueueService.kpis`, typed: each service carries its own target). `targets` and `day`
    are kept for the callers' sake; the KPIs already hold both."""
    services = [
        contract.ServiceQueue(
            service=s.service,
            waiting=s.waiting,
            longest_wait_s=s.longest_wait_s,
            served=s.served,
            mean_wait_s=s.mean_wait_s,
            no_shows=s.no_shows,
            counters_open=s.counters_open,
            target_wait_s=s.target_wait_s,
        )
        for s in kpis.services
    ]
    return contract.QueueSnapshot(business_day=kpis.business_day.isoformat(), reason=reason, services=services)


def device_states(
    devices: Iterable[Mapping[str, Any]],
    statuses: Mapping[str, Mapping[str, Any]],
    now: datetime,
    heartbeat_timeout_s: float,
    reason: str,
) -> list[contract.DeviceState]:
    """From auth's device registry (`AuthService.list_devices`) and telemetry's own heartbeat table."""
    states = []
    for d in devices:
        if not _carriable(d["id"]):
            continue
        s = statuses.get(d["id"]) or {}
        beat = parse_iso(s["reported_at"]) if s.get("reported_at") else None
        online = beat is not None and now - beat <= timedelta(seconds=heartbeat_timeout_s)
        faults = json.loads(s.get("faults") or "[]")
        if beat is not None and not online:
            faults = sorted(set(faults) | {"heartbeat_lost"})
        states.append(
            contract.DeviceState(
                device=d["id"],
                type=d["type"],
                enabled=bool(d["enabled"]),
                online=online,
                last_heartbeat=beat,
                reader_present=None if s.get("reader_present") is None else bool(s["reader_present"]),
                camera_fps=s.get("camera_fps"),
                printer_paper=s.get("printer_paper"),
                faults=faults,
                reason=reason,
            )
        )
    return states


_SKIPPED: set[str] = set()


def _carriable(device_id: str) -> bool:
    """A device registered before ids had one definition may not fit the contract: leave it out, say so once."""
    try:
        check_device_id(device_id)
    except InvalidId as exc:
        if device_id not in _SKIPPED:
            _SKIPPED.add(device_id)
            log.warning("telemetry: device left out of telemetry: %s (re-register it under a valid id)", exc)
        return False
    return True


def verification_counters(counts: DecisionCounts, day: str) -> contract.VerificationCounters:
    """From the verify package's decision counts of the business day."""
    p50, p95 = percentile(counts.latencies_ms, 50), percentile(counts.latencies_ms, 95)
    return contract.VerificationCounters(
        business_day=day,
        match=counts.match,
        no_match=counts.no_match,
        retry=counts.retry,
        spoof=counts.spoof,
        latency_ms_p50=None if p50 is None else round(p50, 1),
        latency_ms_p95=None if p95 is None else round(p95, 1),
    )


def _temperature() -> float | None:
    import psutil

    read = getattr(psutil, "sensors_temperatures", None)
    try:
        sensors = read() if read else {}
    except OSError:
        return None
    for entries in (sensors or {}).values():
        for entry in entries:
            if entry.current is not None and -60 <= entry.current <= 150:
                return float(entry.current)
    return None


def node_health(data_dir: Path, outbox_health: contract.OutboxHealth) -> contract.NodeHealth:
    import psutil

    mem = psutil.virtual_memory()
    disk = psutil.disk_usage(os.fspath(data_dir))
    return contract.NodeHealth(
        cpu_percent=min(100.0, psutil.cpu_percent(interval=None)),
        memory_percent=mem.percent,
        memory_used_mb=round((mem.total - mem.available) / 2**20, 1),
        disk_percent=disk.percent,
        disk_free_mb=round(disk.free / 2**20, 1),
        temperature_c=_temperature(),
        uptime_s=round(time.monotonic() - _STARTED, 1),
        versions=versions(),
        outbox=outbox_health,
    )


def report_counts(counts: Mapping[str, Any], reason: str) -> contract.ReportCounts:
    """ReportService.counts() in the contract's shape: counts only."""
    return contract.ReportCounts(
        reason=reason,
        by_type_state=[contract.ReportCount(**c) for c in counts["by_type_state"]],
        sla_breaches=counts["sla_breaches"],
        referrals_pending=counts["referrals_pending"],
    )
