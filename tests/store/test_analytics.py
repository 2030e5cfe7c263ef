"""The dashboard queries on both dialects, over the known month of tests/analytics_world.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, event, insert
from sqlalchemy.orm import Session, sessionmaker

from gridgov.analytics import periods
from gridgov.analytics.indicators import CohortFigures
from gridgov.analytics.party import PartyCounts
from gridgov.analytics.scope import GridCatalogue
from gridgov.analytics.trend import fold_days
from gridgov.store.analytics import CHILD, DEPARTMENT, AnalyticsRepository, CaseFilter
from gridgov.store.cases import core_table
from gridgov.store.db import make_engine, session_factory
from gridgov.store.migrate import upgrade
from gridgov.store.tables import CaseEventRow, CaseRow
from gridgov.workflow.model import SuperviseCase
from tests.analytics_world import DEPARTMENT as URBAN_MANAGEMENT
from tests.analytics_world import KnownCases, play_known_month, seed_party
from tests.case_world import (
    CITY,
    COMMUNITY_1,
    ERQI,
    LEADER,
    STREET_1,
    ZHONGYUAN,
    CaseWorld,
    build_world,
    demo_coded_grids,
)
from tests.databases import module_db_url

SHANGHAI = ZoneInfo("Asia/Shanghai")
REPORTED_ON = date(2026, 11, 27)
WINDOW = periods.days_ending(REPORTED_ON, 30, SHANGHAI)
CATALOGUE = GridCatalogue.from_grids(demo_coded_grids())

# Street 1's cohort: A–G as they stand 30 days on (the merged duplicate I is no new case).
STREET_1_FIGURES = CohortFigures(
    created=7,
    filed=6,  # not G
    due=6,  # A B C D F closed, E past its deadline
    closed=5,
    closed_on_time=4,  # D closed late
    dispatched=6,
    returned=1,  # E
    handled=5,
    reworked=1,  # F
    evaluated=3,
    satisfied=2,  # A satisfied, B basically; C dissatisfied
)


@dataclass
class Month:
    sessions: sessionmaker[Session]
    world: CaseWorld
    known: KnownCases

    @property
    def now(self) -> datetime:
        return self.world.clock.now()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def month(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Month]:
    """Built once per dialect; the tests only read it."""
    tmp = tmp_path_factory.mktemp("analytics")
    for url in module_db_url(request, tmp):
        upgrade(url)
        engine = make_engine(url)
        sessions = session_factory(engine)
        world = build_world(sessions, tmp)
        known = play_known_month(world)
        seed_party(sessions, world.clock)
        yield Month(sessions, world, known)
        engine.dispose()


def _scope(code: str) -> CaseFilter:
    scope = CATALOGUE.scope(code)
    assert scope is not None
    return CaseFilter(scope)


@pytest.fixture
def repo(month: Month) -> Iterator[AnalyticsRepository]:
    with month.sessions() as session:
        yield AnalyticsRepository(session)


def test_a_streets_cohort_counts_each_case_as_it_stands_now(
    month: Month, repo: AnalyticsRepository
) -> None:
    found = repo.cohort(_scope(STREET_1), WINDOW.start, WINDOW.end, month.now)
    assert found == {None: STREET_1_FIGURES}
    figures = found[None]
    assert figures.on_time_close_rate == 4 / 6
    assert figures.close_rate == 5 / 6
    assert figures.return_rate == 1 / 6
    assert figures.rework_rate == 0.2
    assert figures.satisfaction_rate == 2 / 3


def test_a_community_and_its_street_see_the_same_cases_and_the_city_one_more(
    month: Month,
    repo: AnalyticsRepository,
) -> None:
    community = repo.cohort(_scope(COMMUNITY_1), WINDOW.start, WINDOW.end, month.now)
    assert community == {None: STREET_1_FIGURES}
    city = repo.cohort(_scope(CITY), WINDOW.start, WINDOW.end, month.now)[None]
    erqi = repo.cohort(_scope(ERQI), WINDOW.start, WINDOW.end, month.now)[None]
    assert (city.created, city.dispatched, city.due) == (8, 7, 7)
    assert (erqi.created, erqi.dispatched, erqi.closed) == (1, 1, 0)


def test_a_period_before_the_cases_counts_nothing(month: Month, repo: AnalyticsRepository) -> None:
    earlier = periods.days_ending(REPORTED_ON - timedelta(days=1), 30, SHANGHAI)
    found = repo.cohort(_scope(STREET_1), earlier.start, earlier.end, month.now)
    assert found == {None: CohortFigures()}


def test_states_of_the_cohort_include_the_merged_duplicate(
    month: Month, repo: AnalyticsRepository
) -> None:
    assert repo.states(_scope(STREET_1), WINDOW.start, WINDOW.end) == {
        "evaluated": 3,
        "closed": 2,
        "dispatched": 1,
        "reported": 1,
        "merged": 1,
    }


def test_open_and_overdue_cases_are_counted_now(month: Month, repo: AnalyticsRepository) -> None:
    assert repo.open_now(_scope(STREET_1), month.now) == (2, 1)  # E overdue, G unfiled
    assert repo.open_now(_scope(CITY), month.now) == (3, 2)  # and X
    assert repo.open_now(_scope(STREET_1), month.known.start) == (2, 0)  # before any deadline


def test_one_day_counts_reports_by_channel_new_cases_and_closings(
    month: Month, repo: AnalyticsRepository
) -> None:
    day = periods.one_day(REPORTED_ON, SHANGHAI)
    found = repo.day(_scope(STREET_1), day.start, day.end)
    assert dict(found.reports_by_channel) == {
        "hotline_12345": 5,
        "grid_patrol": 2,
        "citizen_app": 1,
    }
    assert (found.created, found.closed) == (7, 4)
    later = periods.one_day(month.now.astimezone(SHANGHAI).date(), SHANGHAI)
    assert repo.day(_scope(STREET_1), later.start, later.end).closed == 1  # D


def test_the_trend_shows_each_day_and_the_overdue_spell_of_d_and_e(
    month: Month, repo: AnalyticsRepository
) -> None:
    last = month.now.astimezone(SHANGHAI).date()
    period = periods.days_ending(last, 31, SHANGHAI)
    hours = repo.trend(_scope(STREET_1), period.start, period.end)
    days = {d.day: d for d in fold_days(period, SHANGHAI, hours)}
    assert (days[REPORTED_ON].created, days[REPORTED_ON].closed) == (7, 4)
    assert days[REPORTED_ON].closed_on_time == 4
    assert (days[last].closed, days[last].closed_on_time) == (1, 0)
    assert sum(d.created for d in days.values()) == 7
    due_day = month.known.handle_due.astimezone(SHANGHAI).date()
    overdue = {day: d.overdue_open for day, d in days.items()}
    assert overdue[due_day - timedelta(days=1)] == 0
    assert overdue[due_day] == 2  # D and E
    assert overdue[last - timedelta(days=1)] == 2
    assert overdue[last] == 1  # D closed that day


def test_the_children_of_a_district_are_its_streets_with_public_reports_counted(
    month: Month,
    repo: AnalyticsRepository,
) -> None:
    found = repo.cohort(
        _scope(ZHONGYUAN), WINDOW.start, WINDOW.end, month.now, group=CHILD, public=True
    )
    # B and C came from grid patrols: the other four filed cases were reported by the public.
    assert found == {STREET_1: replace(STREET_1_FIGURES, public_filed=4)}
    assert found[STREET_1].supervision_rate == 4 / 6


def test_departments_get_their_cases_with_on_time_handling_from_the_event_log(
    month: Month,
    repo: AnalyticsRepository,
) -> None:
    found = repo.cohort(
        _scope(ZHONGYUAN), WINDOW.start, WINDOW.end, month.now, group=DEPARTMENT, handling=True
    )
    assert set(found) == {URBAN_MANAGEMENT}
    figures = found[URBAN_MANAGEMENT]
    assert (figures.created, figures.handle_due, figures.handled_on_time) == (6, 6, 4)
    assert figures.on_time_handle_rate == 4 / 6
    assert figures.rework_rate == 0.2


def test_a_department_filter_keeps_only_the_cases_dispatched_to_it(
    month: Month, repo: AnalyticsRepository
) -> None:
    scope = CATALOGUE.scope(STREET_1)
    assert scope is not None
    ours = repo.cohort(CaseFilter(scope, URBAN_MANAGEMENT), WINDOW.start, WINDOW.end, month.now)
    assert ours[None].created == 6  # not the unfiled G
    other = repo.cohort(CaseFilter(scope, "nobody"), WINDOW.start, WINDOW.end, month.now)
    assert other == {None: CohortFigures()}


def test_the_map_shows_open_cases_in_the_box_and_with_since_the_recent_ones(
    month: Month,
    repo: AnalyticsRepository,
) -> None:
    ids = month.known.ids
    street = (113.6, 34.7, 113.68, 34.78)
    points = repo.case_points(_scope(CITY), street, None, 100)
    assert [p.id for p in points] == [ids["G"], ids["E"]]
    assert points[1].handle_due == month.known.handle_due
    assert repo.case_points(_scope(CITY), (100.0, 20.0, 101.0, 21.0), None, 100) == []
    recent = repo.case_points(_scope(STREET_1), street, WINDOW.start, 100)
    assert {p.id for p in recent} == {ids[n] for n in "ABCDEFGI"}
    assert len(repo.case_points(_scope(STREET_1), street, WINDOW.start, 3)) == 3


def test_changes_after_a_position_name_each_case_once_in_scope_only(
    month: Month, repo: AnalyticsRepository
) -> None:
    head = repo.head()
    assert repo.changes(_scope(CITY), head, 100) == ([], head)
    changes, reached = repo.changes(_scope(ERQI), 0, 10_000)
    assert [c.id for c in changes] == [month.known.ids["X"]]
    assert reached == head
    first, position = repo.changes(_scope(STREET_1), 0, 3)
    assert position == 3 and len(first) == 1  # A's first three events
    assert first[0].street_code == STREET_1


def test_party_counts_are_kept_per_grid(month: Month, repo: AnalyticsRepository) -> None:
    assert repo.party_counts() == {
        COMMUNITY_1: PartyCounts(organisations=1, members=2, tasks_done=1, tasks_open=2),
        "410102002002": PartyCounts(organisations=1),
        "410103003001": PartyCounts(tasks_open=1),
    }


# Writing: the live stream sees a change made after it started.


def test_a_change_after_the_head_is_found_by_the_next_poll(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    world = build_world(sessions, tmp_path)
    first = world.dispatched_case()
    with sessions() as session:
        head = AnalyticsRepository(session).head()
    world.service.perform(first, SuperviseCase(reason="督办 / hurry"), LEADER)
    with sessions() as session:
        changes, reached = AnalyticsRepository(session).changes(_scope(STREET_1), head, 100)
    assert [(c.id, c.state) for c in changes] == [(first, "dispatched")]
    assert reached == head + 1 == changes[0].seq


# Plans: the dashboard queries read index ranges, not the table.


def test_the_period_queries_read_the_scope_indexes_on_both_dialects(
    migrated_engine: Engine,
) -> None:
    _fill(migrated_engine, cases=3000, days=1000)
    scope = CATALOGUE.scope(STREET_1)
    assert scope is not None
    where = CaseFilter(scope)
    start = datetime(2026, 11, 1, tzinfo=SHANGHAI)
    end = start + timedelta(days=30)
    with _statements(migrated_engine) as statements, session_factory(migrated_engine)() as session:
        repo = AnalyticsRepository(session)
        repo.cohort(where, start, end, end)
        repo.day(where, start, end)
        repo.open_now(where, end)
    queries = [found for found in statements if found[0].lstrip().upper().startswith("SELECT")]
    cohort, closed, open_now = (_plan(migrated_engine, *queries[n]) for n in (0, -2, -1))
    for plan in (cohort, closed, open_now):
        assert not re.search(r"Seq Scan on cases|SCAN cases(?! USING)", plan), plan
    assert "ix_case_events_action_at" in cohort  # the rework subquery
    if migrated_engine.dialect.name == "sqlite":
        assert "ix_cases_street_code_created_at" in cohort
        assert "ix_cases_street_code_closed_at" in closed
        assert "ix_cases_open_path" in open_now
    else:
        # Per monthly partition (migration 0009) the planner may take either of the street's
        # indexes where a partition lies wholly inside the period; it reads no partition whole.
        assert re.search(r"street_code_(created|closed)_at", cohort)
        assert re.search(r"street_code_closed_at", closed)
        assert re.search(r"city_code_district_code_street_code|street_code", open_now)


def _fill(engine: Engine, *, cases: int, days: int) -> None:
    """`cases` cases over `days` days in the four streets, half closed, one in ten reworked."""
    streets = [g.code for g in demo_coded_grids() if g.level.value == "street"]
    first = datetime(2026, 12, 1, tzinfo=SHANGHAI) - timedelta(days=days)
    rows = []
    for n in range(cases):
        created = first + timedelta(days=days * n / cases)
        rows.append(
            {
                "state": "closed" if n % 2 else "dispatched",
                "special_codes": [],
                "owning_level": "grid",
                "street_code": streets[n % len(streets)],
                "created_at": created,
                "updated_at": created,
                "closed_at": created + timedelta(days=2) if n % 2 else None,
                "handle_due": created + timedelta(days=3),
                "return_count": 0,
                "escalation_count": 0,
                "supervised_count": 0,
                "last_seq": 1,
            }
        )
    table = core_table(CaseRow)
    events = core_table(CaseEventRow)
    with engine.begin() as conn:
        ids = conn.execute(insert(table).returning(table.c.id), rows).scalars().all()
        conn.execute(
            insert(events),
            [
                {
                    "global_seq": n + 1,
                    "case_id": case_id,
                    "seq": 1,
                    "action": "verify_fail" if n % 10 == 0 else "handle",
                    "kind": "x",
                    "actor_id": "x",
                    "role": "system",
                    "at": rows[n]["created_at"] + timedelta(days=1),
                    "reason": "",
                    "payload": {},
                    "prev_hash": "",
                    "hash": "",
                }
                for n, case_id in enumerate(ids)
            ],
        )
        conn.exec_driver_sql("ANALYZE")


@contextmanager
def _statements(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The SQL and parameters the engine runs inside the block."""
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _plan(engine: Engine, statement: str, parameters: Any) -> str:
    postgres = engine.dialect.name == "postgresql"
    with engine.connect() as conn:
        if postgres:
            # The tables are empty, and an empty table is read whole whatever its indexes; what
            # is checked here is that an index fits the query, so scans are priced out.
            conn.exec_driver_sql("set enable_seqscan = off")
        prefix = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "
        rows = conn.exec_driver_sql(prefix + statement, parameters).all()
    return "\n".join(" ".join(str(v) for v in row) for row in rows)
