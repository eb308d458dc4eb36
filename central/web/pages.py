"""The dashboard's pages: sign-in, the fleet overview, a station's page, the dead letters, and commands sent from a
station's page. Each page checks the session and role on the server; the overview and station pages are pushed
again over a WebSocket each (`/live`, `/stations/{id}/live`) whenever their part of the store changes."""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, TypeVar
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Request, WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from central import fleet
from central.alarms import station_alarms
from central.dispatch import CommandDesk, CommandRefused
from central.rollouts import RolloutRefused, RolloutService, parse_reason
from central.series import Span, station_series
from central.staff.roles import CentralRole, Permission, allowed
from central.staff.service import SignInRefused, Staff, StaffError
from central.store import CentralStore
from central.web import views
from central.web.live import StoreWatch
from central.web.session import COOKIE, current, set_cookie, staff_service
from markaz.clock import parse_iso, utcnow
from markaz.web.languages import Language
from markaz.web.live import ScreenUpdate
from markaz.web.serving import CHANGED, accept_page, page_taps, same_origin, tap_or_change

router = APIRouter(include_in_schema=False)
_NEXT = re.compile(
    r"^/(stations/[A-Za-z0-9_.-]{1,64}|dead-letters|rollouts|rollouts/[0-9a-f]{12}/cancel|staff|alarms|comparison)?$"
)


def _store(request: Request | WebSocket) -> CentralStore:
    store: CentralStore = request.app.state.store
    return store


def _desk(request: Request | WebSocket) -> CommandDesk:
    desk: CommandDesk = request.app.state.desk
    return desk


def _charts(request: Request | WebSocket) -> views.ChartCache:
    cache: views.ChartCache = request.app.state.charts
    return cache


