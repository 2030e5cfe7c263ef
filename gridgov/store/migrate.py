"""Run the schema migrations from code, so that the CLI, tests and services need no alembic.ini."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.engine import URL

# Imported for its tables, so that every comparison with `Base.metadata` sees the accounts too.
import gridgov.store.accounts  # noqa: F401
from gridgov.store import hotline_notify as _hotline_tables  # noqa: F401
from gridgov.store import jobs as _job_tables  # noqa: F401
from gridgov.store import labels as _label_tables  # noqa: F401
from gridgov.store import rollups as _rollup_tables  # noqa: F401
from gridgov.store.db import make_engine
from gridgov.store.partitions import PARTITION_TABLE
from gridgov.store.tables import GRIDS_GEOM_GIST_INDEX
from gridgov.store.types import Geometry, PostGISGeometry

MIGRATIONS = Path(__file__).with_name("migrations")

# Created by `create extension postgis`, not by our migrations.
EXTENSION_TABLES = frozenset({"spatial_ref_sys"})


def alembic_config(engine: Engine | None = None) -> Config:
    """An alembic configuration for our migrations folder, optionally bound to an engine."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def upgrade(url: str | URL, revision: str = "head") -> None:
    """Bring the database at `url` up to `revision` (the newest by default)."""
    engine = make_engine(url)
    try:
        command.upgrade(alembic_config(engine), revision)
    finally:
        engine.dispose()


def current(url: str | URL) -> str | None:
    """The revision the database at `url` is at, or None when it was never migrated."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head() -> str:
    """The newest revision shipped with this version of gridgov."""
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None, "the migrations folder has no revisions"
    return revision


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Leave PostGIS's own table and our PostgreSQL-only spatial index out of comparisons, and
    the PostgreSQL-only shape of partitioned `cases`: its partitions, and the foreign keys to it
    that a partitioned table cannot have (migration 0009)."""
    if type_ == "table":
        return name not in EXTENSION_TABLES and not (
            reflected and name is not None and PARTITION_TABLE.match(name)
        )
    if type_ == "foreign_key_constraint" and not reflected:
        return str(getattr(obj, "referred_table", None)) != "cases"
    return not (type_ == "index" and name == GRIDS_GEOM_GIST_INDEX)


def compare_type(
    context: Any,
    inspected_column: Any,
    metadata_column: Any,
    inspected_type: Any,
    metadata_type: Any,
) -> bool | None:
    """Judge geometry columns ourselves; every other type gets alembic's default comparison."""
    if not isinstance(metadata_type, Geometry):
        return None
    if context.dialect.name == "postgresql":
        return not isinstance(inspected_type, PostGISGeometry)
    return inspected_type._type_affinity is not metadata_type.impl._type_affinity


AUTOGENERATE_OPTIONS: dict[str, Any] = {
    "include_object": include_object,
    "compare_type": compare_type,
}
