"""Daily rollups: kept up incrementally they equal a rebuild, and the dashboard figures read from
them equal the figures read from the projection — on a generated world, on both stores."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
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
    RollupRepository,
    case_rollups,
    closing_rollups,
    constant_offset,
    local_day_of,
)
from gridgov.store.tables import OPEN_CASE_STATES, CaseRow
from gridgov.workflow.model import SuperviseCase
from tests.case_world import (
    CITY,
    ERQI,
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
        for table in (case_rollups, closing_rollups)
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


def _periods() -> list[periods.Period]:
    return [
        periods.month("2026-10", SHANGHAI),
        periods.month("2026-11", SHANGHAI),
        periods.days_ending(date(2026, 11, 10), 30, SHANGHAI),
        periods.days_ending(date(2026, 11, 12), 7, SHANGHAI),
        periods.days_ending(date(2026, 11, 12), 60, SHANGHAI),
    ]


def _compare_all(sessions: sessionmaker[Session], now: datetime) -> int:
    """Every figure both ways; returns how many were answered from the rollups."""
    rolled_answers = 0
    with sessions() as session:
        direct, rolled = AnalyticsRepository(session), RolledAnalyticsRepository(session)
        for code in CITY_FILTER_CODES:
            for department in (None, f"{ZHONGYUAN}.urban_management"):
                where = _filter(code, department)
                for period in _periods():
                    if RollupWindow.of(session, period.start, period.end) is not None:
                        rolled_answers += 1
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
    return rolled_answers


def test_figures_read_from_rollups_with_dirty_units_equal_the_direct_figures(
    generated: World,
) -> None:
    with generated.sessions() as session:
        repo = RollupRepository(session)
        state = repo.state()
        assert state is not None and repo.head() - state.seq > 0
        assert RollupWindow.of(session, *_bounds(periods.month("2026-10", SHANGHAI))) is not None
    assert _compare_all(generated.sessions, generated.world.clock.now()) > 0
    # …and again as time passes, deadlines go by and nothing else happens.
    assert _compare_all(generated.sessions, generated.world.clock.now() + timedelta(days=9)) > 0


def test_figures_read_from_fresh_rollups_equal_the_direct_figures(generated: World) -> None:
    with generated.sessions.begin() as session:
        RollupRepository(session).refresh(OFFSET, generated.world.clock.now())
    with generated.sessions() as session:
        assert not RollupRepository(session).touched_units(RollupRepository(session).head(), OFFSET)
    assert _compare_all(generated.sessions, generated.world.clock.now()) > 0


def _bounds(period: periods.Period) -> tuple[datetime, datetime]:
    return period.start, period.end
