"""Tickets: issue (kiosks and staff), read today's, and the counter operations on one ticket."""

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from edge.api.deps import get_node, require
from edge.auth.principal import Principal

router = APIRouter(prefix="/tickets", tags=["tickets"])

Status = Literal["waiting", "called", "serving", "done", "no_show", "transferred", "cancelled"]


class Ticket(BaseModel):
    id: int
    number: str = Field(examples=["A001"])
    service: str
    status: Status
    priority: int
    business_day: str
    issued_at: datetime = Field(description="the visitor's arrival (kept across transfers)")
    queued_at: datetime
    called_at: datetime | None
    serving_at: datetime | None
    ended_at: datetime | None
    counter: str | None
    recalls: int
    transferred_from: int | None
    transferred_to: int | None
    estimated_wait_s: int | None = Field(description="seconds until called; only for waiting tickets with an open counter")


class TicketList(BaseModel):
    tickets: list[Ticket]


class IssueRequest(BaseModel):
    service: str = Field(min_length=1, max_length=32, examples=["general"])


class TransferRequest(BaseModel):
    service: str = Field(min_length=1, max_length=32)


def to_ticket(node, row: dict) -> dict:
    """A ticket row as the API shows it. A plain dict: the response model validates it once, on the way out."""
    view = node.queue.with_estimate(row)
    return {**view, "issued_at": view["arrived_at"]}


@router.post("", status_code=201, response_model=Ticket, summary="Issue a ticket for a service")
async def issue(body: IssueRequest, request: Request, principal: Principal = Depends(require("tickets.issue"))) -> dict:
    node = get_node(request)
    return to_ticket(node, node.queue.issue(body.service, principal))


@router.get("", response_model=TicketList, summary="Today's tickets, optionally of one status")
async def list_tickets(
    request: Request, status: Status | None = Query(None), _: Principal = Depends(require("tickets.read"))
) -> dict:
    node = get_node(request)
    return {"tickets": [to_ticket(node, t) for t in node.queue.tickets_today(status)]}


@router.get("/{ticket_id}", response_model=Ticket, summary="One ticket")
async def get_ticket(ticket_id: int, request: Request, _: Principal = Depends(require("tickets.read"))) -> dict:
    node = get_node(request)
    return to_ticket(node, node.queue.get(ticket_id))


def _operation(name: str, summary: str):
    async def endpoint(ticket_id: int, request: Request, principal: Principal = Depends(require("tickets.operate"))) -> dict:
        node = get_node(request)
        return to_ticket(node, getattr(node.queue, name.replace("-", "_"))(ticket_id, principal))

    endpoint.__name__ = name.replace("-", "_")
    router.post(f"/{{ticket_id}}/{name}", response_model=Ticket, summary=summary)(endpoint)


_operation("recall", "Announce a called ticket again (rate-limited)")
_operation("start", "Start serving a called ticket")
_operation("finish", "Finish serving a ticket")
_operation("no-show", "Mark a called ticket as not shown up")


@router.post("/{ticket_id}/cancel", response_model=Ticket, summary="Cancel a waiting or called ticket")
async def cancel(ticket_id: int, request: Request, principal: Principal = Depends(require("tickets.cancel"))) -> dict:
    node = get_node(request)
    return to_ticket(node, node.queue.cancel(ticket_id, principal))


@router.post("/{ticket_id}/transfer", response_model=Ticket, summary="Move the visitor to another service, keeping the arrival time")
async def transfer(
    ticket_id: int, body: TransferRequest, request: Request, principal: Principal = Depends(require("tickets.operate"))
) -> dict:
    node = get_node(request)
    return to_ticket(node, node.queue.transfer(ticket_id, body.service, principal))
