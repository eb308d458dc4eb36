"""markaz.web.serving: the origin rule and the page's taps, as every live page family uses them (a real ASGI app)."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import FastAPI, Request, WebSocket
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from markaz.web.serving import CHANGED, CROSS_ORIGIN, accept_page, page_taps, same_origin, tap_or_change


def app() -> FastAPI:
    api = FastAPI()

    @api.post("/form")
    def form(request: Request) -> dict[str, bool]:
        return {"same": same_origin(request)}

    @api.websocket("/live")
    async def live(ws: WebSocket) -> None:
        if not await accept_page(ws):
            return
        async with page_taps(ws) as taps:
            while True:
                tap = await tap_or_change(taps, asyncio.Event().wait())  # nothing ever changes but by a tap
                if tap is None:
                    return
                assert tap is not CHANGED
                await ws.send_json({"action": tap.action, "value": tap.value})
                if tap.action == "tick":  # the next wait is won by the change, not by a tap
                    changed = await tap_or_change(taps, asyncio.sleep(0))
                    await ws.send_json({"changed": changed is CHANGED})

    return api


def test_forms_and_sockets_from_another_origin_are_refused_and_non_browsers_pass() -> None:
    client = TestClient(app())
    assert client.post("/form", headers={"origin": "http://testserver"}).json() == {"same": True}
    assert client.post("/form").json() == {"same": True}  # no Origin: not a browser page
    assert client.post("/form", headers={"origin": "http://evil.example"}).json() == {"same": False}
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect("/live", headers={"origin": "http://evil.example"}) as ws,
    ):
        ws.receive_text()
    assert refused.value.code == CROSS_ORIGIN


def test_taps_arrive_in_order_garbage_is_dropped_and_a_change_wins_when_it_comes_first() -> None:
    client = TestClient(app())
    with client.websocket_connect("/live", headers={"origin": "http://testserver"}) as ws:
        ws.send_text("not json")
        ws.send_json({"type": "tap", "action": "BAD ACTION"})
        ws.send_json({"type": "hello"})
        ws.send_json({"type": "tap", "action": "call", "value": "3"})
        assert ws.receive_json() == {"action": "call", "value": "3"}
        ws.send_json({"type": "tap", "action": "tick"})
        assert ws.receive_json() == {"action": "tick", "value": None}
        assert ws.receive_json() == {"changed": True}
