"""The hall's pages rendered with the shared web layer (markaz.web): templates and Arabic catalogue beside them.

Only presentation lives here: what to show comes from `HallService` views; the routers decide who may see it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from markaz.clock import parse_iso
from markaz.web.languages import Language
from markaz.web.templates import Screens

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
CATALOGUES = HERE / "locales"
STATIC = HERE / "static"

screens = Screens(template_dirs=[TEMPLATES], catalogue_dirs=[CATALOGUES])


class Formats:
    """Times and durations as the station reads them: local clock time, whole minutes."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz

    def hhmm(self, stamp: str | datetime | None) -> str:
        if stamp is None:
            return ""
        ts = parse_iso(stamp) if isinstance(stamp, str) else stamp
        return ts.astimezone(self.tz).strftime("%H:%M")

    @staticmethod
    def minutes(seconds: float | None) -> int | None:
        return None if seconds is None else int((seconds + 59) // 60)


def render(template: str, language: Language, tz: ZoneInfo, **context: Any) -> str:
    return screens.render(template, language, fmt=Formats(tz), **context)


def title(text: str, language: Language) -> str:
    return screens.gettext(text, language)


def chart(points: list[Any], tz: ZoneInfo, width: int = 1000, height: int = 260) -> dict[str, Any] | None:
    """The day chart as SVG geometry: a bar per point for people waiting, a line for the mean wait of its calls."""
    if not points:
        return None
    top, bottom = 24, height - 24
    span = bottom - top
    max_waiting = max(1, *(p.waiting for p in points))
    waits = [p.mean_wait_s for p in points if p.mean_wait_s is not None]
    max_wait_min = max(1, int((max(waits) + 59) // 60)) if waits else 1
    step = width / len(points)
    bars, line, ticks = [], [], []
    fmt = Formats(tz)
    for i, p in enumerate(points):
        h = span * p.waiting / max_waiting
        x = i * step
        bars.append({"x": round(x + 1, 1), "y": round(bottom - h, 1), "w": round(max(step - 2, 1), 1), "h": round(h, 1),
                     "label": f"{fmt.hhmm(p.at)}: {p.waiting}"})  # fmt: skip
        if p.mean_wait_s is not None:
            y = bottom - span * min(p.mean_wait_s / 60 / max_wait_min, 1.0)
            line.append(f"{round(x + step / 2, 1)},{round(y, 1)}")
    every = max(1, len(points) // 8)
    for i in range(0, len(points), every):
        ticks.append({"x": round(i * step + 2, 1), "label": fmt.hhmm(points[i].at)})
    return {"width": width, "height": height, "bars": bars, "line": " ".join(line), "ticks": ticks,
            "max_waiting": max_waiting, "max_wait_min": max_wait_min}  # fmt: skip