def _html(text: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(text, status, headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"})


def _signin_redirect(request: Request, language: Language) -> Response:
    target = request.url.path if _NEXT.match(request.url.path) else "/"
    return RedirectResponse(f"/signin?{urlencode({'next': target, 'lang': language.value})}", 303)


def _forbidden(who: Staff, language: Language) -> HTMLResponse:
    return _html(views.render("forbidden.html", language, user=who), 403)


def _page_user(
    request: Request, language: Language, permission: Permission = Permission.VIEW, form: bool = False
) -> Staff | Response:
    """Who asks for a page: the signed-in staff member whose role has `permission`; else the answer to send instead,
    a redirect to sign in or the forbidden page (a `form` from another origin is forbidden too)."""
    who = current(request)
    if who is None:
        return _signin_redirect(request, language)
    if not allowed(who.role, permission) or (form and not same_origin(request)):
        return _forbidden(who, language)
    return who


# -- sign-in -----------------------------------------------------------------------------------------------------
@router.get("/signin")
def signin_page(request: Request, lang: str | None = None, next: str = "/") -> Response:
    language = Language.parse(lang)
    return _html(views.render("signin.html", language, next=next if _NEXT.match(next) else "/", error=None))


@router.post("/signin")
def signin(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form(max_length=100)] = "/",
    lang: Annotated[str, Form(max_length=5)] = "ar",
) -> Response:
    language, target = Language.parse(lang), next if _NEXT.match(next) else "/"
    if not same_origin(request):
        return _html(views.render("signin.html", language, next=target, error=None), 403)
    client = request.client.host if request.client else None
    try:
        token, _who, expires = staff_service(request).sign_in(username, password, client)
    except SignInRefused as exc:
        if exc.retry_after_s is not None:
            text = views.title("This account is locked after repeated failed sign-ins: try again in %(m)s minutes.",
                               language) % {"m": int(exc.retry_after_s // 60) + 1}  # fmt: skip
        else:
            text = views.title("Wrong user name or password.", language)
        return _html(views.render("signin.html", language, next=target, error=text), 401)
    response = RedirectResponse(f"{target}?lang={language.value}", status_code=303)
    max_age = max(1, int((expires - staff_service(request).clock()).total_seconds()))
    set_cookie(response, request, token, max_age)
    return response


@router.post("/signout")
def signout(request: Request, lang: Annotated[str, Form(max_length=5)] = "ar") -> Response:
    token = request.cookies.get(COOKIE)
    if token and same_origin(request):
        staff_service(request).sign_out(token)
    response = RedirectResponse(f"/signin?lang={Language.parse(lang).value}", 303)
    response.delete_cookie(COOKIE, path="/")
    return response


# -- the fleet overview ------------------------------------------------------------------------------------------
E = TypeVar("E", bound=StrEnum)


def _pick(enum: type[E], value: str | None, default: E) -> E:
    """The enum member named by a query parameter; the default for a missing or unknown one."""
    try:
        return enum(value) if value else default
    except ValueError:
        return default


def _filters(
    q: str | None, state: str | None, problem: str | None
) -> tuple[str, fleet.StateFilter, fleet.ProblemFilter]:
    return (
        (q or "")[:64],
        _pick(fleet.StateFilter, state, fleet.StateFilter.ALL),
        _pick(fleet.ProblemFilter, problem, fleet.ProblemFilter.ANY),
    )


ROWS = views.RowCache()  # one per process: rows are the same whichever page or app renders them


def _overview_html(store: CentralStore, language: Language, who: Staff, q: str, state: fleet.StateFilter,
                   problem: fleet.ProblemFilter, page: bool = False) -> str:  # fmt: skip
    found = fleet.fleet(store, q, state, problem)
    query = urlencode({"q": q, "state": state.value, "problem": problem.value, "lang": language.value})
    fmt = views.Formats(language)
    return views.render(
        "overview.html" if page else "overview_screen.html",
        language,
        fmt=fmt,
        row_html=ROWS.renderer(language, fmt),
        user=who,
        fleet=found,
        q=q,
        state=state.value,
        problem=problem.value,
        states=list(fleet.StateFilter),
        problems=list(fleet.ProblemFilter),
        live_path=f"/live?{query}",
    )


@router.get("/")
def overview(
    request: Request, lang: str | None = None, q: str | None = None, state: str | None = None,
    problem: str | None = None,
) -> Response:  # fmt: skip
    language = Language.parse(lang)
    who = _page_user(request, language)
    if isinstance(who, Response):
        return who
    return _html(_overview_html(_store(request), language, who, *_filters(q, state, problem), page=True))


# -- a station ---------------------------------------------------------------------------------------------------
def _station_html(store: CentralStore, charts: views.ChartCache, language: Language, who: Staff, station: str,
                  span: Span, desk: CommandDesk, notice_code: str | None = None, page: bool = False,
                  ) -> str | None:  # fmt: skip
    """The station's page; `notice_code` (a key of NOTICES) says what the last command from this page did."""
    state = fleet.station_state(store, station)
    if state is None:
        return None
    chart = charts.get(
        (station, span.value, language.value),
        lambda: views.chart_payload(station_series(store, station, span), language),
    )
    alarms = station_alarms(store, station, utcnow() - span.length)
    live_query = {"lang": language.value, "span": span.value, **({"notice": notice_code} if notice_code else {})}
    return views.render(
        "station.html" if page else "station_screen.html",
        language,
        user=who,
        s=state,
        span=span.value,
        spans=list(Span),
        chart=chart,
        alarms=alarms,
        markers=views.alarm_markers(alarms, language),
        can_command=allowed(who.role, Permission.COMMAND) and desk.available,
        may_command=allowed(who.role, Permission.COMMAND),
        notice=_notice(notice_code, language),
        live_path=f"/stations/{quote(station)}/live?{urlencode(live_query)}",
    )


def _span(value: str | None) -> Span:
    return _pick(Span, value, Span.DAY)


NOTICES = {
    "sent": ("ok", "Command sent: its answer appears below when the station replies."),
    "forbidden": ("error", "Only central operators send commands."),
    "unknown_command": ("error", "Unknown command."),
    "invalid_params": ("error", "The command's details are not valid."),
    "not_found": ("error", "No such station."),
    "no_broker": ("error", "This dashboard has no broker connection: commands cannot be sent."),
    "not_sent": ("error", "The broker did not take the command; nothing was sent."),
}


def _notice(code: str | None, language: Language) -> tuple[str, str] | None:
    if code not in NOTICES:
        return None
    kind, text = NOTICES[code]
    return kind, views.title(text, language)


@router.get("/stations/{station}")
def station_page(
    station: str, request: Request, lang: str | None = None, span: str | None = None, notice: str | None = None
) -> Response:
    language = Language.parse(lang)
    who = _page_user(request, language)
    if isinstance(who, Response):
        return who
    code = notice if notice in NOTICES else None
    html = _station_html(_store(request), _charts(request), language, who, station, _span(span), _desk(request), code,
                         page=True)  # fmt: skip
    if html is None:
        return _html(views.render("not_found.html", language, user=who, station=station), 404)
    return _html(html)


@router.post("/stations/{station}/commands")
def send_command(
    station: str,
    request: Request,
    name: Annotated[str, Form(max_length=64)],
    device: Annotated[str | None, Form(max_length=64)] = None,
    lang: Annotated[str, Form(max_length=5)] = "ar",
) -> Response:
    """Operators only: checked here and again by the desk, which audits the command before it leaves."""
    language = Language.parse(lang)
    who = _page_user(request, language, Permission.COMMAND, form=True)
    if isinstance(who, Response):
        return who
    params: dict[str, object] = {"device": device} if name in ("kiosk.enable", "kiosk.disable") else {}
    try:
        _desk(request).send(who, station, name, params)
        code = "sent"
    except CommandRefused as exc:
        code = exc.code
    return RedirectResponse(f"/stations/{quote(station)}?{urlencode({'lang': language.value, 'notice': code})}", 303)


@router.get("/dead-letters")
def dead_letters_page(request: Request, lang: str | None = None) -> Response:
    language = Language.parse(lang)
    who = _page_user(request, language)
    if isinstance(who, Response):
        return who
    return _html(views.render("dead_letters.html", language, user=who, letters=_store(request).dead_letters(200)))


ROLLOUT_NOTICES = {
    "cancelled": ("ok", "The roll-out is cancelled: no station not yet asked will be."),
    "cancelling": ("ok", "The roll-out stops before its next wave: the stations already asked answer first."),
    "resumed": ("ok", "The roll-out goes on from the waves not yet done."),
    "conflict": ("error", "Not done: the roll-out is no longer in a state that allows it."),
    "not_found": ("error", "Not done: no such roll-out."),
}


def _rollouts_html(
    rollouts: RolloutService, language: Language, who: Staff, page: bool = False, notice: str | None = None
) -> str:
    template = "rollouts.html" if page else "rollouts_screen.html"
    kind, text = ROLLOUT_NOTICES.get(notice or "", (None, None))
    shown = (kind, views.title(text, language)) if kind and text else None
    live = "/rollouts/live?" + urlencode({"lang": language.value, **({"notice": notice} if kind else {})})
    return views.render(template, language, user=who, rollouts=rollouts.all(), parse_reason=parse_reason,
                        can_command=allowed(who.role, Permission.COMMAND), notice=shown, live_path=live)  # fmt: skip


def _rollouts_back(language: Language, code: str) -> Response:
    return RedirectResponse(f"/rollouts?{urlencode({'lang': language.value, 'notice': code})}", 303)


@router.get("/rollouts")
def rollouts_page(request: Request, lang: str | None = None, notice: str | None = None) -> Response:
    """The staged roll-outs of profile versions across stations: each one's state, counts and every station's
    wave, state and reason (started with `markaz central rollout start` or `POST /api/rollouts`); pushed again over
    `/rollouts/live` as they move. Operators get *Cancel* on a running or interrupted one and *Resume* on an
    interrupted one."""
    language = Language.parse(lang)
    who = _page_user(request, language)
    if isinstance(who, Response):
        return who
    return _html(_rollouts_html(request.app.state.rollouts, language, who, page=True, notice=notice))


@router.get("/rollouts/{rollout_id}/cancel")
def rollout_cancel_page(rollout_id: str, request: Request, lang: str | None = None) -> Response:
    """The confirmation before a cancel: what it does, and the form that does it."""
    language = Language.parse(lang)
    who = _page_user(request, language, Permission.COMMAND)
    if isinstance(who, Response):
        return who
    found = request.app.state.rollouts.get(rollout_id)
    if found is None:
        return _html(views.render("not_found.html", language, user=who), 404)
    return _html(views.render("rollout_cancel.html", language, user=who, r=found))


@router.post("/rollouts/{rollout_id}/cancel")
def rollout_cancel(
    rollout_id: str,
    request: Request,
    confirm: Annotated[str, Form(max_length=3)] = "",
    lang: Annotated[str, Form(max_length=5)] = "ar",
) -> Response:
    """Operators only, from this dashboard's own pages, after the confirmation page (`confirm=yes`)."""
    language = Language.parse(lang)
    who = _page_user(request, language, Permission.COMMAND, form=True)
    if isinstance(who, Response):
        return who
    if confirm != "yes":
        return _html(views.render("forbidden.html", language, user=who), 400)
    try:
        state = request.app.state.rollouts.cancel(who, rollout_id)
    except RolloutRefused as exc:
        return _rollouts_back(language, exc.code)
    return _rollouts_back(language, "cancelled" if state == "cancelled" else "cancelling")


@router.post("/rollouts/{rollout_id}/resume")
def rollout_resume(rollout_id: str, request: Request, lang: Annotated[str, Form(max_length=5)] = "ar") -> Response:
    """Operators only, from this dashboard's own pages: an interrupted roll-out goes on."""
    language = Language.parse(lang)
    who = _page_user(request, language, Permission.COMMAND, form=True)
    if isinstance(who, Response):
        return who
    try:
        request.app.state.rollouts.resume(who, rollout_id)
    except RolloutRefused as exc:
        return _rollouts_back(language, exc.code)
    return _rollouts_back(language, "resumed")


# -- live pages --------------------------------------------------------------------------------------------------
async def _serve(ws: WebSocket, station: str | None, language: Language,
                 render: Callable[[Staff, Language], str | None], title: str) -> None:  # fmt: skip
    """Push `render(...)` when it changed: after the store's part for this page changed, every TICK_S, and on a
    language tap, until the page leaves. The session is checked again before every push."""
    if not await accept_page(ws):
        return
    hub: StoreWatch = ws.app.state.watch
    sent = ""
    try:
        async with hub.watch(station) as watch, page_taps(ws) as taps:
            while True:
                who = await run_in_threadpool(current, ws)
                if who is None or not allowed(who.role, Permission.VIEW):
                    await ws.close(code=4401, reason="signed out")
                    return
                html = await run_in_threadpool(render, who, language)
                if html is None:
                    await ws.close(code=4404, reason="gone")
                    return
                if html != sent:
                    update = ScreenUpdate.of(html, language, views.title(title, language))
                    await ws.send_text(update.model_dump_json())
                    sent = html
                tap = await tap_or_change(taps, watch.wait())
                if tap is None:
                    return
                if tap is not CHANGED and tap.action == "language":
                    language = Language.parse(tap.value, language)
    except (WebSocketDisconnect, RuntimeError):
        return


@router.websocket("/live")
async def overview_live(ws: WebSocket, lang: str | None = None, q: str | None = None, state: str | None = None,
                        problem: str | None = None) -> None:  # fmt: skip
    store, filters = _store(ws), _filters(q, state, problem)

    def render(who: Staff, language: Language) -> str:
        return _overview_html(store, language, who, *filters)

    await _serve(ws, None, Language.parse(lang), render, "Fleet overview")


@router.websocket("/stations/{station}/live")
async def station_live(ws: WebSocket, station: str, lang: str | None = None, span: str | None = None,
                       notice: str | None = None) -> None:  # fmt: skip
    store, desk, chosen, charts = _store(ws), _desk(ws), _span(span), _charts(ws)
    code = notice if notice in NOTICES else None

    def render(who: Staff, language: Language) -> str | None:
        return _station_html(store, charts, language, who, station, chosen, desk, code)

    await _serve(ws, station, Language.parse(lang), render, "Station")


@router.websocket("/rollouts/live")
async def rollouts_live(ws: WebSocket, lang: str | None = None, notice: str | None = None) -> None:
    rollouts: RolloutService = ws.app.state.rollouts

    def render(who: Staff, language: Language) -> str:
        return _rollouts_html(rollouts, language, who, notice=notice)  # the page's notice stays while it is open

    await _serve(ws, None, Language.parse(lang), render, "Roll-outs")


# -- central's staff (admins) ------------------------------------------------------------------------------------
STAFF_NOTICES = {
    "added": ("ok", "Account added."),
    "updated": ("ok", "Account updated."),
    "unlocked": ("ok", "Account unlocked."),
    "refused": ("error", "Not done: check the name, the role and a password of at least 10 characters."),
    "self": ("error", "You cannot disable your own account."),
}


def _admin(request: Request, language: Language) -> Staff | Response:
    return _page_user(request, language, Permission.MANAGE_STAFF, form=request.method == "POST")


def _back(language: Language, code: str) -> Response:
    return RedirectResponse(f"/staff?{urlencode({'lang': language.value, 'notice': code})}", 303)


@router.get("/staff")
def staff_page(request: Request, lang: str | None = None, notice: str | None = None) -> Response:
    language = Language.parse(lang)
    who = _admin(request, language)
    if isinstance(who, Response):
        return who
    service = staff_service(request)
    now = service.clock()
    users = [
        {**u, "locked": bool(u["locked_until"]) and parse_iso(str(u["locked_until"])) > now} for u in service.users()
    ]
    kind, text = STAFF_NOTICES.get(notice or "", (None, None))
    shown = (kind, views.title(text, language)) if kind and text else None
    return _html(views.render("staff.html", language, user=who, users=users, roles=list(CentralRole), notice=shown))


@router.post("/staff")
def staff_add(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    role: Annotated[str, Form(max_length=32)],
    lang: Annotated[str, Form(max_length=5)] = "ar",
) -> Response:
    language = Language.parse(lang)
    who = _admin(request, language)
    if isinstance(who, Response):
        return who
    try:
        staff_service(request).add_user(username.strip(), password, role, actor=who.username)
    except (StaffError, ValueError):
        return _back(language, "refused")
    return _back(language, "added")


@router.post("/staff/{username}/unlock")
def staff_unlock(username: str, request: Request, lang: Annotated[str, Form(max_length=5)] = "ar") -> Response:
    language = Language.parse(lang)
    who = _admin(request, language)
    if isinstance(who, Response):
        return who
    try:
        staff_service(request).unlock(username, who)
    except StaffError:
        return _back(language, "refused")
    return _back(language, "unlocked")


@router.post("/staff/{username}/active")
def staff_active(
    username: str,
    request: Request,
    active: Annotated[str, Form(max_length=3)],
    lang: Annotated[str, Form(max_length=5)] = "ar",
) -> Response:
    language = Language.parse(lang)
    who = _admin(request, language)
    if isinstance(who, Response):
        return who
    if username == who.username and active != "yes":
        return _back(language, "self")
    try:
        staff_service(request).set_active(username, active == "yes", who)
    except StaffError:
        return _back(language, "refused")
    return _back(language, "updated")
