"""The MQTT contract: every topic and payload between a station and central, as pydantic models.

Used by the edge (to build messages), by central (to validate them) and by the AsyncAPI generator. Payloads carry
counts, durations, states and identifiers of machines only: every string field is constrained (pattern, enum or
format) so free text from visitors has nowhere to go; `tests/telemetry/test_no_personal_data.py` checks it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from markaz.contracts.devices import DeviceType
from markaz.contracts.ids import DeviceId, StationId
from markaz.contracts.reports import ReportState

PREFIX = "markaz/v1"
# Central's own level of the tree, where a station id would stand: no station id can start with "_".
CENTRAL = "_central"

# Identifiers of machines and catalogue entries, never of people (station and device ids: markaz/contracts/ids.py).
ServiceCode = Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,32}$")]
CommandId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]
CommandName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$", max_length=64)]
VersionText = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+:-]{0,63}$")]
VersionKey = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]
Count = Annotated[int, Field(ge=0)]
Seconds = Annotated[float, Field(ge=0)]
Millis = Annotated[float, Field(ge=0)]
Percent = Annotated[float, Field(ge=0, le=100)]
Day = Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")]
ProfileVersion = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$", description="a profile version")]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
ProfileKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
ProfileText = Annotated[str, Field(pattern=r"^[\x20-\x7e]{0,256}$", description="ASCII: a source, URI or pattern")]
ProfileScalar = bool | int | float | ProfileText
ProfileLeaf = ProfileScalar | list[ProfileScalar]
ConfigOutcomeName = Literal["pending", "applied", "rolled_back", "refused"]
# the health checks a device runs after a profile change: a kiosk's parts, a display's speech, a counter terminal's
# counter, an edge node's database, models and broker link
HealthCheckName = Literal["reader", "camera", "printer", "speech", "counter", "database", "models", "broker"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- status (retained, outside the seq stream) -------------------------------------------------------------------


class Status(_Strict):
    """Birth (`online`, on every connect) and Last Will (`offline`, set when connecting)."""

    state: Literal["online", "offline"]
    since: datetime = Field(
        description="UTC instant the connection this status belongs to was opened: an offline (Will or clean stop) "
        "carries its birth's, so the two pair up"
    )
    versions: dict[VersionKey, VersionText] = Field(default_factory=dict)


class CentralStatus(_Strict):
    """Central's own birth and Last Will, one retained topic per ingest worker (as Sparkplug's primary-host STATE).

    A station holds its outbox while every worker it knows of says `offline` (nothing piles up in the broker's
    queue for central's session, nothing is dropped there), and announces its birth and a full snapshot again when
    a worker comes back with a new `since`, so central's view is whole after its own outage."""

    state: Literal["online", "offline"]
    since: datetime = Field(description="UTC instant this worker's connection was opened; its offline carries it too")


# --- telemetry data ------------------------------------------------------------------------------------------------


class ServiceQueue(_Strict):
    service: ServiceCode
    waiting: Count
    longest_wait_s: Seconds
    served: Count = Field(description="served in the business day so far")
    mean_wait_s: Seconds | None = Field(None, description="mean wait of those served today; null before any")
    no_shows: Count = 0
    counters_open: Count
    target_wait_s: Seconds | None = None


class QueueSnapshot(_Strict):
    business_day: Day
    reason: Literal["change", "periodic", "command"]
    services: list[ServiceQueue]


class ServiceDay(_Strict):
    """One service's business day so far, as the KPIs are computed from it: every called ticket's wait (seconds,
    in order of queue entry; no number, no name), served and no-shows. Central recomputes any period's KPIs from it."""

    service: ServiceCode
    target_wait_s: Seconds | None
    waits_s: Annotated[list[Seconds], Field(max_length=50_000)]
    served: Count
    no_shows: Count


class QueueDay(_Strict):
    business_day: Day
    services: list[ServiceDay]


# Faults a device reports itself (kiosk heartbeats), and those the edge derives (a heartbeat that stopped coming)
ReportedFault = Literal["reader_missing", "camera_down", "printer_paper_out", "printer_error", "ui_disconnected"]
Fault = Literal[ReportedFault, "heartbeat_lost"]


class DeviceState(_Strict):
    device: DeviceId
    type: DeviceType
    enabled: bool
    online: bool = Field(description="a heartbeat arrived within the station's heartbeat timeout")
    last_heartbeat: datetime | None
    reader_present: bool | None = None
    camera_fps: Annotated[float, Field(ge=0, le=1000)] | None = None
    printer_paper: Literal["ok", "low", "out", "unknown"] | None = None
    faults: list[Fault] = []
    reason: Literal["heartbeat", "change", "periodic", "command"]


class VerificationCounters(_Strict):
    business_day: Day
    match: Count
    no_match: Count
    retry: Count
    spoof: Count
    latency_ms_p50: Millis | None
    latency_ms_p95: Millis | None


class OutboxHealth(_Strict):
    backlog: Count
    backlog_bytes: Count
    dropped_total: Count


class NodeHealth(_Strict):
    cpu_percent: Percent
    memory_percent: Percent
    memory_used_mb: Annotated[float, Field(ge=0)]
    disk_percent: Percent
    disk_free_mb: Annotated[float, Field(ge=0)]
    temperature_c: Annotated[float, Field(ge=-60, le=150)] | None
    uptime_s: Seconds
    versions: dict[VersionKey, VersionText]
    outbox: OutboxHealth


ReportTypeCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$", description="a report type of the catalogue")]


class ReportCount(_Strict):
    type: ReportTypeCode
    state: ReportState
    count: Count


class ReportCounts(_Strict):
    """Reports of the station by type and state, open SLA breaches and referrals waiting for the prosecution's
    acknowledgement: counts only (no reference, name or text)."""

    reason: Literal["change", "periodic", "command"]
    by_type_state: list[ReportCount]
    sla_breaches: Count
    referrals_pending: Count


# --- events --------------------------------------------------------------------------------------------------------


class DeviceFault(_Strict):
    device: DeviceId
    fault: Fault
    state: Literal["raised", "cleared"]


class QueueOverTarget(_Strict):
    service: ServiceCode
    waiting: Count
    longest_wait_s: Seconds
    target_wait_s: Seconds
    state: Literal["raised", "cleared"]


class OutboxDropped(_Strict):
    """Periodic snapshots the bounded outbox dropped during a long outage: their seqs are gaps central may explain."""

    count: Annotated[int, Field(ge=1)]
    first_seq: Annotated[int, Field(ge=1)]
    last_seq: Annotated[int, Field(ge=1)]
    dropped_total: Count


class AuditAnchor(_Strict):
    """A signed head of the station's audit chain (hashes and a signature: no content)."""

    anchor_ts: datetime
    head_seq: Count
    head_hash: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    key_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
    signature: Annotated[str, Field(pattern=r"^[A-Za-z0-9+/=]{1,256}$")]


class ConfigOutcome(_Strict):
    """A device answered a desired profile version: applied, rolled back to the last good one, or refused."""

    device: DeviceId
    answers: ProfileVersion = Field(description="the desired version the device was asked to apply")
    version: ProfileVersion | None = Field(description="the version in force on the device now")
    outcome: Literal["applied", "rolled_back", "refused"]
    failed_checks: list[HealthCheckName] = Field(
        default_factory=list, description="the device's health checks that failed after the change"
    )


SelftestCheck = Literal[
    "reader", "test_card", "camera", "printer", "edge_mtls", "clock_skew", "disk", "memory",
    "broker_mtls", "models", "backups_writable", "audit_chain",
]  # fmt: skip


class SelftestResult(_Strict):
    """A technician ran `markaz provision selftest` on a device or on the edge node: which checks failed (names)."""

    device: DeviceId | None = Field(description="the device tested; null for the edge node itself")
    role: Literal["kiosk", "display", "counter_terminal", "edge_node"]
    ok: bool
    failed: list[SelftestCheck] = Field(default_factory=list)


class ReportSlaBreach(_Strict):
    """A report stayed in a state longer than its SLA (type, state and how late: no reference, nothing personal)."""

    type: ReportTypeCode
    state: ReportState
    overdue_s: Seconds


# --- commands ------------------------------------------------------------------------------------------------------


class NoParams(_Strict):
    pass


class SnapshotParams(_Strict):
    what: list[Literal["queue", "devices", "verification", "node", "reports"]] = [
        "queue",
        "devices",
        "verification",
        "node",
        "reports",
    ]


class KioskParams(_Strict):
    device: DeviceId


class ConfigApplyParams(_Strict):
    """A profile version for one device of the station: the full effective profile with its SHA-256 (canonical JSON,
    sorted keys). The station refuses it before anything changes when the hash or the device type's schema fails."""

    device: DeviceId
    version: ProfileVersion
    sha256: Sha256
    profile: dict[ProfileKey, ProfileLeaf | dict[ProfileKey, ProfileLeaf]] = Field(
        description="the effective profile: keys and values of the device type's schema (firmware_config), two levels"
    )


class Command(_Strict):
    """central -> station on `cmd/{name}`; `params` is validated against the command's own model."""

    id: CommandId
    ts: datetime = Field(description="when central sent it: outside the station's freshness window it is refused")
    params: dict[str, Any] = Field(default_factory=dict)


# MQTT 5 message expiry central puts on every command: the broker drops a command a station was down for longer
# than this, and the station refuses one stamped outside its window (`command_max_age_s`, the same by default).
COMMAND_EXPIRY_S = 600

COMMAND_PARAMS: dict[str, type[BaseModel]] = {
    "telemetry.snapshot": SnapshotParams,
    "kiosk.enable": KioskParams,
    "kiosk.disable": KioskParams,
    "node.rebirth": NoParams,
    "config.apply": ConfigApplyParams,
}


def _all_optional(model: type[BaseModel]) -> bool:
    return not any(field.is_required() for field in model.model_fields.values())


def _typed_command(name: str, params: type[BaseModel]) -> type[Command]:
    """`Command` with the params of one command: the schema central builds `cmd/{name}` payloads from."""
    title = "".join(part.capitalize() for part in re.split(r"[._]", name)) + "Command"
    return create_model(
        title,
        __base__=Command,
        __doc__=f"central -> station on `cmd/{name}`.",
        __module__=__name__,
        params=(params, Field(default_factory=params) if _all_optional(params) else ...),
    )


# One model per command (name -> Command with that command's params), for the contract document and central.
COMMANDS: dict[str, type[Command]] = {name: _typed_command(name, params) for name, params in COMMAND_PARAMS.items()}


class AckError(_Strict):
    code: Literal["malformed", "unknown_command", "invalid_params", "not_found", "failed", "stale", "id_reused"]
    message: Annotated[str, Field(max_length=500, pattern=r"^[\x20-\x7e]*$")] = Field(
        description="written by the station's code (ASCII), never echoing visitor data"
    )


class AckResult(_Strict):
    device: DeviceId | None = None
    enabled: bool | None = None
    changed: bool | None = None
    published: list[Literal["queue", "devices", "verification", "node", "reports", "status"]] | None = None
    version: ProfileVersion | None = Field(None, description="config.apply: the desired version now stored")
    outcome: ConfigOutcomeName | None = Field(
        None, description="config.apply: `pending` until the device reports (then `events/config_outcome`)"
    )


class CommandAck(_Strict):
    id: CommandId | None = Field(description="the command's id; null when the command was too malformed to have one")
    ok: bool
    result: AckResult | None = None
    error: AckError | None = None
    duplicate: bool = Field(False, description="the id was seen before: the command was not executed again")


# --- envelopes -----------------------------------------------------------------------------------------------------


class Envelope(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    schema_id: str = Field(alias="schema")
    station: StationId
    seq: Annotated[int, Field(ge=1, description="monotonic per station, survives restarts; gaps = lost messages")]
    ts: datetime
    data: Any


def _envelope(name: str, schema: str, data_type: Any, doc: str) -> type[Envelope]:
    return type(
        name,
        (Envelope,),
        {
            "__doc__": doc,
            "__annotations__": {"schema_id": Literal[schema], "data": data_type},
            "schema_id": Field(alias="schema"),
            "__module__": __name__,
        },
    )


QueueMessage = _envelope("QueueMessage", "markaz.telemetry.queue/1", QueueSnapshot, "Queue snapshot of the station.")
QueueDayMessage = _envelope(
    "QueueDayMessage", "markaz.telemetry.queue_day/1", QueueDay, "The business day's waits and outcomes per service."
)
DeviceMessage = _envelope("DeviceMessage", "markaz.telemetry.devices/1", DeviceState, "State of one device.")
VerificationMessage = _envelope(
    "VerificationMessage", "markaz.telemetry.verification/1", VerificationCounters, "Verification counters of the day."
)
NodeMessage = _envelope("NodeMessage", "markaz.telemetry.node/1", NodeHealth, "Health of the edge node.")
DeviceFaultMessage = _envelope("DeviceFaultMessage", "markaz.events.device_fault/1", DeviceFault, "A device fault.")
QueueOverTargetMessage = _envelope(
    "QueueOverTargetMessage", "markaz.events.queue_over_target/1", QueueOverTarget, "Longest wait above target."
)
OutboxDroppedMessage = _envelope(
    "OutboxDroppedMessage", "markaz.events.outbox_dropped/1", OutboxDropped, "Snapshots dropped by the bounded outbox."
)
AuditAnchorMessage = _envelope(
    "AuditAnchorMessage", "markaz.events.audit_anchor/1", AuditAnchor, "Signed head of the audit chain."
)
ReportsMessage = _envelope(
    "ReportsMessage", "markaz.telemetry.reports/1", ReportCounts, "Report counts of the station."
)
ReportSlaBreachMessage = _envelope(
    "ReportSlaBreachMessage", "markaz.events.report_sla_breach/1", ReportSlaBreach, "A report's SLA ran out."
)
SelftestMessage = _envelope(
    "SelftestMessage", "markaz.events.selftest/1", SelftestResult, "A self-test of a device or the node ran."
)
ConfigOutcomeMessage = _envelope(
    "ConfigOutcomeMessage", "markaz.events.config_outcome/1", ConfigOutcome, "A device answered a profile version."
)
AckMessage = _envelope("AckMessage", "markaz.cmd.ack/1", CommandAck, "Answer to a command.")


# --- the topic tree ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Channel:
    """One topic of the tree: who publishes, what model, and whether the bounded outbox may drop it."""

    key: str  # e.g. "telemetry.queue", "events.device_fault"
    template: str  # below markaz/v1/{station}/
    model: type[BaseModel]
    direction: Literal["station", "central"]  # publisher
    droppable: bool = False
    retained: bool = False
    summary: str = ""
    scope: Literal["station", "central"] = "station"  # the topic's level after the prefix: a station id or CENTRAL

    def topic(self, station: str = CENTRAL, **params: str) -> str:
        return f"{PREFIX}/{station if self.scope == 'station' else CENTRAL}/" + self.template.format(**params)

    @property
    def address(self) -> str:
        """The topic with its parameters named, as the AsyncAPI document writes it."""
        return f"{PREFIX}/{'{station}' if self.scope == 'station' else CENTRAL}/{self.template}"

    @property
    def schema(self) -> str | None:
        field = self.model.model_fields.get("schema_id")
        return field.annotation.__args__[0] if field is not None else None  # type: ignore[union-attr]


CHANNELS: tuple[Channel, ...] = (
    Channel("status", "status", Status, "station", retained=True, summary="Birth and Last Will (retained, QoS 1)."),
    Channel(
        "telemetry.queue",
        "telemetry/queue",
        QueueMessage,
        "station",
        droppable=True,
        summary="Queue snapshot on change and at least every snapshot interval.",
    ),
    Channel(
        "telemetry.queue_day",
        "telemetry/queue_day",
        QueueDayMessage,
        "station",
        droppable=True,
        summary="The business day's waits, served and no-shows per service, with the node's health and on snapshot.",
    ),
    Channel(
        "telemetry.devices",
        "telemetry/devices/{device}",
        DeviceMessage,
        "station",
        droppable=True,
        summary="State of one kiosk or device, on heartbeat and periodically.",
    ),
    Channel(
        "telemetry.verification",
        "telemetry/verification",
        VerificationMessage,
        "station",
        droppable=True,
        summary="Verification counters of the business day.",
    ),
    Channel(
        "telemetry.node", "telemetry/node", NodeMessage, "station", droppable=True, summary="Health of the edge node."
    ),
    Channel("events.device_fault", "events/device_fault", DeviceFaultMessage, "station", summary="Device fault."),
    Channel(
        "events.queue_over_target",
        "events/queue_over_target",
        QueueOverTargetMessage,
        "station",
        summary="A service's longest wait crossed its target.",
    ),
    Channel(
        "events.outbox_dropped",
        "events/outbox_dropped",
        OutboxDroppedMessage,
        "station",
        summary="The outbox bound dropped old snapshots.",
    ),
    Channel(
        "events.audit_anchor", "events/audit_anchor", AuditAnchorMessage, "station", summary="Signed audit chain head."
    ),
    Channel(
        "telemetry.reports",
        "telemetry/reports",
        ReportsMessage,
        "station",
        droppable=True,
        summary="Report counts by type and state, SLA breaches, referrals pending.",
    ),
    Channel(
        "events.report_sla_breach",
        "events/report_sla_breach",
        ReportSlaBreachMessage,
        "station",
        summary="A report stayed in a state past its SLA.",
    ),
    Channel(
        "events.selftest",
        "events/selftest",
        SelftestMessage,
        "station",
        summary="A hardware and link self-test ran on a device or the node: the failed checks by name.",
    ),
    Channel(
        "events.config_outcome",
        "events/config_outcome",
        ConfigOutcomeMessage,
        "station",
        summary="A device applied a profile version, rolled back (and why) or refused it.",
    ),
    Channel("cmd", "cmd/{name}", Command, "central", summary="A command to the station."),
    Channel(
        "central.status",
        "status/{worker}",
        CentralStatus,
        "central",
        retained=True,
        scope="central",
        summary="Central's birth and Last Will, per ingest worker (retained, QoS 1); every station reads it.",
    ),
    Channel("cmd.ack", "cmd/{name}/ack", AckMessage, "station", summary="The station's answer to a command."),
)
BY_KEY = {c.key: c for c in CHANNELS}
BY_SCHEMA = {c.schema: c for c in CHANNELS if c.schema}
CENTRAL_STATUS_FILTER = BY_KEY["central.status"].topic(worker="+")  # what every station subscribes to


@dataclass(frozen=True)
class TopicInfo:
    station: str
    key: str  # channel key
    params: dict[str, str]


def parse_topic(topic: str) -> TopicInfo | None:
    """The channel of a topic, or None when it is not part of the tree."""
    parts = topic.split("/")
    if len(parts) < 4 or "/".join(parts[:2]) != PREFIX:
        return None
    station, rest = parts[2], parts[3:]
    if station == CENTRAL:
        if len(rest) == 2 and rest[0] == "status" and rest[1]:
            return TopicInfo(CENTRAL, "central.status", {"worker": rest[1]})
        return None
    match rest:
        case ["status"]:
            return TopicInfo(station, "status", {})
        case ["telemetry", "devices", device]:
            return TopicInfo(station, "telemetry.devices", {"device": device})
        case ["telemetry", kind] if f"telemetry.{kind}" in BY_KEY:
            return TopicInfo(station, f"telemetry.{kind}", {})
        case ["events", kind] if f"events.{kind}" in BY_KEY:
            return TopicInfo(station, f"events.{kind}", {})
        case ["cmd", name]:
            return TopicInfo(station, "cmd", {"name": name})
        case ["cmd", name, "ack"]:
            return TopicInfo(station, "cmd.ack", {"name": name})
    return None


class ContractError(ValueError):
    """A message that does not follow the contract (unknown topic, wrong schema, invalid payload)."""


def validate(topic: str, payload: bytes | str, info: TopicInfo | None = None) -> tuple[TopicInfo, BaseModel]:
    """Validate a received message against its channel's model; the envelope's station must match the topic's.
    `info`: the topic already parsed (the ingest parses it first to skip its own channels)."""
    info = info or parse_topic(topic)
    if info is None:
        raise ContractError(f"topic {topic!r} is not part of the markaz/v1 tree")
    model = BY_KEY[info.key].model
    try:
        msg = model.model_validate_json(payload)
    except ValidationError as exc:
        raise ContractError(f"{topic}: {exc.error_count()} validation error(s): {exc.errors()[0]['msg']}") from None
    if isinstance(msg, Envelope) and msg.station != info.station:
        raise ContractError(f"{topic}: envelope station {msg.station!r} differs from the topic's")
    return info, msg


def dump(msg: BaseModel) -> bytes:
    """The wire form: compact JSON, aliases (`schema`), no nulls dropped (the schema says what may be null)."""
    return msg.model_dump_json(by_alias=True).encode()
