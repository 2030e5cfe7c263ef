"""`gridgov db`: create and migrate the store."""

from __future__ import annotations

import click

from gridgov.cli.common import reports_errors
from gridgov.config import load_settings
from gridgov.store import migrate


@click.group()
def db() -> None:
    """数据库 · The store: create, migrate, inspect."""


@db.command()
@reports_errors
def upgrade() -> None:
    """Create the store or migrate it to the newest schema (safe to repeat)."""
    settings = load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = settings.resolved_database_url
    migrate.upgrade(url)
    click.echo(f"数据库已是最新 / store is at {migrate.current(url)}: {_safe(url)}")


@db.command()
@reports_errors
def current() -> None:
    """Print the store's schema revision."""
    url = load_settings().resolved_database_url
    click.echo(f"{migrate.current(url) or '(empty)'}  {_safe(url)}")


def _safe(url: str) -> str:
    """The URL without a password, for printing."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    return f"{scheme}://{creds.split(':', 1)[0]}@{host}"
