"""The dashboard queries with the period figures read from the daily rollups where they can be.

`RolledAnalyticsRepository` answers exactly as `AnalyticsRepository` does — tests/store/
test_rollups.py compares the two on a generated world — but a cohort (a month's evaluations, the
overview's 30-day rates and states) and the daily trend of a city, district or street over whole
local days come from the rollups plus the dirty units (gridgov/store/rollup_queries.py), so that
their cost follows the number of days and streets, not of cases. The clock-dependent counts are
added from the cases themselves, through indexes that hold only a few rows:

    due to close   = filed and closed (rolled up) + open filed cases past their deadline
                     (the partial index of open cases)
    due to handle  = dispatched and handled (rolled up) + open dispatched cases never handled
                     and past their deadline + dispatched cases shut without a handling report
                     (rolled up) − those of them whose deadline is still ahead (state, deadline)

Anything else — a community or lower, the children of a street (communities), a department's
own trend, a period not made of whole days — is the direct query.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.orm import Session

from gridgov.analytics.indicators import CohortFigures
from gridgov.analytics.trend import BEFORE, HourCounts
from gridgov.grids.model import GridLevel
from gridgov.store.analytics import CHILD, DEPARTMENT, AnalyticsRepository, CaseFilter, _matching
from gridgov.store.cases import PATH_COLUMNS
from gridgov.store.rollup_queries import ROLLED_LEVELS, RollupReader, RollupWindow, rolled
from gridgov.store.rollups import cases, events

SHUT_STATES = ("rejected", "closed", "evaluated", "merged")


class RolledAnalyticsRepository(AnalyticsRepository):
    """`AnalyticsRepository` reading its period figures from the rollups where it can."""

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self._memo: dict[Any, dict[str | None, dict[str, int]]] = {}

    def _window(self, where: CaseFilter, start: datetime, end: datetime) -> RollupWindow | None:
        if not rolled(where.scope):
            return None
        return RollupWindow.of(self._session, start, end)

    def _sums(
        self, window: RollupWindow, where: CaseFilter, key: str | None
    ) -> dict[str | None, dict[str, int]]:
        """The rollup sums, read once per repository for the overview's cohort and states."""
        memo_key = (window, where.scope.code, where.department, key)
        found = self._memo.get(memo_key)
        if found is None:
            reader = RollupReader(self._session, window)
            found = self._memo[memo_key] = reader.cohort(where.scope, where.department, key)
        return found

    def cohort(
        self,
        where: CaseFilter,
        start: datetime,
        end: datetime,
        now: datetime,
        *,
        group: str | None = None,
        public: bool = False,
        handling: bool = False,
    ) -> dict[str | None, CohortFigures]:
        key = _rollup_key(where, group)
        window = self._window(where, start, end)
        if window is None or key == "":
            return super().cohort(
                where, start, end, now, group=group, public=public, handling=handling
            )
        sums = self._sums(window, where, key)
        column = (
            None if key is None else cases.c[key if key != "department" else "assignee_department"]
        )
        # Shut cases never handled with their deadline ahead are a part of `unhandled_shut`:
        # only the keys that have any need looking for them.
        shut = [k for k, counts in sums.items() if counts["unhandled_shut"]] if handling else []
        live = self._live(where, start, end, now, column, handling=handling, shut=shut)
        found = {
            k: _figures(counts, live.get(k, (0, 0, 0)), public=public, handling=handling)
            for k, counts in sums.items()
        }
        if key is None:
            return {None: found.get(None, CohortFigures())}
        return found

    def _live(
        self,
        where: CaseFilter,
        start: datetime,
        end: datetime,
        now: datetime,
        key: ColumnElement[Any] | None,
        *,
        handling: bool,
        shut: Sequence[str | None],
    ) -> dict[str | None, tuple[int, int, int]]:
        """Per key: open filed cases past their deadline; with `handling`, open dispatched cases
        never handled and past it, and, for the keys in `shut`, shut ones never handled whose
        deadline is still ahead."""
        created = (cases.c.created_at >= start, cases.c.created_at < end)
        dispatched = cases.c.dispatched_at.is_not(None)
        unhandled = ~exists().where(events.c.case_id == cases.c.id, events.c.action == "handle")
        past = cases.c.handle_due < now
        queries = [
            (0, [*self._open(where), *created, cases.c.filed_at.is_not(None), past]),
        ]
        if handling:
            queries.append((1, [*self._open(where), *created, dispatched, unhandled, past]))
        if shut:
            # Read by (state, handle_due): few shut cases have a deadline still ahead.
            ahead = (cases.c.state.in_(SHUT_STATES), cases.c.handle_due >= now)
            keys = [] if key is None else [key.in_(shut)]
            queries.append((2, [*_matching(where), *created, *ahead, dispatched, unhandled, *keys]))
        found: dict[str | None, list[int]] = {}
        for slot, conditions in queries:
            columns = [] if key is None else [key.label("key")]
            query = select(*columns, func.count()).where(*conditions)
            if key is not None:
                query = query.where(key.is_not(None)).group_by(key)
            for row in self._session.execute(query):
                name = row[0] if key is not None else None
                found.setdefault(name, [0, 0, 0])[slot] += int(row[-1])
        return {k: (v[0], v[1], v[2]) for k, v in found.items()}

    def states(self, where: CaseFilter, start: datetime, end: datetime) -> dict[str, int]:
        window = self._window(where, start, end)
        if window is None:
            return super().states(where, start, end)
        counts = self._sums(window, where, None).get(None, {})
        return {
            name.removeprefix("state_"): n
            for name, n in counts.items()
            if name.startswith("state_") and n > 0
        }

    def trend(self, where: CaseFilter, start: datetime, end: datetime) -> HourCounts:
        window = self._window(where, start, end)
        if window is None or where.department is not None:
            # The closings are rolled up without the department: its own trend reads the cases.
            return super().trend(where, start, end)
        reader = RollupReader(self._session, window)
        first, last = window.first, window.last

        def hours(per_day: Mapping[date, int], *, before: bool = False) -> dict[int, int]:
            found: dict[int, int] = {}
            for day, n in per_day.items():
                if day > last or (day < first and not before) or not n:
                    continue
                hour = BEFORE if day < first else (day - first).days * 24
                found[hour] = found.get(hour, 0) + n
            return found

        closings = reader.closings(where.scope)
        due_hour = self._hour(cases.c.handle_due, start).label("due_hour")
        open_due = select(due_hour, func.count()).where(
            *self._open(where), cases.c.handle_due < end
        )
        overdue_from = {
            int(hour): int(n) for hour, n in self._session.execute(open_due.group_by(due_hour))
        }
        for hour, n in hours(closings.late_from, before=True).items():
            overdue_from[hour] = overdue_from.get(hour, 0) + n
        return HourCounts(
            hours(reader.created(where.scope)),
            hours(closings.closed),
            hours(closings.closed_on_time),
            overdue_from,
            hours(closings.late_until),
        )


