"""What the hall screens show, as typed models: the contract between the node, the pages and the live feed."""

from __future__ import annotations

from pydantic import BaseModel, Field

from edge.hall.actions import Action, ActionName, Reason
from edge.hall.announcements import Announcement
from edge.queue.states import TicketStatus


class ServiceRef(BaseModel):
    code: str
    prefix: str
    name_ar: str
    name_en: str


class CounterInfo(BaseModel):
    code: str
    name: str
    is_open: bool
    services: list[str]


class CurrentTicket(BaseModel):
    id: int
    number: str
    service: str
    status: TicketStatus
    called_at: str | None
    serving_at: str | None
    recalls: int


class WaitingItem(BaseModel):
    id: int
    number: str
    service: str
    priority: int
    arrived_at: str
    waited_s: int = Field(description="in the queue so far")
    estimated_wait_s: int | None = Field(description="until called; none when no open counter serves it")


class CounterView(BaseModel):
    counter: CounterInfo
    ticket: CurrentTicket | None
    waiting: list[WaitingItem]
    actions: list[Action]
    transfer_targets: list[ServiceRef]
    generated_at: str


class Notice(BaseModel):
    """Why an action did not happen (a code the screen translates, plus the node's own words)."""

    code: Reason | str = Field(description="an availability reason, 'stale' or 'refused'")
    detail: str = ""
    retry_in_s: int | None = None
    ticket: str | None = None


class ActionRequest(BaseModel):
    ticket_id: int | None = Field(
        default=None, description="the ticket the screen showed; refused as stale if it changed"
    )
    service: str | None = Field(default=None, max_length=32, description="target service of a transfer")


class ActionResult(BaseModel):
    action: ActionName
    done: bool
    notice: Notice | None = None
    called: str | None = Field(default=None, description="the ticket number a call-next called")
    view: CounterView


class CounterChoice(BaseModel):
    counters: list[CounterInfo]


class CallView(BaseModel):
    number: str
    counter: str
    service: str
    status: TicketStatus
    at: str


class WaitingView(BaseModel):
    service: str
    prefix: str
    name_ar: str
    name_en: str
    waiting: int


class AnnouncementCursor(BaseModel):
    epoch: str
    last_seq: int


class DisplayView(BaseModel):
    open: bool = Field(description="inside opening hours")
    now: list[CallView] = Field(description="called and not yet at the counter, newest first")
    recent: list[CallView] = Field(description="the calls before those, newest first")
    waiting: list[WaitingView]
    announcements: AnnouncementCursor
    speech: bool
    generated_at: str


class AnnouncementList(BaseModel):
    epoch: str
    announcements: list[Announcement]
