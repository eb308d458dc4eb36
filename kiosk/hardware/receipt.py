"""The ticket receipt as an image: Arabic shaped and joined by Pillow's Raqm layout, the number large, a QR (segno).

Rendering to an image is what lets every ESC/POS printer print Arabic: the printer only places dots.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass

import segno
from PIL import Image, ImageDraw, ImageFont, features

from markaz.web.assets import ARABIC_FONT, ARABIC_FONT_BOLD, LATIN_FONT, LATIN_FONT_BOLD, font_path

WIDTH_PX = 512  # 80 mm paper at 180 dpi (Epson TM-T88 class); 384 for 58 mm printers
MARGIN = 16


def _LTR(text: str) -> str:
    """Isolate a Latin run (a date, a time) inside Arabic so the bidi algorithm keeps its order."""
    return f"\u2066{text}\u2069"


class ReceiptError(RuntimeError):
    """The receipt cannot be rendered on this machine (no Arabic shaping, no font)."""


@dataclass(frozen=True)
class ReceiptContent:
    """What a receipt shows. No personal data: the number, the service, the time, the wait and a reference."""

    station_ar: str
    station_en: str
    service_ar: str
    service_en: str
    number: str
    issued_at: dt.datetime
    estimated_wait_min: int | None
    reference: str
    note_ar: str = ""
    note_en: str = ""


@dataclass(frozen=True)
class ReportReceiptContent:
    """A report's receipt: the reference (also as QR) and the tracking PIN, printed this once. No other personal data."""

    station_ar: str
    station_en: str
    type_ar: str
    type_en: str
    reference: str
    pin: str
    filed_at: dt.datetime
    next_step_ar: str = ""
    next_step_en: str = ""

    def __repr__(self) -> str:
        return f"ReportReceiptContent({self.reference})"


Line = tuple[str, ImageFont.FreeTypeFont, str | None, int]  # text, font, direction, gap after


def _font(name: str, size: int) -> ImageFont.FreeTypeFont:
    if not features.check("raqm"):
        raise ReceiptError("Pillow was built without Raqm: Arabic would print unjoined (install libraqm0/libfribidi0)")
    return ImageFont.truetype(str(font_path(name)), size, layout_engine=ImageFont.Layout.RAQM)


