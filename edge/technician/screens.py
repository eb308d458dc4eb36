"""The technician's pages rendered with the shared web layer (markaz.web): templates and Arabic catalogue beside them.

Only presentation lives here: what to show comes from the enrolment and profile services; the router decides who may
see it and what a form does."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import segno

from markaz.clock import parse_iso
from markaz.web.languages import Language
from markaz.web.templates import Screens

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
CATALOGUES = HERE / "locales"
STATIC = HERE / "static"

screens = Screens(template_dirs=[TEMPLATES], catalogue_dirs=[CATALOGUES])


class Formats:
    """Stamps as the station reads them: its own clock, date and minutes."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz

    def stamp(self, value: str | None) -> str:
        return "" if not value else parse_iso(value).astimezone(self.tz).strftime("%Y-%m-%d %H:%M")

    def day(self, value: str | None) -> str:
        return "" if not value else parse_iso(value).astimezone(self.tz).strftime("%Y-%m-%d")


def render(template: str, language: Language, tz: ZoneInfo, **context: Any) -> str:
    return screens.render(template, language, fmt=Formats(tz), **context)


def title(text: str, language: Language) -> str:
    return screens.gettext(text, language)


def claim_qr(code: str, label: str) -> str:
    """The claim code as an inline SVG QR (segno) for the technician's phone; `label` is its accessible name."""
    svg = str(segno.make(code, error="m").svg_inline(scale=8, border=4, dark="#000", light="#fff", svgclass="qr"))
    return svg.replace("<svg ", f'<svg role="img" aria-label="{escape(label)}" ', 1)