def _rollup_key(where: CaseFilter, group: str | None) -> str | None:
    """The rollup column a cohort is grouped by; '' when the rollups cannot group so."""
    if group == DEPARTMENT:
        return "department"
    if group != CHILD:
        return None
    child = where.scope.child_level
    if child is None or child not in ROLLED_LEVELS or child is GridLevel.CITY:
        return ""
    return PATH_COLUMNS[child.value]


def _figures(
    counts: Mapping[str, int], live: tuple[int, int, int], *, public: bool, handling: bool
) -> CohortFigures:
    past_filed, past_unhandled, shut_ahead = live
    return CohortFigures(
        created=counts["created"],
        filed=counts["filed"],
        due=counts["filed_done"] + past_filed,
        closed=counts["closed"],
        closed_on_time=counts["closed_on_time"],
        public_filed=counts["public_filed"] if public else 0,
        dispatched=counts["dispatched"],
        returned=counts["returned"],
        handled=counts["handled"],
        reworked=counts["reworked"],
        evaluated=counts["evaluated"],
        satisfied=counts["satisfied"],
        handle_due=counts["dispatched_handled"]
        + past_unhandled
        + counts["unhandled_shut"]
        - shut_ahead
        if handling
        else 0,
        handled_on_time=counts["handled_on_time"] if handling else 0,
    )
