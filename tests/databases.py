"""Fresh databases for tests, on the dialect a parametrized fixture names."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker


def module_db_url(request: pytest.FixtureRequest, folder: Path) -> Iterator[str]:
    """The URL of a fresh, empty database on `request.param` ("sqlite" or "postgresql"); for
    PostgreSQL a clone of the session's PostGIS template, dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{folder / 'gridgov.db'}"
        return
    cluster = request.getfixturevalue("pg_cluster")
    name = cluster.clone_database()
    try:
        yield cluster.url_for(name)
    finally:
        cluster.drop_database(name)


def assert_locked(sessions: sessionmaker[Session], query: Select[Any]) -> None:
    """Another session cannot lock what `query` selects (PostgreSQL)."""
    with sessions() as other, pytest.raises(OperationalError, match="could not obtain"):
        other.execute(query.with_for_update(nowait=True))
