"""The hall screens' API: a counter's view and actions, the display's view and announcements, the day's chart."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import FileResponse, JSONResponse

from edge.api.deps import get_node, require
from edge.api.schemas import ErrorBody, error
from edge.auth.principal import Principal
from edge.auth.roles import allowed
from edge.errors import Forbidden
from edge.hall.actions import ActionName
from edge.hall.service import DayHistory
from edge.hall.views import ActionRequest, ActionResult, AnnouncementList, CounterChoice, CounterView, DisplayView
from edge.node import EdgeNode

router = APIRouter(prefix="/hall", tags=["hall"])


@router.get("/counters", response_model=CounterChoice, summary="Counters to choose from at sign-in")
def counters(node: EdgeNode = Depends(get_node), _: Principal = Depends(require("counters.read"))) -> CounterChoice:
    return CounterChoice(counters=node.hall.counters())


@router.get(
    "/counters/{counter}",
    response_model=CounterView,
    summary="What one counter's screen shows",
    responses={404: error("no such counter")},
)
def counter_view(
    counter: str, node: EdgeNode = Depends(get_node), _: Principal = Depends(require("tickets.operate"))
) -> CounterView:
    return node.hall.counter_view(counter)


@router.post(
    "/counters/{counter}/actions/{action}",
    response_model=ActionResult,
    summary="Do one counter action; when it cannot be done now, say why and show the counter's true state",
    responses={409: {"model": ActionResult, "description": "not done: the notice says why; the view is current"},
               404: {"model": ErrorBody, "description": "unknown counter"},
               422: {"model": ErrorBody, "description": "a transfer without a valid target service"}},
)  # fmt: skip
def act(
    counter: str,
    action: ActionName,
    body: ActionRequest | None = None,
    node: EdgeNode = Depends(get_node),
    principal: Principal = Depends(require("tickets.operate")),
) -> ActionResult | JSONResponse:
    if action in (ActionName.OPEN, ActionName.CLOSE) and not allowed(principal.role, "counters.open_close"):
        raise Forbidden(f"{principal.kind} role {principal.role!r} may not open or close counters")
    body = body or ActionRequest()
    result = node.hall.act(counter, action, principal, body.ticket_id, body.service)
    if not result.done:
        return JSONResponse(result.model_dump(mode="json"), status_code=409)
    return result


@router.get("/display", response_model=DisplayView, summary="What the hall display shows")
def display(node: EdgeNode = Depends(get_node), _: Principal = Depends(require("counters.read"))) -> DisplayView:
    return node.hall.display_view()


@router.get("/announcements", response_model=AnnouncementList, summary="Announcements after a sequence number")
def announcements(
    after: int = Query(0, ge=0), node: EdgeNode = Depends(get_node), _: Principal = Depends(require("counters.read"))
) -> AnnouncementList:
    return AnnouncementList(epoch=node.hall.announcer.epoch, announcements=node.hall.announcer.after(after))


@router.get(
    "/audio/{key}.wav",
    response_class=FileResponse,
    summary="An announcement's audio (WAV): the chime or a recent announcement's sentence",
    responses={200: {"content": {"audio/wav": {}}}, 404: {"model": ErrorBody}, 503: {"model": ErrorBody}},
)
def audio(
    key: str = Path(max_length=40),
    node: EdgeNode = Depends(get_node),
    _: Principal = Depends(require("counters.read")),
) -> FileResponse:
    return FileResponse(node.hall.announcer.audio(key), media_type="audio/wav",
                        headers={"Cache-Control": "public, max-age=86400, immutable"})  # fmt: skip


@router.get(
    "/history",
    response_model=DayHistory,
    summary="The day's waiting people and waits, from the tickets",
    responses={400: error("that business day has not started yet")},
)
def history(
    day: date | None = Query(None, description="business day, YYYY-MM-DD"),
    node: EdgeNode = Depends(get_node),
    _: Principal = Depends(require("kpis.read")),
) -> DayHistory:
    return node.hall.history(day)
