"""Settings of the hall screens (`[edge.hall]`): opening hours, announcements, speech."""

from __future__ import annotations

from datetime import time
from enum import StrEnum

from pydantic import BaseModel, Field, model_validator


class Weekday(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


WEEKDAYS = list(Weekday)  # index = date.weekday()


class HallSettings(BaseModel):
    open_days: list[Weekday] = Field(
        default_factory=lambda: list(Weekday), description="days the hall opens (station's local calendar)"
    )
    opens_at: time = Field(default=time(0, 0), description="local time the hall opens")
    closes_at: time | None = Field(default=None, description="local time the hall closes; none: at midnight")
    speech: bool = Field(default=True, description="speak calls after the chime; the chime sounds either way")
    languages: list[str] = Field(default_factory=lambda: ["ar", "en"], description="spoken, in this order")
    speech_rate_wpm: int = Field(default=150, ge=80, le=400, description="espeak-ng speed")
    espeak: str = Field("espeak-ng", description="the espeak-ng program")
    recent_calls: int = Field(default=6, ge=1, le=20, description="previous calls listed on the display")
    display_heartbeat_s: float = Field(default=15.0, gt=0, description="how often a display reports it is alive")
    history_step_min: int = Field(default=15, ge=1, le=120, description="sampling step of the supervisor's day chart")

    @model_validator(mode="after")
    def _hours(self) -> HallSettings:
        if self.closes_at is not None and self.closes_at <= self.opens_at:
            raise ValueError("closes_at must be later than opens_at")
        unknown = set(self.languages) - {"ar", "en"}
        if unknown:
            raise ValueError(f"no phrasing for languages {sorted(unknown)}; known: ar, en")
        return self
