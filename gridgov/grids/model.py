"""Grids and their levels.

Regular levels nest, coarse to fine; every regular grid below the city names its parent:

    city 市
    └── district 区县(市)
        └── street 一级网格 (街道/乡镇)
            └── community 二级网格 (社区/村)
                └── compound 三级网格 (小区/楼院)
                    └── micro 微网格

Special grids (专属网格: schools, hospitals, markets …) overlap the regular ones and each other; they
name the street they lie in as parent and carry their own responsible unit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from shapely.geometry.base import BaseGeometry


class GridLevel(StrEnum):
    CITY = "city"
    DISTRICT = "district"
    STREET = "street"
    COMMUNITY = "community"
    COMPOUND = "compound"
    MICRO = "micro"
    SPECIAL = "special"

    @property
    def label_zh(self) -> str:
        return _LEVEL_LABELS_ZH[self]

    @property
    def rank(self) -> int:
        """Position among the regular levels, 0 for the city; specials rank below everything."""
        return REGULAR_LEVELS.index(self) if self in REGULAR_LEVELS else len(REGULAR_LEVELS)


REGULAR_LEVELS: tuple[GridLevel, ...] = (
    GridLevel.CITY,
    GridLevel.DISTRICT,
    GridLevel.STREET,
    GridLevel.COMMUNITY,
    GridLevel.COMPOUND,
    GridLevel.MICRO,
)

_LEVEL_LABELS_ZH = {
    GridLevel.CITY: "市",
    GridLevel.DISTRICT: "区县(市)",
    GridLevel.STREET: "一级网格(街道/乡镇)",
    GridLevel.COMMUNITY: "二级网格(社区/村)",
    GridLevel.COMPOUND: "三级网格(小区/楼院)",
    GridLevel.MICRO: "微网格",
    GridLevel.SPECIAL: "专属网格",
}


class SpecialKind(StrEnum):
    SCHOOL = "school"
    HOSPITAL = "hospital"
    MARKET = "market"
    PARK = "park"
    CONSTRUCTION_SITE = "construction_site"
    TRANSPORT_HUB = "transport_hub"
    INDUSTRIAL_PARK = "industrial_park"
    SCENIC_AREA = "scenic_area"
    GOVERNMENT = "government"

    @property
    def label_zh(self) -> str:
        return _SPECIAL_LABELS_ZH[self]


_SPECIAL_LABELS_ZH = {
    SpecialKind.SCHOOL: "学校",
    SpecialKind.HOSPITAL: "医院",
    SpecialKind.MARKET: "市场",
    SpecialKind.PARK: "公园",
    SpecialKind.CONSTRUCTION_SITE: "工地",
    SpecialKind.TRANSPORT_HUB: "交通枢纽",
    SpecialKind.INDUSTRIAL_PARK: "产业园区",
    SpecialKind.SCENIC_AREA: "景区",
    SpecialKind.GOVERNMENT: "机关单位",
}


@dataclass(frozen=True, slots=True)
class Grid:
    """One grid of a layer. `geometry` is a shapely Polygon or MultiPolygon in WGS84 lon/lat."""

    code: str
    name: str
    level: GridLevel
    geometry: BaseGeometry
    parent_code: str | None = None
    special_kind: SpecialKind | None = None
    responsible_unit: str | None = None


class LayerStatus(StrEnum):
    """A layer is imported as a draft, validated, activated as a whole, and later retired."""

    DRAFT = "draft"
    ACTIVE = "active"
    RETIRED = "retired"


@dataclass(frozen=True, slots=True)
class GridLayer:
    """One version (generation) of the city's grids. Only one layer is active at a time."""

    id: int
    name: str
    status: LayerStatus
    created_at: datetime
    activated_at: datetime | None = None
    retired_at: datetime | None = None
    source: str = ""
    grid_count: int = 0
    validation: dict[str, int] = field(default_factory=dict)
