"""Time in one place: everything is stored in UTC; the station's zone only decides business days and display."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(ts: datetime) -> str:
    """UTC ISO 8601 with milliseconds and a Z-free offset, sortable as text."""
    return ts.astimezone(UTC).isoformat(timespec="milliseconds")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


def business_day(ts: datetime, tz: ZoneInfo, rollover_hour: int) -> date:
    """The station's business day of `ts`: the local date, moved back one day before the roll-over hour."""
    local = ts.astimezone(tz)
    return (local - timedelta(hours=rollover_hour)).date()


def business_day_start(day: date, tz: ZoneInfo, rollover_hour: int) -> datetime:
    """The UTC instant a business day begins."""
    local = datetime(day.year, day.month, day.day, rollover_hour, tzinfo=tz)
    return local.astimezone(UTC)


def business_day_bounds(ts: datetime, tz: ZoneInfo, rollover_hour: int) -> tuple[str, datetime]:
    """The business day of `ts` (ISO date) and the UTC instant it began."""
    day = business_day(ts, tz, rollover_hour)
    return day.isoformat(), business_day_start(day, tz, rollover_hour)
