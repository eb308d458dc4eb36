"""The hall's pages: staff sign-in, the counter screen, the supervisor's KPI page and the hall display.

Pages are rendered on the node (markaz.web) and kept current over a WebSocket each (`/counter/live`, ...): the
queue's change wakes the socket, the node renders the screen again and pushes it; taps come back on the same socket.
Browsers cannot put a bearer token on a WebSocket, so a page's sign-in is an HttpOnly, SameSite=Strict cookie holding
the same token the API uses (staff token for staff, the display's device token for a display), and every socket
checks its Origin. The token is checked again before every push, so a revoked sign-in ends the screen."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Form, Request, WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from edge.auth.principal import Principal
from edge.auth.roles import allowed
from edge.errors import DomainError, Invalid, RateLimited
from edge.hall import screens
from edge.hall.actions import ActionName
from edge.hall.announcements import Announcement
from edge.hall.views import ActionResult, Notice
from edge.live import LiveHub, Wants
from edge.node import EdgeNode
from markaz.clock import parse_iso
from markaz.web.assets import mount_assets
from markaz.web.languages import Language
from markaz.web.live import ScreenUpdate, Tap
from markaz.web.serving import CHANGED, accept_page, page_taps, same_origin, tap_or_change
from provisioning.listener import peer_certificate_serial

router = APIRouter(include_in_schema=False)

STAFF_COOKIE = "markaz_staff"
DISPLAY_COOKIE = "markaz_display"
# the counter terminal this browser is (its device token, saved once at /counter/terminal by a technician): staff
# sign in on top of it, and the counter page follows the terminal's profile (its counter, its first language)
TERMINAL_COOKIE = "markaz_terminal"
REPLAY_WINDOW = timedelta(seconds=60)  # a display that (re)connects still says the calls of the last minute
TICK_S = 15.0  # screens with clocks in them are pushed at least this often
NOTICE_S = 8.0  # how long a counter screen keeps saying what its last action did
# the pages a staff sign-in may lead to, with the permission each needs (the technician's page and the report
# workbench are routers of their own)
PAGES = {
    "/counter": "tickets.operate",
    "/supervisor": "kpis.read",
    "/technician": "devices.manage",
    "/reports": "reports.read",
}


def install(app: FastAPI) -> None:
    """Mount the shared and the hall's static files and the pages."""
    mount_assets(app)
    app.mount("/static/hall", StaticFiles(directory=screens.STATIC), name="hall-static")
    app.include_router(router)


def _node(request: Request | WebSocket) -> EdgeNode:
    return request.app.state.node


def _who(node: EdgeNode, token: str | None, permission: str) -> Principal | None:
    if not token:
        return None
    try:
        principal = node.auth.resolve(token)
    except DomainError:
        return None
    return principal if allowed(principal.role, permission) else None


def _html(text: str) -> HTMLResponse:
    return HTMLResponse(text, headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"})


def _cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="strict", path="/",
                        secure=request.url.scheme == "https")  # fmt: skip


# -- sign-in -----------------------------------------------------------------------------------------------------
def _signin_page(node: EdgeNode, language: Language, next_path: str, error: str | None = None) -> HTMLResponse:
    return _html(screens.render("signin.html", language, node.settings.tz, next=next_path, error=error))


@router.post("/signin")
def signin(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form()] = "/counter",
    lang: Annotated[str, Form()] = "ar",
) -> Response:
    node, language = _node(request), Language.parse(lang)
    target = next if next in PAGES else "/counter"
    try:
        token, principal, expires = node.auth.login(username, password)
    except RateLimited as exc:
        wait = int(exc.retry_after_s + 0.999)
        text = screens.title("Too many failed sign-ins: wait %(s)s seconds and try again.", language) % {"s": wait}
        return _signin_page(node, language, target, text)
    except DomainError:
        return _signin_page(node, language, target, screens.title("Wrong user name or password.", language))
    if not allowed(principal.role, PAGES[target]):
        node.auth.logout(token, principal)
        return _signin_page(node, language, target, screens.title("Your role may not use this screen.", language))
    response = RedirectResponse(f"{target}?lang={language.value}", status_code=303)
    _cookie(response, request, STAFF_COOKIE, token, max(1, int((expires - node.clock()).total_seconds())))
    return response


