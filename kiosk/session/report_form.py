"""The report form on a touch screen: what each field kind takes key by key, each answer checked, and the details
the edge is sent. Plain functions over the type's fields: the session calls them, the edge validates again."""

from __future__ import annotations

from datetime import datetime, tzinfo
from decimal import Decimal, InvalidOperation

from kiosk.session.messages import ReportField, ReportType
from kiosk.session.vocabulary import KeyboardLayout, Notice
from markaz.web.languages import Language

DIGITS = frozenset("0123456789")
TEXT_KINDS = frozenset({"text", "place"})
DATETIME_DIGITS = 12  # YYYYMMDDHHMM, keyed in as digits; the screen shows it as YYYY-MM-DD HH:MM
MAX_AMOUNT_CHARS = 15
MAX_ITEM_CHARS = 500
Answer = str | tuple[str, ...]


def layout_for(spec: ReportField, language: Language) -> KeyboardLayout:
    if spec.kind in ("datetime", "amount"):
        return KeyboardLayout.DIGITS
    return KeyboardLayout.ARABIC if language == Language.AR else KeyboardLayout.LATIN


def takes(spec: ReportField, entry: str, char: str) -> bool:
    """Whether one more key fits this field's entry."""
    if len(char) != 1 or not char.isprintable():
        return False
    if spec.kind == "datetime":
        return char in DIGITS and len(entry) < DATETIME_DIGITS
    if spec.kind == "amount":
        return (char in DIGITS or (char == "." and "." not in entry)) and len(entry) < MAX_AMOUNT_CHARS
    if spec.kind == "yesno":
        return False
    limit = MAX_ITEM_CHARS if spec.kind == "items" else min(spec.max_length, 2000)
    return len(entry) < limit and not (char == " " and (not entry or entry.endswith(" ")))


def check(spec: ReportField, answer: Answer | None) -> Notice | None:
    """None when the answer may go on (a required field answered, the value well formed), else why not."""
    if answer is None or answer == "" or answer == ():
        return Notice.FIELD_REQUIRED if spec.required else None
    if spec.kind == "datetime":
        if len(str(answer)) != DATETIME_DIGITS:
            return Notice.FIELD_INVALID
        try:
            datetime.strptime(str(answer), "%Y%m%d%H%M")
        except ValueError:
            return Notice.FIELD_INVALID
    elif spec.kind == "amount":
        try:
            amount = Decimal(str(answer))
        except InvalidOperation:
            return Notice.FIELD_INVALID
        if not amount.is_finite() or amount < 0:
            return Notice.FIELD_INVALID
    elif (spec.kind == "items" and len(answer) > spec.max_length) or (
        spec.kind == "yesno" and answer not in ("yes", "no")
    ):
        return Notice.FIELD_INVALID
    return None


def shown(spec: ReportField, answer: Answer | None) -> str:
    """The answer as the screen shows it (a date-time keyed as digits gets its separators)."""
    if answer is None:
        return ""
    if isinstance(answer, tuple):
        return " · ".join(answer)
    if spec.kind == "datetime":
        d = answer.ljust(DATETIME_DIGITS, "_")
        return f"{d[0:4]}-{d[4:6]}-{d[6:8]} {d[8:10]}:{d[10:12]}"
    return answer


def details(rtype: ReportType, answers: dict[str, Answer], zone: tzinfo) -> dict[str, object]:
    """The type's fields as the edge's API takes them; a date-time keyed in is the station's local time (`zone`)."""
    out: dict[str, object] = {}
    for spec in rtype.fields:
        answer = answers.get(spec.name)
        if answer is None or answer == "" or answer == ():
            continue
        if spec.kind == "datetime":
            out[spec.name] = datetime.strptime(str(answer), "%Y%m%d%H%M").replace(tzinfo=zone).isoformat()
        elif spec.kind == "yesno":
            out[spec.name] = answer == "yes"
        elif spec.kind == "items":
            out[spec.name] = list(answer)
        else:
            out[spec.name] = str(answer).strip()
    return out
