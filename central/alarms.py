"""Central's alarms: rules over the stored telemetry, one alarm per episode, acknowledged by an operator, escalated
when nobody does, cleared when the condition ends.

An evaluation reads each station's state from the store, works out which conditions hold now (`conditions`, plain
Python over a snapshot), and reconciles them with the open alarms in one transaction (`AlarmEvaluator.run`):
a condition seen for its rule's hold time raises an alarm; one that no longer holds clears it; an alarm nobody
acknowledged within `escalate_after_min` escalates, one level per period. Everything lives in the store (pending
conditions too), so a restart of central neither raises an episode twice nor forgets one; the partial unique index
on open alarms makes "once per episode" hold even with two evaluators at once.

A rule that cannot be judged is skipped, neither raised nor cleared: connectivity before an ingest worker has been
subscribed long enough to hear every retained birth (central's own outage is not the stations'), and a station's
queue, devices, verification and reports while it is offline (its last snapshot is stale, its alarms stay as they
were until it is back).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict

from central.roles import CentralRole
from central.staff import audit
from central.staff.roles import Permission, allowed
from central.store import CentralStore
from markaz.clock import iso, parse_iso, utcnow
from markaz.config import MarkazSettings, load_settings


class Severity(StrEnum):
    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"
    WARNING = "warning"


class AlarmState(StrEnum):
    ACTIVE = "active"
    ACKNOWLEDGED = "acknowledged"
    CLEARED = "cleared"


class EventKind(StrEnum):
    """The steps of an alarm's life, each a row of `alarm_events` (the charts mark them)."""

    RAISED = "raised"
    ESCALATED = "escalated"
    ACKNOWLEDGED = "acknowledged"
    CLEARED = "cleared"


class Rule(StrEnum):
    STATION_OFFLINE = "station_offline"
    WAIT_OVER_TARGET = "wait_over_target"
    DEVICE_FAULT = "device_fault"
    SPOOF_RATE = "spoof_rate"
    SEQ_GAP = "seq_gap"
    AUDIT_ANCHOR_OVERDUE = "audit_anchor_overdue"
    AUDIT_ANCHOR_REFUSED = "audit_anchor_refused"
    REPORT_SLA = "report_sla"


# Rules that need the station's own telemetry to be current: not judged while it is offline.
LIVE_RULES = frozenset(
    {Rule.WAIT_OVER_TARGET, Rule.DEVICE_FAULT, Rule.SPOOF_RATE, Rule.AUDIT_ANCHOR_OVERDUE, Rule.REPORT_SLA}
)


# --- settings ------------------------------------------------------------------------------------------------------


class RuleSettings(BaseModel):
    enabled: bool = True
    severity: Severity
    hold_s: float = Field(0.0, ge=0, description="the condition must hold this long before the alarm is raised")


class SpoofRuleSettings(RuleSettings):
    threshold: float = Field(0.05, gt=0, le=1, description="share of the day's verifications judged a spoof")
    min_attempts: int = Field(20, ge=1, description="fewer verifications than this are not judged")


class AlarmSettings(MarkazSettings):
    """`[alarms]` of central's settings file, or MARKAZ_ALARMS_* variables (`__` for nested keys)."""

    model_config = SettingsConfigDict(env_prefix="MARKAZ_ALARMS_", env_nested_delimiter="__", extra="forbid")

    evaluate_every_s: float = Field(10.0, gt=0, description="how often `serve`/`ingest` evaluate the rules")
    escalate_after_min: float = Field(15.0, gt=0, description="an alarm nobody acknowledged escalates this often")
    max_escalation: int = Field(3, ge=1)
    settle_s: float = Field(10.0, ge=0, description="an ingest must be subscribed this long before offline is judged")
    worker_stale_s: float = Field(60.0, gt=0, description="an ingest not seen this long is not connected")
    station_offline: RuleSettings = RuleSettings(severity=Severity.MAJOR, hold_s=120)
    wait_over_target: RuleSettings = RuleSettings(severity=Severity.MINOR, hold_s=600)
    device_fault: RuleSettings = RuleSettings(severity=Severity.MAJOR, hold_s=0)
    spoof_rate: SpoofRuleSettings = SpoofRuleSettings(severity=Severity.CRITICAL, hold_s=0)
    seq_gap: RuleSettings = RuleSettings(severity=Severity.MINOR, hold_s=1800)
    audit_anchor_overdue: RuleSettings = RuleSettings(severity=Severity.MAJOR, hold_s=7200)
    audit_anchor_refused: RuleSettings = RuleSettings(severity=Severity.CRITICAL, hold_s=0)
    report_sla: RuleSettings = RuleSettings(severity=Severity.MINOR, hold_s=0)

    def rule(self, rule: Rule) -> RuleSettings:
        return getattr(self, rule.value)  # type: ignore[no-any-return]