@router.get("/signout")
def signout(request: Request, next: str = "/counter", lang: str = "ar") -> Response:
    node = _node(request)
    token = request.cookies.get(STAFF_COOKIE)
    if token:
        with contextlib.suppress(DomainError):
            node.auth.logout(token, node.auth.resolve(token))
    response = RedirectResponse(f"{next if next in PAGES else '/counter'}?lang={Language.parse(lang).value}", 303)
    response.delete_cookie(STAFF_COOKIE, path="/")
    return response


# -- pages -------------------------------------------------------------------------------------------------------
def _counter_html(node: EdgeNode, language: Language, principal: Principal, code: str,
                  result: ActionResult | None = None, terminal: str = "") -> str:  # fmt: skip
    view = result.view if result else node.hall.counter_view(code)
    services = {s.code: s for s in node.hall.services()}
    return screens.render(
        "counter_screen.html",
        language,
        node.settings.tz,
        view=view,
        services=services,
        user=principal.subject,
        notice=result.notice if result else None,
        called=result.called if result else None,
        terminal=terminal,
    )


def _terminal(node: EdgeNode, connection: Request | WebSocket) -> tuple[Principal | None, dict[str, Any]]:
    """The counter terminal this browser is, and the profile in force on it ({} if none): the device of its client
    certificate when it came through the device listener (mTLS: an enrolled terminal needs no token), else the one it
    was set up as with a device token (its cookie; not once `provisioning.device_tokens` is off)."""
    principal: Principal | None = None
    serial = peer_certificate_serial(connection.scope)
    if serial is not None:
        with contextlib.suppress(DomainError):  # revoked or disabled: the browser is no terminal (staff still sign in)
            principal = node.enrolment.certificate_principal(serial)
    elif node.settings.provisioning.device_tokens:
        principal = _who(node, connection.cookies.get(TERMINAL_COOKIE), "devices.report_status")
    if principal is None or principal.kind != "device" or principal.role != "counter_terminal":
        return None, {}
    return principal, node.served.in_force(principal.subject) or {}


def _pinned(node: EdgeNode, look: dict[str, Any]) -> str | None:
    """The counter the terminal's profile pins it to, if that counter exists here."""
    code = str(look.get("counter") or "")
    return code if code and code in {c.code for c in node.hall.counters()} else None


@router.get("/counter")
def counter_page(request: Request, lang: str | None = None, counter: str | None = None) -> Response:
    node, language = _node(request), Language.parse(lang)
    terminal, look = _terminal(node, request)
    if terminal is not None:  # the terminal checks in: a new desired profile is applied on its behalf first
        node.telemetry.record_heartbeat(terminal.subject, {})
        node.served.sync(terminal)
        look = node.served.in_force(terminal.subject) or {}
        if lang is None and look.get("languages"):
            language = Language.parse(str(look["languages"][0]))
    principal = _who(node, request.cookies.get(STAFF_COOKIE), PAGES["/counter"])
    if principal is None:
        return _signin_page(node, language, "/counter")
    counter = _pinned(node, look) or counter  # a pinned terminal serves its own counter only
    if counter is None or counter not in {c.code for c in node.hall.counters()}:
        return _html(screens.render("choose_counter.html", language, node.settings.tz, counters=node.hall.counters()))
    view = node.hall.counter_view(counter)
    services = {s.code: s for s in node.hall.services()}
    live = f"/counter/live?counter={quote(counter)}&lang={language.value}"
    return _html(screens.render("counter.html", language, node.settings.tz, view=view, services=services,
                                user=principal.subject, notice=None, called=None, live_path=live,
                                terminal=terminal.subject if terminal else "", look=look))  # fmt: skip


