from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gridgov.core.errors import InvalidInput
from gridgov.workflow.calendar import (
    Coverage,
    WorkingCalendar,
    WorkingHours,
    WorkingTime,
    load_calendar_overrides,
)
from gridgov.workflow.datafile import DataFileError
from gridgov.workflow.deadlines import Deadline, Pause

SH = ZoneInfo("Asia/Shanghai")
CALENDAR = WorkingCalendar.default()


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SH)


def h(n: int) -> WorkingTime:
    return WorkingTime.hours(n)


def d(n: int) -> WorkingTime:
    return WorkingTime.days(n)


# 2026 as the State Council arranged it (checked against chinese-calendar 1.11.0): Spring Festival
# off 15–23 Feb, worked Sat 14 Feb and Sat 28 Feb; National Day off 1–7 Oct, worked Sun 20 Sep and
# Sat 10 Oct.
ADD_WORKING = [
    ("friday before spring festival plus a day lands on the 调休 saturday",
     at(2026, 2, 13, 15), d(1), at(2026, 2, 14, 15)),
    ("hours left on the 调休 saturday carry over the whole spring festival",
     at(2026, 2, 14, 16), h(4), at(2026, 2, 24, 11, 30)),
    ("three working days across spring festival skip nine days off",
     at(2026, 2, 13, 10), d(3), at(2026, 2, 25, 10)),
    ("a case reported on the eve of spring festival starts after it",
     at(2026, 2, 15, 10), h(1), at(2026, 2, 24, 10)),
    ("the last working hours of september continue after national day",
     at(2026, 9, 30, 16), h(4), at(2026, 10, 8, 11, 30)),
    ("the 调休 sunday before national day is worked",
     at(2026, 9, 18, 17), h(1), at(2026, 9, 20, 9, 30)),
    ("the 调休 saturday after national day is worked",
     at(2026, 10, 9, 17), h(1), at(2026, 10, 10, 9, 30)),
    ("a deadline crossing an ordinary weekend resumes on monday",
     at(2026, 3, 6, 16), h(4), at(2026, 3, 9, 11, 30)),
    ("a case reported in the evening starts counting at the next opening",
     at(2026, 3, 10, 20), h(2), at(2026, 3, 11, 11)),
    ("a case reported at lunch starts counting at 13:30",
     at(2026, 3, 10, 12, 30), h(1), at(2026, 3, 10, 14, 30)),
    ("a due time on a closing time is reported at the closing time",
     at(2026, 3, 10, 7), h(3), at(2026, 3, 10, 12)),
    ("four hours from 13:30 end at 17:30, not the next morning",
     at(2026, 3, 10, 13, 30), h(4), at(2026, 3, 10, 17, 30)),
    ("working days keep the clock time",
     at(2026, 3, 10, 10), d(3), at(2026, 3, 13, 10)),
    ("a working day from friday evening ends at monday's close",
     at(2026, 3, 6, 20), d(1), at(2026, 3, 9, 17, 30)),
    ("an instant in another time zone is counted in shanghai time",
     datetime(2026, 3, 10, 2, tzinfo=UTC), h(2), at(2026, 3, 10, 12)),
]  # fmt: skip


@pytest.mark.parametrize(("start", "amount", "due"), [r[1:] for r in ADD_WORKING],
                         ids=[r[0] for r in ADD_WORKING])  # fmt: skip
def test_adding_working_time_lands_on_the_official_calendar(
    start: datetime, amount: WorkingTime, due: datetime
) -> None:
    result = CALENDAR.add_working(start, amount)
    assert result == due
    assert result.tzinfo == SH


ROUND_THE_CLOCK = [
    ("urgent hours run through a national day night", at(2026, 10, 3, 22), h(4), at(2026, 10, 4, 2)),
    ("an urgent day is 24 hours, holiday or not", at(2026, 2, 16, 10), d(1), at(2026, 2, 17, 10)),
]  # fmt: skip


@pytest.mark.parametrize(("start", "amount", "due"), [r[1:] for r in ROUND_THE_CLOCK],
                         ids=[r[0] for r in ROUND_THE_CLOCK])  # fmt: skip
