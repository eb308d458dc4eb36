"""The hall screens' live feed over a WebSocket: the view is pushed again whenever the queue changes.

Browsers cannot put a bearer token on a WebSocket, so the first message carries it: `{"token", "view": "counter" |
"display" | "supervisor", "counter"?, "epoch"?, "after"?}`. The node answers `{"type": "state", "view", "state"}` on
every change, and to a display also `{"type": "announce", "announcements": [...]}` in sequence order. A reconnecting
display that names its epoch and last sequence gets what it missed in the last minute; older calls are not
re-announced. The token is checked again before every push, so a revoked sign-in ends the feed."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Literal

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, ValidationError

from edge.auth.roles import allowed
from edge.errors import DomainError
from edge.node import EdgeNode
from markaz.clock import parse_iso

router = APIRouter(tags=["hall"])

PERMISSION = {"counter": "tickets.operate", "display": "counters.read", "supervisor": "kpis.read"}
REPLAY_WINDOW = timedelta(seconds=60)
TICK_S = 15.0  # views with clocks in them (waits so far, opening hours) are pushed at least this often


class Hello(BaseModel):
    token: str = Field(min_length=1, max_length=200)
    view: Literal["counter", "display", "supervisor"]
    counter: str | None = Field(None, max_length=32)
    epoch: str | None = Field(None, max_length=16)
    after: int | None = Field(None, ge=0)


def _render(node: EdgeNode, hello: Hello) -> tuple[dict, float]:
    """The view for this screen (JSON-ready) and how long it stays true without a queue change."""
    principal = node.auth.resolve(hello.token)
    if not allowed(principal.role, PERMISSION[hello.view]):
        raise DomainError(f"{principal.kind} role {principal.role!r} may not see the {hello.view} screen")
    if hello.view == "counter":
        view = node.hall.counter_view(hello.counter or "")
        soon = [a.retry_in_s for a in view.actions if a.retry_in_s]
        return view.model_dump(mode="json"), min([TICK_S, *[s + 0.05 for s in soon]])
    if hello.view == "display":
        return node.hall.display_view().model_dump(mode="json"), TICK_S
    return {"kpis": node.queue.kpis(), "history": node.hall.history().model_dump(mode="json")}, TICK_S


@router.websocket("/hall/live")
async def live(ws: WebSocket) -> None:
    node: EdgeNode = ws.app.state.node
    await ws.accept()
    try:
        hello = Hello.model_validate(await asyncio.wait_for(ws.receive_json(), 10))
    except (TimeoutError, ValidationError, ValueError, WebSocketDisconnect):
        with contextlib.suppress(Exception):
            await ws.close(code=4400, reason="first message must be the hello")
        return
    announcer = node.hall.announcer
    cursor = announcer.last_seq
    if hello.view == "display" and hello.epoch == announcer.epoch and hello.after is not None:
        cursor = hello.after
    gone = asyncio.Event()

    async def watch_close() -> None:
        with contextlib.suppress(Exception):
            while True:
                await ws.receive_text()  # the page sends nothing more; this only notices it leaving
        gone.set()

    watcher = asyncio.create_task(watch_close())
    leaving = asyncio.create_task(gone.wait())
    assert node.hall.live is not None
    try:
        with node.hall.live.subscribe() as sub:
            first = True
            while not gone.is_set():
                try:
                    state, valid_s = await run_in_threadpool(_render, node, hello)
                except DomainError as exc:
                    await ws.send_json({"type": "error", "error": exc.code, "detail": exc.message})
                    await ws.close(code=4403 if exc.status in (401, 403, 400) else 4404, reason=exc.code)
                    return
                await ws.send_json({"type": "state", "view": hello.view, "state": state})
                if hello.view == "display":
                    fresh = announcer.after(cursor)
                    if first:  # a reconnect replays only what is still worth saying
                        now = node.clock()
                        fresh = [a for a in fresh if now - parse_iso(a.at) <= REPLAY_WINDOW]
                    if fresh:
                        cursor = fresh[-1].seq
                        await ws.send_json({"type": "announce", "epoch": announcer.epoch,
                                            "announcements": [a.model_dump(mode="json") for a in fresh]})  # fmt: skip
                first = False
                waiter = asyncio.create_task(sub.wait(valid_s))
                await asyncio.wait({waiter, leaving}, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        watcher.cancel()
        leaving.cancel()
