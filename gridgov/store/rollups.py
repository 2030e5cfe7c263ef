"""Daily rollups of the `cases` projection, for figures over whole months and years.

Four tables. Their rows are cut along *units*: the cases created on one local day in one street
(or, for a case without a street, in the lowest grid its path names). A case never changes unit —
its creation time and grid path are fixed by its first event — so a unit is always recomputed as
a whole from the projection, and no case can be counted twice or left behind:

    case_rollups        per unit × current department: the cohort counts (created, filed,
                        closed, closed on time, returned, reworked, satisfied …) and the cases
                        per state
    street_rollups      per unit: the same counts summed over the departments, for the figures
                        that do not ask about departments (an order of magnitude fewer rows)
    department_rollups  per local day × district × department: the same counts summed over the
                        streets (recomputed per district-day after its units), for the
                        department figures of a city or district
    closing_rollups     per unit × closing day × deadline day: closings, on time and late

The figures count the cases *as they stand now* (gridgov/analytics/indicators.py), so a case
created in January and closed in March changes January's unit: a unit is final only once all its
cases are. The worker keeps the rollups up to the event log's head (`refresh`): every event past
the watermark `rollup_state.seq` names a case, the case names its unit, and each unit touched is
recomputed. Readers treat the units touched after the watermark as *dirty* and count them from
the projection (`dirty_units`, `cohort_select`), so an answer never depends on how recently the
worker ran. Counts that depend on the clock (due to close, due to handle) are not rolled up: the
readers add the open cases past their deadline at the time of asking.

Local days use one fixed UTC offset, recorded with the rollups; a zone whose offset changes
(daylight saving) between 2000 and 2100 gets no rollups, and its figures read the projection.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    CheckConstraint,
    ColumnElement,
    Date,
    Index,
    Integer,
    Select,
    String,
    Table,
    and_,
    case,
    cast,
    delete,
    false,
    func,
    insert,
    literal_column,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from gridgov.analytics.indicators import (
    DONE_STATES,
    HANDLED_STATES,
    PUBLIC_CHANNELS,
    REWORK_ACTIONS,
    SATISFIED,
)
from gridgov.store.cases import core_table
from gridgov.store.tables import (
    OPEN_CASE_STATES,
    Base,
    CaseEventRow,
    CaseRow,
    ReportRow,
)
from gridgov.workflow.model import CaseState

cases = core_table(CaseRow)
events = core_table(CaseEventRow)
reports = core_table(ReportRow)

# The unit's path columns; '' stands for a level the case's path does not name, so that the
# columns can be part of the primary key.
PATH = ("city_code", "district_code", "street_code")
STATE_COLUMNS = {s.value: f"state_{s.value}" for s in CaseState}
# Time-independent cohort counts (see `_cohort_measures` for what each counts).
COHORT_COUNTS = (
    "created",
    "filed",
    "filed_done",
    "closed",
    "closed_on_time",
    "public_filed",
    "dispatched",
    "returned",
    "handled",
    "reworked",
    "evaluated",
    "satisfied",
    "dispatched_handled",
    "handled_on_time",
    "unhandled_shut",
)
CLOSING_COUNTS = ("closed", "closed_on_time", "late")
# Units recomputed per statement: each is a small OR term of the query.
UNIT_CHUNK = 200


class UnitCounts:
    """A unit's counts: the cohort counts, then its cases per state (columns of two tables)."""

    created: Mapped[int] = mapped_column(Integer)
    filed: Mapped[int] = mapped_column(Integer)
    filed_done: Mapped[int] = mapped_column(Integer)
    closed: Mapped[int] = mapped_column(Integer)
    closed_on_time: Mapped[int] = mapped_column(Integer)
    public_filed: Mapped[int] = mapped_column(Integer)
    dispatched: Mapped[int] = mapped_column(Integer)
    returned: Mapped[int] = mapped_column(Integer)
    handled: Mapped[int] = mapped_column(Integer)
    reworked: Mapped[int] = mapped_column(Integer)
    evaluated: Mapped[int] = mapped_column(Integer)
    satisfied: Mapped[int] = mapped_column(Integer)
    dispatched_handled: Mapped[int] = mapped_column(Integer)
    handled_on_time: Mapped[int] = mapped_column(Integer)
    unhandled_shut: Mapped[int] = mapped_column(Integer)
    state_reported: Mapped[int] = mapped_column(Integer)
    state_filed: Mapped[int] = mapped_column(Integer)
    state_rejected: Mapped[int] = mapped_column(Integer)
    state_dispatched: Mapped[int] = mapped_column(Integer)
    state_accepted: Mapped[int] = mapped_column(Integer)
    state_returned: Mapped[int] = mapped_column(Integer)
    state_handled: Mapped[int] = mapped_column(Integer)
    state_verified: Mapped[int] = mapped_column(Integer)
    state_reopened: Mapped[int] = mapped_column(Integer)
    state_closed: Mapped[int] = mapped_column(Integer)
    state_evaluated: Mapped[int] = mapped_column(Integer)
    state_merged: Mapped[int] = mapped_column(Integer)