def test_urgent_categories_count_every_hour(
    start: datetime, amount: WorkingTime, due: datetime
) -> None:
    urgent = CALENDAR.round_the_clock()
    assert urgent.add_working(start, amount) == due
    assert urgent.working_between(start, due) == due - start


BETWEEN = [
    ("a working day", at(2026, 3, 10, 9), at(2026, 3, 10, 17, 30), timedelta(hours=7)),
    ("lunch does not count", at(2026, 3, 10, 11), at(2026, 3, 10, 14), timedelta(hours=1, minutes=30)),
    ("a weekend does not count", at(2026, 3, 6, 17), at(2026, 3, 9, 10), timedelta(hours=1, minutes=30)),
    ("spring festival does not count, its 调休 saturday does",
     at(2026, 2, 13, 9), at(2026, 2, 24, 9), timedelta(hours=14)),
    ("backwards is zero", at(2026, 3, 10, 12), at(2026, 3, 10, 9), timedelta()),
]  # fmt: skip


@pytest.mark.parametrize(("a", "b", "elapsed"), [r[1:] for r in BETWEEN],
                         ids=[r[0] for r in BETWEEN])  # fmt: skip
def test_working_time_between_two_instants_counts_only_working_hours(
    a: datetime, b: datetime, elapsed: timedelta
) -> None:
    assert CALENDAR.working_between(a, b) == elapsed


def test_adding_then_measuring_gives_back_the_amount_across_a_whole_year() -> None:
    start = at(2026, 1, 1, 8)
    for days in range(1, 260, 7):
        due = CALENDAR.add_working(start, d(days))
        assert CALENDAR.working_between(start, due) == timedelta(hours=7 * days)


@pytest.mark.parametrize(
    ("day", "workday"),
    [
        (date(2026, 2, 14), True),
        (date(2026, 2, 17), False),
        (date(2026, 2, 28), True),
        (date(2026, 10, 1), False),
        (date(2026, 10, 10), True),
        (date(2026, 3, 7), False),
        (date(2026, 3, 9), True),
    ],
)
def test_workdays_follow_the_state_council_arrangement(day: date, workday: bool) -> None:
    assert CALENDAR.is_workday(day) is workday


def test_elapsed_fraction_is_working_time_used_over_working_time_allowed() -> None:
    start, due = at(2026, 3, 6, 16), at(2026, 3, 9, 11, 30)
    assert CALENDAR.elapsed_fraction(start, due, at(2026, 3, 8, 12)) == pytest.approx(1.5 / 4)
    assert CALENDAR.elapsed_fraction(start, due, at(2026, 3, 9, 10, 30)) == pytest.approx(3 / 4)
    assert CALENDAR.elapsed_fraction(start, due, at(2026, 3, 9, 15)) == pytest.approx(6 / 4)


def test_a_year_outside_every_source_falls_back_to_weekdays_and_says_so() -> None:
    start = at(2026, 12, 31, 17)
    # 1 Jan 2027 will surely be a holiday, but nobody has published 2027 yet: Friday is assumed.
    due = CALENDAR.add_working(start, h(1))
    assert due == at(2027, 1, 1, 9, 30)
    assert CALENDAR.coverage(2026) is Coverage.OFFICIAL
    assert CALENDAR.coverage(2027) is Coverage.WEEKDAYS_ONLY
    assert CALENDAR.fallback_years(start, due) == (2027,)
    assert Deadline(CALENDAR, start, h(1)).fallback_years() == (2027,)
    assert CALENDAR.fallback_years(at(2026, 1, 1), at(2026, 12, 31)) == ()


def test_years_before_the_package_also_fall_back_instead_of_crashing() -> None:
    assert CALENDAR.coverage(2003) is Coverage.WEEKDAYS_ONLY
    assert CALENDAR.is_workday(date(2003, 1, 6)) is True
    assert CALENDAR.is_workday(date(2003, 1, 4)) is False


OVERRIDES = """\
# a city that gave 9 March 2026 off and worked Sunday 8 March, and entered 2027 early
date,kind,name
2026-03-09,holiday,城市节日
2026-03-08,workday,调休上班
2027-01-01,holiday,元旦
"""


