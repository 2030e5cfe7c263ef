"""The dashboard queries over the `cases` projection, its reports and its event log.

Every query is bounded by a scope (one grid code on the case path) and, where it counts a period,
by a range of `created_at` or `closed_at`, so that it reads an index range rather than the table:

    scope level          cases filtered on                         index used
    city                 city_code                                 (city_code, created_at | closed_at)
    district             district_code                             (district_code, created_at | closed_at)
    street               street_code                               (street_code, created_at | closed_at)
    community            community_code                            (community_code)
    compound, micro      its own code and its community's code     (community_code)

Open cases are found through the partial index ix_cases_open_path (open cases only, by city,
district, street, community); rework and handling times through case_events (action, at,
case_id); changes for the live stream through case_events.global_seq. The plans are checked by
tests/store/test_analytics.py.
The queries are plain SQL that SQLite and PostgreSQL both run; the hour of a timestamp needs each
dialect's own function, and where a planner needs steering the method says why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    bindparam,
    case,
    cast,
    exists,
    extract,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Session

from gridgov.analytics.indicators import (
    DONE_STATES,
    HANDLED_STATES,
    PUBLIC_CHANNELS,
    REWORK_ACTIONS,
    SATISFIED,
    CohortFigures,
)
from gridgov.analytics.party import PartyCounts
from gridgov.analytics.scope import Scope
from gridgov.analytics.trend import BEFORE, HourCounts
from gridgov.grids.model import GridLevel
from gridgov.store.cases import PATH_COLUMNS, core_table
from gridgov.store.tables import (
    OPEN_CASE_STATES,
    CaseEventRow,
    CaseRow,
    PartyOrganisationRow,
    PartyRegistrationRow,
    ReportRow,
    VolunteerTaskRow,
)

cases = core_table(CaseRow)
events = core_table(CaseEventRow)
reports = core_table(ReportRow)

# Grouping keys of a cohort.
CHILD = "child"
DEPARTMENT = "department"


@dataclass(frozen=True, slots=True)
class CaseFilter:
    """Which cases a figure counts: a scope, and for a department's staff only its own cases."""

    scope: Scope
    department: str | None = None


@dataclass(frozen=True, slots=True)
class DayCounts:
    reports_by_channel: Mapping[str, int]
    created: int
    closed: int


@dataclass(frozen=True, slots=True)
class CasePoint:
    id: int
    state: str
    lon: float
    lat: float
    category_code: str | None
    created_at: datetime
    handle_due: datetime | None


@dataclass(frozen=True, slots=True)
class CaseChange:
    """A case as it stands after a change the live stream has not yet sent."""

    id: int
    state: str
    lon: float | None
    lat: float | None
    category_code: str | None
    created_at: datetime
    street_code: str | None
    seq: int


