"""What the dashboard shows, read from central's store: the fleet overview (one row per station, with filters) and
one station's current state. Plain Python over the store: no HTTP, no templates."""

from __future__ import annotations

import json
import threading
import weakref
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from central.store import CentralStore


class StateFilter(StrEnum):
    ALL = "all"
    ONLINE = "online"
    OFFLINE = "offline"


class ProblemFilter(StrEnum):
    ANY = "any"  # no problem filter
    OVER_TARGET = "over_target"
    FAULTS = "faults"
    ALARMS = "alarms"
    GAPS = "gaps"


@dataclass(frozen=True)
class FleetRow:
    station: str
    state: str  # online / offline / unknown (no status yet)
    since: str | None  # online: the birth's time; offline: when central saw the station go
    last_message_at: str | None
    waiting: int
    longest_wait_s: float | None
    target_wait_s: float | None  # the target of the service with the longest wait
    devices: int
    faulty_devices: int
    open_alarms: int
    open_gaps: int
    missing: int

    @property
    def over_target(self) -> bool:
        return self.target_wait_s is not None and (self.longest_wait_s or 0) > self.target_wait_s

    def has(self, problem: ProblemFilter) -> bool:
        return {
            ProblemFilter.ANY: True,
            ProblemFilter.OVER_TARGET: self.over_target,
            ProblemFilter.FAULTS: self.faulty_devices > 0,
            ProblemFilter.ALARMS: self.open_alarms > 0,
            ProblemFilter.GAPS: self.open_gaps > 0,
        }[problem]


@dataclass(frozen=True)
class FleetSummary:
    stations: int
    online: int
    offline: int
    waiting: int
    over_target: int
    faulty_devices: int
    open_alarms: int
    dead_letters: int


@dataclass(frozen=True)
class Fleet:
    rows: list[FleetRow]  # after the filters
    summary: FleetSummary  # of the whole fleet, before the filters


@dataclass(frozen=True)
class Device:
    device: str
    type: str
    enabled: bool
    online: bool
    faults: list[str]
    last_heartbeat: str | None
    printer_paper: str | None


@dataclass(frozen=True)
class StationState:
    row: FleetRow
    versions: dict[str, str]
    services: list[dict[str, Any]]  # the latest queue snapshot's services
    devices: list[Device]
    verification: dict[str, Any] | None
    node: dict[str, Any] | None
    events: list[dict[str, Any]]
    gaps: list[dict[str, Any]]
    dead_letters: list[dict[str, Any]]
    commands: list[dict[str, Any]] = field(default_factory=list)


def open_alarms(store: CentralStore) -> dict[str, int]:
    """Open alarms per station: the seam the alarm module fills. Reads an `alarms` table (station, state) when one
    exists, counting every alarm not `cleared`; zero for every station otherwise."""
    if store.db.dialect == "sqlite":
        present = store.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alarms'")
    else:
        present = store.query("SELECT 1 FROM information_schema.tables WHERE table_name = 'alarms'")
    if not present:
        return {}
    rows = store.query("SELECT station, count(*) AS n FROM alarms WHERE state <> 'cleared' GROUP BY station")
    return {r["station"]: int(r["n"]) for r in rows}


def _queue(latest: dict[str, Any] | None) -> tuple[int, float | None, float | None]:
    if latest is None:
        return 0, None, None
    services = latest.get("services", [])
    waiting = sum(int(s["waiting"]) for s in services)
    worst = max(services, key=lambda s: float(s["longest_wait_s"]), default=None)
    if worst is None:
        return waiting, None, None
    return waiting, float(worst["longest_wait_s"]), worst.get("target_wait_s")


def _faulty(device: dict[str, Any]) -> bool:
    return bool(device.get("faults")) or not device.get("online", False)


_LATEST_WHERE = "(channel = 'telemetry.queue' OR channel LIKE 'telemetry.devices/%')"


