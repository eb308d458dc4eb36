"""The agent's HTTP face, for this machine's browser only: the page, the live WebSocket, the camera preview."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.staticfiles import StaticFiles

from kiosk.agent.runtime import KioskAgent
from kiosk.hardware.camera import encode_jpeg
from kiosk.session.messages import Tap
from kiosk.session.vocabulary import Action
from kiosk.ui.screens import STATIC, KioskScreens
from markaz.web.assets import mount_assets
from markaz.web.live import BadMessage, Hello, parse_page_message

log = logging.getLogger(__name__)
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
KNOWN_ACTIONS = {a.value for a in Action}


def _local(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def create_app(agent: KioskAgent, screens: KioskScreens) -> FastAPI:
    sockets: set[WebSocket] = set()
    sending: set[asyncio.Task[None]] = set()
    last: dict[str, str] = {"json": ""}

    def changed() -> None:
        message = screens.update(agent.session.view(agent.clock())).model_dump_json()
        if message == last["json"]:
            return
        last["json"] = message
        for socket in list(sockets):
            task = asyncio.ensure_future(_send(socket, message))
            sending.add(task)
            task.add_done_callback(sending.discard)

    async def _send(socket: WebSocket, message: str) -> None:
        try:
            await socket.send_text(message)
        except Exception:
            sockets.discard(socket)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        agent.on_change(changed)
        await agent.start()
        try:
            yield
        finally:
            await agent.stop()

    app = FastAPI(title="markaz kiosk", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    mount_assets(app)
    app.mount("/static/kiosk", StaticFiles(directory=STATIC), name="kiosk-static")

    @app.middleware("http")
    async def local_only(request: Request, call_next):  # type: ignore[no-untyped-def]
        # the kiosk's screen is this machine's browser; frames and identities never leave it over HTTP
        if not _local(request.client.host if request.client else None):
            return JSONResponse({"error": "forbidden", "detail": "the kiosk UI is served to this machine only"}, 403)
        response: Response = await call_next(request)
        response.headers.update(NO_STORE)
        return response

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return screens.page(agent.session.view(agent.clock()))

    @app.get("/healthz")
    def health() -> dict[str, object]:
        r = agent.readings
        return {
            "screen": agent.session.screen.value,
            "edge_ok": r.edge_ok,
            "reader_present": r.reader_present,
            "camera_fps": r.camera_fps,
            "printer": r.printer.value,
            "ui_connected": agent.ui_clients > 0,
            "availability": r.last_availability,
            # whether a chip photo or document number is held right now (True only during a visit)
            "holding_personal_data": not agent.hw.secrets.empty,
        }

    @app.get("/timings")
    def timings() -> dict[str, list[float]]:
        """Milliseconds of the last jobs of each kind (chip_read, verification, ticket, receipt): software time only."""
        return {name: list(values) for name, values in agent.readings.timings_ms.items()}

    @app.get("/preview.mjpg")
    async def preview() -> StreamingResponse:
        async def frames() -> AsyncIterator[bytes]:
            seq = -1
            for _ in range(30 * 60):  # a stream lasts at most about a minute; the screen asks again
                frame = agent.hw.camera.latest()
                if frame is not None and frame.seq != seq:
                    seq = frame.seq
                    jpeg = encode_jpeg(frame.image, 70)
                    yield b"--frame\r\nContent-Type: image/jpeg\r\n\r\n" + jpeg + b"\r\n"
                    del jpeg
                await asyncio.sleep(1 / 15)

        return StreamingResponse(frames(), media_type="multipart/x-mixed-replace; boundary=frame", headers=NO_STORE)

    @app.websocket("/live")
    async def live(socket: WebSocket) -> None:
        if not _local(socket.client.host if socket.client else None):
            await socket.close(code=1008)
            return
        await socket.accept()
        sockets.add(socket)
        agent.ui_clients += 1
        try:
            while True:
                raw = await socket.receive_text()
                try:
                    message = parse_page_message(raw)
                except BadMessage as exc:
                    log.info("page message dropped: %s", exc)
                    continue
                if isinstance(message, Hello):
                    await socket.send_text(screens.update(agent.session.view(agent.clock())).model_dump_json())
                    continue
                if message.action not in KNOWN_ACTIONS:
                    continue
                agent.dispatch(Tap(Action(message.action), message.value))
        except WebSocketDisconnect:
            pass
        finally:
            sockets.discard(socket)
            agent.ui_clients -= 1

    return app
