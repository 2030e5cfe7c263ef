"""Migrations: upgrade from empty on both dialects, and the models say what the migrations build."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, insert, inspect
from sqlalchemy.exc import IntegrityError

from gridgov.store import migrate
from gridgov.store.tables import GRIDS_GEOM_GIST_INDEX, Base, LayerRow

TABLES = {
    "grid_layers",
    "grids",
    "people",
    "grid_assignments",
    "party_organisations",
    "party_registrations",
    "volunteer_tasks",
}


def test_an_empty_database_upgrades_to_head(db_url: str) -> None:
    assert migrate.current(db_url) is None
    migrate.upgrade(db_url)
    assert migrate.current(db_url) == migrate.head()


def test_upgrading_twice_changes_nothing(db_url: str) -> None:
    migrate.upgrade(db_url)
    migrate.upgrade(db_url)
    assert migrate.current(db_url) == migrate.head()


def test_the_migrations_build_exactly_the_models(migrated_engine: Engine) -> None:
    with migrated_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts=migrate.AUTOGENERATE_OPTIONS)
        assert compare_metadata(context, Base.metadata) == []
        assert set(inspect(conn).get_table_names()) >= TABLES


def test_the_spatial_index_exists_on_postgresql_only(migrated_engine: Engine) -> None:
    names = {ix["name"] for ix in inspect(migrated_engine).get_indexes("grids")}
    assert (GRIDS_GEOM_GIST_INDEX in names) == (migrated_engine.dialect.name == "postgresql")


def test_the_database_admits_only_one_active_layer(migrated_engine: Engine) -> None:
    now = datetime.now(UTC)
    row = {"name": "a", "status": "active", "source": "", "created_at": now, "validation": {}}
    with migrated_engine.begin() as conn:
        conn.execute(insert(LayerRow), [row, {**row, "status": "draft"}])
    with pytest.raises(IntegrityError), migrated_engine.begin() as conn:
        conn.execute(insert(LayerRow).values(**{**row, "name": "b"}))


def test_downgrade_to_base_removes_every_table(migrated_engine: Engine) -> None:
    command.downgrade(migrate.alembic_config(migrated_engine), "base")
    assert not TABLES & set(inspect(migrated_engine).get_table_names())
