"""The alarm list page (`/alarms`): every alarm with its lifecycle, filtered by state, severity, station and rule,
pushed again over `/alarms/live` when an alarm is raised, escalated, acknowledged or cleared; and acknowledging one
with a comment (operators and admins; checked here and again by `central.alarms.acknowledge`, which audits it)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Form, Request, WebSocket
from fastapi.responses import RedirectResponse, Response

from central.alarms import (
    AlarmConflict,
    AlarmError,
    AlarmNotFound,
    AlarmQuery,
    NotAllowed,
    Rule,
    Severity,
    StateFilter,
    acknowledge,
    alarm_counts,
    find_alarms,
)
from central.staff.roles import Permission, allowed
from central.staff.service import Staff
from central.store import CentralStore
from central.web import views
from central.web.pages import E, _html, _page_user, _pick, _serve, _store
from markaz.web.languages import Language

router = APIRouter(include_in_schema=False)

ALARM_NOTICES = {
    "acknowledged": ("ok", "Alarm acknowledged."),
    "forbidden": ("error", "Only central operators acknowledge alarms."),
    "conflict": ("error", "Not done: the alarm was already acknowledged or has cleared."),
    "not_found": ("error", "No such alarm."),
    "invalid": ("error", "Not done: the comment is longer than 500 characters."),
}


def _maybe(enum: type[E], value: str | None) -> E | None:
    """The member a filter names; None ("any") for an empty or unknown one."""
    try:
        return enum(value) if value else None
    except ValueError:
        return None


def _query(state: str | None, severity: str | None, station: str | None, rule: str | None) -> AlarmQuery:
    return AlarmQuery(
        state=_pick(StateFilter, state, StateFilter.OPEN),
        severity=_maybe(Severity, severity),
        station=(station or "").strip()[:64] or None,
        rule=_maybe(Rule, rule),
        limit=500,
    )


def _params(q: AlarmQuery, language: Language, **extra: str) -> str:
    shown = {
        "state": q.state.value,
        "severity": q.severity.value if q.severity else "",
        "station": q.station or "",
        "rule": q.rule.value if q.rule else "",
        "lang": language.value,
    }
    return urlencode({**shown, **extra})


def _alarms_html(store: CentralStore, language: Language, who: Staff, q: AlarmQuery, notice: str | None = None,
                 page: bool = False) -> str:  # fmt: skip
    kind_text = ALARM_NOTICES.get(notice or "")
    return views.render(
        "alarms.html" if page else "alarms_screen.html",
        language,
        user=who,
        alarms=find_alarms(store, q),
        counts=alarm_counts(store),
        q=q,
        states=list(StateFilter),
        severities=list(Severity),
        rules=list(Rule),
        can_ack=allowed(who.role, Permission.ALARMS_ACKNOWLEDGE),
        back=_params(q, language),
        notice=(kind_text[0], views.title(kind_text[1], language)) if kind_text else None,
        live_path="/alarms/live?" + _params(q, language, **({"notice": notice} if notice else {})),
    )


@router.get("/alarms")
def alarms_page(
    request: Request, lang: str | None = None, state: str | None = None, severity: str | None = None,
    station: str | None = None, rule: str | None = None, notice: str | None = None,
) -> Response:  # fmt: skip
    language = Language.parse(lang)
    who = _page_user(request, language)
    if isinstance(who, Response):
        return who
    q = _query(state, severity, station, rule)
    code = notice if notice in ALARM_NOTICES else None
    return _html(_alarms_html(_store(request), language, who, q, code, page=True))


@router.post("/alarms/{alarm_id}/acknowledge")
def acknowledge_alarm(
    alarm_id: int,
    request: Request,
    comment: Annotated[str, Form(max_length=2000)] = "",
    back: Annotated[str, Form(max_length=400)] = "",
    lang: Annotated[str, Form(max_length=5)] = "ar",
) -> Response:
    """Operators only (a viewer's forged POST, or one from another origin, is refused with 403 and changes nothing)."""
    language = Language.parse(lang)
    who = _page_user(request, language, Permission.ALARMS_ACKNOWLEDGE, form=True)
    if isinstance(who, Response):
        return who
    try:
        acknowledge(_store(request), alarm_id, who.username, who.role, comment)
        code = "acknowledged"
    except NotAllowed:
        code = "forbidden"
    except AlarmNotFound:
        code = "not_found"
    except AlarmConflict:
        code = "conflict"
    except AlarmError:
        code = "invalid"
    # back to the same filtered list: only its own filter parameters survive the round trip
    kept = {k: v for k, v in parse_qsl(back)[:8] if k in ("state", "severity", "station", "rule")}
    q = _query(kept.get("state"), kept.get("severity"), kept.get("station"), kept.get("rule"))
    return RedirectResponse(f"/alarms?{_params(q, language, notice=code)}#alarm-{alarm_id}", 303)


@router.websocket("/alarms/live")
async def alarms_live(ws: WebSocket, lang: str | None = None, state: str | None = None, severity: str | None = None,
                      station: str | None = None, rule: str | None = None, notice: str | None = None) -> None:  # fmt: skip
    store, q = _store(ws), _query(state, severity, station, rule)
    code = notice if notice in ALARM_NOTICES else None

    def render(who: Staff, language: Language) -> str:
        return _alarms_html(store, language, who, q, code)

    await _serve(ws, None, Language.parse(lang), render, "Alarms")
