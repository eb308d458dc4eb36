"""The report form on a touch screen: what each field kind takes key by key, each answer checked, and the details
the edge is sent. Plain functions over the type's fields: the session calls them, the edge validates again."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation

from kiosk.session.messages import ReportField, ReportType
from kiosk.session.vocabulary import KeyboardLayout, Notice
from markaz.web.languages import Language

DIGITS = frozenset("0123456789")
TEXT_KINDS = frozenset({"text", "place"})
DATETIME_DIGITS = 12  # YYYYMMDDHHMM: how a date-time answer is held (set with steppers, never typed)
MOMENT = "%Y%m%d%H%M"
PARTS = ("day", "month", "year", "hour", "minute")  # the steppers, in the order the screen shows them
MINUTE_STEP = 5  # nobody remembers the minute of a theft; five-minute steps keep the taps few
YEARS_BACK = 20  # how far back the year stepper goes
MAX_AMOUNT_CHARS = 15
MAX_ITEM_CHARS = 500
Answer = str | tuple[str, ...]


def layout_for(spec: ReportField, language: Language) -> KeyboardLayout:
    if spec.kind in ("datetime", "amount"):  # a date-time has no keyboard; the layout is never shown
        return KeyboardLayout.DIGITS
    return KeyboardLayout.ARABIC if language == Language.AR else KeyboardLayout.LATIN


def takes(spec: ReportField, entry: str, char: str) -> bool:
    """Whether one more key fits this field's entry."""
    if len(char) != 1 or not char.isprintable():
        return False
    if spec.kind in ("datetime", "yesno"):  # set with steppers or buttons, never typed
        return False
    if spec.kind == "amount":
        return (char in DIGITS or (char == "." and "." not in entry)) and len(entry) < MAX_AMOUNT_CHARS
    limit = MAX_ITEM_CHARS if spec.kind == "items" else min(spec.max_length, 2000)
    return len(entry) < limit and not (char == " " and (not entry or entry.endswith(" ")))


def check(spec: ReportField, answer: Answer | None, now: datetime | None = None) -> Notice | None:
    """None when the answer may go on (a required field answered, the value well formed, a date-time not after
    `now`, the station's local time, when given), else why not."""
    if answer is None or answer == "" or answer == ():
        return Notice.FIELD_REQUIRED if spec.required else None
    if spec.kind == "datetime":
        moment = parse_moment(str(answer))
        if moment is None:
            return Notice.FIELD_INVALID
        if now is not None and moment > now:
            return Notice.FIELD_FUTURE
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
        moment = parse_moment(answer)
        return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M")
    return answer


# ---- a date and time set by touch: quick choices and steppers, never a future or impossible moment ----------------
def parse_moment(text: str) -> datetime | None:
    """A held date-time answer (YYYYMMDDHHMM, station local, naive), or None when it is not a real moment."""
    if len(text) != DATETIME_DIGITS or not set(text) <= DIGITS:
        return None
    try:
        return datetime.strptime(text, MOMENT)
    except ValueError:
        return None


def _floor(now: datetime) -> datetime:
    return now.replace(minute=now.minute - now.minute % MINUTE_STEP, second=0, microsecond=0, tzinfo=None)


def quick(entry: str, choice: str, now: datetime) -> str | None:
    """ "today" or "yesterday": that day, at the time already set (or about now); never later than now."""
    days = {"today": 0, "yesterday": 1}.get(choice)
    if days is None:
        return None
    base = parse_moment(entry) or _floor(now)
    day = now.date() - timedelta(days=days)
    moment = datetime.combine(day, base.time())
    return (_floor(now) if moment > now else moment).strftime(MOMENT)


def _shift_month(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])  # 31 March - 1 month = 29 or 28 February
    return moment.replace(year=year, month=month + 1, day=day)


def step(entry: str, part: str, delta: int, now: datetime) -> str | None:
    """The entry moved one step of `part` (day, month, year: the calendar's own; hour, minute: round the clock
    within the day), or None when that would be after now, too far back, or not a step at all."""
    if part not in PARTS or delta not in (-1, 1):
        return None
    base = parse_moment(entry) or _floor(now)
    if part == "day":
        moment = base + timedelta(days=delta)
    elif part == "month":
        moment = _shift_month(base, delta)
    elif part == "year":
        moment = _shift_month(base, 12 * delta)
    elif part == "hour":
        moment = base.replace(hour=(base.hour + delta) % 24)
    else:
        moment = base.replace(minute=(base.minute - base.minute % MINUTE_STEP + delta * MINUTE_STEP) % 60)
    if moment > now or moment.year < now.year - YEARS_BACK:
        return None
    return moment.strftime(MOMENT)


@dataclass(frozen=True)
class DateEntry:
    """What the date-time screen shows: the moment set so far (or none), which steppers may move, and which
    quick choice it matches."""

    moment: datetime | None
    can: dict[str, tuple[bool, bool]]  # part -> (one step back allowed, one step on allowed)
    today: bool
    yesterday: bool

    @property
    def weekday(self) -> int:  # Monday 0, as Python counts
        return -1 if self.moment is None else self.moment.weekday()


def date_entry(entry: str, now: datetime) -> DateEntry:
    moment = parse_moment(entry)
    can = {part: (step(entry, part, -1, now) is not None, step(entry, part, 1, now) is not None) for part in PARTS}
    day: date | None = None if moment is None else moment.date()
    return DateEntry(moment, can, day == now.date(), day == now.date() - timedelta(days=1))


def details(rtype: ReportType, answers: dict[str, Answer], zone: tzinfo) -> dict[str, object]:
    """The type's fields as the edge's API takes them; a date-time keyed in is the station's local time (`zone`)."""
    out: dict[str, object] = {}
    for spec in rtype.fields:
        answer = answers.get(spec.name)
        if answer is None or answer == "" or answer == ():
            continue
        if spec.kind == "datetime":
            out[spec.name] = datetime.strptime(str(answer), MOMENT).replace(tzinfo=zone).isoformat()
        elif spec.kind == "yesno":
            out[spec.name] = answer == "yes"
        elif spec.kind == "items":
            out[spec.name] = list(answer)
        else:
            out[spec.name] = str(answer).strip()
    return out
