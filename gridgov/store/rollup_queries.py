"""The dashboard's period figures read from the daily rollups (gridgov/store/rollups.py).

Each figure is the sum of two parts with the same columns: the rollup rows of the clean units,
and the same aggregate computed from the projection for the dirty units (touched by events the
rollups have not yet taken in). Readers add what depends on the clock themselves
(gridgov/store/analytics.py). Rollups answer for a city, district or street and for periods of
whole local days at the offset they were built with; `RollupWindow.of` says whether they can.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, func, select, tuple_
from sqlalchemy.orm import Session

from gridgov.analytics.scope import Scope
from gridgov.grids.model import GridLevel
from gridgov.store.rollups import (
    CLOSING_COUNTS,
    COHORT_COUNTS,
    PATH,
    STATE_COLUMNS,
    RollupRepository,
    Unit,
    case_rollups,
    cases,
    closing_rollups,
    closing_select,
    cohort_select,
    department_rollups,
    local_day_of,
    local_midnight,
    street_rollups,
    unit_condition,
)

# The scope levels a rollup row names (its path columns).
ROLLED_LEVELS = {
    GridLevel.CITY: "city_code",
    GridLevel.DISTRICT: "district_code",
    GridLevel.STREET: "street_code",
}
# Past this many events behind the log, the worker is not running or far behind: recomputing
# that many units per question would cost more than reading the projection.
MAX_EVENTS_BEHIND = 20_000
# Rows to sum: a table or subquery, the conditions on it, and +1 to add them or -1 to take off.
Part = tuple[Table | Any, Sequence[ColumnElement[bool]], int]


@dataclass(frozen=True, slots=True)
class RollupWindow:
    """Local days `first`..`last` at the rollups' offset, and the units to read from the cases."""

    offset: int
    first: date
    last: date
    dirty: tuple[Unit, ...]

    @classmethod
    def of(cls, session: Session, start: datetime, end: datetime) -> RollupWindow | None:
        """The window if the rollups are built and [start, end) is a run of whole local days."""
        repo = RollupRepository(session)
        state = repo.state()
        if state is None or state.utc_offset is None:
            return None
        offset = state.utc_offset
        first = local_day_of(start, offset)
        last = local_day_of(end, offset) - timedelta(days=1)
        if (
            local_midnight(first, offset) != start
            or local_midnight(last, offset) + timedelta(days=1) != end
        ):
            return None
        if last < first or repo.head() - state.seq > MAX_EVENTS_BEHIND:
            return None
        return cls(offset, first, last, tuple(repo.touched_units(state.seq, offset)))

    def dirty_in(self, scope: Scope, *, window_only: bool) -> list[Unit]:
        column = ROLLED_LEVELS[scope.level]
        return [
            u
            for u in self.dirty
            if getattr(u, column) == scope.code
            and (not window_only or self.first <= u.day <= self.last)
        ]


def rolled(scope: Scope) -> bool:
    """Whether rollup rows name the scope (a city, district or street)."""
    return scope.level in ROLLED_LEVELS


