"""Read the node's state into contract payloads: queue snapshot, device states, verification counters, node health.

Only counts, durations and states leave here; each function reads the store (or psutil) and touches nothing.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import platform
import re
import time
from datetime import datetime, timedelta
from typing import Any

from markaz import __version__
from markaz.clock import business_day, business_day_start, iso, parse_iso
from markaz.contracts import mqtt as contract
from markaz.contracts.ids import InvalidId, check_device_id

log = logging.getLogger(__name__)

_STARTED = time.monotonic()
_VERSION_KEY = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_VERSION_TEXT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+:-]{0,63}$")


@functools.cache
def _software_versions() -> tuple[tuple[str, str], ...]:
    import importlib.metadata as md

    found = {"markaz": __version__, "python": platform.python_version()}
    for dist in ("paho-mqtt", "onnxruntime"):
        try:
            found[dist] = md.version(dist)
        except md.PackageNotFoundError:
            pass
    try:  # the face models this node ships (from the manifest: no model is loaded for this)
        from models.registry import load_manifest

        for name, entry in load_manifest().items():
            key, text = f"model.{name}".lower(), str(entry.version)
            if _VERSION_KEY.match(key) and _VERSION_TEXT.match(text):  # keep only what the contract can carry
                found[key] = text
    except Exception:  # a missing or broken manifest must not stop telemetry
        pass
    return tuple(found.items())


def versions(node=None) -> dict[str, str]:
    """Software and model versions for the status birth and node health."""
    return dict(_software_versions())


def _day(node, now: datetime) -> tuple[str, datetime]:
    s = node.settings
    day = business_day(now, s.tz, s.day_rollover_hour)
    return day.isoformat(), business_day_start(day, s.tz, s.day_rollover_hour)


def targets(node) -> dict[str, float]:
    return {r["code"]: float(r["target_wait_s"]) for r in node.store.query("SELECT code, target_wait_s FROM services")}


def queue_snapshot(node, reason: str) -> contract.QueueSnapshot:
    kpis: dict[str, Any] = node.queue.kpis()
    day = kpis.get("business_day") or _day(node, node.clock())[0]
    target = targets(node)
    services = []
    for s in kpis.get("services", []):
        code = s.get("service") or s.get("code")
        services.append(
            contract.ServiceQueue(
                service=code,
                waiting=int(s.get("waiting") or 0),
                longest_wait_s=float(s.get("longest_wait_s") or 0.0),
                served=int(s.get("served") or 0),
                mean_wait_s=None if s.get("mean_wait_s") is None else float(s["mean_wait_s"]),
                no_shows=int(s.get("no_shows") or 0),
                counters_open=int(s.get("counters_open") or 0),
                target_wait_s=s.get("target_wait_s", target.get(code)),
            )
        )
    return contract.QueueSnapshot(business_day=str(day), reason=reason, services=services)


def device_states(node, reason: str, device_id: str | None = None) -> list[contract.DeviceState]:
    now = node.clock()
    timeout = node.settings.mqtt.heartbeat_timeout_s
    sql = (
        "SELECT d.id, d.type, d.enabled, d.last_seen_at, s.reported_at, s.reader_present, s.camera_fps, "
        "s.printer_paper, s.faults FROM devices d LEFT JOIN device_status s ON s.device_id = d.id"
    )
    params: list[Any] = []
    if device_id is not None:
        sql += " WHERE d.id = ?"
        params.append(device_id)
    states = []
    for r in node.store.query(sql + " ORDER BY d.id", params):
        if not _carriable(r["id"]):
            continue
        beat = parse_iso(r["reported_at"]) if r["reported_at"] else None
        online = beat is not None and now - beat <= timedelta(seconds=timeout)
        faults = json.loads(r["faults"] or "[]")
        if beat is not None and not online:
            faults = sorted(set(faults) | {"heartbeat_lost"})
        states.append(
            contract.DeviceState(
                device=r["id"],
                type=r["type"],
                enabled=bool(r["enabled"]),
                online=online,
                last_heartbeat=beat,
                reader_present=None if r["reader_present"] is None else bool(r["reader_present"]),
                camera_fps=r["camera_fps"],
                printer_paper=r["printer_paper"],
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


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    rank = max(0, min(len(values) - 1, int(round(q * (len(values) - 1)))))
    return round(values[rank], 1)


def verification_counters(node) -> contract.VerificationCounters:
    day, start = _day(node, node.clock())
    rows = node.store.query(
        "SELECT json_extract(after, '$.decision') AS decision, json_extract(after, '$.latency_ms') AS latency "
        "FROM audit_log WHERE action = 'verification.decide' AND ts >= ?",
        [iso(start)],
    )
    counts = {"match": 0, "no_match": 0, "retry": 0, "spoof": 0}
    latencies = []
    for r in rows:
        if r["decision"] in counts:
            counts[r["decision"]] += 1
        if isinstance(r["latency"], int | float):
            latencies.append(float(r["latency"]))
    return contract.VerificationCounters(
        business_day=day,
        **counts,
        latency_ms_p50=_percentile(latencies, 0.5),
        latency_ms_p95=_percentile(latencies, 0.95),
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


def node_health(node, outbox_health: contract.OutboxHealth) -> contract.NodeHealth:
    import psutil

    mem = psutil.virtual_memory()
    disk = psutil.disk_usage(os.fspath(node.settings.data_dir))
    return contract.NodeHealth(
        cpu_percent=min(100.0, psutil.cpu_percent(interval=None)),
        memory_percent=mem.percent,
        memory_used_mb=round((mem.total - mem.available) / 2**20, 1),
        disk_percent=disk.percent,
        disk_free_mb=round(disk.free / 2**20, 1),
        temperature_c=_temperature(),
        uptime_s=round(time.monotonic() - _STARTED, 1),
        versions=versions(node),
        outbox=outbox_health,
    )
