"""The daily trend: hour-bucketed counts from the store folded into local days."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from gridgov.analytics.periods import Period, hour_start, local_day

# Hour -1 holds everything before the period's start.
BEFORE = -1


@dataclass(frozen=True, slots=True)
class TrendDay:
    day: date
    created: int
    closed: int
    closed_on_time: int
    overdue_open: int


@dataclass(frozen=True, slots=True)
class HourCounts:
    """Per-hour counts from the period's start (hour 0) for each measure the trend shows.

    `overdue_from` counts cases by the hour their deadline passed and `overdue_until` cases closed
    late by the hour they were closed: a case is overdue and open from the one to the other.
    """

    created: Mapping[int, int]
    closed: Mapping[int, int]
    closed_on_time: Mapping[int, int]
    overdue_from: Mapping[int, int]
    overdue_until: Mapping[int, int]


def fold_days(period: Period, zone: ZoneInfo, counts: HourCounts) -> list[TrendDay]:
    """One row per local day of the period; `overdue_open` is as the day ended."""
    days = period.days
    index = {day: n for n, day in enumerate(days)}
    per_day: dict[str, list[int]] = {
        name: [0] * len(days) for name in ("created", "closed", "closed_on_time")
    }
    for name in per_day:
        for hour, count in getattr(counts, name).items():
            if hour == BEFORE:
                continue
            slot = index.get(local_day(hour_start(period.start, hour), zone))
            if slot is not None:
                per_day[name][slot] += count
    change = [0] * len(days)
    for sign, source in ((1, counts.overdue_from), (-1, counts.overdue_until)):
        for hour, count in source.items():
            # A change within an hour counts from the end of that hour's day onwards.
            first = (
                0 if hour == BEFORE else index.get(local_day(hour_start(period.start, hour), zone))
            )
            if first is not None:
                change[first] += sign * count
    overdue, running = [], 0
    for delta in change:
        running += delta
        overdue.append(running)
    return [
        TrendDay(
            day,
            per_day["created"][n],
            per_day["closed"][n],
            per_day["closed_on_time"][n],
            overdue[n],
        )
        for n, day in enumerate(days)
    ]
