"""A grid layer cut into vector tiles: tile math, which levels show at which zoom, simplification.

Tiles are the usual z/x/y slippy-map tiles in Web Mercator (EPSG:3857); grids are stored in
WGS84 and projected once when a layer's tiles are prepared. Cutting one tile:

    levels shown at z (LEVEL_ZOOMS)  →  grids whose box meets the tile (an STRtree per level)
    →  simplified for z (Douglas–Peucker within half a screen pixel, once per grid and zoom;
       a grid smaller than that vanishes at that zoom, as it would cover no pixel anyway)
    →  clipped to the tile plus a buffer, so strokes join without seams at tile edges
    →  one Mapbox Vector Tile layer per level (gridgov.grids.vector_tile)

Zoom table, coarse to fine (a level stays visible at every zoom above its first):

    district  0+     street  9+     community  11+     compound  13+     micro  15+
    special   13+    (schools, markets, sites … as their own layer)

Above `DETAIL_ZOOM` the stored geometry is used as it is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray

from gridgov.core.errors import InvalidInput
from gridgov.grids.model import Grid, GridLevel
from gridgov.grids.vector_tile import EXTENT, LayerFeatures, encode_tile

MAX_ZOOM = 22
# Deepest zoom with its own simplified geometry; beyond it the grids are drawn unsimplified.
DETAIL_ZOOM = 16
# Tiles are drawn 512 px wide: 8 tile units a pixel. Half a pixel keeps shared edges of
# neighbours (each simplified on its own) from drifting apart visibly.
SIMPLIFY_UNITS = 4.0
BUFFER_UNITS = 64
REGULAR_KIND = "regular"

_EARTH_RADIUS_M = 6378137.0
WORLD_M = 2 * math.pi * _EARTH_RADIUS_M
_HALF_WORLD_M = WORLD_M / 2
MAX_LATITUDE = math.degrees(math.atan(math.sinh(math.pi)))


@dataclass(frozen=True, slots=True)
class LevelZooms:
    """The zooms at which one level's grids are in the tiles (its source layer in the style)."""

    level: GridLevel
    minzoom: int
    maxzoom: int = MAX_ZOOM

    @property
    def source_layer(self) -> str:
        return self.level.value


LEVEL_ZOOMS: tuple[LevelZooms, ...] = (
    LevelZooms(GridLevel.DISTRICT, 0),
    LevelZooms(GridLevel.STREET, 9),
    LevelZooms(GridLevel.COMMUNITY, 11),
    LevelZooms(GridLevel.COMPOUND, 13),
    LevelZooms(GridLevel.MICRO, 15),
    LevelZooms(GridLevel.SPECIAL, 13),
)
PROPERTIES = ("code", "name", "level", "kind")


@dataclass(frozen=True, slots=True)
class TileId:
    z: int
    x: int
    y: int

    @classmethod
    def checked(cls, z: int, x: int, y: int) -> TileId:
        """The tile z/x/y; `InvalidInput` naming z, x or y when it is outside the tile pyramid."""
        if not 0 <= z <= MAX_ZOOM:
            raise InvalidInput(
                "z", f"缩放级别须在 0–{MAX_ZOOM} / zoom must be 0–{MAX_ZOOM}, got {z}"
            )
        side = 1 << z
        for name, value in (("x", x), ("y", y)):
            if not 0 <= value < side:
                raise InvalidInput(
                    name,
                    f"第 {z} 级瓦片的 {name} 须在 0–{side - 1} / at zoom {z}, {name} must be "
                    f"0–{side - 1}, got {value}",
                )
        return cls(z, x, y)

    def bounds_m(self) -> tuple[float, float, float, float]:
        """The tile's box in Web Mercator metres: (min x, min y, max x, max y)."""
        size = WORLD_M / (1 << self.z)
        minx = -_HALF_WORLD_M + self.x * size
        maxy = _HALF_WORLD_M - self.y * size
        return (minx, maxy - size, minx + size, maxy)

    def bounds_lonlat(self) -> tuple[float, float, float, float]:
        """The tile's box in WGS84 degrees: (west, south, east, north)."""
        minx, miny, maxx, maxy = self.bounds_m()
        (west, east), (south, north) = to_lonlat(np.array([minx, maxx]), np.array([miny, maxy]))
        return (float(west), float(south), float(east), float(north))