class CaseRollupRow(UnitCounts, Base):
    __tablename__ = "case_rollups"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    city_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    district_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    street_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    department: Mapped[str] = mapped_column(String(128), primary_key=True)

    __table_args__ = (
        Index("ix_case_rollups_district_code_day", "district_code", "day"),
        Index("ix_case_rollups_street_code_day", "street_code", "day"),
    )


class StreetRollupRow(UnitCounts, Base):
    """`case_rollups` summed over the departments: one row per unit, for the figures that do
    not ask about departments (a month of a city is ~6,500 rows here, ~84,000 there)."""

    __tablename__ = "street_rollups"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    city_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    district_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    street_code: Mapped[str] = mapped_column(String(64), primary_key=True)

    __table_args__ = (
        Index("ix_street_rollups_district_code_day", "district_code", "day"),
        Index("ix_street_rollups_street_code_day", "street_code", "day"),
    )


class DepartmentRollupRow(UnitCounts, Base):
    """`case_rollups` summed over the streets of a district: one row per local day, district and
    department, for the department evaluations of a city or district (a month of a city is
    ~6,000 rows here, ~84,000 there)."""

    __tablename__ = "department_rollups"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    city_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    district_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    department: Mapped[str] = mapped_column(String(128), primary_key=True)

    __table_args__ = (Index("ix_department_rollups_district_code_day", "district_code", "day"),)


class ClosingRollupRow(Base):
    __tablename__ = "closing_rollups"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    city_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    district_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    street_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    closed_day: Mapped[date] = mapped_column(Date, primary_key=True)
    # The deadline's day for a late closing; the closing day otherwise (it is not read then).
    due_day: Mapped[date] = mapped_column(Date, primary_key=True)
    closed: Mapped[int] = mapped_column(Integer)
    closed_on_time: Mapped[int] = mapped_column(Integer)
    late: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_closing_rollups_closed_day", "closed_day"),
        Index("ix_closing_rollups_district_code_closed_day", "district_code", "closed_day"),
        Index("ix_closing_rollups_street_code_closed_day", "street_code", "closed_day"),
    )


class RollupStateRow(Base):
    __tablename__ = "rollup_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Every event up to this position on the chain is in the rollups.
    seq: Mapped[int] = mapped_column(Integer)
    # The local days' offset from UTC in seconds; null: never built.
    utc_offset: Mapped[int | None] = mapped_column(Integer)
    built_at: Mapped[datetime | None]
    refreshed_at: Mapped[datetime | None]

    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)


case_rollups = core_table(CaseRollupRow)
street_rollups = core_table(StreetRollupRow)
department_rollups = core_table(DepartmentRollupRow)
closing_rollups = core_table(ClosingRollupRow)
rollup_state = core_table(RollupStateRow)
# The tables whose rows are recomputed unit by unit; street_rollups is summed from case_rollups.
UNIT_TABLES = (case_rollups, street_rollups, closing_rollups)
# A unit's columns; department_rollups' rows are recomputed per (day, city, district).
UNIT_KEY = ("day", *PATH)
DISTRICT_DAY = ("day", "city_code", "district_code")


@dataclass(frozen=True, slots=True)
class RollupState:
    seq: int
    utc_offset: int | None
    built_at: datetime | None
    refreshed_at: datetime | None


@dataclass(frozen=True, slots=True)
class Unit:
    """The cases created on one local day under one path (codes '' where the path has none)."""

    day: date
    city_code: str
    district_code: str
    street_code: str

    def key(self) -> tuple[date, str, str, str]:
        return (self.day, self.city_code, self.district_code, self.street_code)


