"""Periods in the city's local time: a day, a month, a run of days; and their UTC bounds.

Figures count by local calendar day. The store buckets timestamps by the hour from the start of a
period, and the hours are put into local days here, so that any zone whose offset is whole hours
(all of China's) — daylight saving included — splits days exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from gridgov.core.errors import InvalidInput

# Figures before 2000 or after 2100 are certainly a typing mistake, and far dates overflow.
EARLIEST = date(2000, 1, 1)
LATEST = date(2100, 12, 31)
MAX_DAYS = 366


@dataclass(frozen=True, slots=True)
class Period:
    """Local days `first`..`last` (inclusive) and their bounds as UTC instants [start, end)."""

    first: date
    last: date
    start: datetime
    end: datetime

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]


def days_ending(last: date, count: int, zone: ZoneInfo, *, field: str = "days") -> Period:
    """`count` local days ending with `last`."""
    if not 1 <= count <= MAX_DAYS:
        raise InvalidInput(field, f"须在 1–{MAX_DAYS} 之间 / must lie in 1–{MAX_DAYS}")
    check_day(last, "day")
    first = last - timedelta(days=count - 1)
    check_day(first, "day")
    return Period(
        first, last, local_midnight(first, zone), local_midnight(last + timedelta(1), zone)
    )


def one_day(day: date, zone: ZoneInfo) -> Period:
    return days_ending(day, 1, zone, field="day")


def month(text: str, zone: ZoneInfo) -> Period:
    """The local month written `YYYY-MM`."""
    year_text, dash, month_text = text.partition("-")
    if not (dash and len(year_text) == 4 and len(month_text) == 2):
        raise InvalidInput("month", f"须为 YYYY-MM / must be YYYY-MM, got {text!r}")
    try:
        first = date(int(year_text), int(month_text), 1)
    except ValueError:
        raise InvalidInput("month", f"不是有效的月份 / not a month: {text!r}") from None
    check_day(first, "month")
    following = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    last = following - timedelta(days=1)
    return Period(first, last, local_midnight(first, zone), local_midnight(following, zone))


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def check_day(day: date, field: str) -> None:
    if not EARLIEST <= day <= LATEST:
        raise InvalidInput(
            field, f"须在 {EARLIEST}–{LATEST} 之间 / must lie between {EARLIEST} and {LATEST}"
        )


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def local_day(at: datetime, zone: ZoneInfo) -> date:
    return at.astimezone(zone).date()


def hour_start(period_start: datetime, hour: int) -> datetime:
    """The instant `hour` hours after the period's start (the store's bucket `hour`)."""
    return period_start + timedelta(hours=hour)
