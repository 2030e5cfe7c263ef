"""Alembic environment: used by `gridgov.store.migrate` (engine passed in) and the alembic CLI."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, Engine

# Imported for its tables: the accounts module adds them to `Base.metadata`.
import gridgov.store.accounts  # noqa: F401
from gridgov.store import hotline_notify as _hotline_tables  # noqa: F401
from gridgov.store import labels as _label_tables  # noqa: F401
from gridgov.store.db import make_engine
from gridgov.store.migrate import AUTOGENERATE_OPTIONS
from gridgov.store.tables import Base


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        **AUTOGENERATE_OPTIONS,
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url")
    return url or context.config.get_main_option("sqlalchemy.url") or "sqlite:///var/gridgov.sqlite"


def main() -> None:
    if context.is_offline_mode():
        raise SystemExit("offline (--sql) migrations are not supported; run against a database")
    given: Engine | None = context.config.attributes.get("engine")
    engine = given or make_engine(_url())
    try:
        with engine.connect() as connection:
            _run(connection)
            connection.commit()
    finally:
        if given is None:
            engine.dispose()


main()
