"""Roads, crossings and points of interest of the demo city, so that its gazetteer knows the names
people give in an address besides grid names.

What `generate_places` lays out, all deterministic for a seed:
- roads: two lattices of gently wiggling polylines — east-west and north-south — one over the
  urban core (the famous arterials such as 农业路, 文化路, 花园路, 大学路, 淮河路 full length, in
  roughly their real order, generated names between them) and a small one around each county
  seat; every road is clipped to the city;
- crossings: wherever an east-west road meets a north-south one, named "A路与B路交叉口";
- points of interest: bus stops at crossings ("农业路花园路站"), shops along roads
  ("鑫华超市(文化路店)"), office buildings and 楼盘.

Each entry carries the grid it lies in (its compound; a road its street at mid-length) and the
names of the areas above it, so that a district in the text narrows the search.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import LineString
from shapely.geometry.base import BaseGeometry

from gridgov.grids.model import Grid, GridLevel
from gridgov.intake.gazetteer import GazetteerEntry, PlaceKind
from gridgov.sim.city import DEFAULT_SEED
from gridgov.sim.city_geometry import KM_PER_DEG_LAT, KM_PER_DEG_LON, URBAN_CORE, load_districts

# North to south and west to east, roughly as in Zhengzhou.
_CORE_EAST_WEST = (
    "北三环", "东风路", "农业路", "黄河路", "金水路", "纬五路", "太康路", "建设路", "中原路",
    "陇海路", "淮河路", "航海路", "南三环",
)  # fmt: skip
_CORE_NORTH_SOUTH = (
    "西三环", "桐柏路", "嵩山路", "大学路", "京广路", "文化路", "花园路", "经三路", "紫荆山路",
    "未来路", "中州大道", "东三环",
)  # fmt: skip
_MORE_EAST_WEST = (
    "纬二路", "纬三路", "伊河路", "长江路", "商城路", "三全路", "北环路", "丰产路", "红专路",
    "国基路", "汝河路", "二马路", "大同路", "郑汴路", "颍河路", "政通路", "棉纺路", "索凌路",
)  # fmt: skip
_MORE_NORTH_SOUTH = (
    "经七路", "经八路", "政七街", "城东路", "南阳路", "丰庆路", "工人路", "兴华街", "英协路",
    "电厂路", "沙口路", "秦岭路", "人民路", "民主路", "互助路", "碧沙岗路", "姚砦路", "桐柏北路",
)  # fmt: skip
_HEADS = tuple("东西南北新兴文华建康福裕丰和平安荣嵩商桐柏榆槐锦瑞祥泰嘉润盛翠金银景春秋永宏昌")
_TAILS = tuple("华兴安康明秀昌盛源达通祥林园湖河山阳光宁泰丰和德信义乐雅平业海")
_SHOP_KINDS = ("超市", "便利店", "大药房", "烩面馆", "餐厅", "酒店", "宾馆", "五金店", "水果店")
_BUILDING_KINDS = ("大厦", "广场", "国际中心", "商务楼", "华府", "公馆", "天地", "名门", "壹号院")

# Where the arterials run: roughly inside Zhengzhou's third ring (west, south, east, north).
_RING = (113.57, 34.69, 113.78, 34.84)
_CORE_SPACING_KM = 0.65
_TOWN_SPACING_KM = 0.5
_TOWN_ROADS = 7
_TOWN_REACH_KM = 2.5
_WIGGLE_KM = 0.04
_VERTEX_EVERY_KM = 1.5
_MIN_ROAD_KM = 0.3
_BUS_STOP_SHARE = 0.35
_SHOPS = 1600
_BUILDINGS = 600


@dataclass(frozen=True, slots=True)
class Road:
    """A named road; `geometry` is a LineString or MultiLineString in WGS84 lon/lat."""

    name: str
    geometry: BaseGeometry
    east_west: bool


def generate_places(grids: Sequence[Grid], seed: int = DEFAULT_SEED) -> list[GazetteerEntry]:
    """Roads, crossings and POIs of the city made of `grids`, as gazetteer entries."""
    rng = np.random.default_rng([seed, 11])
    areas = _Areas(grids)
    roads = generate_roads(grids, rng)
    crossings = _crossings(roads)
    entries = areas.roads(roads)
    entries += areas.points(PlaceKind.INTERSECTION, crossings)
    entries += areas.points(PlaceKind.POI, _bus_stops(crossings, rng))
    entries += areas.points(PlaceKind.POI, _shops(roads, rng))
    entries += areas.points(PlaceKind.POI, _buildings(roads, rng))
    return entries


def generate_roads(grids: Sequence[Grid], rng: np.random.Generator) -> list[Road]:
    """The core lattice and one small lattice per county seat, clipped to the city."""
    city = next(g.geometry for g in grids if g.level is GridLevel.CITY)
    core = shapely.union_all(
        [g.geometry for g in grids if g.level is GridLevel.DISTRICT and g.code[:6] in URBAN_CORE]
    )
    names = _RoadNames(rng)
    west, south, east, north = core.bounds
    lattices = [((west, south, east, north), _CORE_SPACING_KM, True)]
    for district in load_districts()[0]:
        if district.adcode in URBAN_CORE:
            continue
        lon, lat = district.seat
        dlon, dlat = _TOWN_REACH_KM / KM_PER_DEG_LON, _TOWN_REACH_KM / KM_PER_DEG_LAT
        lattices.append(((lon - dlon, lat - dlat, lon + dlon, lat + dlat), _TOWN_SPACING_KM, False))
    shapely.prepare(city)
    roads: list[Road] = []
    for box, spacing, famous in lattices:
        for east_west in (True, False):
            for line, name in _lattice(box, spacing, east_west, famous, names, rng):
                clipped = shapely.intersection(line, city)
                if _length_km(clipped) >= _MIN_ROAD_KM:
                    roads.append(Road(name, clipped, east_west))
    return roads


class _RoadNames:
    """More real names first (经x路 run north-south), then unique generated ones (…路, …街, …大道)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._taken = {*_CORE_EAST_WEST, *_CORE_NORTH_SOUTH, *_MORE_EAST_WEST, *_MORE_NORTH_SOUTH}
        self._famous = {True: list(_MORE_EAST_WEST), False: list(_MORE_NORTH_SOUTH)}

    def next(self, east_west: bool) -> str:
        if self._famous[east_west]:
            return self._famous[east_west].pop(0)
        while True:
            head = _pair(self._rng)
            draw = self._rng.random()
            name = head + ("路" if draw < 0.7 else "街" if draw < 0.92 else "大道")
            if name not in self._taken:
                self._taken.add(name)
                return name


