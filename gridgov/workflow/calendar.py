"""Working time on the official Chinese calendar: public holidays, 调休 workdays and office hours.

Whether a date is a workday is decided by the first source that knows it:

    1. the city's override table, data/calendar_overrides.csv (date, kind holiday|workday, name)
    2. the chinese-calendar package: the State Council's 放假安排, 2004–2026 in the pinned 1.11.0
    3. Monday to Friday, for a year neither knows; `coverage(year)` reports WEEKDAYS_ONLY and a
       deadline in such a year carries the flag, so an operator is told it may be off by a holiday

Keeping it current: the State Council publishes next year's 放假安排 each November. Until a
chinese-calendar release with that year is pinned in pyproject.toml, add the year to the override
table: one `holiday` row per day off (including weekdays moved for 调休) and one `workday` row per
weekend day that is worked. Enter a year as a whole: any row in a year the package does not know
makes `coverage` report that year as OVERRIDES.

Working time. Each workday has the same sessions (default 09:00–12:00 and 13:30–17:30, 7 hours);
time outside them does not count. "N working days" is N times a day's working hours of working
time: a case started at 10:00 is due at 10:00 on the Nth following workday, and one started in the
evening, at lunch or on a holiday starts counting at the next opening. When a due time falls exactly
on a closing time it is reported at that closing time (17:30), not at the next opening, which is
the same amount of working time. Urgent categories count 7×24 (`round_the_clock()`): every instant
counts, holidays included, and a day is 24 hours.

All datetimes must be timezone-aware; results are in the calendar's time zone (Asia/Shanghai).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar

from gridgov.core.errors import InvalidInput
from gridgov.workflow.datafile import read_table, read_text

OVERRIDES_RESOURCE = "calendar_overrides.csv"
OVERRIDE_COLUMNS = ("date", "kind", "name")
DEFAULT_TIME_ZONE = "Asia/Shanghai"


class TimeUnit(StrEnum):
    HOURS = "h"
    DAYS = "d"


@dataclass(frozen=True, slots=True)
class WorkingTime:
    """An amount of working time as the rules state it: whole working hours or working days."""

    amount: int
    unit: TimeUnit

    def __post_init__(self) -> None:
        if self.amount <= 0:
            raise InvalidInput("amount", f"working time must be positive, got {self.amount}")

    @classmethod
    def hours(cls, amount: int) -> WorkingTime:
        return cls(amount, TimeUnit.HOURS)

    @classmethod
    def days(cls, amount: int) -> WorkingTime:
        return cls(amount, TimeUnit.DAYS)

    @classmethod
    def parse(cls, text: str) -> WorkingTime:
        """Read "4h" or "13d"; anything else is an InvalidInput that shows the accepted form."""
        value = text.strip().lower()
        unit, digits = value[-1:], value[:-1].strip()
        if (
            unit not in ("h", "d")
            or not (digits.isascii() and digits.isdigit())
            or int(digits) == 0
        ):
            raise InvalidInput(
                "working_time", f"{text!r} is not a working time; write e.g. 2h, 4h, 3d or 13d"
            )
        return cls(int(digits), TimeUnit(unit))

    def __str__(self) -> str:
        return f"{self.amount}{self.unit.value}"


@dataclass(frozen=True, slots=True)
class WorkingHours:
    """The sessions of a workday, as (opening, closing) local times in ascending order."""

    sessions: tuple[tuple[time, time], ...] = (
        (time(9, 0), time(12, 0)),
        (time(13, 30), time(17, 30)),
    )

    def __post_init__(self) -> None:
        if not self.sessions:
            raise InvalidInput("sessions", "a workday needs at least one session")
        previous_end: time | None = None
        for opening, closing in self.sessions:
            if opening >= closing:
                raise InvalidInput("sessions", f"session {opening}–{closing} ends before it starts")
            if previous_end is not None and opening < previous_end:
                raise InvalidInput("sessions", f"session at {opening} overlaps the one before it")
            previous_end = closing

    @property
    def per_day(self) -> timedelta:
        return sum((_span(o, c) for o, c in self.sessions), timedelta())


class Coverage(StrEnum):
    OFFICIAL = "official"  # the chinese-calendar package has the year's arrangement
    OVERRIDES = "overrides"  # only the city's override table has the year
    WEEKDAYS_ONLY = "weekdays_only"  # nobody knows the year: Monday–Friday assumed


class DayKind(StrEnum):
    HOLIDAY = "holiday"
    WORKDAY = "workday"


@dataclass(frozen=True, slots=True)
class DayOverride:
    day: date
    kind: DayKind
    name: str


class WorkingCalendar:
    """Workdays and working time in one city's time zone; see the module docstring for the rules."""

    def __init__(
        self,
        overrides: Iterable[DayOverride] = (),
        *,
        hours: WorkingHours | None = None,
        time_zone: str = DEFAULT_TIME_ZONE,
        round_the_clock: bool = False,
    ) -> None:
        self._overrides = {o.day: o for o in overrides}
        self._override_years = frozenset(d.year for d in self._overrides)
        self.hours = hours or WorkingHours()
        self.time_zone = ZoneInfo(time_zone)
        self.is_round_the_clock = round_the_clock

    @classmethod
    def default(cls, *, hours: WorkingHours | None = None) -> WorkingCalendar:
        """The calendar with the shipped override table, in Asia/Shanghai."""
        return cls(load_calendar_overrides(), hours=hours)

    def round_the_clock(self) -> WorkingCalendar:
        """The 7×24 variant for urgent categories: every instant counts."""
        return WorkingCalendar(
            self._overrides.values(),
            hours=self.hours,
            time_zone=self.time_zone.key,
            round_the_clock=True,
        )

    @property
    def day_length(self) -> timedelta:
        return timedelta(hours=24) if self.is_round_the_clock else self.hours.per_day

    def is_workday(self, day: date) -> bool:
        override = self._overrides.get(day)
        if override is not None:
            return override.kind is DayKind.WORKDAY
        if _package_covers(day.year):
            return bool(chinese_calendar.is_workday(day))
        return day.weekday() < 5

    def coverage(self, year: int) -> Coverage:
        if _package_covers(year):
            return Coverage.OFFICIAL
        if year in self._override_years:
            return Coverage.OVERRIDES
        return Coverage.WEEKDAYS_ONLY

    def fallback_years(self, first: datetime, last: datetime) -> tuple[int, ...]:
        """Years between two instants whose workdays are only assumed (Monday–Friday)."""
        if self.is_round_the_clock:
            return ()
        a, b = self._local(first, "first").year, self._local(last, "last").year
        return tuple(y for y in range(a, b + 1) if self.coverage(y) is Coverage.WEEKDAYS_ONLY)

    def length(self, amount: WorkingTime | timedelta) -> timedelta:
        """The working time `amount` stands for: days are converted at `day_length` each."""
        if isinstance(amount, timedelta):
            return amount
        if amount.unit is TimeUnit.HOURS:
            return timedelta(hours=amount.amount)
        return self.day_length * amount.amount

    def add_working(self, start: datetime, amount: WorkingTime | timedelta) -> datetime:
        """The earliest instant by which `amount` of working time has passed since `start`."""
        local = self._local(start, "start")
        remaining = self.length(amount)
        if remaining < timedelta():
            raise InvalidInput("amount", "working time to add must not be negative")
        if self.is_round_the_clock or remaining == timedelta():
            return local + remaining
        day = local.date()
        while True:
            for opening, closing in self._sessions(day):
                if closing <= local:
                    continue
                begin = max(opening, local)
                if remaining <= closing - begin:
                    return begin + remaining
                remaining -= closing - begin
            day += timedelta(days=1)

    def working_between(self, a: datetime, b: datetime) -> timedelta:
        """Working time from `a` to `b`; zero when `b` is not after `a`."""
        start, end = self._local(a, "a"), self._local(b, "b")
        if end <= start:
            return timedelta()
        if self.is_round_the_clock:
            return end - start
        total = timedelta()
        day = start.date()
        while day <= end.date():
            for opening, closing in self._sessions(day):
                overlap = min(closing, end) - max(opening, start)
                if overlap > timedelta():
                    total += overlap
            day += timedelta(days=1)
        return total

    def elapsed_fraction(self, start: datetime, due: datetime, now: datetime) -> float:
        """Share of the working time from start to due that has passed by `now` (above 1 when late)."""
        allowed = self.working_between(start, due)
        used = self.working_between(start, now)
        if allowed == timedelta():
            return 1.0 if self._local(now, "now") >= self._local(due, "due") else 0.0
        return used / allowed

    def _sessions(self, day: date) -> list[tuple[datetime, datetime]]:
        if not self.is_workday(day):
            return []
        zone = self.time_zone
        return [
            (datetime.combine(day, o, tzinfo=zone), datetime.combine(day, c, tzinfo=zone))
            for o, c in self.hours.sessions
        ]

    def _local(self, value: datetime, name: str) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidInput(name, "needs a timezone-aware datetime")
        return value.astimezone(self.time_zone)


def _span(opening: time, closing: time) -> timedelta:
    return datetime.combine(date.min, closing) - datetime.combine(date.min, opening)


@functools.cache
def _package_covers(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


def load_calendar_overrides(path: Path | str | None = None) -> tuple[DayOverride, ...]:
    """The override table at `path`, or the shipped one; a bad cell raises DataFileError."""
    text, source = read_text(path, OVERRIDES_RESOURCE)
    seen: dict[date, int] = {}
    out: list[DayOverride] = []
    for row in read_table(text, source, OVERRIDE_COLUMNS):
        raw_day = row.require("date")
        try:
            day = date.fromisoformat(raw_day)
        except ValueError:
            raise row.error("date", f"{raw_day!r} is not a date; write YYYY-MM-DD") from None
        if day in seen:
            raise row.error("date", f"{day} is already listed on line {seen[day]}")
        seen[day] = row.line
        raw_kind = row.require("kind")
        try:
            kind = DayKind(raw_kind)
        except ValueError:
            raise row.error("kind", f"{raw_kind!r} is not holiday or workday") from None
        out.append(DayOverride(day, kind, row.require("name")))
    return tuple(out)