def load_alarm_settings(file: Path | None = None) -> AlarmSettings:
    return load_settings(AlarmSettings, file, section="alarms")


# --- what the rules read -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    """A rule's condition holding at a station now, on a subject ('' for the station), with its figures."""

    station: str
    rule: Rule
    subject: str
    detail: dict[str, Any]
    since: datetime | None = None  # when it began, when the data says (else: when first seen)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.station, self.rule.value, self.subject)


@dataclass
class StationView:
    """What the rules need of one station, read in the evaluation's transaction."""

    station: str
    state: str | None
    state_changed_at: datetime | None
    first_seen_at: datetime | None
    latest: dict[str, dict[str, Any]] = field(default_factory=dict)  # channel -> data
    gaps: list[dict[str, Any]] = field(default_factory=list)
    last_anchor_at: datetime | None = None
    anchor_refused_at: datetime | None = None
    anchor_refused_reason: str | None = None


def _dt(text: str | None) -> datetime | None:
    return parse_iso(text) if text else None


def conditions(views: Iterable[StationView], settings: AlarmSettings, now: datetime) -> list[Condition]:
    """Every condition holding now. Pure: the rules' definitions, written once (docs/central.md says them in words)."""
    out: list[Condition] = []
    for v in views:
        if v.state == "offline":
            out.append(Condition(v.station, Rule.STATION_OFFLINE, "", {"state": "offline"}, v.state_changed_at))
        for gap in v.gaps:
            size = gap["last_seq"] - gap["first_seq"] + 1
            if gap["dropped"] < size:  # a gap the station announced as dropped snapshots is explained, not lost
                missing = sum(g["last_seq"] - g["first_seq"] + 1 - g["dropped"] for g in v.gaps)
                first = min(parse_iso(g["detected_at"]) for g in v.gaps)
                out.append(Condition(v.station, Rule.SEQ_GAP, "", {"missing": missing, "gaps": len(v.gaps)}, first))
                break
        if v.anchor_refused_at is not None:  # judged online or not: a forged anchor is news whenever it came
            detail = {"reason": v.anchor_refused_reason}
            out.append(Condition(v.station, Rule.AUDIT_ANCHOR_REFUSED, "", detail, v.anchor_refused_at))
        if v.state != "online":
            continue
        queue = v.latest.get("telemetry.queue")
        for svc in (queue or {}).get("services", []):
            target = svc.get("target_wait_s")
            if target is not None and svc["longest_wait_s"] > target:
                detail = {"longest_wait_s": svc["longest_wait_s"], "target_wait_s": target, "waiting": svc["waiting"]}
                out.append(Condition(v.station, Rule.WAIT_OVER_TARGET, svc["service"], detail))
        for channel, data in v.latest.items():
            if channel.startswith("telemetry.devices/") and data.get("enabled", True) and data.get("faults"):
                out.append(Condition(v.station, Rule.DEVICE_FAULT, data["device"], {"faults": sorted(data["faults"])}))
        counts = v.latest.get("telemetry.verification")
        if counts is not None:
            attempts = counts["match"] + counts["no_match"] + counts["retry"] + counts["spoof"]
            rule = settings.spoof_rate
            if attempts >= rule.min_attempts and counts["spoof"] / attempts > rule.threshold:
                detail = {"spoof": counts["spoof"], "attempts": attempts, "rate": round(counts["spoof"] / attempts, 4)}
                out.append(Condition(v.station, Rule.SPOOF_RATE, "", detail))
        reports = v.latest.get("telemetry.reports")
        if reports is not None and reports.get("sla_breaches", 0) > 0:
            out.append(Condition(v.station, Rule.REPORT_SLA, "", {"sla_breaches": reports["sla_breaches"]}))
        hold = timedelta(seconds=settings.audit_anchor_overdue.hold_s)
        last = v.last_anchor_at or v.first_seen_at
        if last is not None and now - last >= hold:
            detail = {"last_anchor_at": iso(v.last_anchor_at) if v.last_anchor_at else None}
            out.append(Condition(v.station, Rule.AUDIT_ANCHOR_OVERDUE, "", detail, last))
    return [c for c in out if settings.rule(c.rule).enabled]


