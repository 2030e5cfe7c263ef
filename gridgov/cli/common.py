"""What every command shares: the runtime, error reporting, progress lines."""

from __future__ import annotations

import functools
import sys
import unicodedata
from collections.abc import Callable
from typing import Any, TypeVar

import click

from gridgov.bootstrap import Runtime, build_runtime
from gridgov.config import load_settings
from gridgov.core.errors import GridGovError, NotFound
from gridgov.core.geo import Crs
from gridgov.store import migrate

F = TypeVar("F", bound=Callable[..., Any])


def runtime_from(ctx: click.Context) -> Runtime:
    """Build the runtime once per invocation, on first use, so `--help` never touches the store."""
    obj = ctx.ensure_object(dict)
    if "runtime" not in obj:
        settings = load_settings()
        require_current_schema(settings.resolved_database_url)
        built = build_runtime(settings)
        ctx.find_root().call_on_close(built.close)
        obj["runtime"] = built
    runtime: Runtime = obj["runtime"]
    return runtime


def require_current_schema(url: str) -> None:
    """Refuse to work on a store that was never migrated, or is behind this version's schema."""
    at, newest = migrate.current(url), migrate.head()
    if at != newest:
        state = f"at revision {at}" if at else "empty (never migrated)"
        raise click.ClickException(
            f"数据库结构不是最新的，请先运行 `gridgov db upgrade` / the store is {state}, this "
            f"version needs {newest}: run `gridgov db upgrade` first"
        )


def reports_errors(func: F) -> F:
    """Turn gridgov's own errors into a two-language message and exit status 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except NotFound as exc:
            click.echo(f"错误：未找到 {exc.kind} {exc.key}\nerror: {exc}", err=True)
            sys.exit(2)
        except GridGovError as exc:
            click.echo(f"错误 / error: {exc}", err=True)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


def progress_printer(label: str) -> Callable[[str, int, int], None]:
    """A progress callback for long steps: one updating line per step on stderr."""
    last: dict[str, int] = {}

    def report(step: str, done: int, total: int) -> None:
        percent = 100 * done // total if total else 100
        if last.get(step) == percent:
            return
        last[step] = percent
        end = "\n" if done >= total else "\r"
        click.echo(f"{label} · {step}: {done:,}/{total:,} ({percent}%)", err=True, nl=False)
        click.echo(end, err=True, nl=False)

    return report


def pad(text: str, width: int) -> str:
    """Left-justify for a terminal, where a Chinese character takes two columns."""
    used = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(width - used, 0)


crs_option = click.option(
    "--crs",
    type=click.Choice([c.value for c in Crs]),
    default="wgs84",
    show_default=True,
    help="CRS of the coordinates (gcj02: AMap/Tencent, bd09: Baidu).",
)
