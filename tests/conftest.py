"""Database fixtures: every test that asks for `db_url` runs once on SQLite and once on PostgreSQL.

Each pytest(-xdist) process starts at most one throwaway PostgreSQL + PostGIS cluster, and only
when a test needs it; each test gets a fresh database cloned from a template that already has the
postgis extension, which is much faster than creating the extension every time.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from devtools.pg_cluster import POSTGIS_TEMPLATE, ClusterUnavailable, TempCluster
from gridgov.store.db import make_engine, session_factory
from gridgov.store.migrate import upgrade
from tests.databases import module_db_url

SKIP_POSTGRES_ENV = "GRIDGOV_TEST_SKIP_POSTGRES"


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[TempCluster]:
    """One PostgreSQL cluster for this test process, with a PostGIS template database."""
    try:
        cluster = TempCluster.start()
    except ClusterUnavailable as exc:
        if os.environ.get(SKIP_POSTGRES_ENV) == "1":
            pytest.skip(f"PostgreSQL tests skipped ({SKIP_POSTGRES_ENV}=1): {exc}")
        pytest.fail(
            f"{exc}. The test suite runs on PostgreSQL + PostGIS as well as SQLite; "
            f"set {SKIP_POSTGRES_ENV}=1 only to skip the PostgreSQL half knowingly.",
            pytrace=False,
        )
    try:
        cluster.create_database(POSTGIS_TEMPLATE, postgis=True)
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh, empty database, once per dialect."""
    yield from module_db_url(request, tmp_path)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on the fresh (unmigrated) database, disposed after the test."""
    created = make_engine(db_url)
    try:
        yield created
    finally:
        created.dispose()


@pytest.fixture
def migrated_engine(db_url: str) -> Iterator[Engine]:
    """An engine on a fresh database upgraded to the newest migration."""
    upgrade(db_url)
    created = make_engine(db_url)
    try:
        yield created
    finally:
        created.dispose()


@pytest.fixture
def sessions(migrated_engine: Engine) -> sessionmaker[Session]:
    """Sessions on a fresh, migrated database."""
    return session_factory(migrated_engine)