@dataclass(frozen=True, slots=True)
class Refresh:
    """What one `refresh` did: the events read, the units recomputed, and the new watermark."""

    events: int
    units: int
    seq: int
    rebuilt: bool


def constant_offset(zone: ZoneInfo) -> int | None:
    """The zone's UTC offset in seconds if it is the same at every month from 2000 to 2100."""
    offsets = {
        datetime(year, month, 1, tzinfo=zone).utcoffset()
        for year in range(2000, 2101)
        for month in range(1, 13)
    }
    if len(offsets) != 1:
        return None
    only = offsets.pop()
    return None if only is None else int(only.total_seconds())


def local_midnight(day: date, offset: int) -> datetime:
    """The UTC instant at which local `day` starts, for a fixed offset."""
    return datetime.combine(day, time(0), tzinfo=UTC) - timedelta(seconds=offset)


def local_day_of(at: datetime, offset: int) -> date:
    return (at.astimezone(UTC) + timedelta(seconds=offset)).date()


class RollupRepository:
    """Maintains the rollups; the caller owns the transaction."""

    def __init__(self, session: Session) -> None:
        self._session = session

    @property
    def _dialect(self) -> str:
        return self._session.get_bind().dialect.name

    def state(self) -> RollupState | None:
        row = self._session.execute(select(rollup_state).where(rollup_state.c.id == 1)).first()
        if row is None:
            return None
        return RollupState(row.seq, row.utc_offset, row.built_at, row.refreshed_at)

    def head(self) -> int:
        return int(self._session.scalar(select(func.max(events.c.global_seq))) or 0)

    def _lock_state(self) -> RollupState:
        """Become the one maintainer: the state row, locked (PostgreSQL) or written (SQLite)."""
        if self._dialect == "postgresql":
            self._session.execute(
                select(rollup_state.c.id).where(rollup_state.c.id == 1).with_for_update()
            )
        else:
            # SQLite's write lock, taken now: the recomputation must not interleave with a writer.
            self._session.execute(
                update(rollup_state).where(rollup_state.c.id == 1).values(seq=rollup_state.c.seq)
            )
        found = self.state()
        if found is None:
            self._session.execute(insert(rollup_state).values(id=1, seq=0, utc_offset=None))
            return RollupState(0, None, None, None)
        return found

    def rebuild(self, offset: int, now: datetime) -> Refresh:
        """Recompute every unit from the projection, for local days at `offset` seconds from UTC."""
        self._lock_state()
        head = self.head()
        for table in (*UNIT_TABLES, department_rollups):
            self._session.execute(delete(table))
        self._insert_units(offset, None)
        self._insert_district_days(None)
        self._session.execute(
            update(rollup_state)
            .where(rollup_state.c.id == 1)
            .values(seq=head, utc_offset=offset, built_at=now, refreshed_at=now)
        )
        return Refresh(events=0, units=-1, seq=head, rebuilt=True)

    def refresh(self, offset: int, now: datetime, *, max_events: int = 200_000) -> Refresh:
        """Recompute the units touched by events past the watermark (at most `max_events`).

        A store never built, or built for another offset, is rebuilt instead.
        """
        state = self._lock_state()
        if state.utc_offset != offset:
            return self.rebuild(offset, now)
        head = self.head()
        upto = min(head, state.seq + max_events)
        units = self.touched_units(state.seq, offset, upto=upto) if upto > state.seq else []
        for first in range(0, len(units), UNIT_CHUNK):
            chunk = units[first : first + UNIT_CHUNK]
            keys = [u.key() for u in chunk]
            for table in UNIT_TABLES:
                unit_key = tuple_(table.c.day, *(table.c[c] for c in PATH))
                self._session.execute(delete(table).where(unit_key.in_(keys)))
            self._insert_units(offset, chunk)
        # After every unit is recomputed, so that a district-day is summed from final rows.
        district_days = sorted({u.key()[:3] for u in units})
        for first in range(0, len(district_days), UNIT_CHUNK):
            chunk_days = district_days[first : first + UNIT_CHUNK]
            key = tuple_(*(department_rollups.c[c] for c in DISTRICT_DAY))
            self._session.execute(delete(department_rollups).where(key.in_(chunk_days)))
            self._insert_district_days(chunk_days)
        self._session.execute(
            update(rollup_state).where(rollup_state.c.id == 1).values(seq=upto, refreshed_at=now)
        )
        return Refresh(events=upto - state.seq, units=len(units), seq=upto, rebuilt=False)

    def touched_units(self, after: int, offset: int, *, upto: int | None = None) -> list[Unit]:
        """The units of the cases with events after position `after` (up to `upto`)."""
        query = (
            select(cases.c.created_at, *(cases.c[c] for c in PATH))
            .select_from(events.join(cases, cases.c.id == events.c.case_id))
            .where(events.c.global_seq > after)
            .distinct()
        )
        if upto is not None:
            query = query.where(events.c.global_seq <= upto)
        found = {
            Unit(local_day_of(created, offset), city or "", district or "", street or "")
            for created, city, district, street in self._session.execute(query)
        }
        return sorted(found, key=Unit.key)

    def _insert_district_days(self, keys: Sequence[tuple[date, str, str]] | None) -> None:
        """department_rollups rows of the (day, city, district) `keys` (None: all of them)."""
        self._insert(department_rollups, summed((*DISTRICT_DAY, "department"), DISTRICT_DAY, keys))

    def _insert(self, table: Table, query: Select[Any]) -> None:
        self._session.execute(insert(table).from_select(list(query.selected_columns.keys()), query))

    def _insert_units(self, offset: int, units: Sequence[Unit] | None) -> None:
        within = [] if units is None else [unit_condition(units, offset)]
        self._insert(case_rollups, cohort_select(self._dialect, offset, within))
        keys = None if units is None else [u.key() for u in units]
        self._insert(street_rollups, summed(UNIT_KEY, UNIT_KEY, keys))
        self._insert(closing_rollups, closing_select(self._dialect, offset, within))


