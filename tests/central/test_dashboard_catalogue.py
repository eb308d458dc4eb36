"""Every string of central's dashboard has its Arabic translation: the templates' and those the server translates."""

from __future__ import annotations

from central.web import alarm_pages, comparison_pages, pages, views
from markaz.web.catalogues import missing_messages
from markaz.web.extract import template_messages
from markaz.web.languages import Language


def test_every_dashboard_string_has_an_arabic_translation():
    ids = template_messages(views.TEMPLATES)
    assert "Fleet overview" in ids and "Central staff sign-in" in ids
    ids |= set(views.SERVER_MESSAGES) | set(views.CHART_TITLES.values()) | set(views.LINE_LABELS.values())
    ids |= {text for names in views.NAMES.values() for text in names.values()}
    ids |= {
        text
        for _kind, text in (*pages.NOTICES.values(), *pages.STAFF_NOTICES.values(), *alarm_pages.ALARM_NOTICES.values())
    }
    ids |= set(comparison_pages.MESSAGES)
    assert missing_messages(Language.AR, [views.CATALOGUES], ids) == []


def test_a_missing_translation_would_be_found():
    assert missing_messages(Language.AR, [views.CATALOGUES], ["A sentence nobody translated"]) == [
        "A sentence nobody translated"
    ]


def test_every_vocabulary_value_has_a_name_keyed_by_its_enum():
    """The pages' name tables are keyed by the vocabularies' StrEnums, one name per member, no stray keys."""
    from central.alarms import EventKind, Rule, Severity, StateFilter
    from central.comparison import MEASURES, Period
    from central.fleet import ProblemFilter
    from central.fleet import StateFilter as FleetState
    from central.roles import CentralRole
    from central.series import Span

    tables = [(views.ROLE_NAMES, CentralRole), (views.STATE_NAMES, FleetState), (views.PROBLEM_NAMES, ProblemFilter),
              (views.SPAN_NAMES, Span), (views.RULE_NAMES, Rule), (views.SEVERITY_NAMES, Severity),
              (views.ALARM_STATE_NAMES, StateFilter), (views.ALARM_EVENT_NAMES, EventKind),
              (views.PERIOD_NAMES, Period)]  # fmt: skip
    for names, enum in tables:
        assert list(names) == list(enum) and all(type(key) is enum for key in names), enum
    assert list(views.MEASURE_NAMES) == [m.name for m in MEASURES]
    assert views.RULE_NAMES["station_offline"] == views.RULE_NAMES[Rule.STATION_OFFLINE]  # templates look up values