class RollupReader:
    """Sums of rollup rows plus the dirty units' own aggregates, for one window."""

    def __init__(self, session: Session, window: RollupWindow) -> None:
        self._session = session
        self._window = window

    @property
    def _dialect(self) -> str:
        return self._session.get_bind().dialect.name

    def cohort(
        self, scope: Scope, department: str | None, key: str | None
    ) -> dict[str | None, dict[str, int]]:
        """Cohort counts and cases per state of the window's days, per `key` column (or None).

        `key` is a path column or "department"; rows whose key is '' (the path or the case
        names none) are left out, as the direct query leaves out a null key.
        """
        names = [*COHORT_COUNTS, *STATE_COLUMNS.values()]
        found: dict[str | None, dict[str, int]] = {}
        for source, conditions, sign in self._cohort_parts(scope, department, key):
            group = [] if key is None else [source.c[key].label("key")]
            query: Select[Any] = select(
                *group, *(func.sum(source.c[n]).label(n) for n in names)
            ).where(*conditions)
            if key is not None:
                query = query.where(source.c[key] != "").group_by(source.c[key])
            for row in self._session.execute(query).mappings():
                slot = found.setdefault(
                    row["key"] if key is not None else None, dict.fromkeys(names, 0)
                )
                for name in names:
                    slot[name] += sign * int(row[name] or 0)
        # Every case is in one state: a key without cases (a sum over no rows, or a department
        # whose dirty cases have all moved to another) is no key at all, as in the direct query.
        return {k: v for k, v in found.items() if any(v[c] for c in STATE_COLUMNS.values())}

    def _cohort_parts(self, scope: Scope, department: str | None, key: str | None) -> list[Part]:
        """The rows whose sums are the window's cohort: stored rows, and the dirty units'
        aggregate computed from the projection."""
        window = self._window
        dirty = window.dirty_in(scope, window_only=True)
        parts = self._cohort_rows(scope, department, key, dirty)
        if dirty:
            within = [unit_condition(dirty, window.offset)]
            if department is not None:
                within.append(cases.c.assignee_department == department)
            parts.append((cohort_select(self._dialect, window.offset, within).subquery(), (), 1))
        return parts

    def _cohort_rows(
        self, scope: Scope, department: str | None, key: str | None, dirty: Sequence[Unit]
    ) -> list[Part]:
        """The stored rows to add up (sign 1) and take off (sign −1), dirty units aside.

        The narrowest table that names the scope, the department and the key: per street
        without departments, per district with them, per street and department otherwise.
        """
        window = self._window

        def rows(table: Table) -> list[ColumnElement[bool]]:
            days = (table.c.day >= window.first, table.c.day <= window.last)
            return [*days, *_filter(table, scope, department)]

        if department is None and key != "department":
            return [(street_rollups, [*rows(street_rollups), *_clean(street_rollups, dirty)], 1)]
        if scope.level is GridLevel.STREET or key == "street_code":
            return [(case_rollups, [*rows(case_rollups), *_clean(case_rollups, dirty)], 1)]
        # department_rollups cannot leave a dirty unit out: its stale rows, still in
        # case_rollups, are taken off instead.
        parts: list[Part] = [(department_rollups, rows(department_rollups), 1)]
        if dirty:
            stale = tuple_(case_rollups.c.day, *(case_rollups.c[c] for c in PATH))
            parts.append(
                (case_rollups, [*rows(case_rollups), stale.in_([u.key() for u in dirty])], -1)
            )
        return parts

    def closings(self, scope: Scope) -> ClosingDays:
        """Closings per local day from the window's first day on, and late spells' ends."""
        window = self._window
        dirty = window.dirty_in(scope, window_only=False)
        stored = (
            closing_rollups.c.closed_day >= window.first,
            *_filter(closing_rollups, scope, None),
            *_clean(closing_rollups, dirty),
        )
        parts: list[tuple[Table | Any, Sequence[ColumnElement[bool]]]] = [(closing_rollups, stored)]
        if dirty:
            within = [unit_condition(dirty, window.offset)]
            computed = closing_select(self._dialect, window.offset, within).subquery()
            parts.append((computed, (computed.c.closed_day >= window.first,)))
        days = ClosingDays()
        for source, conditions in parts:
            query = (
                select(
                    source.c.closed_day,
                    source.c.due_day,
                    *(func.sum(source.c[n]).label(n) for n in CLOSING_COUNTS),
                )
                .where(*conditions)
                .group_by(source.c.closed_day, source.c.due_day)
            )
            for row in self._session.execute(query).mappings():
                days.add(_as_date(row["closed_day"]), _as_date(row["due_day"]), row)
        return days

    def created(self, scope: Scope) -> dict[date, int]:
        """New cases (duplicates aside) per local day of the window."""
        found: dict[date, int] = defaultdict(int)
        for source, conditions, sign in self._cohort_parts(scope, None, None):
            query = (
                select(source.c.day, func.sum(source.c.created))
                .where(*conditions)
                .group_by(source.c.day)
            )
            for day, n in self._session.execute(query):
                found[_as_date(day)] += sign * int(n or 0)
        return dict(found)


@dataclass
class ClosingDays:
    """Per local day: closings, closings on time; late closings by deadline day and closing day."""

    closed: dict[date, int]
    closed_on_time: dict[date, int]
    late_from: dict[date, int]
    late_until: dict[date, int]

    def __init__(self) -> None:
        self.closed, self.closed_on_time = defaultdict(int), defaultdict(int)
        self.late_from, self.late_until = defaultdict(int), defaultdict(int)

    def add(self, closed_day: date, due_day: date, row: Any) -> None:
        self.closed[closed_day] += int(row["closed"] or 0)
        self.closed_on_time[closed_day] += int(row["closed_on_time"] or 0)
        late = int(row["late"] or 0)
        if late:
            self.late_from[due_day] += late
            self.late_until[closed_day] += late


def _filter(table: Table, scope: Scope, department: str | None) -> list[ColumnElement[bool]]:
    conditions = [table.c[ROLLED_LEVELS[scope.level]] == scope.code]
    if department is not None:
        conditions.append(table.c.department == department)
    return conditions


def _clean(table: Table, dirty: Sequence[Unit]) -> list[ColumnElement[bool]]:
    """Rows outside the dirty units, which are read from the projection instead."""
    if not dirty:
        return []
    unit = tuple_(table.c.day, *(table.c[c] for c in PATH))
    return [unit.not_in([u.key() for u in dirty])]


def _as_date(value: Any) -> date:
    # SQLite hands back the text of a computed date; stored Date columns come back as dates.
    return value if isinstance(value, date) else date.fromisoformat(str(value))