def test_the_override_table_wins_over_the_package(tmp_path: Path) -> None:
    path = tmp_path / "overrides.csv"
    path.write_text(OVERRIDES, encoding="utf-8")
    calendar = WorkingCalendar(load_calendar_overrides(path))
    assert calendar.add_working(at(2026, 3, 6, 16), h(4)) == at(2026, 3, 8, 11, 30)
    assert calendar.add_working(at(2026, 3, 8, 16), h(4)) == at(2026, 3, 10, 11, 30)
    assert calendar.is_workday(date(2027, 1, 1)) is False
    assert calendar.coverage(2027) is Coverage.OVERRIDES


def test_the_shipped_override_table_loads() -> None:
    assert all(o.name for o in load_calendar_overrides())


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ("date,kind,name\n2026-13-01,holiday,x\n", 2, "date"),
        ("date,kind,name\n2026-03-09,off,x\n", 2, "kind"),
        ("date,kind,name\n2026-03-09,holiday,\n", 2, "name"),
        ("# c\ndate,kind,name\n2026-03-09,holiday,a\n2026-03-09,workday,b\n", 4, "date"),
        ("date,kind\n", 1, "name"),
    ],
    ids=["bad date", "bad kind", "missing name", "duplicate date", "missing column"],
)
def test_a_bad_override_table_names_the_line_and_column(
    tmp_path: Path, text: str, line: int, column: str
) -> None:
    path = tmp_path / "overrides.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataFileError) as caught:
        load_calendar_overrides(path)
    assert (caught.value.line, caught.value.column) == (line, column)
    assert f"overrides.csv line {line}, column {column}" in str(caught.value)


def test_configured_hours_change_the_length_of_a_working_day() -> None:
    calendar = WorkingCalendar(hours=WorkingHours(((time(8), time(12)), (time(14), time(18)))))
    assert calendar.day_length == timedelta(hours=8)
    assert calendar.add_working(at(2026, 3, 10, 11), h(2)) == at(2026, 3, 10, 15)


@pytest.mark.parametrize(
    "sessions",
    [(), ((time(12), time(9)),), ((time(9), time(12)), (time(11), time(17)))],
    ids=["no session", "backwards", "overlapping"],
)
def test_impossible_working_hours_are_refused(sessions: tuple[tuple[time, time], ...]) -> None:
    with pytest.raises(InvalidInput):
        WorkingHours(sessions)


@pytest.mark.parametrize(
    ("text", "parsed"), [("2h", h(2)), ("13d", d(13)), (" 4H ", h(4))], ids=["2h", "13d", "4H"]
)
def test_working_time_reads_hours_and_days(text: str, parsed: WorkingTime) -> None:
    assert WorkingTime.parse(text) == parsed
    assert str(parsed) == text.strip().lower()


@pytest.mark.parametrize("text", ["5x", "h", "0d", "-3d", "1.5h", ""])
def test_working_time_refuses_anything_else(text: str) -> None:
    with pytest.raises(InvalidInput, match=r"write e\.g\."):
        WorkingTime.parse(text)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(InvalidInput, match="timezone-aware"):
        CALENDAR.add_working(datetime(2026, 3, 10, 9), h(1))


DEADLINES = [
    ("an extension granted across national day",
     at(2026, 9, 29, 10), d(1), (d(2),), (), at(2026, 10, 9, 10)),
    ("a pause stops the clock for its working hours",
     at(2026, 3, 9, 9), h(10), (), (Pause(at(2026, 3, 9, 13, 30), at(2026, 3, 9, 17, 30)),),
     at(2026, 3, 10, 17, 30)),
    ("a pause over spring festival costs nothing extra",
     at(2026, 2, 14, 9), d(2), (), (Pause(at(2026, 2, 15), at(2026, 2, 24)),), at(2026, 2, 24, 17, 30)),
]  # fmt: skip


@pytest.mark.parametrize(("start", "limit", "extensions", "pauses", "due"),
                         [r[1:] for r in DEADLINES], ids=[r[0] for r in DEADLINES])  # fmt: skip
def test_deadlines_with_extensions_and_pauses_fall_on_working_time(
    start: datetime,
    limit: WorkingTime,
    extensions: tuple[WorkingTime, ...],
    pauses: tuple[Pause, ...],
    due: datetime,
) -> None:
    assert Deadline(CALENDAR, start, limit, pauses, extensions).due() == due
