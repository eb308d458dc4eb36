"""A visitor locked out of following a report is told the wait in minutes, rounded up, in correct Arabic and
English (Arabic counts have six plural forms), never as a number of seconds."""

from __future__ import annotations

import re

import pytest

from kiosk.session.machine import Visit
from kiosk.session.messages import TrackFailed, TrackReport
from kiosk.session.vocabulary import Action, Screen, TrackFailure
from kiosk.ui.screens import KioskScreens
from markaz.web.languages import Language
from tests.kiosk.test_session import Kiosk, keys


@pytest.mark.parametrize(
    ("seconds", "minutes"), [(0, 0), (1, 1), (59, 1), (60, 1), (61, 2), (119, 2), (120, 2), (121, 3), (1800, 30)]
)
def test_the_wait_is_whole_minutes_rounded_up(seconds: int, minutes: int) -> None:
    assert Visit(retry_after_s=seconds).retry_after_min == minutes


def _locked(retry_after_s: int, language: Language) -> str:
    k = Kiosk()
    k.tap(Action.START)
    k.tap(Action.LANGUAGE, language.value)
    k.tap(Action.CHOOSE, "follow_report")
    keys(k, "OLY-2026-000001-86")
    k.tap(Action.FIELD, "pin")
    keys(k, "123456")
    (track,) = k.tap(Action.SUBMIT)
    assert isinstance(track, TrackReport)
    k(TrackFailed(track.job, TrackFailure.LOCKED, retry_after_s=retry_after_s))
    assert k.screen == Screen.FOLLOW_ENTRY
    html = KioskScreens("مركز العليا", "Olaya station").fragment(k.session.view(k.now))
    (notice,) = re.findall(r'<div class="notice error"[^>]*>(.*?)</div>', html, re.S)
    return re.sub(r"<[^>]+>", "", re.sub(r"\s+", " ", notice)).strip()


@pytest.mark.parametrize(
    ("seconds", "arabic", "english"),
    [
        (45, "بعد دقيقة واحدة،", "try again in 1 minute,"),
        (90, "بعد دقيقتين،", "try again in 2 minutes,"),
        (300, "بعد 5 دقائق،", "try again in 5 minutes,"),
        (600, "بعد 10 دقائق،", "try again in 10 minutes,"),
        (1800, "بعد 30 دقيقة،", "try again in 30 minutes,"),
        (1741, "بعد 30 دقيقة،", "try again in 30 minutes,"),
    ],
)
def test_the_locked_notice_says_minutes_in_each_language(seconds: int, arabic: str, english: str) -> None:
    ar, en = _locked(seconds, Language.AR), _locked(seconds, Language.EN)
    assert arabic in ar, ar
    assert english in en, en
    for text in (ar, en):
        assert "ثانية" not in text and "second" not in text and str(seconds) not in text