def _lattice(
    box: tuple[float, float, float, float],
    spacing_km: float,
    east_west: bool,
    famous: bool,
    names: _RoadNames,
    rng: np.random.Generator,
) -> list[tuple[LineString, str]]:
    """Parallel roads across `box`; the arterials span it, the others a random stretch of it."""
    west, south, east, north = box
    across = (north - south) * KM_PER_DEG_LAT if east_west else (east - west) * KM_PER_DEG_LON
    along = (east - west) * KM_PER_DEG_LON if east_west else (north - south) * KM_PER_DEG_LAT
    count = max(int(across / spacing_km), 2)
    slots = _arterial_slots(box, count, east_west) if famous else {}
    out: list[tuple[LineString, str]] = []
    for k in range(count):
        position = (k + 0.5) * across / count + rng.normal(0, spacing_km / 8)
        name = slots.get(k)
        start, end = (0.0, along) if name else sorted(rng.uniform(0, along, 2).tolist())
        out.append(
            (_polyline(box, east_west, position, start, end, rng), name or names.next(east_west))
        )
    return out


def _arterial_slots(
    box: tuple[float, float, float, float], count: int, east_west: bool
) -> dict[int, str]:
    """Lattice line of each arterial, spread evenly inside the ring in list order."""
    west, south, east, north = box
    ring_west, ring_south, ring_east, ring_north = _RING
    names: tuple[str, ...]
    if east_west:
        names, first, last, low, high = _CORE_EAST_WEST, ring_north, ring_south, south, north
    else:
        names, first, last, low, high = _CORE_NORTH_SOUTH, ring_west, ring_east, west, east
    slots: dict[int, str] = {}
    for i, name in enumerate(names):
        at = first + (i + 0.5) / len(names) * (last - first)
        slots[min(max(int((at - low) / (high - low) * count), 0), count - 1)] = name
    return slots


