"""How long each screen waits, and the warning that offers more time before a session ends (WCAG 2.2.1)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from kiosk.session.vocabulary import Screen

# WCAG 2.2.1 (Timing Adjustable): the user is warned and given at least 20 seconds to extend with a simple action.
MIN_WARNING_S = 20.0

DEFAULT_SECONDS: Mapping[Screen, float] = MappingProxyType(
    {
        Screen.CHOOSE: 60,
        Screen.INSERT_CARD: 60,
        Screen.MRZ_ENTRY: 120,
        Screen.READING_CHIP: 30,
        Screen.FACE_CAPTURE: 30,
        Screen.FACE_RETRY: 60,
        Screen.CONFIRM_IDENTITY: 60,
        Screen.CHOOSE_SERVICE: 60,
        Screen.ISSUING: 20,
        Screen.TICKET: 30,
        Screen.REPORT_TYPE: 60,
        Screen.REPORT_FIELD: 180,  # typing a description on a touch screen takes a while
        Screen.REPORT_REVIEW: 120,
        Screen.FILING: 30,
        Screen.REPORT_FILED: 60,  # time to take the receipt (or note the reference and PIN)
        Screen.FOLLOW_ENTRY: 120,
        Screen.FOLLOWING: 30,
        Screen.FOLLOW_RESULT: 60,
        Screen.PROBLEM: 30,
    }
)


class TimeoutError_(ValueError):
    """A time-out setting a kiosk cannot honour (negative, or a warning shorter than WCAG allows)."""


@dataclass(frozen=True)
class Timeouts:
    """Seconds of inactivity per screen before the warning (or, on a busy screen, before giving up), and the warning."""

    seconds: Mapping[Screen, float] = field(default_factory=lambda: DEFAULT_SECONDS)
    warning_s: float = 30.0

    def __post_init__(self) -> None:
        if self.warning_s < MIN_WARNING_S:
            raise TimeoutError_(f"warning must give at least {MIN_WARNING_S:g} s to extend (WCAG 2.2.1)")
        merged = dict(DEFAULT_SECONDS)
        for screen, seconds in self.seconds.items():
            if seconds <= 0:
                raise TimeoutError_(f"time-out for {screen} must be positive, got {seconds}")
            merged[Screen(screen)] = float(seconds)
        object.__setattr__(self, "seconds", MappingProxyType(merged))

    def for_screen(self, screen: Screen) -> float | None:
        """None for the screens that wait for ever (attract, closed)."""
        return self.seconds.get(screen)
