"""The kiosk's screens say everything in Arabic: every template string has its translation."""

from __future__ import annotations

from kiosk.ui.screens import CATALOGUES, TEMPLATES
from markaz.web.catalogues import missing_messages
from markaz.web.extract import template_messages
from markaz.web.languages import Language


def test_every_string_of_the_kiosk_screens_has_an_arabic_translation() -> None:
    ids = template_messages(TEMPLATES)
    assert "Submit the report" in ids and "Show my report" in ids
    assert missing_messages(Language.AR, [CATALOGUES], ids) == []
