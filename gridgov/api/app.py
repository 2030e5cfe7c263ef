"""The HTTP app: a thin layer over the services, one router per area, hardened in one place."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from gridgov import __version__
from gridgov.api.analytics import analytics_router
from gridgov.api.auth import install_auth
from gridgov.api.cases import cases_router
from gridgov.api.categories import categories_router
from gridgov.api.grids import grids_router
from gridgov.api.hardening import HardeningOptions, install_hardening
from gridgov.api.insights import insights_router
from gridgov.api.intake import intake_router
from gridgov.api.open311.routes import open311_router
from gridgov.api.people import people_router
from gridgov.api.ratelimit import Rate, RateLimiter, install_rate_limits, per_address
from gridgov.api.reports import reports_router
from gridgov.api.residents import residents_router
from gridgov.api.tiles import tiles_router
from gridgov.bootstrap import Runtime
from gridgov.core.errors import Conflict, InvalidInput, NotFound
from gridgov.web.router import web_router


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(title="gridgov 网格化治理", version=__version__)
    app.state.runtime = runtime
    install_auth(
        app, runtime.accounts, sign_in_rate=Rate(runtime.settings.api_sign_in_per_minute, 60.0)
    )
    install_rate_limits(app)
    install_hardening(app, HardeningOptions.from_settings(runtime.settings))

    @app.exception_handler(InvalidInput)
    async def invalid_input(_: Request, exc: InvalidInput) -> JSONResponse:
        return JSONResponse(
            status_code=422, content={"error": {"field": exc.field, "problem": exc.problem}}
        )

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"] if part not in ("query", "body"))
        if first.get("type") == "json_invalid" or not field:
            # Malformed JSON names a character position, a wrong type the body as a whole.
            field = "body"
        return JSONResponse(
            status_code=422, content={"error": {"field": field, "problem": first["msg"]}}
        )

    @app.exception_handler(NotFound)
    async def not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse(status_code=404, content={"error": {"problem": str(exc)}})

    @app.exception_handler(Conflict)
    async def conflict(_: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse(status_code=409, content={"error": {"problem": str(exc)}})

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    app.include_router(grids_router(runtime))
    app.include_router(cases_router(runtime))
    app.include_router(intake_router(runtime))
    app.include_router(open311_router(runtime))
    app.include_router(residents_router(runtime))
    app.include_router(people_router(runtime))
    app.include_router(reports_router(runtime))
    app.include_router(categories_router(runtime))
    app.include_router(tiles_router(runtime))
    app.include_router(analytics_router(runtime))
    app.include_router(insights_router(runtime))

    # The pages; residents' reports from them are limited like Open311's posts.
    posts = RateLimiter(Rate(runtime.settings.open311_posts_per_10_minutes, 600.0))
    app.include_router(web_router(runtime, report_guard=per_address(posts)))

    return app
