from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from gridgov.core.errors import InvalidInput
from gridgov.workflow.calendar import WorkingCalendar, WorkingTime
from gridgov.workflow.deadlines import Deadline, DeadlineStatus, Pause

SH = ZoneInfo("Asia/Shanghai")
CALENDAR = WorkingCalendar.default()


def at(d: int, hh: int, mm: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, d, hh, mm, tzinfo=SH)


# Monday 9 March 2026, 09:00, ten working hours: due Tuesday 12:00; 80% is reached Tuesday 10:00.
TEN_HOURS = Deadline(CALENDAR, at(9, 9), WorkingTime.hours(10))

STATUS = [
    ("early on the first day", at(9, 15), DeadlineStatus.ON_TIME),
    ("just before eighty percent", at(10, 9, 59), DeadlineStatus.ON_TIME),
    ("at eighty percent", at(10, 10), DeadlineStatus.WARNING),
    ("exactly at the due time", at(10, 12), DeadlineStatus.WARNING),
    ("a minute after the due time, at lunch", at(10, 12, 1), DeadlineStatus.OVERDUE),
    ("days later", at(13, 9), DeadlineStatus.OVERDUE),
]  # fmt: skip


@pytest.mark.parametrize(("now", "status"), [r[1:] for r in STATUS], ids=[r[0] for r in STATUS])
def test_status_warns_at_eighty_percent_and_is_overdue_after_the_due_time(
    now: datetime, status: DeadlineStatus
) -> None:
    assert TEN_HOURS.status(now) is status


def test_without_pauses_or_extensions_the_due_time_is_the_calendar_s() -> None:
    assert TEN_HOURS.due() == CALENDAR.add_working(at(9, 9), WorkingTime.hours(10)) == at(10, 12)


def test_a_closed_pause_moves_the_due_time_by_the_working_time_it_covered() -> None:
    paused = TEN_HOURS.paused(Pause(at(9, 13, 30), at(9, 17, 30), "等待延期审批"))
    assert paused.due() == at(10, 17, 30)
    assert paused.elapsed(at(9, 17, 30)) == timedelta(hours=3)
    assert paused.status(at(10, 13)) is DeadlineStatus.ON_TIME


def test_an_open_pause_freezes_the_clock_until_it_ends() -> None:
    paused = TEN_HOURS.paused(Pause(at(9, 11)))
    assert paused.is_paused(at(11, 9))
    assert paused.elapsed(at(11, 9)) == paused.elapsed(at(9, 11)) == timedelta(hours=2)
    assert paused.due(at(11, 9)) == CALENDAR.add_working(at(11, 9), WorkingTime.hours(8))
    assert paused.status(at(20, 9)) is DeadlineStatus.ON_TIME


def test_the_due_time_of_an_open_pause_needs_now() -> None:
    with pytest.raises(InvalidInput, match="still open"):
        TEN_HOURS.paused(Pause(at(9, 11))).due()


def test_a_pause_after_the_due_time_changes_nothing() -> None:
    assert TEN_HOURS.paused(Pause(at(11, 9), at(12, 9))).due() == at(10, 12)


def test_overlapping_pauses_stop_the_clock_once() -> None:
    one = TEN_HOURS.paused(Pause(at(9, 10), at(9, 16)))
    both = one.paused(Pause(at(9, 11), at(9, 15)))
    assert both.due() == one.due()


def test_a_pause_that_began_before_the_start_counts_only_from_the_start() -> None:
    assert TEN_HOURS.paused(Pause(at(6, 9), at(9, 10))).due() == at(10, 14, 30)


def test_extensions_add_working_time_to_the_limit() -> None:
    extended = TEN_HOURS.extended(WorkingTime.days(2)).extended(WorkingTime.hours(1))
    assert extended.allowed == timedelta(hours=10 + 14 + 1)
    assert extended.due() == at(12, 14, 30)
    assert extended.status(at(10, 13)) is DeadlineStatus.ON_TIME


def test_an_urgent_deadline_counts_nights_and_holidays() -> None:
    urgent = Deadline(CALENDAR.round_the_clock(), at(1, 22, month=10), WorkingTime.hours(4))
    assert urgent.due() == at(2, 2, month=10)
    assert urgent.status(at(2, 1, 30, month=10)) is DeadlineStatus.WARNING
    assert urgent.fallback_years() == ()


def test_a_pause_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(InvalidInput, match="before it starts"):
        Pause(at(9, 12), at(9, 11))