def _polyline(
    box: tuple[float, float, float, float],
    east_west: bool,
    position_km: float,
    start_km: float,
    end_km: float,
    rng: np.random.Generator,
) -> LineString:
    west, south, _, _ = box
    steps = max(int((end_km - start_km) / _VERTEX_EVERY_KM), 1) + 1
    along = np.linspace(start_km, end_km, steps)
    across = position_km + rng.normal(0, _WIGGLE_KM, steps)
    if east_west:
        lon, lat = west + along / KM_PER_DEG_LON, south + across / KM_PER_DEG_LAT
    else:
        lon, lat = west + across / KM_PER_DEG_LON, south + along / KM_PER_DEG_LAT
    return LineString(np.column_stack([lon, lat]))


@dataclass(frozen=True, slots=True)
class _Point:
    name: str
    lon: float
    lat: float


def _crossings(roads: list[Road]) -> list[_Point]:
    across = [r for r in roads if not r.east_west]
    tree = shapely.STRtree([r.geometry for r in across])
    out: list[_Point] = []
    for road in (r for r in roads if r.east_west):
        for j in tree.query(road.geometry, predicate="intersects").tolist():
            other = across[j]
            points = shapely.get_coordinates(shapely.intersection(road.geometry, other.geometry))
            for lon, lat in points.tolist()[:1]:
                out.append(_Point(f"{road.name}与{other.name}交叉口", lon, lat))
    return out


def _bus_stops(crossings: list[_Point], rng: np.random.Generator) -> list[_Point]:
    out: list[_Point] = []
    for crossing in crossings:
        if rng.random() < _BUS_STOP_SHARE:
            a, b = crossing.name.removesuffix("交叉口").split("与")
            lon, lat = _nudged(crossing.lon, crossing.lat, 0.03, rng)
            out.append(_Point(f"{a}{b}站", lon, lat))
    return out


def _shops(roads: list[Road], rng: np.random.Generator) -> list[_Point]:
    taken: set[str] = set()
    out: list[_Point] = []
    for road, lon, lat in _along_roads(roads, _SHOPS, rng):
        name = f"{_pair(rng)}{rng.choice(_SHOP_KINDS)}({road.name}店)"
        if name not in taken:
            taken.add(name)
            out.append(_Point(name, lon, lat))
    return out


def _buildings(roads: list[Road], rng: np.random.Generator) -> list[_Point]:
    taken: set[str] = set()
    out: list[_Point] = []
    for _, lon, lat in _along_roads(roads, _BUILDINGS, rng):
        name = f"{_pair(rng)}{rng.choice(_BUILDING_KINDS)}"
        if name not in taken:
            taken.add(name)
            out.append(_Point(name, lon, lat))
    return out


def _along_roads(
    roads: list[Road], n: int, rng: np.random.Generator
) -> list[tuple[Road, float, float]]:
    """n points beside roads, drawn in proportion to road length, 20–60 m off the road."""
    lengths = np.array([_length_km(r.geometry) for r in roads])
    picks = rng.choice(len(roads), size=n, p=lengths / lengths.sum())
    out: list[tuple[Road, float, float]] = []
    for i in picks.tolist():
        road = roads[i]
        point = shapely.line_interpolate_point(road.geometry, rng.random(), normalized=True)
        lon, lat = _nudged(point.x, point.y, rng.uniform(0.02, 0.06), rng)
        out.append((road, lon, lat))
    return out


