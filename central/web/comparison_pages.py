"""The comparison page (`/comparison`): every station's figures for a chosen day or period and service, ranked by a
chosen measure, the best of each measure marked, with a link to the same figures as CSV (`/api/comparison/csv`).
The figures are `central.comparison.compare`'s, the same call the JSON API answers with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from central.comparison import BY_NAME, MEASURES, ComparisonError, Period, compare, services_in
from central.staff.roles import Permission
from central.web import views
from central.web.pages import _html, _page_user, _pick, _store
from markaz.clock import utcnow
from markaz.web.languages import Language

router = APIRouter(include_in_schema=False)

MAX_DAYS = 366


@dataclass(frozen=True)
class Chosen:
    period: Period
    start: date
    end: date
    service: str | None
    rank_by: str
    error: str | None = None  # why the custom dates were not taken (the page says so and shows today)


def _date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def choose(period: str | None, start: str | None, end: str | None, service: str | None, rank_by: str | None,
           today: date) -> Chosen:  # fmt: skip
    """What the page's form asks for; a custom period that is not a valid range falls back to today, said so."""
    chosen = _pick(Period, period, Period.LAST_7)
    svc = service if service and len(service) <= 32 and service.replace("_", "").replace("-", "").isalnum() else None
    rank = rank_by if rank_by in BY_NAME else "within_target_share"
    spans = {Period.TODAY: (today, today), Period.YESTERDAY: (today - timedelta(days=1),) * 2,
             Period.LAST_7: (today - timedelta(days=6), today), Period.LAST_30: (today - timedelta(days=29), today)}  # fmt: skip
    if chosen is not Period.CUSTOM:
        first, last = spans[chosen]
        return Chosen(chosen, first, last, svc, rank)
    asked_from, asked_to = _date(start), _date(end)
    if asked_from is None or asked_to is None:
        return Chosen(Period.TODAY, today, today, svc, rank, "Choose both dates of the period.")
    first, last = asked_from, asked_to
    if last < first or (last - first).days >= MAX_DAYS:
        return Chosen(Period.TODAY, today, today, svc, rank, "The period must end after it begins, within a year.")
    return Chosen(chosen, first, last, svc, rank)


MESSAGES = ("Choose both dates of the period.", "The period must end after it begins, within a year.")


@router.get("/comparison")
def comparison_page(
    request: Request, lang: str | None = None, period: str | None = None, start: str | None = None,
    end: str | None = None, service: str | None = None, rank_by: str | None = None,
) -> Response:  # fmt: skip
    language = Language.parse(lang)
    who = _page_user(request, language, Permission.COMPARISON_READ)
    if isinstance(who, Response):
        return who
    store = _store(request)
    c = choose(period, start, end, service, rank_by, utcnow().date())
    try:
        result = compare(store, c.start, c.end, c.service, c.rank_by)
    except ComparisonError:  # choose() keeps the range valid; a store refusal still says something
        result = compare(store, c.start, c.start, c.service, c.rank_by)
    query = {"from": c.start.isoformat(), "to": c.end.isoformat(), "rank_by": c.rank_by,
             **({"service": c.service} if c.service else {})}  # fmt: skip
    keep = {"period": c.period.value, "start": c.start.isoformat(), "end": c.end.isoformat(), "rank_by": c.rank_by,
            **({"service": c.service} if c.service else {})}  # fmt: skip
    return _html(
        views.render(
            "comparison.html",
            language,
            user=who,
            c=c,
            result=result,
            services=services_in(store, c.start, c.end),
            periods=list(Period),
            measures=MEASURES,
            error=views.title(c.error, language) if c.error else None,
            csv_href="/api/comparison/csv?" + urlencode(query),
            api_href="/api/comparison?" + urlencode(query),
            keep=urlencode(keep),
        )
    )
