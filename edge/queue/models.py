"""The queue's domain objects: what QueueService and the KPIs return to the API, the CLI, telemetry and the hall.

Pydantic models, so the API uses them as its response models and the contract is written once. They are frozen:
a caller that wants a changed copy asks for one (`model_copy(update=...)`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from edge.queue.states import TicketStatus

_FROZEN = ConfigDict(frozen=True)


class Ticket(BaseModel):
    """One ticket as the queue keeps it; `estimated_wait_s` is filled by `QueueService.with_estimate`."""

    model_config = _FROZEN

    id: int
    number: str = Field(examples=["A001"])
    service: str
    status: TicketStatus
    priority: int
    business_day: date
    issued_at: datetime = Field(description="the visitor's arrival (kept across transfers)")
    queued_at: datetime = Field(description="when the ticket entered this service's queue (issue, or transfer in)")
    called_at: datetime | None
    serving_at: datetime | None
    ended_at: datetime | None
    counter: str | None
    recalls: int
    transferred_from: int | None
    transferred_to: int | None
    estimated_wait_s: int | None = Field(
        None, description="seconds until called; only for waiting tickets with an open counter"
    )


class Counter(BaseModel):
    model_config = _FROZEN

    code: str
    name: str
    is_open: bool
    services: list[str]
    current_ticket: str | None = Field(description="number of the ticket called or served here")
    current_ticket_id: int | None


class Service(BaseModel):
    model_config = _FROZEN

    code: str
    name_ar: str
    name_en: str
    prefix: str
    target_wait_s: int
    priority: int
    active: bool
    needs_identity: bool = False  # the kiosk asks for a verified identity (card + face) first


class KpiFigures(BaseModel):
    """The figures of one service, or of the whole station, over one business day."""

    model_config = _FROZEN

    issued: int
    waiting: int
    called: int
    serving: int
    served: int
    no_shows: int
    transferred_out: int
    cancelled: int
    longest_wait_s: float
    mean_wait_s: float | None
    p90_wait_s: float | None
    mean_service_s: float | None
    within_target_share: float | None
    counters_open: int


class ServiceKpis(KpiFigures):
    service: str
    name_en: str
    name_ar: str
    target_wait_s: int


class StationKpis(KpiFigures):
    station_id: str


class Kpis(BaseModel):
    model_config = _FROZEN

    business_day: date
    generated_at: datetime
    timezone: str
    station: StationKpis
    services: list[ServiceKpis]


# -- what the wait estimate reads: plain slotted dataclasses, built many times per second ----------------------------


@dataclass(frozen=True, slots=True)
class WaitingTicket:
    id: int
    service: str
    priority: int
    arrived_at: str  # ISO 8601 UTC, sortable as text


@dataclass(frozen=True, slots=True)
class CounterLoad:
    """An open or closed counter and the ticket it holds (if any)."""

    code: str
    is_open: bool
    status: TicketStatus | None = None
    service: str | None = None
    called_at: datetime | None = None
    serving_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class QueueSnapshot:
    """Everything the estimate needs, read in one transaction."""

    waiting: list[WaitingTicket]
    counters: list[CounterLoad]
    links: dict[str, frozenset[str]]  # counter -> services it serves
