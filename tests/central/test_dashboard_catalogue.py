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
