"""Local days and months and their UTC bounds; bad periods named by their field."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from gridgov.analytics import periods
from gridgov.core.errors import InvalidInput

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_a_shanghai_day_runs_from_16_00_utc_the_day_before() -> None:
    day = periods.one_day(date(2026, 11, 27), SHANGHAI)
    assert day.start == datetime(2026, 11, 26, 16, tzinfo=UTC)
    assert day.end == datetime(2026, 11, 27, 16, tzinfo=UTC)
    assert day.days == [date(2026, 11, 27)]


def test_thirty_days_ending_on_a_day_include_it_and_the_29_before() -> None:
    window = periods.days_ending(date(2026, 11, 27), 30, SHANGHAI)
    assert (window.first, window.last) == (date(2026, 10, 29), date(2026, 11, 27))
    assert len(window.days) == 30


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("2026-11", date(2026, 11, 1), date(2026, 11, 30)),
        ("2026-12", date(2026, 12, 1), date(2026, 12, 31)),
        ("2028-02", date(2028, 2, 1), date(2028, 2, 29)),
    ],
)
def test_a_month_covers_its_days_up_to_the_next_months_midnight(
    text: str, first: date, last: date
) -> None:
    month = periods.month(text, SHANGHAI)
    assert (month.first, month.last) == (first, last)
    assert month.end == periods.local_midnight(date.fromordinal(last.toordinal() + 1), SHANGHAI)


@pytest.mark.parametrize(
    "text", ["2026-13", "2026-00", "2026-1", "26-11", "2026/11", "1999-12", ""]
)
def test_a_malformed_or_far_month_is_refused_naming_the_month(text: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        periods.month(text, SHANGHAI)
    assert refused.value.field == "month"


@pytest.mark.parametrize(("last", "count"), [(date(2026, 1, 1), 0), (date(2026, 1, 1), 367)])
def test_a_run_of_days_outside_1_to_366_is_refused(last: date, count: int) -> None:
    with pytest.raises(InvalidInput) as refused:
        periods.days_ending(last, count, SHANGHAI)
    assert refused.value.field == "days"


@pytest.mark.parametrize(
    "day", [date(1, 1, 1), date(1999, 12, 31), date(2101, 1, 1), date(9999, 12, 31)]
)
def test_a_day_far_from_now_is_refused_instead_of_overflowing(day: date) -> None:
    with pytest.raises(InvalidInput) as refused:
        periods.one_day(day, SHANGHAI)
    assert refused.value.field == "day"


def test_a_run_reaching_back_before_2000_is_refused() -> None:
    with pytest.raises(InvalidInput):
        periods.days_ending(date(2000, 1, 10), 30, SHANGHAI)
