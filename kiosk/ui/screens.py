"""Renders the session's view as HTML in the session's language: the whole page once, then pushed fragments."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from markupsafe import Markup

from kiosk.hardware.receipt import ReceiptRenderer
from kiosk.session import report_form
from kiosk.session.machine import SessionView
from kiosk.session.report_form import shown
from kiosk.session.vocabulary import PrintState
from markaz.web.languages import Language
from markaz.web.live import ScreenUpdate
from markaz.web.templates import Screens

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
CATALOGUES = HERE / "locales"
STATIC = HERE / "static"


def local_time(stamp: str) -> str:
    """An ISO time from the edge as this kiosk's local date and minute."""
    try:
        return dt.datetime.fromisoformat(stamp).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return stamp


class KioskScreens:
    def __init__(self, station_ar: str, station_en: str, document_camera: bool = False) -> None:
        self.station = {Language.AR: station_ar, Language.EN: station_en}
        self.document_camera = document_camera  # the details screen then says the document can be held under it
        self.screens = Screens(template_dirs=[TEMPLATES], catalogue_dirs=[CATALOGUES])

    def _context(self, view: SessionView) -> dict[str, object]:
        ticket, filed = view.visit.ticket, view.visit.filed
        qr = ""
        if view.visit.print_state == PrintState.FAILED:  # the receipt's QR on screen instead
            if ticket is not None:
                qr = ReceiptRenderer.qr_svg(ticket.reference)
            elif filed is not None:
                qr = ReceiptRenderer.qr_svg(filed.reference)
        return {
            "view": view,
            "station_name": self.station[view.language],
            "qr_svg": Markup(qr),
            "shown": shown,
            "when": local_time,
            "date_entry": report_form.date_entry,
            "document_camera": self.document_camera,
        }

    def fragment(self, view: SessionView) -> str:
        return self.screens.render("fragment.html", view.language, **self._context(view))

    def page(self, view: SessionView) -> str:
        return self.screens.render("page.html", view.language, **self._context(view))

    def update(self, view: SessionView) -> ScreenUpdate:
        title = self.screens.gettext("Self-service kiosk", view.language)
        return ScreenUpdate.of(self.fragment(view), view.language, title)