# --- the alarms themselves -----------------------------------------------------------------------------------------


class Alarm(BaseModel):
    id: int
    station: str
    rule: Rule
    subject: str
    severity: Severity
    state: AlarmState
    since: datetime
    raised_at: datetime
    detail: dict[str, Any]
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    ack_comment: str | None = None
    escalation_level: int = 0
    escalated_at: datetime | None = None
    cleared_at: datetime | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Alarm:
        return cls.model_validate({**row, "detail": json.loads(row["detail"])})


class AlarmEvent(BaseModel):
    alarm_id: int
    station: str
    kind: EventKind
    at: datetime
    actor: str | None = None
    comment: str | None = None


@dataclass(frozen=True)
class EvaluationRun:
    raised: list[int]
    cleared: list[int]
    escalated: list[int]
    connectivity_judged: bool


class AlarmError(Exception):
    """An alarm action that cannot be done (the message says why)."""


class AlarmNotFound(AlarmError):
    pass


class AlarmConflict(AlarmError):
    """The alarm is not in a state that allows it (already acknowledged, or cleared)."""


class NotAllowed(AlarmError):
    pass


_ALARM_COLUMNS = (
    "id, station, rule, subject, severity, state, since, raised_at, detail, acknowledged_by, acknowledged_at, "
    "ack_comment, escalation_level, escalated_at, cleared_at"
)


