"""Tickets: issue (kiosks and staff), read today's, and the counter operations on one ticket.

Plain `def` routes: each runs in the server's thread pool, because the queue works on SQLite; the event loop
stays free for every other request."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from edge.api.deps import get_node, require
from edge.api.schemas import ErrorBody
from edge.auth.principal import Principal
from edge.queue.models import Ticket
from edge.queue.states import TicketStatus

router = APIRouter(prefix="/tickets", tags=["tickets"])

# SQLite keeps 64-bit integers: an id past them is no ticket (and must not reach the database).
TicketId = Annotated[int, Path(ge=1, le=2**63 - 1)]

NOT_FOUND = {404: {"model": ErrorBody, "description": "no such ticket"}}
CONFLICT = {409: {"model": ErrorBody, "description": "the ticket's state does not allow this (the state is named)"}}


class TicketList(BaseModel):
    tickets: list[Ticket]


class IssueRequest(BaseModel):
    service: str = Field(min_length=1, max_length=32, examples=["general"])
    verification_id: int | None = Field(
        None,
        ge=1,
        le=2**63 - 1,
        description="a kiosk's recent face match (from POST /verifications); required for a service that needs "
        "identity, and good for one ticket",
    )


class TransferRequest(BaseModel):
    service: str = Field(min_length=1, max_length=32)


@router.post(
    "",
    status_code=201,
    response_model=Ticket,
    summary="Issue a ticket for a service",
    responses={
        403: {
            "model": ErrorBody,
            "description": "the service needs a verified identity this verification does not give",
        },
        404: {"model": ErrorBody, "description": "no such service"},
        409: {"model": ErrorBody, "description": "the verification was already used for a ticket"},
    },
)
def issue(body: IssueRequest, request: Request, principal: Principal = Depends(require("tickets.issue"))) -> Ticket:
    queue = get_node(request).queue
    return queue.with_estimate(queue.issue(body.service, principal, body.verification_id))


@router.get("", response_model=TicketList, summary="Today's tickets, optionally of one status")
def list_tickets(
    request: Request, status: TicketStatus | None = Query(None), _: Principal = Depends(require("tickets.read"))
) -> TicketList:
    queue = get_node(request).queue
    return TicketList(tickets=[queue.with_estimate(t) for t in queue.tickets_today(status)])


@router.get("/{ticket_id}", response_model=Ticket, summary="One ticket", responses=NOT_FOUND)
def get_ticket(ticket_id: TicketId, request: Request, _: Principal = Depends(require("tickets.read"))) -> Ticket:
    queue = get_node(request).queue
    return queue.with_estimate(queue.get(ticket_id))


def _operation(name: str, summary: str, extra: dict[int | str, dict[str, object]] | None = None) -> None:
    def endpoint(
        ticket_id: TicketId, request: Request, principal: Principal = Depends(require("tickets.operate"))
    ) -> Ticket:
        queue = get_node(request).queue
        return queue.with_estimate(getattr(queue, name.replace("-", "_"))(ticket_id, principal))

    endpoint.__name__ = name.replace("-", "_")
    responses = {**NOT_FOUND, **CONFLICT, **(extra or {})}
    router.post(f"/{{ticket_id}}/{name}", response_model=Ticket, summary=summary, responses=responses)(endpoint)


_operation(
    "recall",
    "Announce a called ticket again (rate-limited)",
    {429: {"model": ErrorBody, "description": "announced too recently; see Retry-After"}},
)
_operation("start", "Start serving a called ticket")
_operation("finish", "Finish serving a ticket")
_operation("no-show", "Mark a called ticket as not shown up")


@router.post(
    "/{ticket_id}/cancel", response_model=Ticket, summary="Cancel a waiting or called ticket",
    responses={**NOT_FOUND, **CONFLICT},
)  # fmt: skip
def cancel(ticket_id: TicketId, request: Request, principal: Principal = Depends(require("tickets.cancel"))) -> Ticket:
    queue = get_node(request).queue
    return queue.with_estimate(queue.cancel(ticket_id, principal))


@router.post(
    "/{ticket_id}/transfer",
    response_model=Ticket,
    summary="Move the visitor to another service, keeping the arrival time",
    responses={404: {"model": ErrorBody, "description": "no such ticket or service"}, **CONFLICT},
)
def transfer(
    ticket_id: TicketId, body: TransferRequest, request: Request,
    principal: Principal = Depends(require("tickets.operate")),
) -> Ticket:  # fmt: skip
    queue = get_node(request).queue
    return queue.with_estimate(queue.transfer(ticket_id, body.service, principal))
