"""Monthly partitions of `cases` on PostgreSQL: an insert never fails, months are made ahead and
take over their cases from the default partition, and migration 0009 goes up and down with data."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import Engine, insert, inspect, select, text
from sqlalchemy.orm import Session, sessionmaker

from devtools.pg_cluster import TempCluster
from gridgov.store import migrate
from gridgov.store.cases import core_table
from gridgov.store.db import make_engine, session_factory
from gridgov.store.partitions import (
    DEFAULT_PARTITION,
    ensure_ahead,
    ensure_months,
    is_partitioned,
    month_start,
    partitions,
)
from gridgov.store.tables import CaseRow

cases = core_table(CaseRow)
FAR_MONTH = date(2031, 5, 1)


def _case(created_at: datetime, **values: object) -> dict[str, object]:
    return {
        "state": "reported",
        "special_codes": [],
        "owning_level": "grid",
        "created_at": created_at,
        "updated_at": created_at,
        "return_count": 0,
        "escalation_count": 0,
        "supervised_count": 0,
        "last_seq": 0,
        **values,
    }


def _add(sessions: sessionmaker[Session], *rows: dict[str, object]) -> list[int]:
    with sessions.begin() as session:
        return list(session.scalars(insert(cases).returning(cases.c.id), list(rows)))


def _homes(session: Session) -> dict[int, str]:
    """Each case's partition."""
    rows = session.execute(text("select id, tableoid::regclass::text from cases"))
    return {case_id: table for case_id, table in rows}


@pytest.fixture
def pg_sessions(pg_cluster: TempCluster) -> Iterator[sessionmaker[Session]]:
    name = pg_cluster.clone_database()
    url = pg_cluster.url_for(name)
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        yield session_factory(engine)
    finally:
        engine.dispose()
        pg_cluster.drop_database(name)


def test_a_case_of_a_month_without_its_partition_lands_in_the_default_one(
    pg_sessions: sessionmaker[Session],
) -> None:
    (case_id,) = _add(pg_sessions, _case(month_start(FAR_MONTH) + timedelta(days=3)))
    with pg_sessions() as session:
        assert is_partitioned(session)
        assert _homes(session) == {case_id: DEFAULT_PARTITION}


def test_making_a_month_moves_its_cases_out_of_the_default_partition(
    pg_sessions: sessionmaker[Session],
) -> None:
    inside = month_start(FAR_MONTH)
    ids = _add(
        pg_sessions,
        _case(inside - timedelta(microseconds=1)),  # the month before, to the microsecond
        _case(inside),
        _case(inside + timedelta(days=20), state="closed"),
    )
    with pg_sessions.begin() as session:
        assert ensure_months(session, [FAR_MONTH]) == ["cases_2031_05"]
    with pg_sessions() as session:
        assert _homes(session) == {
            ids[0]: DEFAULT_PARTITION,
            ids[1]: "cases_2031_05",
            ids[2]: "cases_2031_05",
        }
        assert session.scalar(select(cases.c.state).where(cases.c.id == ids[2])) == "closed"
    (later,) = _add(pg_sessions, _case(inside + timedelta(days=1)))
    with pg_sessions() as session:
        assert _homes(session)[later] == "cases_2031_05"
        assert later > max(ids)


def test_the_coming_months_are_made_once(pg_sessions: sessionmaker[Session]) -> None:
    now = datetime(2030, 12, 20, tzinfo=UTC)
    with pg_sessions.begin() as session:
        added = ensure_ahead(session, now, months_ahead=2)
    assert added == ["cases_2030_12", "cases_2031_01", "cases_2031_02"]
    with pg_sessions.begin() as session:
        assert ensure_ahead(session, now, months_ahead=2) == []
        names = [p.name for p in partitions(session)]
    assert names[-1] == DEFAULT_PARTITION and "cases_2031_02" in names


def test_a_month_overlapping_a_partition_made_another_way_is_left_to_the_default(
    pg_sessions: sessionmaker[Session],
) -> None:
    with pg_sessions.begin() as session:
        session.execute(
            text(
                "create table cases_utc_2032_01 partition of cases for values from "
                "('2032-01-01 00:00+00') to ('2032-02-01 00:00+00')"
            )
        )
    with pg_sessions.begin() as session:
        assert ensure_months(session, [date(2032, 1, 1), date(2032, 3, 1)]) == ["cases_2032_03"]
    # Beijing's 1 January, still 2031 in UTC: only the Beijing-time January would have held it.
    (case_id,) = _add(pg_sessions, _case(datetime(2031, 12, 31, 18, tzinfo=UTC)))
    with pg_sessions() as session:
        assert _homes(session)[case_id] == DEFAULT_PARTITION


def test_sqlite_keeps_one_table(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        if session.get_bind().dialect.name == "postgresql":
            assert is_partitioned(session)
            return
        assert not is_partitioned(session)
        assert ensure_ahead(session, datetime(2030, 1, 1, tzinfo=UTC)) == []
        assert partitions(session) == []


def test_migration_0009_partitions_existing_cases_and_gives_them_back_on_downgrade(
    pg_cluster: TempCluster,
) -> None:
    name = pg_cluster.clone_database()
    url = pg_cluster.url_for(name)
    engine: Engine = make_engine(url)
    try:
        migrate.upgrade(url, "0008")
        old = datetime(2020, 2, 10, tzinfo=UTC)
        ids = _add(session_factory(engine), _case(old), _case(old + timedelta(days=400)))
        migrate.upgrade(url)
        sessions = session_factory(engine)
        with sessions() as session:
            homes = _homes(session)
            assert homes == {ids[0]: "cases_2020_02", ids[1]: "cases_2021_03"}
            assert inspect(session.connection()).get_foreign_keys("case_events") == []
        (newer,) = _add(sessions, _case(old + timedelta(days=1)))
        assert newer > max(ids)

        command.downgrade(migrate.alembic_config(engine), "0008")
        with engine.connect() as conn:
            kind = conn.scalar(text("select relkind from pg_class where relname = 'cases'"))
            assert kind == "r"
            assert sorted(conn.scalars(text("select id from cases"))) == [*ids, newer]
            referring = {fk["referred_table"] for fk in inspect(conn).get_foreign_keys("reports")}
            assert referring == {"cases"}
            assert not set(inspect(conn).get_table_names()) & {"cases_2020_02", "case_rollups"}
        (after,) = _add(session_factory(engine), _case(old))
        assert after > newer
    finally:
        engine.dispose()
        pg_cluster.drop_database(name)
