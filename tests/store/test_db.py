"""Engines: connection settings per dialect, and refusing stores gridgov cannot use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from shapely.geometry import Point
from sqlalchemy import Column, Engine, Integer, MetaData, Table, insert, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from devtools.pg_cluster import POSTGIS_TEMPLATE, TempCluster
from gridgov.store.db import StoreUnavailable, make_engine, reading, session_factory
from gridgov.store.tables import GridRow, LayerRow
from gridgov.store.types import UtcDateTime


def test_a_connection_is_configured_for_its_dialect(engine: Engine) -> None:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            assert conn.exec_driver_sql("pragma journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("pragma foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("pragma busy_timeout").scalar() == 10_000
            assert conn.exec_driver_sql("pragma synchronous").scalar() == 1  # NORMAL
        else:
            assert engine.dialect.driver == "psycopg"
            version = conn.execute(text("select postgis_lib_version()")).scalar()
            assert str(version).startswith("3.")


def test_foreign_keys_are_enforced(migrated_engine: Engine) -> None:
    with pytest.raises(IntegrityError), migrated_engine.begin() as conn:
        conn.execute(
            insert(GridRow).values(
                layer_id=999,
                code="X",
                name="nowhere",
                level="city",
                geom=Point(113.6, 34.7),
                area_m2=0,
                min_lon=0,
                min_lat=0,
                max_lon=0,
                max_lat=0,
            )
        )


def test_a_rolled_back_session_leaves_nothing_behind(migrated_engine: Engine) -> None:
    sessions = session_factory(migrated_engine)
    with sessions() as session:
        session.add(
            LayerRow(
                name="x", status="draft", source="", created_at=datetime.now(UTC), validation={}
            )
        )
        session.flush()
        session.rollback()
    with sessions() as session:
        assert session.scalars(select(LayerRow)).all() == []


def test_a_read_through_reading_keeps_the_connections_prepared_statements(
    pg_cluster: TempCluster,
) -> None:
    # psycopg prepares a statement run five times on a connection, and forgets them all when a
    # transaction rolls back: a plain session's read does; `reading` has none to roll back.
    url = pg_cluster.url_for(pg_cluster.clone_database(POSTGIS_TEMPLATE))
    engine = make_engine(url, pool_size=1, max_overflow=0)
    sessions = session_factory(engine)
    prepared = text("select count(*) from pg_prepared_statements")
    try:
        for _ in range(6):
            with reading(sessions) as session:
                session.execute(text("select 1 where 1 = :one"), {"one": 1})
        with reading(sessions) as session:
            assert session.scalar(prepared) == 1
        with sessions() as session:
            session.execute(text("select 2"))
        with reading(sessions) as session:
            assert session.scalar(prepared) == 0
            # Each read is its own transaction: no BEGIN before them, nothing to end after.
            first = session.scalar(text("select now()"))
            assert session.scalar(text("select now()")) > first
    finally:
        engine.dispose()


def test_timestamps_come_back_in_utc_and_naive_ones_are_refused(engine: Engine) -> None:
    table = Table(
        "stamps", MetaData(), Column("id", Integer, primary_key=True), Column("at", UtcDateTime())
    )
    table.create(engine)
    beijing = timezone(timedelta(hours=8))
    at = datetime(2025, 1, 28, 23, 30, tzinfo=beijing)  # 除夕 evening in Beijing
    with engine.begin() as conn:
        conn.execute(insert(table).values(at=at))
    with engine.connect() as conn:
        stored = conn.scalar(select(table.c.at))
    assert stored == at
    assert stored.tzinfo is UTC or stored.utcoffset() == timedelta(0)
    assert stored.hour == 15
    with pytest.raises(StatementError, match="naive datetime"), engine.begin() as conn:
        conn.execute(insert(table).values(at=datetime(2025, 1, 28, 23, 30)))


def test_an_unsupported_database_is_refused_by_name() -> None:
    with pytest.raises(StoreUnavailable, match="unsupported database 'mysql'"):
        make_engine("mysql://user@localhost/gridgov")


def test_a_postgresql_database_without_postgis_is_refused_with_the_fix(
    pg_cluster: TempCluster,
) -> None:
    url = pg_cluster.create_database("no_postgis", postgis=False)
    try:
        with pytest.raises(StoreUnavailable, match="create extension postgis"):
            make_engine(url)
    finally:
        pg_cluster.drop_database("no_postgis")


def test_a_plain_postgresql_url_gets_the_psycopg_driver(pg_cluster: TempCluster) -> None:
    engine = make_engine(pg_cluster.url_for(POSTGIS_TEMPLATE).replace("+psycopg", ""))
    try:
        assert engine.dialect.driver == "psycopg"
    finally:
        engine.dispose()
