"""Folding the store's hour buckets into local days, overdue spells included."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from gridgov.analytics import periods
from gridgov.analytics.trend import BEFORE, HourCounts, TrendDay, fold_days

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _counts(**given: dict[int, int]) -> HourCounts:
    names = ("created", "closed", "closed_on_time", "overdue_from", "overdue_until")
    return HourCounts(**{name: given.get(name, {}) for name in names})


def test_hours_fall_into_the_local_day_they_start_in() -> None:
    period = periods.days_ending(date(2026, 11, 28), 2, SHANGHAI)
    # Hour 0 is 00:00 on the 27th in Shanghai; hour 23 its last; hour 24 the 28th's first.
    days = fold_days(period, SHANGHAI, _counts(created={0: 1, 23: 2, 24: 4}, closed={47: 1}))
    assert days == [
        TrendDay(date(2026, 11, 27), 3, 0, 0, 0),
        TrendDay(date(2026, 11, 28), 4, 1, 0, 0),
    ]


def test_an_overdue_spell_counts_from_its_deadlines_day_until_the_day_it_closed() -> None:
    period = periods.days_ending(date(2026, 11, 30), 4, SHANGHAI)  # 27th … 30th
    counts = _counts(
        # one case overdue since before the period and still open, one from the 28th (10:00)
        # until it closed on the 29th (09:00)
        overdue_from={BEFORE: 1, 24 + 10: 1},
        overdue_until={48 + 9: 1},
    )
    assert [d.overdue_open for d in fold_days(period, SHANGHAI, counts)] == [1, 2, 1, 1]


def test_days_split_exactly_across_a_daylight_saving_change() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    # 2026-03-29 has 23 hours in Berlin: from the 28th's midnight, hours 24–46 are the 29th and
    # hour 47 is already the 30th (a fixed 24-hour split would put it in the 29th).
    period = periods.days_ending(date(2026, 3, 30), 3, berlin)
    days = fold_days(period, berlin, _counts(created={23: 1, 24 + 22: 2, 24 + 23: 4}))
    assert [d.created for d in days] == [1, 2, 4]
