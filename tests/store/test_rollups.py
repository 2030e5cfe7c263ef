"""Daily rollups: kept up incrementally they equal a rebuild, and the dashboard figures read from
them equal the figures read from the projection — on a generated world, on both stores."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from gridgov.analytics import periods
from gridgov.analytics.scope import GridCatalogue
from gridgov.analytics.trend import fold_days
from gridgov.store.analytics import CHILD, DEPARTMENT, AnalyticsRepository, CaseFilter
from gridgov.store.cases import core_table
from gridgov.store.db import make_engine, session_factory
from gridgov.store.migrate import upgrade
from gridgov.store.rollup_analytics import RolledAnalyticsRepository
from gridgov.store.rollup_queries import RollupWindow
from gridgov.store.rollups import (
    UNIT_TABLES,
    RollupRepository,
    case_rollups,
    constant_offset,
    department_rollups,
    local_day_of,
    street_rollups,
)
from gridgov.store.tables import OPEN_CASE_STATES, CaseRow
from gridgov.workflow.model import MergeCase, ReassignCase, SuperviseCase
from tests.case_world import (
    CITY,
    ERQI,
    INTAKE,
    LEADER,
    SHANGHAI,
    STREET_1,
    ZHONGYUAN,
    CaseWorld,
    build_world,
    demo_coded_grids,
)
from tests.databases import module_db_url
from tests.rollup_world import play_random_weeks

OFFSET = 8 * 3600
START = datetime(2026, 10, 5, 9, 0, tzinfo=SHANGHAI)
CATALOGUE = GridCatalogue.from_grids(demo_coded_grids())


@dataclass
class World:
    sessions: sessionmaker[Session]
    world: CaseWorld
    ids: list[int]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def generated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """Five weeks of random cases, rolled up after the first three; built once per dialect."""
    tmp = tmp_path_factory.mktemp("rollups")
    for url in module_db_url(request, tmp):
        upgrade(url)
        engine = make_engine(url)
        sessions = session_factory(engine)
        world = build_world(sessions, tmp, START)
        ids = play_random_weeks(world, cases=40, days=21, seed=7)
        with sessions.begin() as session:
            RollupRepository(session).refresh(OFFSET, world.clock.now())
        ids += play_random_weeks(world, cases=40, days=14, seed=8)
        yield World(sessions, world, ids)
        engine.dispose()


def _rows(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    return {
        table.name: sorted(tuple(row) for row in session.execute(select(table)))
        for table in (*UNIT_TABLES, department_rollups)
    }


def test_refreshing_after_more_events_gives_the_rows_a_rebuild_gives(generated: World) -> None:
    now = generated.world.clock.now()
    with generated.sessions.begin() as session:
        repo = RollupRepository(session)
        before = repo.state()
        assert before is not None and before.seq < repo.head()
        done = repo.refresh(OFFSET, now)
        assert not done.rebuilt and done.units > 0 and done.seq == repo.head()
        refreshed = _rows(session)
        repo.rebuild(OFFSET, now)
        assert _rows(session) == refreshed
        session.rollback()
    assert sum(r[5] for r in refreshed["case_rollups"]) > 0  # cases were counted
    _assert_summed(refreshed)


def _summed(rows: list[tuple[Any, ...]], over: int) -> list[tuple[Any, ...]]:
    """case_rollups rows (day, city, district, street, department, counts…) summed over the
    street (`over` 3) or the department (`over` 4)."""
    found: dict[tuple[Any, ...], list[int]] = {}
    for row in rows:
        counts = found.setdefault(row[:over] + row[over + 1 : 5], [0] * (len(row) - 5))
        for i, n in enumerate(row[5:]):
            counts[i] += n
    return sorted((*key, *counts) for key, counts in found.items())


def _assert_summed(rows: dict[str, list[tuple[Any, ...]]]) -> None:
    assert len(rows["street_rollups"]) < len(rows["case_rollups"])
    assert rows["street_rollups"] == _summed(rows["case_rollups"], over=4)
    assert len(rows["department_rollups"]) < len(rows["case_rollups"])
    assert rows["department_rollups"] == _summed(rows["case_rollups"], over=3)


def test_the_summed_rollups_are_the_case_rollups_summed_over_departments_or_streets(
    generated: World,
) -> None:
    with generated.sessions() as session:
        _assert_summed(_rows(session))


def test_upgrading_a_store_with_rollups_sums_them(db_url: str, engine: Engine) -> None:
    upgrade(db_url, "0009")
    unit = {"day": date(2026, 10, 5), "city_code": CITY, "district_code": ERQI}
    counts = [c.name for c in street_rollups.c if c.name not in (*unit, "street_code")]
    rows = [
        {**unit, "street_code": "s1", "department": "a", **dict.fromkeys(counts, 2)},
        {**unit, "street_code": "s1", "department": "b", **dict.fromkeys(counts, 3)},
        {**unit, "street_code": "s2", "department": "a", **dict.fromkeys(counts, 4)},
        {**unit, "street_code": "", "day": date(2026, 10, 6), "department": "a", "created": 1}
        | {c: 1 for c in counts},
    ]
    rows[1]["state_closed"] = 7
    with engine.begin() as conn:
        conn.execute(insert(case_rollups), rows)
    upgrade(db_url)
    with engine.connect() as conn:
        streets = {(r.day.day, r.street_code): r for r in conn.execute(select(street_rollups))}
        departments = {
            (r.day.day, r.department): r for r in conn.execute(select(department_rollups))
        }
    assert set(streets) == {(5, "s1"), (5, "s2"), (6, "")}
    assert streets[5, "s1"].created == 5 and streets[5, "s1"].state_closed == 9
    assert streets[5, "s2"].satisfied == 4 and streets[6, ""].satisfied == 1
    assert set(departments) == {(5, "a"), (5, "b"), (6, "a")}
    assert departments[5, "a"].created == 6 and departments[5, "b"].state_closed == 7
    assert departments[6, "a"].filed == 1


def test_a_case_touched_after_the_watermark_marks_its_unit_dirty(generated: World) -> None:
    world = generated.world
    with generated.sessions.begin() as session:
        RollupRepository(session).refresh(OFFSET, world.clock.now())
    with generated.sessions() as session:
        repo = RollupRepository(session)
        state = repo.state()
        assert state is not None and repo.touched_units(state.seq, OFFSET) == []
    cases = core_table(CaseRow)
    with generated.sessions() as session:
        old = session.scalar(
            select(func.min(cases.c.id)).where(cases.c.state.in_(OPEN_CASE_STATES))
        )
    assert old is not None
    world.service.perform(old, SuperviseCase(reason="督办 / hurry"), LEADER)
    with generated.sessions() as session:
        created, street = session.execute(
            select(cases.c.created_at, cases.c.street_code).where(cases.c.id == old)
        ).one()
        units = RollupRepository(session).touched_units(state.seq, OFFSET)
    assert [(u.day, u.street_code) for u in units] == [(local_day_of(created, OFFSET), street)]
    assert units[0].day < world.clock.now().date() - timedelta(days=20)


def test_a_store_never_built_or_built_for_another_offset_is_rebuilt(generated: World) -> None:
    now = generated.world.clock.now()
    with generated.sessions.begin() as session:
        repo = RollupRepository(session)
        assert repo.refresh(OFFSET + 3600, now).rebuilt
        shifted = {row[0] for row in _rows(session)["case_rollups"]}
        session.rollback()
    with generated.sessions() as session:
        usual = {row[0] for row in _rows(session)["case_rollups"]}
    assert shifted != usual and all(isinstance(d, date) for d in shifted)


@pytest.mark.parametrize(
    ("zone", "offset"),
    [("Asia/Shanghai", 8 * 3600), ("Asia/Kolkata", 19_800), ("UTC", 0), ("Europe/Berlin", None)],
)
def test_only_a_zone_without_daylight_saving_has_rollups(zone: str, offset: int | None) -> None:
    assert constant_offset(ZoneInfo(zone)) == offset


# The figures read from the rollups equal the figures read from the projection.

CITY_FILTER_CODES = (CITY, ZHONGYUAN, ERQI, STREET_1)


def _filter(code: str, department: str | None = None) -> CaseFilter:
    scope = CATALOGUE.scope(code)
    assert scope is not None
    return CaseFilter(scope, department)


def _periods(now: datetime) -> list[periods.Period]:
    today = now.astimezone(SHANGHAI).date()
    return [
        periods.month(periods.month_of(today), SHANGHAI),
        periods.days_ending(today, 30, SHANGHAI),
        periods.month("2026-10", SHANGHAI),
        periods.month("2026-11", SHANGHAI),
        # The month the fixture's second weeks of cases were reported in: the units its events
        # after the refresh made dirty, whichever tests of this module ran before.
        periods.month("2026-12", SHANGHAI),
        periods.days_ending(date(2026, 11, 10), 30, SHANGHAI),
        periods.days_ending(date(2026, 11, 12), 7, SHANGHAI),
        periods.days_ending(date(2026, 11, 12), 60, SHANGHAI),
    ]


def _compare_all(sessions: sessionmaker[Session], now: datetime) -> tuple[int, int]:
    """Every figure both ways; returns how many periods were answered from the rollups, and how
    many of those with units of the scope read from the projection (dirty)."""
    rolled_answers = with_dirty = 0
    with sessions() as session:
        direct, rolled = AnalyticsRepository(session), RolledAnalyticsRepository(session)
        for code in CITY_FILTER_CODES:
            for department in (None, f"{ZHONGYUAN}.urban_management"):
                where = _filter(code, department)
                for period in _periods(now):
                    window = RollupWindow.of(session, period.start, period.end)
                    if window is not None:
                        rolled_answers += 1
                        with_dirty += bool(window.dirty_in(where.scope, window_only=True))
                    for group in (None, CHILD, DEPARTMENT):
                        args = (where, period.start, period.end, now)
                        for flags in ({}, {"public": True}, {"handling": True}):
                            assert rolled.cohort(*args, group=group, **flags) == direct.cohort(
                                *args, group=group, **flags
                            ), (code, department, period, group, flags)
                    assert rolled.states(where, period.start, period.end) == direct.states(
                        where, period.start, period.end
                    )
                    # Hours from the rollups are whole days; compared as the days they fold to.
                    trends = [
                        fold_days(period, SHANGHAI, repo.trend(where, period.start, period.end))
                        for repo in (rolled, direct)
                    ]
                    assert trends[0] == trends[1], (code, department, period)
    return rolled_answers, with_dirty


def test_figures_read_from_rollups_with_dirty_units_equal_the_direct_figures(
    generated: World,
) -> None:
    with generated.sessions() as session:
        repo = RollupRepository(session)
        state = repo.state()
        assert state is not None and repo.head() - state.seq > 0
        assert RollupWindow.of(session, *_bounds(periods.month("2026-10", SHANGHAI))) is not None
    rolled, with_dirty = _compare_all(generated.sessions, generated.world.clock.now())
    assert rolled > 0 and with_dirty > 0
    # …and again as time passes, deadlines go by and nothing else happens.
    later = generated.world.clock.now() + timedelta(days=9)
    assert _compare_all(generated.sessions, later)[1] > 0


def test_figures_read_from_fresh_rollups_equal_the_direct_figures(generated: World) -> None:
    with generated.sessions.begin() as session:
        RollupRepository(session).refresh(OFFSET, generated.world.clock.now())
    with generated.sessions() as session:
        assert not RollupRepository(session).touched_units(RollupRepository(session).head(), OFFSET)
    assert _compare_all(generated.sessions, generated.world.clock.now())[0] > 0


def _bounds(period: periods.Period) -> tuple[datetime, datetime]:
    return period.start, period.end


def test_a_case_moved_to_another_department_after_the_watermark_counts_once(
    generated: World,
) -> None:
    """department_rollups cannot skip a dirty unit: its stale rows are taken off instead, and a
    department left without cases is no key at all."""
    world = generated.world
    with generated.sessions.begin() as session:
        RollupRepository(session).refresh(OFFSET, world.clock.now())
    cases = core_table(CaseRow)
    with generated.sessions() as session:
        moved = session.execute(
            select(cases.c.id, cases.c.created_at, cases.c.assignee_department)
            .where(
                cases.c.state.in_(("dispatched", "accepted", "returned")),
                cases.c.assignee_department.is_not(None),
            )
            .order_by(cases.c.id)
            .limit(1)
        ).one()
    period = periods.month(periods.month_of(local_day_of(moved.created_at, OFFSET)), SHANGHAI)
    # Moved twice, refreshed between: the second move leaves "moved-1" without cases.
    for department in ("rollup-test.moved-1", "rollup-test.moved-2"):
        world.service.perform(moved.id, ReassignCase(department=department), LEADER)
        by_department = _compare_after_a_move(
            generated.sessions, world.clock.now(), period, moved.assignee_department
        )
        assert by_department[department].created == 1
        with generated.sessions.begin() as session:
            RollupRepository(session).refresh(OFFSET, world.clock.now())
    assert "rollup-test.moved-1" not in by_department


def _compare_after_a_move(
    sessions: sessionmaker[Session], now: datetime, period: periods.Period, first: str
) -> dict[str | None, Any]:
    with sessions() as session:
        window = RollupWindow.of(session, period.start, period.end)
        assert window is not None and len(window.dirty) == 1
        direct, rolled = AnalyticsRepository(session), RolledAnalyticsRepository(session)
        departments = (None, first, "rollup-test.moved-1", "rollup-test.moved-2")
        for code in CITY_FILTER_CODES:
            for department in departments:
                for group in (None, CHILD, DEPARTMENT):
                    args = (_filter(code, department), period.start, period.end, now)
                    for flags in ({}, {"handling": True}):
                        found = rolled.cohort(*args, group=group, **flags)
                        assert found == direct.cohort(*args, group=group, **flags), (
                            code,
                            department,
                            group,
                        )
        return rolled.cohort(_filter(CITY), period.start, period.end, now, group=DEPARTMENT)


def test_a_dispatched_case_merged_before_its_deadline_counts_in_due_to_handle_once(
    generated: World,
) -> None:
    """A case dispatched, then merged unhandled with its deadline ahead: rolled up as shut
    unhandled, and taken off again by the live count until the deadline passes."""
    world = generated.world
    into, duplicate = world.dispatched_case(), world.dispatched_case()
    world.service.perform(duplicate, MergeCase(into=world.service.case(into, INTAKE)), INTAKE)
    with generated.sessions.begin() as session:
        RollupRepository(session).refresh(OFFSET, world.clock.now())
    period = periods.days_ending(world.clock.now().astimezone(SHANGHAI).date(), 7, SHANGHAI)
    for days in (0, 30):  # the deadline ahead, then passed
        now = world.clock.now() + timedelta(days=days)
        with generated.sessions() as session:
            direct, rolled = AnalyticsRepository(session), RolledAnalyticsRepository(session)
            for code in CITY_FILTER_CODES:
                for group in (None, CHILD, DEPARTMENT):
                    args = (_filter(code), period.start, period.end, now)
                    answer = rolled.cohort(*args, group=group, handling=True)
                    assert answer == direct.cohort(*args, group=group, handling=True)
