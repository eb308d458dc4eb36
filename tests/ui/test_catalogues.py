"""Message catalogues, templates and the live protocol, without a browser."""

from __future__ import annotations

from pathlib import Path

import pytest

from markaz.web.catalogues import CatalogueError, load_translations, missing_messages
from markaz.web.extract import template_messages
from markaz.web.languages import Language
from markaz.web.live import BadMessage, Hello, Tap, parse_page_message
from markaz.web.templates import BASE_TEMPLATES, Screens

SAMPLE = Path(__file__).parent / "sample"


def test_every_string_of_the_shared_and_sample_templates_has_an_arabic_translation() -> None:
    ids = template_messages(BASE_TEMPLATES) | template_messages(SAMPLE / "templates")
    assert "Problem:" in ids and "Sample screen" in ids
    assert missing_messages(Language.AR, [SAMPLE / "locales"], ids) == []


def test_a_message_without_translation_is_reported_missing() -> None:
    assert missing_messages(Language.AR, [], ["Sample screen"]) == ["Sample screen"]


def test_a_later_catalogue_overrides_an_earlier_one(tmp_path: Path) -> None:
    folder = tmp_path / "ar" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "markaz.po").write_text('msgid ""\nmsgstr ""\n"Language: ar\\n"\n\nmsgid "Note:"\nmsgstr "تنويه:"\n')
    assert load_translations(Language.AR).gettext("Note:") == "ملاحظة:"
    assert load_translations(Language.AR, [tmp_path]).gettext("Note:") == "تنويه:"


def test_a_broken_catalogue_is_named_in_the_error(tmp_path: Path) -> None:
    folder = tmp_path / "ar" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "markaz.po").write_text('this is not a catalogue\nmsgid "a"\nmsgstr "b"\n')
    with pytest.raises(CatalogueError, match=r"markaz\.po"):
        load_translations(Language.AR, [tmp_path])


def test_base_page_is_arabic_right_to_left_and_english_left_to_right() -> None:
    screens = Screens(template_dirs=[SAMPLE / "templates"], catalogue_dirs=[SAMPLE / "locales"])
    ar = screens.render("page.html", Language.AR, count=7, live_path="/live")
    en = screens.render("page.html", Language.EN, count=7, live_path="/live")
    assert '<html lang="ar" dir="rtl">' in ar and '<html lang="en" dir="ltr">' in en
    assert "<bdi>7</bdi>" in ar
    assert "شاشة تجريبية" in ar and "Sample screen" in en
    assert "http" not in ar.replace('href="?lang', "")  # no asset from another host


def test_templates_escape_visitor_text() -> None:
    screens = Screens(template_dirs=[SAMPLE / "templates"], catalogue_dirs=[SAMPLE / "locales"])
    html = screens.render("screen.html", Language.EN, count="<script>x</script>")
    assert "<script>x" not in html and "&lt;script&gt;" in html


def test_language_parse_falls_back_to_arabic() -> None:
    assert Language.parse(None) is Language.AR
    assert Language.parse("fr") is Language.AR
    assert Language.parse("en") is Language.EN
    assert Language.parse("xx", Language.EN) is Language.EN


def test_page_messages_are_validated() -> None:
    assert parse_page_message('{"type": "tap", "action": "add", "value": "1"}') == Tap(action="add", value="1")
    assert parse_page_message('{"type": "hello"}') == Hello()
    for bad in (
        '{"type": "tap", "action": "Drop Table"}',
        "not json",
        '{"type": "other"}',
        "x" * 2000,
        '{"type": "tap", "action": "add", "extra": 1}',
    ):
        with pytest.raises(BadMessage):
            parse_page_message(bad)
