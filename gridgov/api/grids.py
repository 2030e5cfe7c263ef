"""Grids over HTTP: the public locate and layer list, and the scoped tree, detail, geometry, export.

GET /api/v1/grid-layers                     every layer version (public)
GET /api/v1/grids/locate?lon&lat&crs&layer  every level and special grid at a point (public)
GET /api/v1/grids/tree?scope&depth          a grid and its children, `depth` levels down
GET /api/v1/grids/export?scope&level&format the scope's grids as a GeoJSON FeatureCollection
GET /api/v1/grids/{code}                    one grid: its path from the root, bbox, area
GET /api/v1/grids/{code}/geometry           one grid as a GeoJSON Feature (WGS84)

The scoped routes are for signed-in staff; the grid browse service answers a grid outside the
account's subtree exactly as a grid that does not exist.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from gridgov.api.auth import reading_actor
from gridgov.api.errors import error_responses
from gridgov.api.ids import MAX_ROW_ID
from gridgov.api.ratelimit import Rate, RateLimiter, per_address
from gridgov.bootstrap import Runtime
from gridgov.core.geo import Crs
from gridgov.grids.model import GridLevel
from gridgov.services.grid_browse import MAX_DEPTH, GridDetail, GridSummary, TreeNode
from gridgov.workflow.model import Actor

GRID_CODE = r"^[A-Za-z0-9._-]{1,64}$"
ActorDep = Annotated[Actor, Depends(reading_actor)]
Code = Annotated[
    str, Path(pattern=GRID_CODE, description="网格编码 / grid code", examples=["410102001000"])
]
ScopeQuery = Annotated[
    str | None,
    Query(
        pattern=GRID_CODE,
        description="网格编码；省略为本账号的范围 / a grid inside your scope; default your scope",
    ),
]
_SCOPED = error_responses(401, 404, 422)


class ExportFormat(StrEnum):
    GEOJSON = "geojson"


class GridRef(BaseModel):
    code: str
    name: str
    level: GridLevel
    level_zh: str
    child_count: int = Field(description="下一级网格数 / grids directly below")
    special_kind: str | None = Field(None, description="专属网格类别 / kind of a special grid")


class GridTree(GridRef):
    parent_code: str | None
    children: list[GridTree] | None = Field(
        description="下级网格；超出 depth 为 null / the grids below; null beyond `depth`"
    )


class GridView(GridRef):
    parent_code: str | None
    path: list[GridRef] = Field(description="从根到本网格 / from the root to this grid")
    bbox: list[float] = Field(description="[min lon, min lat, max lon, max lat] WGS84")
    label_point: list[float] = Field(description="网格内一点 / a point inside, [lon, lat]")
    area_m2: float | None
    responsible_unit: str | None = Field(description="专属网格责任单位 / a special grid's unit")
    layer_id: int


class GeoJsonFeature(BaseModel):
    type: str = Field(description="Feature")
    id: str
    geometry: dict[str, Any] = Field(description="Polygon or MultiPolygon, WGS84 lon/lat")
    properties: dict[str, Any] = Field(description="code, name, level, parent_code, kind")


_FEATURE_COLLECTION = {
    "type": "object",
    "required": ["type", "features"],
    "properties": {
        "type": {"type": "string", "enum": ["FeatureCollection"]},
        "features": {"type": "array", "items": {"$ref": "#/components/schemas/GeoJsonFeature"}},
    },
}


def grids_router(runtime: Runtime) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["grids 网格"])
    browse = runtime.browse
    public = per_address(RateLimiter(Rate(runtime.settings.api_public_reads_per_minute, 60.0)))

    @router.get(
        "/grid-layers",
        summary="网格图层 · Every grid layer version, with its validation",
        dependencies=[Depends(public)],
        responses=error_responses(429),
    )
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

    @router.get(
        "/grids/locate",
        summary="定位 · Every level and special grid at a point",
        dependencies=[Depends(public)],
        responses=error_responses(404, 422, 429, s404="无此图层 / no such layer"),
    )
    def locate(
        lon: Annotated[float, Query(description="longitude 经度", examples=[113.66])],
        lat: Annotated[float, Query(description="latitude 纬度", examples=[34.75])],
        crs: Annotated[
            Crs, Query(description="wgs84, cgcs2000, gcj02 (AMap) or bd09 (Baidu)")
        ] = Crs.WGS84,
        layer: Annotated[
            int | None, Query(ge=1, le=MAX_ROW_ID, description="layer version; default active")
        ] = None,
    ) -> dict[str, Any]:
        return runtime.locating.locate(lon, lat, crs=crs, layer_id=layer).as_dict()

    @router.get(
        "/grids/tree",
        summary="网格树 · A grid in your scope and the grids below it",
        responses=_SCOPED,
    )
    def tree(
        actor: ActorDep,
        scope: ScopeQuery = None,
        depth: Annotated[
            int, Query(ge=1, le=MAX_DEPTH, description="展开几级 / levels below to include")
        ] = 1,
    ) -> GridTree:
        return _tree(browse.tree(actor, scope, depth=depth))

    @router.get(
        "/grids/export",
        summary="导出网格 · The grids of your scope as GeoJSON (WGS84)",
        response_class=Response,
        responses={
            200: {
                "description": "GeoJSON FeatureCollection",
                "content": {"application/geo+json": {"schema": _FEATURE_COLLECTION}},
            },
            **_SCOPED,
        },
    )
    def export(
        actor: ActorDep,
        scope: ScopeQuery = None,
        level: Annotated[
            GridLevel | None, Query(description="只导出此层级 / only this level")
        ] = None,
        format: Annotated[ExportFormat, Query(description="geojson")] = ExportFormat.GEOJSON,
    ) -> Response:
        body = browse.export(actor, scope, level=level)
        name = f"grids-{scope or actor.scope_code or 'city'}-{level.value if level else 'all'}"
        return Response(
            body,
            media_type="application/geo+json",
            headers={"Content-Disposition": f'attachment; filename="{name}.geojson"'},
        )

    @router.get(
        "/grids/{code}",
        summary="网格详情 · One grid: its path from the root, bounding box and area",
        responses=_SCOPED,
    )
    def grid(code: Code, actor: ActorDep) -> GridView:
        return _view(browse.grid(actor, code))

    @router.get(
        "/grids/{code}/geometry",
        summary="网格边界 · One grid as a GeoJSON Feature (WGS84)",
        responses=_SCOPED,
    )
    def geometry(code: Code, actor: ActorDep) -> GeoJsonFeature:
        return GeoJsonFeature(**browse.feature(actor, code))

    return router


def _ref(grid: GridSummary) -> dict[str, Any]:
    return {
        "code": grid.code,
        "name": grid.name,
        "level": grid.level,
        "level_zh": grid.level.label_zh,
        "child_count": grid.child_count,
        "special_kind": grid.special_kind,
    }


def _tree(node: TreeNode) -> GridTree:
    children = None if node.children is None else [_tree(c) for c in node.children]
    return GridTree(**_ref(node.grid), parent_code=node.parent_code, children=children)


def _view(detail: GridDetail) -> GridView:
    return GridView(
        **_ref(detail.grid),
        parent_code=detail.parent_code,
        path=[GridRef(**_ref(g)) for g in detail.path],
        bbox=list(detail.bbox),
        label_point=list(detail.label_point),
        area_m2=detail.area_m2,
        responsible_unit=detail.responsible_unit,
        layer_id=detail.layer_id,
    )
