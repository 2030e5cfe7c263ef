"""Engines and sessions for the two supported stores: SQLite (embedded) and PostgreSQL + PostGIS."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

from gridgov.core.errors import GridGovError
from gridgov.store.types import PostGISGeometry

SQLITE_BUSY_TIMEOUT_MS = 10_000


class StoreUnavailable(GridGovError):
    """The database cannot serve gridgov as configured (unknown dialect, PostGIS missing)."""


def make_engine(url: str | URL, **engine_options: Any) -> Engine:
    """An engine for a SQLite or PostgreSQL URL; PostgreSQL must already have PostGIS in the database."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed, engine_options)
    if backend == "postgresql":
        return _postgresql_engine(parsed, engine_options)
    raise StoreUnavailable(f"unsupported database {backend!r}: use sqlite:/// or postgresql://")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose objects stay readable after commit, since repositories return them."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def reading(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session for reads that need no transaction around them (each a single statement).

    On PostgreSQL its connection runs in autocommit: each read is one round trip, with no BEGIN
    before it and no COMMIT or ROLLBACK after. That matters on paths taken before every intake
    batch, for a second reason too: psycopg forgets every statement it prepared on a connection
    when a transaction there rolls back (and deallocates them on the server with one more round
    trip), so the next transactions on that connection have PostgreSQL plan each statement again
    (on the partitioned `cases`, a third of a millisecond for a row lock). On SQLite, where a
    statement costs no round trip, it is a transaction that commits. Write nothing through it.
    """
    if sessions.kw["bind"].dialect.name != "postgresql":
        with sessions.begin() as session:
            yield session
        return
    with sessions() as session:
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        yield session


def _sqlite_engine(url: URL, options: dict[str, Any]) -> Engine:
    engine = create_engine(url, **options)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_conn: Any, _record: Any) -> None:
        # pysqlite's own transaction handling begins lazily before DML only, so a read followed by a
        # write would not be one transaction; we take control and emit BEGIN ourselves below.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            # WAL + NORMAL stays consistent after a crash; only the last commits may be lost.
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine


def _postgresql_engine(url: URL, options: dict[str, Any]) -> Engine:
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    options.setdefault("pool_pre_ping", True)
    engine = create_engine(url, **options)
    # Teach this engine's reflection the PostGIS type, so that comparing models with the database
    # sees our geometry column instead of warning about an unknown type.
    dialect: Any = engine.dialect
    dialect.ischema_names = {**dialect.ischema_names, "geometry": PostGISGeometry}
    _require_postgis(engine)
    return engine


def _require_postgis(engine: Engine) -> None:
    with engine.connect() as conn:
        installed = conn.scalar(
            text("select extversion from pg_extension where extname = 'postgis'")
        )
        if installed is not None:
            return
        available = conn.scalar(
            text("select default_version from pg_available_extensions where name = 'postgis'")
        )
    engine.dispose()
    database = engine.url.database
    if available is None:
        raise StoreUnavailable(
            "PostGIS is not installed on the PostgreSQL server; run scripts/install-debian-packages"
        )
    raise StoreUnavailable(
        f"PostGIS {available} is available but not enabled in database {database!r}; "
        f'as a superuser run: psql -d "{database}" -c "create extension postgis"'
    )