def summed(
    group: Sequence[str], by: Sequence[str], keys: Sequence[tuple[Any, ...]] | None
) -> Select[Any]:
    """`case_rollups` summed per `group` columns, over its rows whose `by` columns are one of
    `keys` (None: over all rows)."""
    names = [*COHORT_COUNTS, *STATE_COLUMNS.values()]
    columns = [case_rollups.c[c] for c in group]
    query = select(*columns, *(func.sum(case_rollups.c[n]).label(n) for n in names))
    if keys is not None:
        query = query.where(tuple_(*(case_rollups.c[c] for c in by)).in_(keys))
    return query.group_by(*columns)


# The aggregate queries, shared by the maintenance above and by the readers, who run them over
# the dirty units to get rows of the same shape.


def unit_condition(units: Iterable[Unit], offset: int) -> ColumnElement[bool]:
    """Cases in any of `units`: the path, and a range of `created_at` its index can read."""
    terms = []
    for unit in units:
        start = local_midnight(unit.day, offset)
        terms.append(
            and_(
                *(_code_is(cases.c[c], getattr(unit, c)) for c in PATH),
                cases.c.created_at >= start,
                cases.c.created_at < start + timedelta(days=1),
            )
        )
    return or_(*terms) if terms else false()


def _code_is(column: ColumnElement[Any], code: str) -> ColumnElement[bool]:
    return column.is_(None) if code == "" else column == code


def day_expression(dialect: str, column: ColumnElement[Any], offset: int) -> ColumnElement[Any]:
    """The local date of a timestamp column, with the offset written in (GROUP BY repeats it)."""
    if dialect == "postgresql":
        utc = column.op("AT TIME ZONE")(literal_column("'UTC'"))
        return cast(utc + literal_column(f"interval '{offset} seconds'"), Date)
    return func.date(column, literal_column(f"'{offset:+d} seconds'"), type_=Date)


def _path_columns() -> list[ColumnElement[Any]]:
    return [func.coalesce(cases.c[c], literal_column("''")).label(c) for c in PATH]