class AnalyticsRepository:
    """Read-only figures; each method is one or a few indexed queries."""

    def __init__(self, session: Session) -> None:
        self._session = session

    @property
    def _postgres(self) -> bool:
        return self._session.get_bind().dialect.name == "postgresql"

    # Cohorts: the cases created in a period, as they stand now

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
        """Counts of the cohort, in one group (key None) or per child grid or per department.

        `public` adds the cases first reported by the public (a probe per filed case), `handling`
        the on-time handling counts (from the event log; see `_handled_at`).
        """
        key: ColumnElement[Any] | None = None
        if group == CHILD:
            child_level = where.scope.child_level
            if child_level is None:
                return {}
            key = cases.c[PATH_COLUMNS[child_level.value]]
        elif group == DEPARTMENT:
            key = cases.c.assignee_department
        period = (cases.c.created_at >= start, cases.c.created_at < end)
        source, measures = self._measures(
            where, period, start, now, public=public, handling=handling
        )
        columns = [
            func.count(case((condition, 1))).label(name) for name, condition in measures.items()
        ]
        query = (
            select(*([] if key is None else [key.label("key")]), *columns)
            .select_from(source)
            .where(*_matching(where), cases.c.created_at >= start, cases.c.created_at < end)
        )
        if key is not None:
            query = query.where(key.is_not(None)).group_by(key)
        found: dict[str | None, CohortFigures] = {}
        for row in self._session.execute(query).mappings():
            values = {name: int(row[name]) for name in measures}
            found[row["key"] if key is not None else None] = CohortFigures(**values)
        return found

    def _measures(
        self,
        where: CaseFilter,
        period: tuple[ColumnElement[bool], ...],
        start: datetime,
        now: datetime,
        *,
        public: bool,
        handling: bool,
    ) -> tuple[Any, dict[str, ColumnElement[bool]]]:
        """The cohort query's FROM, and the condition each `CohortFigures` count counts."""
        filed = and_(cases.c.filed_at.is_not(None), cases.c.state != "merged")
        done = cases.c.state.in_(DONE_STATES)
        rework = select(events.c.case_id).where(
            events.c.action.in_(REWORK_ACTIONS), events.c.at >= start
        )
        source: Any = cases
        reworked: ColumnElement[bool]
        if self._postgres:
            # Joined: PostgreSQL may run an IN inside CASE once per row rather than hashing it.
            joined = rework.distinct().subquery("rework")
            source = cases.outerjoin(joined, joined.c.case_id == cases.c.id)
            reworked = joined.c.case_id.is_not(None)
        else:
            # SQLite runs the IN list once; a DISTINCT subquery it would read in case_id order,
            # through the whole log.
            reworked = cases.c.id.in_(rework)
        dispatched = cases.c.dispatched_at.is_not(None)
        measures: dict[str, ColumnElement[bool]] = {
            "created": cases.c.state != "merged",
            "filed": filed,
            "due": and_(filed, or_(done, cases.c.handle_due < now)),
            "closed": done,
            "closed_on_time": and_(done, cases.c.closed_at <= cases.c.handle_due),
            "dispatched": dispatched,
            "returned": and_(dispatched, cases.c.return_count > 0),
            "handled": or_(cases.c.state.in_(HANDLED_STATES), reworked),
            "reworked": reworked,
            "evaluated": cases.c.satisfaction.is_not(None),
            "satisfied": cases.c.satisfaction.in_(SATISFIED),
        }
        if public:
            measures["public_filed"] = and_(
                filed,
                exists().where(
                    reports.c.case_id == cases.c.id, reports.c.channel.in_(PUBLIC_CHANNELS)
                ),
            )
        if handling:
            cohort_ids = select(cases.c.id).where(*_matching(where), *period)
            source, handled_at = self._handled_at(source, start, cohort_ids)
            measures["handle_due"] = and_(
                dispatched, or_(handled_at.is_not(None), cases.c.handle_due < now)
            )
            measures["handled_on_time"] = and_(dispatched, handled_at <= cases.c.handle_due)
        return source, measures

    def _handled_at(
        self, source: Any, start: datetime, cohort_ids: Select[Any]
    ) -> tuple[Any, ColumnElement[datetime]]:
        """The cohort's FROM, and when each case was last handled (处置反馈) as a column of it."""
        if self._postgres:
            # The period's handling events of the cohort's cases, grouped once and hash-joined;
            # naming the cohort lets a street's query skip the rest of the city's events.
            handled = (
                select(events.c.case_id, func.max(events.c.at).label("at"))
                .where(
                    events.c.action == "handle",
                    events.c.at >= start,
                    events.c.case_id.in_(cohort_ids),
                )
                .group_by(events.c.case_id)
                .subquery("handled")
            )
            return source.outerjoin(handled, handled.c.case_id == cases.c.id), handled.c.at
        # SQLite would group the whole log in case_id order, then scan the result per case: a
        # lookup of each case's own few events through (case_id, seq) costs far less. The
        # action is written `action || ''` so that SQLite cannot read (action, at) instead.
        return source, (
            select(func.max(events.c.at))
            .where(events.c.case_id == cases.c.id, events.c.action.concat("") == "handle")
            .scalar_subquery()
        )

    def _open(self, where: CaseFilter) -> list[ColumnElement[bool]]:
        """The filter's open cases, as conditions the partial index `ix_cases_open_path` answers.

        The scope is given by its whole path (city, district, street, community), the index's
        prefix; the state list is written out literally, because a partial index is used only
        for a query that repeats its condition, and SQLite cannot see into bound parameters.
        """
        scope = where.scope
        conditions: list[ColumnElement[bool]] = [
            cases.c.state.in_(
                bindparam(
                    "open_states", list(OPEN_CASE_STATES), expanding=True, literal_execute=True
                )
            )
        ]
        for level in (GridLevel.CITY, GridLevel.DISTRICT, GridLevel.STREET, GridLevel.COMMUNITY):
            code = scope.path.get(level.value)
            if code is not None:
                conditions.append(cases.c[PATH_COLUMNS[level.value]] == code)
        if scope.level in (GridLevel.COMPOUND, GridLevel.MICRO):
            conditions.append(cases.c[PATH_COLUMNS[scope.level.value]] == scope.code)
        if where.department is not None:
            conditions.append(cases.c.assignee_department == where.department)
        return conditions

    def states(self, where: CaseFilter, start: datetime, end: datetime) -> dict[str, int]:
        """The cohort by state, merged duplicates included."""
        query = (
            select(cases.c.state, func.count())
            .where(*_matching(where), cases.c.created_at >= start, cases.c.created_at < end)
            .group_by(cases.c.state)
        )
        return {state: int(n) for state, n in self._session.execute(query)}

    # Now and today

    def open_now(self, where: CaseFilter, now: datetime) -> tuple[int, int]:
        """(open, overdue): cases not yet closed, and those of them past their handling deadline."""
        query = select(func.count(), func.count(case((cases.c.handle_due < now, 1)))).where(
            *self._open(where)
        )
        row = self._session.execute(query).one()
        return int(row[0]), int(row[1])

    def day(self, where: CaseFilter, start: datetime, end: datetime) -> DayCounts:
        """One day: its reports by channel, new cases (duplicates aside) and closings."""
        in_day = (cases.c.created_at >= start, cases.c.created_at < end)
        by_channel = (
            select(reports.c.channel, func.count())
            .select_from(reports.join(cases, cases.c.id == reports.c.case_id))
            .where(*_matching(where), *in_day, reports.c.received_at >= start)
            .where(reports.c.received_at < end)
            .group_by(reports.c.channel)
        )
        created = select(func.count()).where(*_matching(where), *in_day, cases.c.state != "merged")
        closed = select(func.count()).where(
            *_matching(where),
            cases.c.state.in_(DONE_STATES),
            cases.c.closed_at >= start,
            cases.c.closed_at < end,
        )
        return DayCounts(
            reports_by_channel={c: int(n) for c, n in self._session.execute(by_channel)},
            created=int(self._session.scalar(created) or 0),
            closed=int(self._session.scalar(closed) or 0),
        )

    def trend(self, where: CaseFilter, start: datetime, end: datetime) -> HourCounts:
        """Per hour from `start`: created, closed (on time), and overdue spells (see HourCounts).

        Four queries: the period's new cases, its closings, the open cases' deadlines, and the
        spells of cases closed late since `start` (whose deadline may lie before it).
        """
        scoped = _matching(where)
        created_hour = self._hour(cases.c.created_at, start).label("hour")
        created = select(created_hour, func.count()).where(
            *scoped,
            cases.c.created_at >= start,
            cases.c.created_at < end,
            cases.c.state != "merged",
        )
        closed_hour = self._hour(cases.c.closed_at, start).label("hour")
        closed = select(
            closed_hour,
            func.count(),
            func.count(case((cases.c.closed_at <= cases.c.handle_due, 1))),
        ).where(
            *scoped,
            cases.c.state.in_(DONE_STATES),
            cases.c.closed_at >= start,
            cases.c.closed_at < end,
        )
        due_hour = self._hour(cases.c.handle_due, start).label("due_hour")
        open_due = select(due_hour, func.count()).where(
            *self._open(where), cases.c.handle_due < end
        )
        # Bounded by closed_at only: a deadline past the end, or a closing after it, falls
        # outside the period's days and is dropped when they are folded.
        late = select(
            due_hour, self._hour(cases.c.closed_at, start).label("hour"), func.count()
        ).where(
            *scoped,
            self._done_closing(),
            cases.c.closed_at >= start,
            cases.c.closed_at > cases.c.handle_due,
        )
        counts: dict[str, dict[int, int]] = {name: {} for name in HourCounts.__slots__}
        for hour, n in self._session.execute(created.group_by(created_hour)):
            counts["created"][int(hour)] = int(n)
        for hour, n, on_time in self._session.execute(closed.group_by(closed_hour)):
            counts["closed"][int(hour)] = int(n)
            counts["closed_on_time"][int(hour)] = int(on_time)
        for hour, n in self._session.execute(open_due.group_by(due_hour)):
            counts["overdue_from"][int(hour)] = int(n)
        for due, closed_at, n in self._session.execute(late.group_by(due_hour, "hour")):
            for name, hour in (("overdue_from", due), ("overdue_until", closed_at)):
                counts[name][int(hour)] = counts[name].get(int(hour), 0) + int(n)
        return HourCounts(**counts)

    def _done_closing(self) -> ColumnElement[bool]:
        """Closed cases, for a query that reads them by closing time.

        SQLite takes `state IN (...)` with a range on handle_due for selective, and would read
        every closed case through (state, handle_due); written `state || ''` it reads the
        scope's closing times instead.
        """
        state: ColumnElement[Any] = cases.c.state if self._postgres else cases.c.state.concat("")
        return state.in_(DONE_STATES)

    def _hour(self, column: ColumnElement[datetime], start: datetime) -> ColumnElement[int]:
        """Whole hours from `start` to `column` (BEFORE when earlier); `start` is on the hour."""
        origin = int(start.timestamp())
        if self._postgres:
            seconds: ColumnElement[Any] = extract("epoch", column)
            hours: ColumnElement[Any] = cast(func.floor((seconds - origin) / 3600), Integer)
        else:
            # SQLite keeps UTC text; strftime('%s') reads it as whole seconds since the epoch.
            hours = (cast(func.strftime("%s", column), Integer) - origin) // 3600
        return case((column < start, BEFORE), else_=hours)

    # The map and the live stream

    def case_points(
        self,
        where: CaseFilter,
        bbox: tuple[float, float, float, float],
        since: datetime | None,
        limit: int,
    ) -> list[CasePoint]:
        """Open cases in `bbox`, and if `since` is given every case created since; newest first."""
        min_lon, min_lat, max_lon, max_lat = bbox
        inside = (
            cases.c.lon >= min_lon,
            cases.c.lon <= max_lon,
            cases.c.lat >= min_lat,
            cases.c.lat <= max_lat,
        )
        columns = (
            cases.c.id,
            cases.c.state,
            cases.c.lon,
            cases.c.lat,
            cases.c.category_code,
            cases.c.created_at,
            cases.c.handle_due,
        )
        # Two queries rather than one OR, so that each reads its own index.
        queries: list[Select[Any]] = [select(*columns).where(*self._open(where), *inside)]
        if since is not None:
            queries.append(
                select(*columns).where(*_matching(where), *inside, cases.c.created_at >= since)
            )
        found: dict[int, CasePoint] = {}
        for query in queries:
            for row in self._session.execute(query.order_by(cases.c.id.desc()).limit(limit)):
                found[row.id] = CasePoint(*row)
        return [found[k] for k in sorted(found, reverse=True)[:limit]]

    def head(self) -> int:
        """The newest event's position on the chain (0 for an empty log)."""
        return int(self._session.scalar(select(func.max(events.c.global_seq))) or 0)

    def changes(self, where: CaseFilter, after: int, limit: int) -> tuple[list[CaseChange], int]:
        """Cases in scope with events after position `after`, and the position read up to.

        At most `limit` events are read per call; the returned position says where to go on.
        """
        recent = (
            select(events.c.global_seq, events.c.case_id)
            .where(events.c.global_seq > after)
            .order_by(events.c.global_seq)
            .limit(limit)
        )
        latest: dict[int, int] = {}
        reached = after
        for seq, case_id in self._session.execute(recent):
            latest[case_id] = seq
            reached = seq
        if not latest:
            return [], reached
        # Read by id: left to its statistics, SQLite would read the scope's index instead.
        query = select(
            cases.c.id,
            cases.c.state,
            cases.c.lon,
            cases.c.lat,
            cases.c.category_code,
            cases.c.created_at,
            cases.c.street_code,
        ).where(*_matching(where, indexed=self._postgres), cases.c.id.in_(sorted(latest)))
        changed = [
            CaseChange(**row, seq=latest[row["id"]])
            for row in self._session.execute(query).mappings()
        ]
        return sorted(changed, key=lambda c: c.seq), reached

    # Party building

    def party_counts(self) -> dict[str, PartyCounts]:
        """Per grid code: party organisations, registered members, volunteer tasks done and open."""
        totals: dict[str, list[int]] = {}

        def add(code: str, slot: int, n: int) -> None:
            totals.setdefault(code, [0, 0, 0, 0])[slot] += int(n)

        for model, slot in ((PartyOrganisationRow, 0), (PartyRegistrationRow, 1)):
            table = core_table(model)
            query = select(table.c.grid_code, func.count()).group_by(table.c.grid_code)
            for code, n in self._session.execute(query):
                add(code, slot, n)
        tasks = core_table(VolunteerTaskRow)
        query = select(tasks.c.grid_code, tasks.c.status, func.count()).group_by(
            tasks.c.grid_code, tasks.c.status
        )
        for code, status, n in self._session.execute(query):
            add(code, 2 if status == "done" else 3, n)
        return {code: PartyCounts(*counts) for code, counts in totals.items()}


def _matching(where: CaseFilter, *, indexed: bool = True) -> list[ColumnElement[bool]]:
    """The conditions that keep a query to the filter's cases (see the module doc for indexes).

    With `indexed` False each column is compared as `column || ''`: the same test, which no
    index can answer.
    """

    def column(name: str) -> ColumnElement[Any]:
        found: ColumnElement[Any] = cases.c[name]
        return found if indexed else found.concat("")

    scope = where.scope
    conditions = [column(PATH_COLUMNS[scope.level.value]) == scope.code]
    community = scope.path.get(GridLevel.COMMUNITY.value)
    if scope.level in (GridLevel.COMPOUND, GridLevel.MICRO) and community is not None:
        # Implied by the path, but it lets the query read the community's index.
        conditions.append(column("community_code") == community)
    if where.department is not None:
        conditions.append(column("assignee_department") == where.department)
    return conditions