@router.get("/counter/terminal")
def terminal_setup_page(request: Request, lang: str | None = None) -> Response:
    node, language = _node(request), Language.parse(lang)
    terminal, _ = _terminal(node, request)
    return _html(screens.render("terminal_setup.html", language, node.settings.tz, error=None,
                                terminal=terminal.subject if terminal else None))  # fmt: skip


@router.post("/counter/terminal")
def terminal_setup(
    request: Request, token: Annotated[str, Form(max_length=200)], lang: Annotated[str, Form()] = "ar"
) -> Response:
    """A technician makes this browser the counter terminal whose device token they enter (from `markaz edge device
    add NAME --type counter_terminal`, or the terminal's registration): only from this node's own page."""
    node, language = _node(request), Language.parse(lang)
    principal = _who(node, token.strip(), "devices.report_status")
    terminal = principal is not None and principal.kind == "device" and principal.role == "counter_terminal"
    if not terminal or not same_origin(request):
        error = screens.title("This is not the token of an enabled counter terminal.", language)
        page = screens.render("terminal_setup.html", language, node.settings.tz, error=error, terminal=None)
        return HTMLResponse(page, status_code=400, headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"})
    response = RedirectResponse("/counter", status_code=303)  # in the terminal's own first language
    _cookie(response, request, TERMINAL_COOKIE, token.strip(), 366 * 24 * 3600)
    return response


def _supervisor_html(node: EdgeNode, language: Language, principal: Principal) -> str:
    history = node.hall.history()
    return screens.render(
        "supervisor_screen.html",
        language,
        node.settings.tz,
        kpis=node.queue.kpis(),
        user=principal.subject,
        chart=screens.chart(history.points, node.settings.tz),
    )


@router.get("/supervisor")
def supervisor_page(request: Request, lang: str | None = None) -> Response:
    node, language = _node(request), Language.parse(lang)
    principal = _who(node, request.cookies.get(STAFF_COOKIE), PAGES["/supervisor"])
    if principal is None:
        return _signin_page(node, language, "/supervisor")
    history = node.hall.history()
    return _html(screens.render(
        "supervisor.html", language, node.settings.tz, kpis=node.queue.kpis(), user=principal.subject,
        chart=screens.chart(history.points, node.settings.tz), live_path=f"/supervisor/live?lang={language.value}",
    ))  # fmt: skip


def _display_look(node: EdgeNode, device: str | None) -> dict[str, Any]:
    """How this display presents, from the profile in force on it; without one, as the node's settings say."""
    profile = node.served.in_force(device) if device else None
    if profile is None:
        return {"version": "", "layout": "calls_and_queue", "volume": 100, "speech": True, "chime": True,
                "recent_calls": node.settings.hall.recent_calls, "languages": ["ar", "en"]}  # fmt: skip
    record = node.served.version(device) if device else ""
    return {**profile, "version": record}


def _display_html(
    node: EdgeNode,
    language: Language,
    announcements: list[Announcement],
    page: bool = False,
    device: str | None = None,
) -> str:
    hall = node.settings.hall
    hours = f"{hall.opens_at:%H:%M}–{hall.closes_at:%H:%M}" if hall.closes_at else f"{hall.opens_at:%H:%M}–24:00"
    return screens.render(
        "display.html" if page else "display_screen.html",
        language,
        node.settings.tz,
        view=node.hall.display_view(),
        announcements=announcements,
        station=node.settings.station_id,
        hours=hours,
        heartbeat_s=hall.display_heartbeat_s,
        other=lambda text: screens.title(text, language.other),
        live_path=f"/display/live?lang={language.value}",
        look=_display_look(node, device),
    )


@router.get("/display")
def display_page(request: Request, lang: str | None = None) -> Response:
    node, language = _node(request), Language.parse(lang)
    principal = _who(node, request.cookies.get(DISPLAY_COOKIE), "counters.read")
    if principal is None:
        return _html(screens.render("display_setup.html", language, node.settings.tz, error=None))
    device = principal.subject if principal.kind == "device" else None
    if lang is None:  # the display's profile names its first language
        language = Language.parse(_display_look(node, device)["languages"][0])
    return _html(_display_html(node, language, [], page=True, device=device))


@router.post("/display/setup")
def display_setup(
    request: Request, token: Annotated[str, Form(max_length=200)], lang: Annotated[str, Form()] = "ar"
) -> Response:
    node, language = _node(request), Language.parse(lang)
    principal = _who(node, token.strip(), "counters.read")
    if principal is None or principal.kind != "device" or principal.role != "display":
        error = screens.title("This is not the token of an enabled display device.", language)
        return _html(screens.render("display_setup.html", language, node.settings.tz, error=error))
    response = RedirectResponse(f"/display?lang={language.value}", status_code=303)
    _cookie(response, request, DISPLAY_COOKIE, token.strip(), 366 * 24 * 3600)
    return response


@router.post("/display/heartbeat", status_code=204)
def display_heartbeat(request: Request) -> Response:
    """The display page's heartbeat (its script is alive); the same record as `POST /api/v1/devices/heartbeat`."""
    node = _node(request)
    principal = _who(node, request.cookies.get(DISPLAY_COOKIE), "devices.report_status")
    if principal is None or not same_origin(request):
        return Response(status_code=401)
    node.telemetry.record_heartbeat(principal.subject, {})
    node.served.sync(principal)  # a new desired profile is applied on the display's behalf at its check-in
    return Response(status_code=204)


@router.get("/display/audio/{key}.wav")
def display_audio(key: str, request: Request) -> Response:
    """The display's announcement audio, for its <audio> element (which sends the page's cookie, not a token)."""
    node = _node(request)
    if _who(node, request.cookies.get(DISPLAY_COOKIE) or request.cookies.get(STAFF_COOKIE), "counters.read") is None:
        return Response(status_code=401)
    if len(key) > 40:
        return Response(status_code=404)
    return FileResponse(node.hall.announcer.audio(key), media_type="audio/wav",
                        headers={"Cache-Control": "private, max-age=86400, immutable"})  # fmt: skip


# -- live screens ------------------------------------------------------------------------------------------------
@dataclass
class Screen:
    """One open page: who it is for, its language, and what it must still be told."""

    node: EdgeNode
    token: str
    permission: str
    language: Language
    principal: Principal | None = None
    state: dict[str, Any] = field(default_factory=dict)

    def check(self) -> Principal:
        principal = _who(self.node, self.token, self.permission)
        if principal is None:
            raise PermissionError("signed out")
        self.principal = principal
        return principal


async def _serve(ws: WebSocket, screen: Screen, render: Callable[[Screen], str], title: str | Callable[[Language], str],
                 on_tap: Callable[[Screen, Tap], Awaitable[None]] | None = None, hub: LiveHub | None = None,
                 wants: Wants | None = None, tick_s: float = TICK_S, only_changes: bool = False) -> None:  # fmt: skip
    """Push `render(screen)` now, after every change `hub` announces (the queue's by default) that `wants` accepts,
    every `tick_s` and after every tap, until the page leaves. With `only_changes` a screen equal to the last one
    pushed is not sent again."""
    node = screen.node
    if not await accept_page(ws):
        return
    hub = hub or node.hall.live
    assert hub is not None
    last = None
    try:
        with hub.subscribe(wants) as sub:
            async with page_taps(ws) as taps:
                while True:
                    try:
                        await run_in_threadpool(screen.check)
                    except PermissionError:
                        await ws.close(code=4401, reason="signed out")
                        return
                    html = await run_in_threadpool(render, screen)
                    if not (only_changes and (html, screen.language) == last):
                        name = title(screen.language) if callable(title) else screens.title(title, screen.language)
                        update = ScreenUpdate.of(html, screen.language, name)
                        await ws.send_text(update.model_dump_json())
                        last = html, screen.language
                    tap = await tap_or_change(taps, sub.wait(screen.state.get("valid_s", tick_s)))
                    if tap is None:
                        return
                    if tap is CHANGED:
                        continue
                    if tap.action == "language":
                        screen.language = Language.parse(tap.value, screen.language)
                    elif on_tap is not None:
                        await on_tap(screen, tap)
    except (WebSocketDisconnect, RuntimeError):
        return


@router.websocket("/counter/live")
async def counter_live(ws: WebSocket, counter: str, lang: str | None = None) -> None:
    node = _node(ws)
    terminal, look = await run_in_threadpool(_terminal, node, ws)
    counter = _pinned(node, look) or counter  # a pinned terminal's page follows its own counter only
    terminal_id = terminal.subject if terminal else ""
    screen = Screen(node, ws.cookies.get(STAFF_COOKIE, ""), PAGES["/counter"], Language.parse(lang))

    def render(s: Screen) -> str:
        """The counter as it is now, with the last action's outcome until the next tap or NOTICE_S (the same
        action's own queue change redraws the screen right after, and must not wipe what it said)."""
        assert s.principal is not None
        view = node.hall.counter_view(counter)
        result: ActionResult | None = s.state.get("result")
        if result is not None and time.monotonic() - s.state["result_at"] > NOTICE_S:
            s.state.pop("result")  # shown long enough
            result = None
        shown = result.model_copy(update={"view": view}) if result is not None else None
        soon = [a.retry_in_s for a in view.actions if a.retry_in_s]
        s.state["valid_s"] = min([TICK_S, NOTICE_S if result else TICK_S, *[x + 0.05 for x in soon]])
        return _counter_html(node, s.language, s.principal, counter, shown, terminal_id)

    async def tap(s: Screen, t: Tap) -> None:
        try:
            action = ActionName(t.action)
        except ValueError:
            return
        ticket, _, service = (t.value or "").partition(":")
        assert s.principal is not None
        if action in (ActionName.OPEN, ActionName.CLOSE) and not allowed(s.principal.role, "counters.open_close"):
            return
        try:
            result = await run_in_threadpool(
                node.hall.act, counter, action, s.principal, int(ticket) if ticket.isdigit() else None, service or None
            )
        except Invalid as exc:
            result = ActionResult(action=action, done=False, view=node.hall.counter_view(counter),
                                  notice=Notice(code="refused", detail=exc.message))  # fmt: skip
        s.state["result"], s.state["result_at"] = result, time.monotonic()

    await _serve(ws, screen, render, "Counter", tap)


@router.websocket("/supervisor/live")
async def supervisor_live(ws: WebSocket, lang: str | None = None) -> None:
    node = _node(ws)
    screen = Screen(node, ws.cookies.get(STAFF_COOKIE, ""), PAGES["/supervisor"], Language.parse(lang))

    def render(s: Screen) -> str:
        assert s.principal is not None
        return _supervisor_html(node, s.language, s.principal)

    await _serve(ws, screen, render, "Station KPIs")


@router.websocket("/display/live")
async def display_live(ws: WebSocket, lang: str | None = None) -> None:
    node = _node(ws)
    screen = Screen(node, ws.cookies.get(DISPLAY_COOKIE, ""), "counters.read", Language.parse(lang))
    announcer = node.hall.announcer

    def render(s: Screen) -> str:
        if "sent" not in s.state:  # first push on this socket: only what is still worth saying
            upto, now = announcer.last_seq, node.clock()
            fresh = [a for a in announcer.after(0) if a.seq <= upto and now - parse_iso(a.at) <= REPLAY_WINDOW]
            s.state["sent"] = upto
        else:
            fresh = announcer.after(s.state["sent"])
            if fresh:
                s.state["sent"] = fresh[-1].seq
        device = s.principal.subject if s.principal is not None and s.principal.kind == "device" else None
        return _display_html(node, s.language, fresh, device=device)

    await _serve(ws, screen, render, "Hall display")
