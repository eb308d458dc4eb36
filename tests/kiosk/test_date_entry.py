"""A report's date and time is set by touch on the kiosk (quick choices and steppers), never typed as digits: each
step is a real calendar step, nothing can be set after now, and an impossible or future answer is refused."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.session import report_form
from kiosk.session.messages import ReportField
from kiosk.session.vocabulary import Notice

NOW = datetime(2026, 3, 1, 0, 12)  # just after midnight on the first of a month after a short February
WHEN = ReportField("occurred_at", "datetime", "وقت الحادثة", "When it happened", required=True)
MAYBE = ReportField("noticed_at", "datetime", "وقت الملاحظة", "When you noticed", required=False)


@pytest.mark.parametrize(
    ("entry", "part", "delta", "after"),
    [
        ("202603010010", "day", -1, "202602280010"),  # back over the month's end: 28 February
        ("202603010010", "month", -1, "202602010010"),
        ("202601310900", "month", 1, "202602280900"),  # 31 January + 1 month = 28 February (2026 is not leap)
        ("202402291200", "year", 1, "202502281200"),  # 29 February + 1 year
        ("202602282355", "minute", 1, "202602282300"),  # the clock turns round within the day
        ("202602280000", "hour", -1, "202602282300"),
        ("202602280007", "minute", 1, "202602280010"),  # steps land on five minutes
        ("", "day", -1, "202602280010"),  # nothing set yet: from about now
    ],
)
def test_each_step_is_a_real_calendar_step(entry: str, part: str, delta: int, after: str) -> None:
    assert report_form.step(entry, part, delta, NOW) == after


@pytest.mark.parametrize(
    ("entry", "part", "delta"),
    [
        ("202603010010", "minute", 1),  # 00:15 is after 00:12
        ("202603010010", "hour", 1),
        ("202602280010", "month", 1),
        ("202602280010", "year", 1),
        ("200603010010", "year", -1),  # more than 20 years back
        ("202603010010", "second", 1),
        ("202603010010", "day", 2),
    ],
)
def test_a_step_after_now_or_too_far_back_is_refused(entry: str, part: str, delta: int) -> None:
    assert report_form.step(entry, part, delta, NOW) is None


def test_quick_choices_keep_the_time_but_never_pass_now() -> None:
    assert report_form.quick("", "today", NOW) == "202603010010"
    assert report_form.quick("202601152130", "yesterday", NOW) == "202602282130"
    assert report_form.quick("202601152130", "today", NOW) == "202603010010"  # 21:30 today has not come yet
    assert report_form.quick("202601152130", "tomorrow", NOW) is None
    shown = report_form.date_entry("202602282130", NOW)
    assert shown.yesterday and not shown.today and shown.weekday == 5  # a Saturday
    assert shown.can["day"] == (True, False) and shown.can["hour"] == (True, True)  # 1 March 21:30 is to come
    assert report_form.date_entry("", NOW).moment is None


@pytest.mark.parametrize(
    ("answer", "notice"),
    [
        ("202602301200", Notice.FIELD_INVALID),  # 30 February
        ("202613011200", Notice.FIELD_INVALID),
        ("2026022812", Notice.FIELD_INVALID),
        ("20260228120x", Notice.FIELD_INVALID),
        ("202603010013", Notice.FIELD_FUTURE),  # one minute after now
        ("202603010012", None),
        ("", Notice.FIELD_REQUIRED),
    ],
)
def test_an_impossible_or_future_answer_is_refused(answer: str, notice: Notice | None) -> None:
    assert report_form.check(WHEN, answer, NOW) == notice
    if answer == "":
        assert report_form.check(MAYBE, answer, NOW) is None  # an optional date may be left out


def test_keys_never_type_into_a_date() -> None:
    assert not any(report_form.takes(WHEN, "", c) for c in "0123456789")


@given(
    st.text(alphabet="0123456789", min_size=0, max_size=12).filter(lambda t: len(t) in (0, 12)),
    st.lists(st.tuples(st.sampled_from(report_form.PARTS), st.sampled_from([-1, 1])), max_size=30),
)
def test_no_sequence_of_taps_reaches_a_future_or_impossible_moment(start: str, taps: list[tuple[str, int]]) -> None:
    entry = report_form.quick(start, "yesterday", NOW) or ""
    for part, delta in taps:
        entry = report_form.step(entry, part, delta, NOW) or entry
        assert report_form.check(WHEN, entry, NOW) is None, entry
