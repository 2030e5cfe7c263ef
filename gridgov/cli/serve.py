"""`gridgov serve`: the HTTP app, in one process or several.

With `--workers N` uvicorn starts N processes sharing the listening socket and restarts one that
dies; each process builds its own runtime from the environment through `app_from_environment`,
since a built app cannot be handed to a child process. The API keeps no state of its own between
requests, so any process (on any machine behind a load balancer) may answer any request.
"""

from __future__ import annotations

import contextlib

import click
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from gridgov.config import Settings, load_settings
from gridgov.core.errors import InvalidInput, NotFound


@click.command()
@click.option("--host", default=None, help="Address to listen on (default GRIDGOV_HOST).")
@click.option("--port", type=int, default=None, help="Port (default GRIDGOV_PORT).")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Processes to start (default GRIDGOV_SERVE_WORKERS); more than one needs PostgreSQL.",
)
@click.option(
    "--access-log/--no-access-log", default=True, help="Log one line per request (default on)."
)
def serve(host: str | None, port: int | None, workers: int | None, access_log: bool) -> None:
    """启动服务 · Serve the HTTP API and pages."""
    import uvicorn

    settings = load_settings()
    count = workers or settings.serve_workers
    try:
        check_workers(settings, count)
    except InvalidInput as exc:
        raise click.UsageError(f"{exc.field}: {exc.problem}") from None
    bind_host, bind_port = host or settings.host, port or settings.port
    if count == 1:
        app = app_from_environment()
        uvicorn.run(app, host=bind_host, port=bind_port, access_log=access_log, log_level="info")
        return
    uvicorn.run(
        "gridgov.cli.serve:app_from_environment",
        factory=True,
        workers=count,
        host=bind_host,
        port=bind_port,
        access_log=access_log,
        log_level="info",
    )


def check_workers(settings: Settings, workers: int) -> None:
    """Refuse several processes on SQLite: they would only queue for its one write lock."""
    if workers > 1 and make_url(settings.resolved_database_url).get_backend_name() == "sqlite":
        raise InvalidInput(
            "--workers",
            f"SQLite 只允许一个写入者，多进程无益；请用 1 个进程，或配置 PostgreSQL "
            f"（GRIDGOV_DATABASE_URL） / SQLite lets one process write at a time, so {workers} "
            "processes would only wait for each other: serve with 1, or set GRIDGOV_DATABASE_URL "
            "to PostgreSQL (docs/deploy.md)",
        )


def app_from_environment() -> FastAPI:
    """The app with a runtime built from GRIDGOV_* settings: the factory each process calls."""
    from gridgov.api.app import create_app
    from gridgov.bootstrap import build_runtime

    runtime = build_runtime(load_settings())
    # Build what the first report would wait for (locate index, gazetteer, duplicate index) and
    # set the collector's threshold before taking connections, so that a process a load balancer
    # sees as up answers its first reports in milliseconds, not seconds.
    with contextlib.suppress(NotFound):  # no active layer yet: nothing to load
        runtime.warm_up()
    return create_app(runtime)