def _nudged(lon: float, lat: float, km: float, rng: np.random.Generator) -> tuple[float, float]:
    angle = rng.uniform(0, 2 * math.pi)
    return lon + km * math.cos(angle) / KM_PER_DEG_LON, lat + km * math.sin(angle) / KM_PER_DEG_LAT


def _pair(rng: np.random.Generator) -> str:
    while True:
        head, tail = str(rng.choice(_HEADS)), str(rng.choice(_TAILS))
        if head != tail:
            return head + tail


def _length_km(geometry: BaseGeometry) -> float:
    """Length in km of a lon/lat line near the city's latitude."""
    coords = shapely.get_coordinates(geometry)
    if len(coords) < 2:
        return 0.0
    parts = shapely.get_parts(geometry)
    total = 0.0
    for part in parts:
        xy = shapely.get_coordinates(part)
        d = np.diff(xy, axis=0) * [KM_PER_DEG_LON, KM_PER_DEG_LAT]
        total += float(np.hypot(d[:, 0], d[:, 1]).sum())
    return total


class _Areas:
    """The compound, street and parent names at any point of the city."""

    def __init__(self, grids: Sequence[Grid]) -> None:
        by_code = {g.code: g for g in grids}
        self._compounds = [g for g in grids if g.level is GridLevel.COMPOUND]
        self._streets = [g for g in grids if g.level is GridLevel.STREET]
        self._compound_tree = shapely.STRtree([g.geometry for g in self._compounds])
        self._street_tree = shapely.STRtree([g.geometry for g in self._streets])
        self._by_code = by_code

    def _chain(self, grid: Grid) -> tuple[str, ...]:
        """District, street (and community) names above a compound or street."""
        names: list[str] = []
        code = grid.parent_code
        while code is not None and code in self._by_code:
            parent = self._by_code[code]
            if parent.level is GridLevel.CITY:
                break
            names.append(parent.name)
            code = parent.parent_code
        return tuple(reversed(names))

    def points(self, kind: PlaceKind, points: list[_Point]) -> list[GazetteerEntry]:
        """Entries for the points inside a compound; points outside the city are left out."""
        if not points:
            return []
        geoms = shapely.points([(p.lon, p.lat) for p in points])
        where = self._compound_tree.query(geoms, predicate="within")
        compound_of: dict[int, int] = {}
        for point, compound in where.T.tolist():
            compound_of.setdefault(point, compound)
        return [
            GazetteerEntry(
                name=p.name,
                kind=kind,
                lon=p.lon,
                lat=p.lat,
                grid_code=self._compounds[compound_of[i]].code,
                parent_names=self._chain(self._compounds[compound_of[i]]),
            )
            for i, p in enumerate(points)
            if i in compound_of
        ]

    def roads(self, roads: list[Road]) -> list[GazetteerEntry]:
        """Entries for roads at mid-length, with every district and street they cross as parents."""
        out: list[GazetteerEntry] = []
        for road in roads:
            middle = shapely.line_interpolate_point(road.geometry, 0.5, normalized=True)
            crossed = [self._streets[i] for i in self._street_tree.query(road.geometry).tolist()]
            crossed = [s for s in crossed if s.geometry.intersects(road.geometry)]
            home = next((s for s in crossed if s.geometry.covers(middle)), None)
            if home is None:
                continue
            districts = {self._by_code[s.parent_code].name for s in crossed if s.parent_code}
            out.append(
                GazetteerEntry(
                    name=road.name,
                    kind=PlaceKind.ROAD,
                    lon=middle.x,
                    lat=middle.y,
                    grid_code=home.code,
                    parent_names=(*sorted(districts), *sorted(s.name for s in crossed)),
                )
            )
        return out
