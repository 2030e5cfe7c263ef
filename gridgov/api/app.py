"""The HTTP app: a thin layer over the services. Issue-by-issue it grows; the grid routes are here."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse

from gridgov import __version__
from gridgov.api.auth import install_auth
from gridgov.api.cases import cases_router
from gridgov.api.ids import MAX_ROW_ID
from gridgov.api.intake import intake_router
from gridgov.api.open311.routes import open311_router
from gridgov.api.residents import residents_router
from gridgov.bootstrap import Runtime
from gridgov.core.errors import Conflict, InvalidInput, NotFound
from gridgov.core.geo import Crs


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(title="gridgov 网格化治理", version=__version__)
    app.state.runtime = runtime
    install_auth(app, runtime.accounts)

    @app.exception_handler(InvalidInput)
    async def invalid_input(_: Request, exc: InvalidInput) -> JSONResponse:
        return JSONResponse(
            status_code=422, content={"error": {"field": exc.field, "problem": exc.problem}}
        )

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"] if part not in ("query", "body"))
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

    @app.get("/api/v1/grid-layers")
    def grid_layers() -> list[dict[str, Any]]:
        return [
            {
                "id": layer.id,
                "name": layer.name,
                "status": layer.status.value,
                "grid_count": layer.grid_count,
                "activated_at": layer.activated_at.isoformat() if layer.activated_at else None,
                "validation": layer.validation,
            }
            for layer in runtime.grids.layers()
        ]

    @app.get("/api/v1/grids/locate")
    def locate(
        lon: Annotated[float, Query(description="longitude 经度")],
        lat: Annotated[float, Query(description="latitude 纬度")],
        crs: Annotated[
            Crs, Query(description="wgs84, cgcs2000, gcj02 (AMap) or bd09 (Baidu)")
        ] = Crs.WGS84,
        layer: Annotated[
            int | None, Query(ge=1, le=MAX_ROW_ID, description="layer version; default active")
        ] = None,
    ) -> dict[str, Any]:
        return runtime.locating.locate(lon, lat, crs=crs, layer_id=layer).as_dict()

    app.include_router(cases_router(runtime))
    app.include_router(intake_router(runtime))
    app.include_router(open311_router(runtime))
    app.include_router(residents_router(runtime))

    @app.get("/", response_class=HTMLResponse)
    def home() -> str:
        return _HOME

    return app


_HOME = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<title>gridgov 网格化治理平台</title></head><body>
<h1>gridgov 网格化治理平台 <small>city grid governance</small></h1>
<p>定位一个点 / locate a point:
<a href="/api/v1/grids/locate?lon=113.66&lat=34.75">/api/v1/grids/locate?lon=113.66&amp;lat=34.75</a></p>
<p>网格图层 / grid layers: <a href="/api/v1/grid-layers">/api/v1/grid-layers</a> ·
接口文档 / API docs: <a href="/docs">/docs</a></p>
</body></html>
"""
