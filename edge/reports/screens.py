"""The report workbench's pages, rendered with the shared web layer (markaz.web): templates and catalogue beside them.

Only presentation lives here: what a report holds comes from `ReportService`, what an actor may do next from the
procedure table (`procedure.available`); the router decides who may see the page at all."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from edge.reports import procedure
from edge.reports.catalogue import Catalogue
from edge.reports.vocabulary import Acknowledgement, Action, OfficerAction, Outcome, PartyRole, ReportState
from markaz.clock import parse_iso
from markaz.web.languages import Language
from markaz.web.templates import Screens

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
CATALOGUES = HERE / "locales"
STATIC = HERE / "static"


def type_labels(types: dict[str, Any], language: Language) -> dict[str, str]:
    """Each report type's name in the page's language, looked up once per page rather than once per row."""
    return {code: t.name_ar if language == Language.AR else t.name_en for code, t in types.items()}


screens = Screens(
    template_dirs=[TEMPLATES],
    catalogue_dirs=[CATALOGUES],
    globals_={
        "STATES": list(ReportState),
        "OUTCOMES": list(Outcome),
        "ACKNOWLEDGEMENTS": list(Acknowledgement),
        "OFFICER_ACTIONS": list(OfficerAction),
        "PARTY_ROLES": list(PartyRole),
        "Action": Action,
        "type_labels": type_labels,
    },
)


class Formats:
    """Dates as the station reads them: local time, day and minute."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz

    def when(self, stamp: str | datetime | None) -> str:
        if not stamp:
            return ""
        t = (parse_iso(stamp) if isinstance(stamp, str) else stamp).astimezone(self.tz)
        return f"{t.year:04d}-{t.month:02d}-{t.day:02d} {t.hour:02d}:{t.minute:02d}"  # strftime costs 3x: per row


def render(template: str, language: Language, tz: ZoneInfo, **context: Any) -> str:
    return screens.render(template, language, fmt=Formats(tz), **context)


def text(message: str, language: Language) -> str:
    return screens.gettext(message, language)


def type_names(catalogue: Catalogue) -> dict[str, Any]:
    return {t.code: t for t in catalogue.types}


def offered(report: dict[str, Any], role: str, actor: str) -> dict[str, Any]:
    """What the page offers this actor on this report, straight from the procedure table."""
    state = report["state"]
    return {
        "transitions": [t.action for t in procedure.available(state, role, actor, report["officer"])],
        "assign": procedure.may_assign(state, role, actor, report["officer"]),
        "supervisor": role in procedure.SUPERVISORS,
        "workable": procedure.may_work(state, role, actor, report["officer"]),
    }
