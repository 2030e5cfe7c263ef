"""A deadline counted in working time, with pauses that stop the clock and granted extensions.

The due time is the instant by which `limit` plus every extension of working time has been
counted since `start`, not counting working time inside a pause. A pause still open (no end) lasts
until the `now` a question is asked at, so the due time of a paused case moves later as time passes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from gridgov.core.errors import InvalidInput
from gridgov.workflow.calendar import WorkingCalendar, WorkingTime

WARNING_FRACTION = 0.8


class DeadlineStatus(StrEnum):
    ON_TIME = "on_time"
    WARNING = "warning"  # at least WARNING_FRACTION of the allowed working time has passed
    OVERDUE = "overdue"


@dataclass(frozen=True, slots=True)
class Pause:
    """An interval in which the clock stops; `end` is None while the pause lasts."""

    start: datetime
    end: datetime | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or (self.end is not None and self.end.tzinfo is None):
            raise InvalidInput("pause", "needs timezone-aware datetimes")
        if self.end is not None and self.end < self.start:
            raise InvalidInput("pause", f"ends ({self.end}) before it starts ({self.start})")


@dataclass(frozen=True, slots=True)
class Deadline:
    calendar: WorkingCalendar
    start: datetime
    limit: WorkingTime
    pauses: tuple[Pause, ...] = ()
    extensions: tuple[WorkingTime, ...] = ()

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise InvalidInput("start", "needs a timezone-aware datetime")

    def paused(self, pause: Pause) -> Deadline:
        return replace(self, pauses=(*self.pauses, pause))

    def extended(self, amount: WorkingTime) -> Deadline:
        return replace(self, extensions=(*self.extensions, amount))

    @property
    def allowed(self) -> timedelta:
        """Working time granted: the limit plus every extension."""
        length = self.calendar.length
        return length(self.limit) + sum((length(e) for e in self.extensions), timedelta())

    def due(self, now: datetime | None = None) -> datetime:
        """The due instant; `now` is needed only while a pause is open."""
        remaining = self.allowed
        cursor = self.calendar.add_working(self.start, timedelta())
        for pause_start, pause_end in self._pause_intervals(now):
            if pause_start > cursor:
                before_pause = self.calendar.working_between(cursor, pause_start)
                if before_pause >= remaining:
                    break
                remaining -= before_pause
            cursor = max(cursor, pause_end)
        return self.calendar.add_working(cursor, remaining)

    def elapsed(self, now: datetime) -> timedelta:
        """Working time counted against the deadline by `now`, pauses left out."""
        between = self.calendar.working_between
        paused = sum(
            (between(s, min(e, now)) for s, e in self._pause_intervals(now) if s < now),
            timedelta(),
        )
        return between(self.start, now) - paused

    def elapsed_fraction(self, now: datetime) -> float:
        return self.elapsed(now) / self.allowed

    def is_paused(self, now: datetime) -> bool:
        return any(p.start <= now and (p.end is None or now < p.end) for p in self.pauses)

    def status(self, now: datetime) -> DeadlineStatus:
        if now > self.due(now):
            return DeadlineStatus.OVERDUE
        if self.elapsed_fraction(now) >= WARNING_FRACTION:
            return DeadlineStatus.WARNING
        return DeadlineStatus.ON_TIME

    def fallback_years(self, now: datetime | None = None) -> tuple[int, ...]:
        """Years this deadline spans whose workdays the calendar only assumes; show them as a warning."""
        return self.calendar.fallback_years(self.start, self.due(now))

    def _pause_intervals(self, now: datetime | None) -> list[tuple[datetime, datetime]]:
        """Pauses clipped to start after `start`, open ones closed at `now`, overlaps merged."""
        intervals: list[tuple[datetime, datetime]] = []
        for pause in sorted(self.pauses, key=lambda p: p.start):
            if pause.end is not None:
                end = pause.end
            elif now is not None:
                end = now
            else:
                raise InvalidInput("now", "a pause is still open, so the due time depends on now")
            begin = max(pause.start, self.start)
            if end <= begin:
                continue
            if intervals and begin <= intervals[-1][1]:
                intervals[-1] = (intervals[-1][0], max(intervals[-1][1], end))
            else:
                intervals.append((begin, end))
        return intervals
