"""Presentation of the dashboard: the templates and Arabic catalogue beside this module, and how times, durations
and charts are shown. What to show comes from central.fleet and central.series."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from cachetools import LRUCache, TTLCache
from markupsafe import Markup

from central.alarms import Alarm, EventKind, Rule, Severity
from central.alarms import StateFilter as AlarmStateFilter
from central.comparison import Period
from central.fleet import ProblemFilter
from central.fleet import StateFilter as FleetState
from central.roles import CentralRole
from central.series import CHARTS, Series, Span
from markaz.clock import parse_iso, utcnow
from markaz.web.languages import Language
from markaz.web.templates import Screens

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
CATALOGUES = HERE / "locales"
STATIC = HERE / "static"
VENDOR = HERE / "vendor" / "node_modules" / "uplot" / "dist"
UPLOT_FILES = ("uPlot.iife.min.js", "uPlot.min.css")

# Names of vocabulary values shown on the pages (English message ids; Arabic in the catalogue), keyed by the
# vocabulary's own StrEnum (a member equals its value, so templates may look up either); test_dashboard_catalogue
# checks every member has its name.
ROLE_NAMES = {CentralRole.VIEWER: "viewer", CentralRole.OPERATOR: "operator", CentralRole.ADMIN: "administrator"}
STATE_NAMES = {FleetState.ALL: "all states", FleetState.ONLINE: "online", FleetState.OFFLINE: "offline"}
PROBLEM_NAMES = {
    ProblemFilter.ANY: "any or none",
    ProblemFilter.OVER_TARGET: "wait over target",
    ProblemFilter.FAULTS: "device faults",
    ProblemFilter.ALARMS: "open alarms",
    ProblemFilter.GAPS: "missing seqs",
}
SPAN_NAMES = {Span.DAY: "Last 24 hours", Span.WEEK: "Last 7 days"}
RULE_NAMES = {
    Rule.STATION_OFFLINE: "station offline",
    Rule.WAIT_OVER_TARGET: "wait over target",
    Rule.DEVICE_FAULT: "device fault",
    Rule.SPOOF_RATE: "spoof rate too high",
    Rule.SEQ_GAP: "messages missing",
    Rule.AUDIT_ANCHOR_OVERDUE: "audit anchor overdue",
    Rule.AUDIT_ANCHOR_REFUSED: "audit anchor refused",
    Rule.REPORT_SLA: "reports past their deadline",
}
SEVERITY_NAMES = {Severity.CRITICAL: "critical", Severity.MAJOR: "major", Severity.MINOR: "minor",
                  Severity.WARNING: "warning"}  # fmt: skip
ALARM_STATE_NAMES = {
    AlarmStateFilter.OPEN: "open (active or acknowledged)",
    AlarmStateFilter.ACTIVE: "active",
    AlarmStateFilter.ACKNOWLEDGED: "acknowledged",
    AlarmStateFilter.CLEARED: "cleared",
    AlarmStateFilter.ALL: "all",
}
ALARM_EVENT_NAMES = {EventKind.RAISED: "raised", EventKind.ESCALATED: "escalated",
                     EventKind.ACKNOWLEDGED: "acknowledged", EventKind.CLEARED: "cleared"}  # fmt: skip
PERIOD_NAMES = {
    Period.TODAY: "today",
    Period.YESTERDAY: "yesterday",
    Period.LAST_7: "the last 7 days",
    Period.LAST_30: "the last 30 days",
    Period.CUSTOM: "from ... to ...",
}
MEASURE_NAMES = {  # keyed by central.comparison.MEASURES' names (a measure is a record, not an enum)
    "served": "Served",
    "mean_wait_s": "Mean wait",
    "p90_wait_s": "90th percentile wait",
    "within_target_share": "Served within target",
    "no_show_rate": "No-show rate",
    "match_rate": "Verification match rate",
    "sla_compliance": "Report SLA compliance",
}
NAMES = {"role_names": ROLE_NAMES, "state_names": STATE_NAMES, "problem_names": PROBLEM_NAMES,
         "span_names": SPAN_NAMES, "rule_names": RULE_NAMES, "severity_names": SEVERITY_NAMES,
         "alarm_state_names": ALARM_STATE_NAMES, "alarm_event_names": ALARM_EVENT_NAMES,
         "period_names": PERIOD_NAMES, "measure_names": MEASURE_NAMES}  # fmt: skip

screens = Screens(template_dirs=[TEMPLATES], catalogue_dirs=[CATALOGUES], globals_=NAMES)


class MissingVendor(Exception):
    """uPlot is not installed: says how to install it."""


def check_vendor() -> None:
    for name in UPLOT_FILES:
        if not (VENDOR / name).is_file():
            raise MissingVendor(f"{VENDOR / name} missing: run `make venv` (npm ci in central/web/vendor)")


class Formats:
    """Times as central staff read them (one zone for the whole fleet), durations in minutes."""

    def __init__(self, language: Language, tz: tzinfo = UTC, now: datetime | None = None) -> None:
        self.tz = tz
        self.now = now or utcnow()
        self._minutes = screens.gettext("%(n)s min", language)  # translated once per page, not once per cell
        self._hours = screens.gettext("%(n)s h", language)
        self._percent = screens.gettext("%(n)s%%", language)

    def wait(self, seconds: float | None) -> str:
        """A duration as whole minutes, rounded up ("3 min")."""
        return "—" if seconds is None else self._minutes % {"n": self.minutes(seconds)}

    def ago(self, stamp: str | datetime | None) -> str:
        """How long ago, in whole minutes."""
        m = self.minutes_since(stamp)
        if m is None:
            return "—"
        return self._minutes % {"n": m} if m < 120 else self._hours % {"n": m // 60}

    def local(self, stamp: str | datetime | None) -> datetime | None:
        if not stamp:
            return None
        ts = parse_iso(stamp) if isinstance(stamp, str) else stamp
        return ts.astimezone(self.tz)

    def clock(self, stamp: str | datetime | None) -> str:
        """HH:MM today, YYYY-MM-DD HH:MM before."""
        ts = self.local(stamp)
        if ts is None:
            return ""
        if ts.date() == self.now.astimezone(self.tz).date():
            return ts.strftime("%H:%M")
        return ts.strftime("%Y-%m-%d %H:%M")

    def iso(self, stamp: str | datetime | None) -> str:
        ts = self.local(stamp)
        return ts.isoformat(timespec="seconds") if ts else ""

    def minutes_since(self, stamp: str | datetime | None) -> int | None:
        ts = self.local(stamp)
        return None if ts is None else max(0, int((self.now - ts).total_seconds() // 60))

    def wait_exact(self, seconds: float | None) -> str:
        """A duration in minutes with one decimal ("12.5 min"), for comparing stations."""
        return "—" if seconds is None else self._minutes % {"n": f"{seconds / 60:.1f}"}

    def percent(self, share: float | None) -> str:
        """A share (0..1) as a percentage with one decimal."""
        return "—" if share is None else self._percent % {"n": f"{share * 100:.1f}"}

    @staticmethod
    def minutes(seconds: float | None) -> int | None:
        return None if seconds is None else int((seconds + 59) // 60)


def render(template: str, language: Language, fmt: Formats | None = None, **context: Any) -> str:
    return screens.render(template, language, fmt=fmt or Formats(language), **context)


def title(text: str, language: Language) -> str:
    return screens.gettext(text, language)


# Chart titles and line labels, translated on the server; the page only draws.
CHART_TITLES = {
    "waiting": "People waiting",
    "waits": "Longest wait (minutes)",
    "served": "Served today",
    "verification": "Verification outcomes today",
    "devices": "Device health",
}
LINE_LABELS = {
    "waiting": "waiting",
    "longest_wait_min": "longest wait, min",
    "served": "served",
    "match": "match",
    "no_match": "no match",
    "retry": "retry",
    "spoof": "spoof",
    "online": "devices online",
    "faults": "faults",
}


# Strings the server translates outside the templates (page titles and sign-in refusals), for the catalogue's test
SERVER_MESSAGES = (
    "%(n)s min",
    "%(n)s h",
    "%(n)s%%",
    "Fleet overview",
    "Station",
    "Alarms",
    "Comparison of stations",
    "any",
    "Time",
    "Wrong user name or password.",
    "This account is locked after repeated failed sign-ins: try again in %(m)s minutes.",
)


def chart_payload(series: Series, language: Language) -> dict[str, Any]:
    """What charts.js draws: the columns, titles and labels in the page's language, and a text summary per chart
    (the latest value of each line) for screen readers."""
    charts = []
    for name, lines in CHARTS.items():
        values = series.lines[name]
        summary = []
        for line in lines:
            latest = next((v for v in reversed(values[line]) if v is not None), None)
            summary.append(f"{title(LINE_LABELS[line], language)}: {'—' if latest is None else latest}")
        charts.append(
            {
                "name": name,
                "title": title(CHART_TITLES[name], language),
                "lines": [{"key": line, "label": title(LINE_LABELS[line], language)} for line in lines],
                "values": [values[line] for line in lines],
                "summary": "; ".join(summary),
                "empty": all(v is None for line in lines for v in values[line]),
            }
        )
    return {"span": series.span.value, "x": series.x, "time_label": title("Time", language), "charts": charts}


class ChartCache:
    """A station's chart data for `ttl_s`: a live page is pushed on every message of its station, and the week's
    series need not be read again each time (charts move by 5-minute buckets)."""

    def __init__(self, ttl_s: float = 15.0) -> None:
        self._cache: TTLCache[tuple[str, str, str], dict[str, Any]] = TTLCache(maxsize=1024, ttl=ttl_s)
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, str], make: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        with self._lock:
            found = self._cache.get(key)
        if found is None:
            found = make()
            with self._lock:
                self._cache[key] = found
        return found


def alarm_markers(alarms: list[Alarm], language: Language) -> list[dict[str, Any]]:
    """Where the charts mark the station's alarms: one marker when each was raised, acknowledged and cleared
    (epoch seconds, the kind, and a label in the page's language); charts.js draws those inside the plotted range."""
    out: list[dict[str, Any]] = []
    for a in alarms:
        name = title(RULE_NAMES[a.rule], language)
        label = f"{name}{' · ' + a.subject if a.subject else ''}"
        for kind, at in ((EventKind.RAISED, a.raised_at), (EventKind.ACKNOWLEDGED, a.acknowledged_at),
                         (EventKind.CLEARED, a.cleared_at)):  # fmt: skip
            if at is not None:
                out.append({"t": int(at.timestamp()), "kind": kind.value, "alarm": a.id, "severity": a.severity.value,
                            "label": f"{label}: {title(ALARM_EVENT_NAMES[kind], language)}"})  # fmt: skip
    return sorted(out, key=lambda m: (m["t"], m["alarm"]))


class RowCache:
    """The overview's rows as HTML, each rendered once per (row's figures, language, minute): a live overview of 500
    stations is pushed again whenever any station changes, and only the rows that changed (or, once a minute, all
    of them, for their "ago" figures) are rendered again."""

    def __init__(self, maxsize: int = 20_000) -> None:
        self._cache: LRUCache[tuple[Any, str, int], Markup] = LRUCache(maxsize=maxsize)
        self._lock = threading.Lock()

    def renderer(self, language: Language, fmt: Formats) -> Callable[[Any], Markup]:
        template = screens.environment(language).get_template("overview_row.html")
        minute = int(fmt.now.timestamp() // 60)

        def row_html(row: Any) -> Markup:
            key = (row, language.value, minute)
            with self._lock:
                found = self._cache.get(key)
            if found is None:
                found = Markup(template.render(r=row, fmt=fmt))
                with self._lock:
                    self._cache[key] = found
            return found

        return row_html