class AlarmEvaluator:
    """Evaluates the rules against the store and keeps the alarms; `clock` is injectable (tests move time)."""

    def __init__(self, store: CentralStore, settings: AlarmSettings, clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock

    def connectivity_judged(self, now: datetime) -> bool:
        """True once some ingest worker is connected, fresh, and has been subscribed for `settle_s`."""
        for w in self.store.ingest_workers():
            connected, seen = _dt(w["connected_at"]), _dt(w["seen_at"])
            if connected is None or seen is None:
                continue
            fresh = (now - seen).total_seconds() <= self.settings.worker_stale_s
            if fresh and (now - connected).total_seconds() >= self.settings.settle_s:
                return True
        return False

    def run(self) -> EvaluationRun:
        now = self.clock()
        judged = self.connectivity_judged(now)
        db = self.store.db
        with db.transaction() as tx:
            if db.dialect == "postgresql":  # two evaluators (two central processes): one at a time
                tx.execute("SELECT pg_advisory_xact_lock(7207002)")
            views = _read_views(tx)
            holding = {c.key: c for c in conditions(views.values(), self.settings, now)}
            skipped = _skipped(views, judged)
            open_rows = _rows(tx, f"SELECT {_ALARM_COLUMNS} FROM alarms WHERE cleared_at IS NULL")
            open_alarms = {(r["station"], r["rule"], r["subject"]): r for r in open_rows}
            pending = {
                (r[0], r[1], r[2]): parse_iso(r[3])
                for r in tx.execute("SELECT station, rule, subject, since FROM alarm_pending").fetchall()
            }
            raised, cleared, escalated = [], [], []
            for key, cond in holding.items():
                if (cond.station, cond.rule) in skipped or key in open_alarms:
                    continue
                since = pending.get(key)
                if since is None:
                    since = min(cond.since, now) if cond.since is not None else now
                    tx.execute(
                        "INSERT INTO alarm_pending (station, rule, subject, since) VALUES (?, ?, ?, ?)",
                        (*key, iso(since)),
                    )
                rule = self.settings.rule(cond.rule)
                if (now - since).total_seconds() < rule.hold_s:
                    continue
                alarm_id = tx.execute(
                    "INSERT INTO alarms (station, rule, subject, severity, state, since, raised_at, detail) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    (*key, rule.severity.value, AlarmState.ACTIVE.value, iso(since), iso(now), json.dumps(cond.detail)),
                ).fetchone()[0]
                tx.execute("DELETE FROM alarm_pending WHERE station = ? AND rule = ? AND subject = ?", key)
                _event(tx, alarm_id, cond.station, EventKind.RAISED, now)
                raised.append(alarm_id)
            for key in pending.keys() - holding.keys():
                if (key[0], Rule(key[1])) not in skipped:
                    tx.execute("DELETE FROM alarm_pending WHERE station = ? AND rule = ? AND subject = ?", key)
            for key, row in open_alarms.items():
                if (key[0], Rule(key[1])) in skipped:
                    continue
                if key not in holding:
                    tx.execute(
                        "UPDATE alarms SET state = ?, cleared_at = ? WHERE id = ?",
                        (AlarmState.CLEARED.value, iso(now), row["id"]),
                    )
                    _event(tx, row["id"], key[0], EventKind.CLEARED, now)
                    cleared.append(row["id"])
                    continue
                tx.execute("UPDATE alarms SET detail = ? WHERE id = ?", (json.dumps(holding[key].detail), row["id"]))
                if row["state"] == AlarmState.ACTIVE:
                    period = self.settings.escalate_after_min * 60
                    level = min(
                        self.settings.max_escalation,
                        math.floor((now - parse_iso(row["raised_at"])).total_seconds() / period),
                    )
                    if level > row["escalation_level"]:
                        tx.execute(
                            "UPDATE alarms SET escalation_level = ?, escalated_at = ? WHERE id = ?",
                            (level, iso(now), row["id"]),
                        )
                        _event(tx, row["id"], key[0], EventKind.ESCALATED, now, comment=f"level {level}")
                        escalated.append(row["id"])
        return EvaluationRun(raised, cleared, escalated, judged)


def _rows(tx: Any, sql: str, params: Any = ()) -> list[dict[str, Any]]:
    cur = tx.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _event(
    tx: Any,
    alarm_id: int,
    station: str,
    kind: EventKind,
    at: datetime,
    actor: str | None = None,
    comment: str | None = None,
) -> None:
    tx.execute(
        "INSERT INTO alarm_events (alarm_id, station, kind, at, actor, comment) VALUES (?, ?, ?, ?, ?, ?)",
        (alarm_id, station, kind, iso(at), actor, comment),
    )


def _read_views(tx: Any) -> dict[str, StationView]:
    views = {
        r["station"]: StationView(
            r["station"], r["state"], _dt(r["state_changed_at"]), _dt(r["first_seen_at"]),
            anchor_refused_at=_dt(r["anchor_refused_at"]), anchor_refused_reason=r["anchor_refused_reason"],
        )
        for r in _rows(tx, "SELECT station, state, state_changed_at, first_seen_at, anchor_refused_at, "
                           "anchor_refused_reason FROM stations")
    }  # fmt: skip
    for r in _rows(tx, "SELECT station, channel, data FROM latest"):
        if r["station"] in views:
            views[r["station"]].latest[r["channel"]] = json.loads(r["data"])
    for r in _rows(tx, "SELECT station, first_seq, last_seq, detected_at, dropped FROM gaps ORDER BY first_seq"):
        if r["station"] in views:
            views[r["station"]].gaps.append(r)
    for r in _rows(tx, "SELECT station, max(received_at) AS last FROM audit_anchors GROUP BY station"):
        if r["station"] in views:
            views[r["station"]].last_anchor_at = _dt(r["last"])
    return views


def _skipped(views: dict[str, StationView], connectivity_judged: bool) -> set[tuple[str, Rule]]:
    """(station, rule) pairs that cannot be judged now: neither raised nor cleared."""
    out: set[tuple[str, Rule]] = set()
    for v in views.values():
        if not connectivity_judged:
            out.add((v.station, Rule.STATION_OFFLINE))
        if v.state != "online":
            out.update((v.station, r) for r in LIVE_RULES)
    return out


# --- reading and acknowledging -------------------------------------------------------------------------------------


def list_alarms(
    store: CentralStore, station: str | None = None, include_cleared: bool = False, limit: int = 500
) -> list[Alarm]:
    where, params = [], []
    if not include_cleared:
        where.append("cleared_at IS NULL")
    if station is not None:
        where.append("station = ?")
        params.append(station)
    sql = f"SELECT {_ALARM_COLUMNS} FROM alarms" + (" WHERE " + " AND ".join(where) if where else "")
    rows = store.query(sql + " ORDER BY raised_at DESC, id DESC LIMIT ?", (*params, limit))
    return [Alarm.from_row(r) for r in rows]


class StateFilter(StrEnum):
    """Which alarms a list shows: open (active or acknowledged) by default."""

    OPEN = "open"
    ACTIVE = "active"
    ACKNOWLEDGED = "acknowledged"
    CLEARED = "cleared"
    ALL = "all"


@dataclass(frozen=True)
class AlarmQuery:
    """The alarm list's filters; None is "any"."""

    state: StateFilter = StateFilter.OPEN
    severity: Severity | None = None
    station: str | None = None  # a station id (exact), or the start of one followed by `*` ("st-1*": st-1, st-10...)
    rule: Rule | None = None
    limit: int = 500


def find_alarms(store: CentralStore, q: AlarmQuery) -> list[Alarm]:
    """The alarms the list page shows: open ones most severe first, then newest; cleared ones newest cleared first."""
    where: list[str] = []
    params: list[Any] = []
    if q.state is StateFilter.OPEN:
        where.append("cleared_at IS NULL")
    elif q.state is not StateFilter.ALL:
        where.append("state = ?")
        params.append(q.state.value)
    if q.severity is not None:
        where.append("severity = ?")
        params.append(q.severity.value)
    if q.rule is not None:
        where.append("rule = ?")
        params.append(q.rule.value)
    if q.station and q.station.endswith("*"):  # an explicit prefix search; `%` and `_` are only themselves
        where.append("station LIKE ? ESCAPE '!'")
        params.append(q.station[:-1].replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%")
    elif q.station:
        where.append("station = ?")
        params.append(q.station)
    rank = " ".join(f"WHEN '{s.value}' THEN {i}" for i, s in enumerate(Severity))
    order = (
        "cleared_at DESC, id DESC"
        if q.state is StateFilter.CLEARED
        else f"(cleared_at IS NOT NULL), CASE severity {rank} END, raised_at DESC, id DESC"
    )
    sql = f"SELECT {_ALARM_COLUMNS} FROM alarms" + (" WHERE " + " AND ".join(where) if where else "")
    rows = store.query(f"{sql} ORDER BY {order} LIMIT ?", (*params, q.limit))
    return [Alarm.from_row(r) for r in rows]


def alarm_counts(store: CentralStore) -> dict[str, int]:
    """Open alarms by state and by severity (the alarm page's tiles): keys are states and severities."""
    out = {s.value: 0 for s in (*AlarmState, *Severity)}
    out.pop(AlarmState.CLEARED.value)
    for r in store.query(
        "SELECT state, severity, count(*) AS n FROM alarms WHERE cleared_at IS NULL GROUP BY state, severity"
    ):
        out[r["state"]] = out.get(r["state"], 0) + int(r["n"])
        out[r["severity"]] = out.get(r["severity"], 0) + int(r["n"])
    return out


def station_alarms(store: CentralStore, station: str, since: datetime) -> list[Alarm]:
    """The station's alarms that were open at some time after `since` (for its charts' markers and list)."""
    rows = store.query(
        f"SELECT {_ALARM_COLUMNS} FROM alarms WHERE station = ? AND (cleared_at IS NULL OR cleared_at >= ?) "
        "ORDER BY since, id",
        (station, iso(since)),
    )
    return [Alarm.from_row(r) for r in rows]


def open_alarms_by_station(store: CentralStore) -> dict[str, list[Alarm]]:
    """Open (active or acknowledged) alarms per station, most severe first: what the fleet overview shows."""
    order = list(Severity)
    out: dict[str, list[Alarm]] = {}
    for alarm in list_alarms(store, limit=100_000):
        out.setdefault(alarm.station, []).append(alarm)
    for alarms in out.values():
        alarms.sort(key=lambda a: (order.index(a.severity), a.raised_at))
    return out


def alarm_events(store: CentralStore, station: str, since: datetime | None = None) -> list[AlarmEvent]:
    """The station's alarm history in order (for the charts: when each alarm was raised, acknowledged, cleared)."""
    sql = "SELECT alarm_id, station, kind, at, actor, comment FROM alarm_events WHERE station = ?"
    params: list[Any] = [station]
    if since is not None:
        sql += " AND at >= ?"
        params.append(iso(since))
    return [AlarmEvent.model_validate(r) for r in store.query(sql + " ORDER BY at, id", params)]


def _clean_comment(comment: str) -> str:
    text = " ".join(comment.split())  # no control characters, no line breaks in the record
    if len(text) > 500:
        raise AlarmError("the comment is longer than 500 characters")
    return text


def acknowledge(
    store: CentralStore,
    alarm_id: int,
    by: str,
    role: CentralRole,
    comment: str = "",
    clock: Callable[[], datetime] = utcnow,
) -> Alarm:
    """An operator takes the alarm on: who, when and why are kept. Only an active alarm can be acknowledged."""
    if not allowed(role, Permission.ALARMS_ACKNOWLEDGE):
        raise NotAllowed(f"role {role.value} cannot acknowledge alarms")
    text = _clean_comment(comment)
    now = clock()
    with store.db.transaction() as tx:
        rows = _rows(tx, f"SELECT {_ALARM_COLUMNS} FROM alarms WHERE id = ?" + store.db.lock_row, (alarm_id,))
        if not rows:
            raise AlarmNotFound(f"no alarm {alarm_id}")
        row = rows[0]
        if row["state"] != AlarmState.ACTIVE:
            raise AlarmConflict(f"alarm {alarm_id} is {row['state']}, not active")
        tx.execute(
            "UPDATE alarms SET state = ?, acknowledged_by = ?, acknowledged_at = ?, ack_comment = ? WHERE id = ?",
            (AlarmState.ACKNOWLEDGED.value, by, iso(now), text, alarm_id),
        )
        _event(tx, alarm_id, row["station"], EventKind.ACKNOWLEDGED, now, actor=by, comment=text)
        audit.append(tx, by, "staff", "alarm.acknowledge", "alarm", str(alarm_id),
                     {"station": row["station"], "rule": row["rule"], "subject": row["subject"], "comment": text},
                     {"state": row["state"]})  # fmt: skip
        row.update(state=AlarmState.ACKNOWLEDGED.value, acknowledged_by=by, acknowledged_at=iso(now), ack_comment=text)
    return Alarm.from_row(row)
