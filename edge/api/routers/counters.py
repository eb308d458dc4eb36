"""Counters: list, open/close, and call the next visitor."""

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from edge.api.deps import get_node, require
from edge.api.routers.tickets import Ticket, to_ticket
from edge.api.schemas import ErrorBody
from edge.auth.principal import Principal
from edge.errors import NotFound

router = APIRouter(prefix="/counters", tags=["counters"])


class Counter(BaseModel):
    code: str
    name: str
    is_open: bool
    services: list[str]
    current_ticket: str | None
    current_ticket_id: int | None


class CounterList(BaseModel):
    counters: list[Counter]


@router.get("", response_model=CounterList, summary="All counters and what they serve")
async def list_counters(request: Request, _: Principal = Depends(require("counters.read"))) -> CounterList:
    return CounterList(counters=[Counter(**c) for c in get_node(request).queue.counters()])


@router.post(
    "/{counter}/call-next",
    response_model=Ticket,
    summary="Call the next visitor to this counter",
    responses={404: {"model": ErrorBody, "description": "unknown counter, or nobody waiting"},
               409: {"model": ErrorBody, "description": "counter closed, or its called ticket not handled yet"}},
)
async def call_next(counter: str, request: Request, principal: Principal = Depends(require("tickets.operate"))) -> dict:
    node = get_node(request)
    called = node.queue.call_next(counter, principal)
    if called is None:
        raise NotFound(f"no ticket waiting for counter {counter}", counter=counter)
    return to_ticket(node, called)


@router.post("/{counter}/open", response_model=Counter, summary="Open a counter")
async def open_counter(counter: str, request: Request, principal: Principal = Depends(require("counters.open_close"))) -> Counter:
    return Counter(**get_node(request).queue.set_counter_open(counter, True, principal))


@router.post("/{counter}/close", response_model=Counter, summary="Close a counter")
async def close_counter(counter: str, request: Request, principal: Principal = Depends(require("counters.open_close"))) -> Counter:
    return Counter(**get_node(request).queue.set_counter_open(counter, False, principal))
