"""The server side of live pages, shared by the hall's screens, the report workbench, the technician's page and
central's dashboard: one origin rule for forms and sockets, and a page's taps read in the background.

Each family differs only in what it renders and when; the rules for who may talk to a page are written here once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from enum import Enum
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket, WebSocketDisconnect

from markaz.web.live import BadMessage, Tap, parse_page_message

CROSS_ORIGIN = 4403  # the WebSocket close code for a page of another origin


def same_origin(connection: HTTPConnection) -> bool:
    """The Origin header (browsers send it on POST and WebSocket) names this host; none at all is not a browser,
    and a browser page of another site is refused (cross-site request forgery, socket hijacking)."""
    origin = connection.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == connection.headers.get("host")


async def accept_page(ws: WebSocket) -> bool:
    """Accept a live page's socket, or close it when it comes from another origin; says which."""
    if not same_origin(ws):
        await ws.close(code=CROSS_ORIGIN, reason="cross-origin")
        return False
    await ws.accept()
    return True


@asynccontextmanager
async def page_taps(ws: WebSocket) -> AsyncIterator[asyncio.Queue[Tap | None]]:
    """The page's taps, read in the background while the block runs; None once the page has gone.

    Anything that is not a message of the protocol is dropped and the socket kept (a page's bug is not a reason to
    blank a hall display)."""
    taps: asyncio.Queue[Tap | None] = asyncio.Queue()

    async def read() -> None:
        try:
            while True:
                try:
                    message = parse_page_message(await ws.receive_text())
                except BadMessage:
                    continue
                if isinstance(message, Tap):
                    await taps.put(message)
        except (WebSocketDisconnect, RuntimeError):
            await taps.put(None)

    reader = asyncio.create_task(read())
    try:
        yield taps
    finally:
        reader.cancel()


class Changed(Enum):
    """What `tap_or_change` answers when the page's data changed (or its tick came) before any tap."""

    CHANGED = "changed"


CHANGED = Changed.CHANGED


async def tap_or_change(taps: asyncio.Queue[Tap | None], change: Awaitable[object]) -> Tap | Changed | None:
    """Wait for whichever comes first: a tap (None: the page left) or `change` (then CHANGED); the other is dropped."""
    changed = asyncio.ensure_future(change)
    tapped = asyncio.ensure_future(taps.get())
    done, _ = await asyncio.wait({changed, tapped}, return_when=asyncio.FIRST_COMPLETED)
    changed.cancel()
    if tapped in done:
        return tapped.result()
    tapped.cancel()
    return CHANGED
