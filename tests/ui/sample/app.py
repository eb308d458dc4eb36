"""A one-screen app built only from markaz.web, served for real by uvicorn: it proves the shared layer in Chromium."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse

from markaz.web.assets import mount_assets
from markaz.web.languages import Language
from markaz.web.live import BadMessage, Hello, ScreenUpdate, Tap, parse_page_message
from markaz.web.templates import Screens

HERE = Path(__file__).parent
screens = Screens(template_dirs=[HERE / "templates"], catalogue_dirs=[HERE / "locales"])


def build_app() -> FastAPI:
    app = FastAPI()
    mount_assets(app)
    state = {"count": 0, "language": Language.AR}

    def update() -> str:
        language = Language(state["language"])
        html = screens.render("screen.html", language, count=state["count"])
        return ScreenUpdate.of(html, language, screens.gettext("Sample screen", language)).model_dump_json()

    @app.get("/", response_class=HTMLResponse)
    def page(lang: str | None = None) -> str:
        language = Language.parse(lang)
        return screens.render("page.html", language, count=state["count"], live_path="/live")

    @app.get("/static-page", response_class=HTMLResponse)
    def static_page(lang: str | None = None) -> str:
        return screens.render("page.html", Language.parse(lang), count=state["count"], live_path="")

    @app.websocket("/live")
    async def live(socket: WebSocket) -> None:
        await socket.accept()
        try:
            while True:
                try:
                    message = parse_page_message(await socket.receive_text())
                except BadMessage:
                    continue
                if isinstance(message, Tap):
                    if message.action == "add":
                        state["count"] = int(state["count"]) + int(message.value or 1)
                    elif message.action == "reset":
                        state["count"] = 0
                    elif message.action == "language":
                        state["language"] = Language.parse(message.value, Language(state["language"]))
                elif not isinstance(message, Hello):
                    continue
                await socket.send_text(update())
        except WebSocketDisconnect:
            return

    return app


@contextmanager
def serve() -> Iterator[str]:
    """Run the sample app on a free port; yields its base URL."""
    config = uvicorn.Config(build_app(), host="127.0.0.1", port=0, log_level="warning", ws="websockets-sansio")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("sample app did not start")
        threading.Event().wait(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
