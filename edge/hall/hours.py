"""Opening hours: is the hall open at a given instant, in the station's own calendar."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from edge.hall.settings import WEEKDAYS, HallSettings


def is_open(settings: HallSettings, now: datetime, tz: ZoneInfo) -> bool:
    local = now.astimezone(tz)
    if WEEKDAYS[local.weekday()] not in settings.open_days:
        return False
    t = local.time()
    return t >= settings.opens_at and (settings.closes_at is None or t < settings.closes_at)
