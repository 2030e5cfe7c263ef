"""`gridgov serve`: the HTTP app."""

from __future__ import annotations

import click

from gridgov.config import load_settings


@click.command()
@click.option("--host", default=None, help="Address to listen on (default GRIDGOV_HOST).")
@click.option("--port", type=int, default=None, help="Port (default GRIDGOV_PORT).")
def serve(host: str | None, port: int | None) -> None:
    """启动服务 · Serve the HTTP API and pages."""
    import uvicorn

    from gridgov.api.app import create_app
    from gridgov.bootstrap import build_runtime

    settings = load_settings()
    app = create_app(build_runtime(settings))
    uvicorn.run(app, host=host or settings.host, port=port or settings.port, log_level="info")
