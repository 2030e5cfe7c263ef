"""The grid layer as vector tiles, its TileJSON, and the static files the map pages load.

GET /tiles/grids/{z}/{x}/{y}.mvt?layer=ID   Mapbox Vector Tile, one source layer per level
                                            (district street community compound micro special);
                                            204 when no grid reaches into the tile
GET /tiles/grids.json?layer=ID              TileJSON 3.0.0; its tile URL names the layer it was
                                            made for, so a map never mixes two layer versions
GET /static/…                               gridgov/web/static (vendor/: MapLibre GL, ECharts)

Public, like /api/v1/grids/locate: grid boundaries are what residents see on the report page.
Without `layer` the active layer answers and browsers must revalidate (the ETag names the layer, so
that costs a 304); with it the answer for that stored, unchanging layer may be cached for a day.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from gridgov.api.errors import error_responses
from gridgov.api.ids import MAX_ROW_ID
from gridgov.api.static import static_files
from gridgov.bootstrap import Runtime
from gridgov.core.errors import InvalidInput
from gridgov.grids.model import GridLayer
from gridgov.grids.tiles import MAX_ZOOM, TileId
from gridgov.services.tiles import layer_etag

MVT_MEDIA_TYPE = "application/vnd.mapbox-vector-tile"
_NAMED_LAYER_CACHE = "public, max-age=86400"
_ACTIVE_LAYER_CACHE = "no-cache"

LayerParam = Annotated[
    int | None,
    Query(
        ge=1,
        le=MAX_ROW_ID,
        description="网格图层版本，缺省为生效版本 / layer version; default active",
    ),
]


def tiles_router(runtime: Runtime) -> APIRouter:
    router = APIRouter(tags=["tiles 地图瓦片"])
    service = runtime.tiles

    @router.get(
        "/tiles/grids/{z}/{x}/{y}.mvt",
        summary="网格矢量瓦片 · One vector tile of the grid layer",
        response_class=Response,
        responses={
            200: {
                "description": "Mapbox Vector Tile 2.1; source layers district, street, community, "
                "compound, micro, special; feature properties code, name, level, kind",
                "content": {MVT_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
            },
            204: {"description": "瓦片内没有网格 / no grid reaches into this tile"},
            304: {"description": "未变化 / unchanged since the ETag given in If-None-Match"},
            **error_responses(
                404, 422, s404="网格图层不存在或没有生效版本 / no such layer, or none active"
            ),
        },
    )
    def grid_tile(
        request: Request,
        z: Annotated[int, Path(ge=0, le=MAX_ZOOM, description="缩放级别 / zoom")],
        x: Annotated[int, Path(ge=0, le=(1 << MAX_ZOOM) - 1, description="列 / column")],
        y: Annotated[int, Path(ge=0, le=(1 << MAX_ZOOM) - 1, description="行 / row")],
        layer: LayerParam = None,
    ) -> Response:
        try:
            TileId.checked(z, x, y)
        except InvalidInput as exc:
            # Named like FastAPI's own path checks ("path.z"), which answer the other bad values.
            raise InvalidInput(f"path.{exc.field}", exc.problem) from None
        chosen = service.layer(layer)
        headers = _cache_headers(chosen, named=layer is not None)
        if _not_modified(request, layer_etag(chosen)):
            return Response(status_code=304, headers=headers)
        tile = service.tile(z, x, y, layer_id=chosen.id)
        if not tile.data:
            return Response(status_code=204, headers=headers)
        return Response(tile.data, media_type=MVT_MEDIA_TYPE, headers=headers)

    @router.get(
        "/tiles/grids.json",
        summary="网格瓦片 TileJSON · TileJSON 3.0.0 of the grid tiles",
        response_model=dict[str, Any],
        responses={
            304: {"description": "未变化 / unchanged since the ETag given in If-None-Match"},
            **error_responses(
                404, 422, s404="网格图层不存在或没有生效版本 / no such layer, or none active"
            ),
        },
    )
    def grid_tilejson(request: Request, layer: LayerParam = None) -> Response:
        chosen = service.layer(layer)
        headers = _cache_headers(chosen, named=layer is not None)
        if _not_modified(request, layer_etag(chosen)):
            return Response(status_code=304, headers=headers)
        base = str(request.base_url).rstrip("/")
        template = f"{base}/tiles/grids/{{z}}/{{x}}/{{y}}.mvt?layer={chosen.id}"
        return JSONResponse(service.tilejson(template, layer_id=chosen.id), headers=headers)

    router.mount("/static", static_files(), name="static")
    return router


def _cache_headers(layer: GridLayer, *, named: bool) -> dict[str, str]:
    return {
        "ETag": layer_etag(layer),
        "Cache-Control": _NAMED_LAYER_CACHE if named else _ACTIVE_LAYER_CACHE,
    }


def _not_modified(request: Request, etag: str) -> bool:
    asked = request.headers.get("If-None-Match", "")
    tags = {t.strip().removeprefix("W/") for t in asked.split(",")}
    return etag in tags or "*" in tags