class ReceiptRenderer:
    """Draws receipts `width` pixels wide, in black and white."""

    def __init__(self, width: int = WIDTH_PX) -> None:
        self.width = width
        self._ar = _font(ARABIC_FONT, 30)
        self._ar_bold = _font(ARABIC_FONT_BOLD, 34)
        self._en = _font(LATIN_FONT, 26)
        self._en_bold = _font(LATIN_FONT_BOLD, 28)
        self._number = _font(LATIN_FONT_BOLD, 150)
        self._reference = _font(LATIN_FONT_BOLD, 36)
        self._pin = _font(LATIN_FONT_BOLD, 64)

    def render_report(self, content: ReportReceiptContent) -> Image.Image:
        """The report's receipt: station, type, reference, PIN (large, to be kept), date, the next step, the QR."""
        lines: list[Line] = []

        def add(text: str, font: ImageFont.FreeTypeFont, rtl: bool = False, gap: int = 6) -> None:
            if text:
                lines.append((text, font, "rtl" if rtl else None, gap))

        add(content.station_ar, self._ar_bold, rtl=True)
        add(content.station_en, self._en_bold, gap=18)
        add(f"بلاغ: {content.type_ar}", self._ar, rtl=True)
        add(f"Report: {content.type_en}", self._en, gap=14)
        add("الرقم المرجعي", self._ar, rtl=True)
        add("Reference", self._en, gap=2)
        add(content.reference, self._reference, gap=16)
        add("الرقم السري للمتابعة", self._ar, rtl=True)
        add("Tracking PIN", self._en, gap=2)
        add(f"PIN {' '.join(content.pin)}", self._pin, gap=8)
        add("احتفظ به ولا تشاركه؛ لن يظهر مرة أخرى", self._ar, rtl=True)
        add("Keep it private: it is printed only once", self._en, gap=14)
        stamp = content.filed_at.strftime("%Y-%m-%d %H:%M")
        add(f"الوقت {_LTR(stamp)}", self._ar, rtl=True)
        add(f"Filed {stamp}", self._en, gap=10)
        add(content.next_step_ar, self._ar, rtl=True)
        add(content.next_step_en, self._en, gap=10)
        add("تابع بلاغك في الكشك بالرقم المرجعي والرقم السري", self._ar, rtl=True)
        add("Follow it at a kiosk with the reference and PIN", self._en, gap=10)
        return self._compose(lines, content.reference)

    def render(self, content: ReceiptContent) -> Image.Image:
        lines: list[Line] = []

        def add(text: str, font: ImageFont.FreeTypeFont, rtl: bool = False, gap: int = 6) -> None:
            if text:
                lines.append((text, font, "rtl" if rtl else None, gap))

        add(content.station_ar, self._ar_bold, rtl=True)
        add(content.station_en, self._en_bold, gap=18)
        add(content.service_ar, self._ar, rtl=True)
        add(content.service_en, self._en, gap=4)
        add(content.number, self._number, gap=10)
        stamp = content.issued_at.strftime("%Y-%m-%d %H:%M")
        add(f"الوقت {_LTR(stamp)}", self._ar, rtl=True)
        add(f"Time {stamp}", self._en, gap=10)
        if content.estimated_wait_min is not None:
            add(f"الانتظار المتوقع نحو {content.estimated_wait_min} دقيقة", self._ar, rtl=True)
            add(f"Estimated wait about {content.estimated_wait_min} min", self._en, gap=10)
        add(content.note_ar, self._ar, rtl=True)
        add(content.note_en, self._en, gap=10)
        return self._compose(lines, content.reference)

    def _compose(self, lines: list[Line], reference: str) -> Image.Image:
        """The lines centred one under the other, then the reference's QR and the reference in words."""
        lines = [self._fit(line) for line in lines]
        qr = self.qr(reference, scale=6)
        measure = ImageDraw.Draw(Image.new("L", (1, 1)))
        boxes = [
            tuple(
                round(v) for v in measure.textbbox((0, 0), text, font=font, direction=d, language="ar" if d else "en")
            )
            for text, font, d, _ in lines
        ]
        height = MARGIN + sum(b[3] - b[1] + gap for b, (_, _, _, gap) in zip(boxes, lines, strict=True))
        height += qr.height + 44 + MARGIN
        image = Image.new("L", (self.width, height), 255)
        draw = ImageDraw.Draw(image)
        y: int = MARGIN
        for box, (text, font, direction, gap) in zip(boxes, lines, strict=True):
            w = box[2] - box[0]
            x = max(MARGIN, (self.width - w) // 2) - box[0]
            draw.text(
                (x, y - box[1]), text, fill=0, font=font, direction=direction, language="ar" if direction else "en"
            )
            y += box[3] - box[1] + gap
        image.paste(qr, ((self.width - qr.width) // 2, y + 4))
        y += qr.height + 6
        ref_width = int(draw.textlength(reference, font=self._en))
        draw.text(((self.width - ref_width) // 2, y), reference, fill=0, font=self._en)
        return image.point(lambda v: 0 if v < 128 else 255, mode="1")

    def _fit(self, line: Line) -> Line:
        """A line wider than the paper gets a smaller font of the same face (long next-step sentences)."""
        text, font, direction, gap = line
        size = int(font.size)
        measure = ImageDraw.Draw(Image.new("L", (1, 1)))
        while size > 14:
            box = measure.textbbox((0, 0), text, font=font, direction=direction, language="ar" if direction else "en")
            if box[2] - box[0] <= self.width - 2 * MARGIN:
                break
            size -= 2
            font = font.font_variant(size=size)
        return text, font, direction, gap

    @staticmethod
    def qr(reference: str, scale: int = 6) -> Image.Image:
        """The reference as a QR code (error correction M, quiet zone of 4 modules), black on white."""
        buffer = io.BytesIO()
        segno.make(reference, error="m", micro=False).save(buffer, kind="png", scale=scale, border=4)
        buffer.seek(0)
        return Image.open(buffer).convert("L")

    @staticmethod
    def qr_svg(reference: str) -> str:
        """The same QR as inline SVG, for the screen when the printer cannot print."""
        buffer = io.BytesIO()
        segno.make(reference, error="m", micro=False).save(
            buffer, kind="svg", scale=8, border=4, xmldecl=False, svgns=True, title=reference
        )
        return buffer.getvalue().decode()