class _ParsedLatest:
    """The overview's latest queue and device values, parsed once per (station, channel, seq): a page of 500
    stations reads the seqs (small), and fetches and parses only the rows that changed since the last render."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
        self.lock = threading.Lock()

    def read(self, store: CentralStore) -> dict[tuple[str, str], dict[str, Any]]:
        seqs = {(r["station"], r["channel"]): int(r["seq"])
                for r in store.query(f"SELECT station, channel, seq FROM latest WHERE {_LATEST_WHERE}")}  # fmt: skip
        with self.lock:
            known = dict(self.rows)
        stale = sorted({st for key, seq in seqs.items() if known.get(key, (None,))[0] != seq for st in key[:1]})
        for i in range(0, len(stale), 500):
            chunk = stale[i : i + 500]
            marks = ", ".join("?" * len(chunk))
            for r in store.query(
                f"SELECT station, channel, seq, data FROM latest WHERE station IN ({marks}) AND {_LATEST_WHERE}", chunk
            ):
                known[(r["station"], r["channel"])] = (int(r["seq"]), json.loads(r["data"]))
        fresh = {key: known[key] for key in seqs if key in known}
        with self.lock:
            self.rows = fresh
        return {key: value[1] for key, value in fresh.items()}


_parsed: weakref.WeakKeyDictionary[CentralStore, _ParsedLatest] = weakref.WeakKeyDictionary()


def _latest_by_station(store: CentralStore) -> dict[str, dict[str, Any]]:
    """station -> {"queue": data, "devices": [data, ...]} from the latest-value table."""
    parsed = _parsed.get(store)
    if parsed is None:
        parsed = _parsed.setdefault(store, _ParsedLatest())
    out: dict[str, dict[str, Any]] = {}
    for (station, channel), data in sorted(parsed.read(store).items()):
        entry = out.setdefault(station, {"queue": None, "devices": []})
        if channel == "telemetry.queue":
            entry["queue"] = data
        else:
            entry["devices"].append(data)
    return out


# Every station with its open gaps, missing seqs and open alarms: one query for the overview (each aggregate once,
# not a subquery per station).
_OVERVIEW = (
    "SELECT s.*, coalesce(g.n, 0) AS open_gaps, coalesce(g.missing, 0) AS missing, coalesce(a.n, 0) AS alarms "
    "FROM stations s "
    "LEFT JOIN (SELECT station, count(*) AS n, CAST(sum(last_seq - first_seq + 1) AS BIGINT) AS missing FROM gaps "
    "GROUP BY station) g ON g.station = s.station "
    "LEFT JOIN (SELECT station, count(*) AS n FROM alarms WHERE cleared_at IS NULL GROUP BY station) a "
    "ON a.station = s.station ORDER BY s.station"
)


def _row(s: dict[str, Any], latest: dict[str, Any], alarms: dict[str, int]) -> FleetRow:
    waiting, longest, target = _queue(latest.get("queue"))
    devices = latest.get("devices", [])
    return FleetRow(
        station=s["station"],
        state=s["state"] or "unknown",
        # online: since its birth (the connection's own start); offline: since central saw it go (a Will carries
        # the birth's time, not the moment of the loss)
        since=s.get("state_since") if s["state"] == "online" else (s.get("state_changed_at") or s.get("state_since")),
        last_message_at=s["last_message_at"],
        waiting=waiting,
        longest_wait_s=longest,
        target_wait_s=target,
        devices=len(devices),
        faulty_devices=sum(1 for d in devices if _faulty(d)),
        open_alarms=alarms.get(s["station"], 0),
        open_gaps=int(s["open_gaps"]),
        missing=int(s["missing"]),
    )


def dead_letter_count(store: CentralStore) -> int:
    return int(store.query("SELECT count(*) AS n FROM dead_letters")[0]["n"])


def fleet(
    store: CentralStore,
    search: str = "",
    state: StateFilter = StateFilter.ALL,
    problem: ProblemFilter = ProblemFilter.ANY,
) -> Fleet:
    """Every station's row, filtered by a search over station ids, the state and a kind of problem."""
    latest = _latest_by_station(store)
    stations = store.query(_OVERVIEW)
    alarms = {s["station"]: int(s["alarms"]) for s in stations}
    rows = [_row(s, latest.get(s["station"], {}), alarms) for s in stations]
    summary = FleetSummary(
        stations=len(rows),
        online=sum(1 for r in rows if r.state == "online"),
        offline=sum(1 for r in rows if r.state == "offline"),
        waiting=sum(r.waiting for r in rows),
        over_target=sum(1 for r in rows if r.over_target),
        faulty_devices=sum(r.faulty_devices for r in rows),
        open_alarms=sum(r.open_alarms for r in rows),
        dead_letters=dead_letter_count(store),
    )
    needle = search.strip().lower()
    shown = [
        r
        for r in rows
        if (not needle or needle in r.station.lower())
        and (state is StateFilter.ALL or r.state == state.value)
        and r.has(problem)
    ]
    return Fleet(shown, summary)


def _station_of(topic: str) -> str | None:
    parts = topic.split("/")
    return parts[2] if len(parts) > 2 else None


def station_state(store: CentralStore, station: str) -> StationState | None:
    detail = store.station(station)
    if detail is None:
        return None
    latest = detail["latest"]
    queue = latest.get("telemetry.queue", {}).get("data")
    device_data = [v["data"] for k, v in latest.items() if k.startswith("telemetry.devices/")]
    row = _row(detail, {"queue": queue, "devices": device_data}, open_alarms(store))
    devices = [
        Device(
            device=d["device"],
            type=d["type"],
            enabled=bool(d["enabled"]),
            online=bool(d["online"]),
            faults=list(d.get("faults") or []),
            last_heartbeat=d.get("last_heartbeat"),
            printer_paper=d.get("printer_paper"),
        )
        for d in sorted(device_data, key=lambda d: d["device"])
    ]
    dead = [
        d
        for d in store.query(
            "SELECT id, topic, reason, received_at FROM dead_letters WHERE topic LIKE ? ORDER BY id DESC LIMIT 20",
            (f"markaz/v1/{station}/%",),
        )
        if _station_of(d["topic"]) == station  # LIKE's _ matches any character
    ]
    commands = store.query(
        "SELECT id, name, params, sent_by, sent_at, ack_at, ack_ok, ack_error, ack_result FROM commands "
        "WHERE station = ? ORDER BY sent_at DESC LIMIT 20",
        (station,),
    )
    return StationState(
        row=row,
        versions=detail["versions"],
        services=(queue or {}).get("services", []),
        devices=devices,
        verification=latest.get("telemetry.verification", {}).get("data"),
        node=latest.get("telemetry.node", {}).get("data"),
        events=detail["events"],
        gaps=detail["gaps"],
        dead_letters=dead,
        commands=commands,
    )