def cohort_select(dialect: str, offset: int, within: Sequence[ColumnElement[bool]]) -> Select[Any]:
    """`case_rollups` rows computed from the projection for the cases matching `within`."""
    picked = select(cases.c.id).where(*within) if within else None

    def only_picked(query: Select[Any], column: ColumnElement[Any]) -> Select[Any]:
        return query if picked is None else query.where(column.in_(picked))

    rework = only_picked(
        select(events.c.case_id).where(events.c.action.in_(REWORK_ACTIONS)).distinct(),
        events.c.case_id,
    ).subquery("rework")
    handled = only_picked(
        select(events.c.case_id, func.max(events.c.at).label("at"))
        .where(events.c.action == "handle")
        .group_by(events.c.case_id),
        events.c.case_id,
    ).subquery("handled")
    public = only_picked(
        select(reports.c.case_id).where(reports.c.channel.in_(PUBLIC_CHANNELS)).distinct(),
        reports.c.case_id,
    ).subquery("public")
    source = (
        cases.outerjoin(rework, rework.c.case_id == cases.c.id)
        .outerjoin(handled, handled.c.case_id == cases.c.id)
        .outerjoin(public, public.c.case_id == cases.c.id)
    )
    day = day_expression(dialect, cases.c.created_at, offset)
    department = func.coalesce(cases.c.assignee_department, literal_column("''"))
    measures = _cohort_measures(
        reworked=rework.c.case_id.is_not(None),
        handled_at=handled.c.at,
        public=public.c.case_id.is_not(None),
    )
    counts = [func.count(case((measures[name], 1))).label(name) for name in COHORT_COUNTS]
    states = [
        func.count(case((cases.c.state == state, 1))).label(column)
        for state, column in STATE_COLUMNS.items()
    ]
    return (
        select(day.label("day"), *_path_columns(), department.label("department"), *counts, *states)
        .select_from(source)
        .where(*within)
        .group_by(day, *(cases.c[c] for c in PATH), department)
    )


def _cohort_measures(
    *, reworked: ColumnElement[bool], handled_at: ColumnElement[Any], public: ColumnElement[bool]
) -> dict[str, ColumnElement[bool]]:
    """What each rolled-up count counts; the same conditions as the direct cohort query's.

    `filed_done` and `dispatched_handled` (plus `unhandled_shut`, dispatched cases closed without
    a handling report, i.e. merged) are the parts of "due to close" and "due to handle" that
    do not depend on the clock; readers add the open cases past their deadline.
    """
    done = cases.c.state.in_(DONE_STATES)
    filed = and_(cases.c.filed_at.is_not(None), cases.c.state != "merged")
    dispatched = cases.c.dispatched_at.is_not(None)
    open_ = cases.c.state.in_(OPEN_CASE_STATES)
    return {
        "created": cases.c.state != "merged",
        "filed": filed,
        "filed_done": and_(filed, done),
        "closed": done,
        "closed_on_time": and_(done, cases.c.closed_at <= cases.c.handle_due),
        "public_filed": and_(filed, public),
        "dispatched": dispatched,
        "returned": and_(dispatched, cases.c.return_count > 0),
        "handled": or_(cases.c.state.in_(HANDLED_STATES), reworked),
        "reworked": reworked,
        "evaluated": cases.c.satisfaction.is_not(None),
        "satisfied": cases.c.satisfaction.in_(SATISFIED),
        "dispatched_handled": and_(dispatched, handled_at.is_not(None)),
        "handled_on_time": and_(dispatched, handled_at <= cases.c.handle_due),
        "unhandled_shut": and_(
            dispatched, handled_at.is_(None), ~open_, cases.c.handle_due.is_not(None)
        ),
    }


def closing_select(dialect: str, offset: int, within: Sequence[ColumnElement[bool]]) -> Select[Any]:
    """`closing_rollups` rows computed from the projection for the cases matching `within`."""
    day = day_expression(dialect, cases.c.created_at, offset)
    closed_day = day_expression(dialect, cases.c.closed_at, offset)
    late = cases.c.closed_at > cases.c.handle_due
    due_day = case((late, day_expression(dialect, cases.c.handle_due, offset)), else_=closed_day)
    return (
        select(
            day.label("day"),
            *_path_columns(),
            closed_day.label("closed_day"),
            due_day.label("due_day"),
            func.count().label("closed"),
            func.count(case((cases.c.closed_at <= cases.c.handle_due, 1))).label("closed_on_time"),
            func.count(case((late, 1))).label("late"),
        )
        .where(*within, cases.c.state.in_(DONE_STATES), cases.c.closed_at.is_not(None))
        .group_by(day, *(cases.c[c] for c in PATH), closed_day, due_day)
    )
