"""Counters: list, open/close, and call the next visitor."""

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from edge.api.deps import get_node, require
from edge.api.schemas import ErrorBody
from edge.auth.principal import Principal
from edge.errors import NotFound
from edge.queue.models import Counter, Ticket

router = APIRouter(prefix="/counters", tags=["counters"])

NO_COUNTER = {404: {"model": ErrorBody, "description": "no such counter"}}


class CounterList(BaseModel):
    counters: list[Counter]


@router.get("", response_model=CounterList, summary="All counters and what they serve")
def list_counters(request: Request, _: Principal = Depends(require("counters.read"))) -> CounterList:
    return CounterList(counters=get_node(request).queue.counters())


@router.post(
    "/{counter}/call-next",
    response_model=Ticket,
    summary="Call the next visitor to this counter",
    responses={404: {"model": ErrorBody, "description": "unknown counter, or nobody waiting"},
               409: {"model": ErrorBody, "description": "counter closed, or its called ticket not handled yet"}},
)  # fmt: skip
def call_next(counter: str, request: Request, principal: Principal = Depends(require("tickets.operate"))) -> Ticket:
    queue = get_node(request).queue
    called = queue.call_next(counter, principal)
    if called is None:
        raise NotFound(f"no ticket waiting for counter {counter}", counter=counter)
    return queue.with_estimate(called)


@router.post("/{counter}/open", response_model=Counter, summary="Open a counter", responses=NO_COUNTER)
def open_counter(
    counter: str, request: Request, principal: Principal = Depends(require("counters.open_close"))
) -> Counter:
    return get_node(request).queue.set_counter_open(counter, True, principal)


@router.post(
    "/{counter}/close",
    response_model=Counter,
    summary="Close a counter",
    responses={**NO_COUNTER, 409: {"model": ErrorBody, "description": "a ticket is still called or served here"}},
)
def close_counter(
    counter: str, request: Request, principal: Principal = Depends(require("counters.open_close"))
) -> Counter:
    return get_node(request).queue.set_counter_open(counter, False, principal)