def tile_at(lon: float, lat: float, z: int) -> TileId:
    """The tile of zoom z holding a WGS84 point (latitudes beyond ±85.05° fall in the edge row)."""
    side = 1 << z
    lat = max(-MAX_LATITUDE, min(MAX_LATITUDE, lat))
    fx = (lon + 180.0) / 360.0
    fy = (1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0
    return TileId(z, min(side - 1, max(0, int(fx * side))), min(side - 1, max(0, int(fy * side))))


def to_mercator(
    lon: NDArray[np.float64], lat: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """WGS84 degrees to Web Mercator metres (latitudes clamped to the square world)."""
    clamped = np.clip(lat, -MAX_LATITUDE, MAX_LATITUDE)
    x = np.radians(lon) * _EARTH_RADIUS_M
    y = np.arcsinh(np.tan(np.radians(clamped))) * _EARTH_RADIUS_M
    return x, y


def to_lonlat(
    x: NDArray[np.float64], y: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Web Mercator metres to WGS84 degrees."""
    return np.degrees(x / _EARTH_RADIUS_M), np.degrees(np.arctan(np.sinh(y / _EARTH_RADIUS_M)))


def project(geometries: NDArray[np.object_]) -> NDArray[np.object_]:
    """WGS84 geometries to Web Mercator, all in one vectorised pass."""

    def transform(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        x, y = to_mercator(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    projected: NDArray[np.object_] = shapely.transform(geometries, transform)
    return projected


def simplify_tolerance_m(z: int) -> float:
    """How far a simplified boundary may stray at zoom z, in metres (half a screen pixel)."""
    return WORLD_M / (1 << z) / EXTENT * SIMPLIFY_UNITS


def levels_at(z: int) -> tuple[LevelZooms, ...]:
    return tuple(spec for spec in LEVEL_ZOOMS if spec.minzoom <= z <= spec.maxzoom)


class _LevelGrids:
    """One level's grids of a layer, projected, with their search tree and simplified shapes."""

    def __init__(self, level: GridLevel, grids: Sequence[Grid], ids: NDArray[np.int64]) -> None:
        self.level = level
        self.ids = ids
        self.properties = {
            "code": np.array([g.code for g in grids], dtype=object),
            "name": np.array([g.name for g in grids], dtype=object),
            "level": np.array([g.level.value for g in grids], dtype=object),
            "kind": np.array(
                [g.special_kind.value if g.special_kind else REGULAR_KIND for g in grids],
                dtype=object,
            ),
        }
        self.geometries = project(np.array([g.geometry for g in grids], dtype=object))
        self.tree = shapely.STRtree(self.geometries)
        # Per zoom: each grid simplified for it, None until a tile first needs that grid.
        self._simplified: dict[int, NDArray[np.object_]] = {}

    def at_zoom(self, z: int, which: NDArray[np.intp]) -> NDArray[np.object_]:
        if z > DETAIL_ZOOM:
            selected: NDArray[np.object_] = self.geometries[which]
            return selected
        cache = self._simplified.get(z)
        if cache is None:
            cache = self._simplified.setdefault(z, np.full(len(self.geometries), None, object))
        missing = which[cache[which] == None]  # noqa: E711 (elementwise test on an object array)
        if missing.size:
            # Concurrent tiles may simplify the same grid twice; both write the same shape.
            # Plain Douglas–Peucker: GEOS repairs any polygon it would leave invalid, and it is
            # several times faster than the topology-preserving kind on big boundaries.
            cache[missing] = shapely.simplify(
                self.geometries[missing], simplify_tolerance_m(z), preserve_topology=False
            )
        found: NDArray[np.object_] = cache[which]
        return found


class LayerTiles:
    """The grids of one layer, ready to be cut into vector tiles. Build it with `build`."""

    def __init__(self, grids: Sequence[Grid]) -> None:
        tiled = {spec.level for spec in LEVEL_ZOOMS}
        by_level: dict[GridLevel, list[int]] = {}
        for i, grid in enumerate(grids):
            if grid.level in tiled:
                by_level.setdefault(grid.level, []).append(i)
        # Feature ids are positions in the layer plus one (0 means "no id" in a vector tile).
        self._levels = {
            level: _LevelGrids(
                level, [grids[i] for i in members], np.array(members, dtype=np.int64) + 1
            )
            for level, members in by_level.items()
        }
        boxes = [lg.tree.geometries for lg in self._levels.values()]
        self.bounds_m: tuple[float, float, float, float] | None = None
        if boxes:
            minx, miny, maxx, maxy = shapely.total_bounds(np.concatenate(boxes))
            self.bounds_m = (float(minx), float(miny), float(maxx), float(maxy))
        self.counts = {level: len(lg.ids) for level, lg in self._levels.items()}

    def bounds_lonlat(self) -> tuple[float, float, float, float] | None:
        """The tiled grids' box in WGS84 degrees (west, south, east, north); None if none."""
        if self.bounds_m is None:
            return None
        minx, miny, maxx, maxy = self.bounds_m
        (west, east), (south, north) = to_lonlat(np.array([minx, maxx]), np.array([miny, maxy]))
        return (float(west), float(south), float(east), float(north))

    def tile(self, tile: TileId) -> bytes:
        """The vector tile; b"" when no grid of a level shown at its zoom reaches into it."""
        minx, miny, maxx, maxy = tile.bounds_m()
        pad = (maxx - minx) * BUFFER_UNITS / EXTENT
        clip_box = (minx - pad, miny - pad, maxx + pad, maxy + pad)
        if self.bounds_m is None or not _overlaps(self.bounds_m, clip_box):
            return b""
        query = shapely.box(*clip_box)
        # Tile units run from the tile's north-west corner, y pointing down (south).
        frame = (minx, maxy, EXTENT / (maxx - minx))
        layers = []
        for spec in levels_at(tile.z):
            grids = self._levels.get(spec.level)
            if grids is None:
                continue
            which = np.sort(grids.tree.query(query))
            if not which.size:
                continue
            layers.append(
                LayerFeatures(
                    name=spec.source_layer,
                    geometries=clip(grids.at_zoom(tile.z, which), clip_box),
                    ids=grids.ids[which],
                    properties={key: column[which] for key, column in grids.properties.items()},
                )
            )
        return encode_tile(layers, frame)


def clip(
    geometries: NDArray[np.object_], box: tuple[float, float, float, float]
) -> NDArray[np.object_]:
    """The geometries cut to the box; those already inside it are returned as they are."""
    bounds = shapely.bounds(geometries)
    inside = (
        (bounds[:, 0] >= box[0])
        & (bounds[:, 1] >= box[1])
        & (bounds[:, 2] <= box[2])
        & (bounds[:, 3] <= box[3])
    )
    if inside.all():
        return geometries
    clipped = geometries.copy()
    cross = ~inside
    clipped[cross] = shapely.clip_by_rect(geometries[cross], *box)
    return clipped


def _overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]
