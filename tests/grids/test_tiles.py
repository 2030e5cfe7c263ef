"""Cutting a grid layer into vector tiles: tile math, the zoom table, simplification, clipping."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import MultiPolygon, Polygon

from gridgov.core.errors import InvalidInput
from gridgov.grids.model import Grid, GridLevel, SpecialKind
from gridgov.grids.tiles import (
    BUFFER_UNITS,
    LEVEL_ZOOMS,
    MAX_LATITUDE,
    LayerTiles,
    TileId,
    levels_at,
    simplify_tolerance_m,
    tile_at,
    to_lonlat,
    to_mercator,
)
from gridgov.grids.vector_tile import EXTENT
from tests.factories import sample_grids
from tests.grids.mvt_reader import read_tile

# --- tile math ----------------------------------------------------------------------------------

LAT_EDGE = 85.0511287798066


@pytest.mark.parametrize(
    "z, x, y, bounds",
    [
        (0, 0, 0, (-180.0, -LAT_EDGE, 180.0, LAT_EDGE)),
        (1, 0, 0, (-180.0, 0.0, 0.0, LAT_EDGE)),
        (1, 1, 1, (0.0, -LAT_EDGE, 180.0, 0.0)),
        (2, 3, 1, (90.0, 0.0, 180.0, 66.51326044311186)),
        # Zhengzhou's centre at street-grid zoom, from the OpenStreetMap wiki's tile formulas.
        (12, 3341, 1625, (113.642578125, 34.741612499, 113.73046875, 34.813803317)),
    ],
)
def test_tile_bounds_in_degrees_match_the_slippy_map_scheme(
    z: int, x: int, y: int, bounds: tuple[float, float, float, float]
) -> None:
    assert TileId(z, x, y).bounds_lonlat() == pytest.approx(bounds, abs=1e-8)


@pytest.mark.parametrize(
    "lon, lat, z, xy",
    [
        (0.0, 0.0, 0, (0, 0)),
        (-179.9, 85.0, 3, (0, 0)),
        (179.9, -85.0, 3, (7, 7)),
        (113.66, 34.75, 12, (3341, 1625)),
        (113.66, 34.75, 17, (106918, 52028)),
        (113.66, 89.9, 4, (13, 0)),  # beyond the square world: the edge row
        (180.0, -90.0, 2, (3, 3)),
    ],
)
def test_a_point_falls_in_the_tile_of_the_slippy_map_scheme(
    lon: float, lat: float, z: int, xy: tuple[int, int]
) -> None:
    assert (tile_at(lon, lat, z).x, tile_at(lon, lat, z).y) == xy


@pytest.mark.parametrize("z", [0, 5, 9, 13, 17, 22])
def test_the_centre_of_every_tile_lies_in_that_tile(z: int) -> None:
    rng = np.random.default_rng(z)
    side = 1 << z
    for x, y in rng.integers(0, side, size=(20, 2)).tolist():
        west, south, east, north = TileId(z, x, y).bounds_lonlat()
        assert tile_at((west + east) / 2, (south + north) / 2, z) == TileId(z, x, y)


def test_web_mercator_agrees_with_proj_both_ways() -> None:
    lon = np.array([-180.0, -73.98, 0.0, 113.66, 114.2, 180.0])
    lat = np.array([-MAX_LATITUDE, 40.75, 0.0, 34.75, 34.26, MAX_LATITUDE])
    proj = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
    x, y = to_mercator(lon, lat)
    px, py = proj.transform(lon, lat)
    assert np.allclose(x, px, atol=1e-6) and np.allclose(y, py, atol=1e-6)
    back_lon, back_lat = to_lonlat(x, y)
    assert np.allclose(back_lon, lon, atol=1e-9) and np.allclose(back_lat, lat, atol=1e-9)


@pytest.mark.parametrize(
    "z, x, y, field",
    [
        (-1, 0, 0, "z"),
        (23, 0, 0, "z"),
        (0, 1, 0, "x"),
        (0, 0, 1, "y"),
        (3, -1, 0, "x"),
        (3, 8, 0, "x"),
        (3, 0, 8, "y"),
        (22, 1 << 22, 0, "x"),
    ],
)
def test_a_tile_outside_the_pyramid_is_refused_naming_the_coordinate(
    z: int, x: int, y: int, field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        TileId.checked(z, x, y)
    assert refused.value.field == field


def test_the_last_tile_of_the_deepest_zoom_is_accepted() -> None:
    assert TileId.checked(22, (1 << 22) - 1, (1 << 22) - 1) == TileId(22, 4194303, 4194303)


# --- which levels show at which zoom -------------------------------------------------------------


@pytest.mark.parametrize(
    "z, levels",
    [
        (0, ["district"]),
        (8, ["district"]),
        (9, ["district", "street"]),
        (11, ["district", "street", "community"]),
        (13, ["district", "street", "community", "compound", "special"]),
        (15, ["district", "street", "community", "compound", "micro", "special"]),
        (22, ["district", "street", "community", "compound", "micro", "special"]),
    ],
)
def test_finer_levels_appear_as_the_map_zooms_in(z: int, levels: list[str]) -> None:
    assert [spec.source_layer for spec in levels_at(z)] == levels


def test_every_tiled_level_is_a_grid_level_and_the_city_is_not_tiled() -> None:
    names = {spec.source_layer for spec in LEVEL_ZOOMS}
    assert names == {"district", "street", "community", "compound", "micro", "special"}
    assert all(GridLevel(name) for name in names)


# --- cutting tiles --------------------------------------------------------------------------------


def _layer_of(tile: bytes) -> dict[str, dict[str, dict[str, object]]]:
    """Layer name → feature code → properties."""
    return {
        name: {str(f.properties["code"]): f.properties for f in layer.features}
        for name, layer in read_tile(tile).items()
    }


def test_a_tile_over_the_city_holds_the_levels_of_its_zoom_with_their_properties() -> None:
    tiles = LayerTiles(sample_grids())
    # The school lies at 113.63–113.65 E, 34.72–34.74 N, inside street 410102001.
    data = tiles.tile(tile_at(113.64, 34.73, 14))
    layers = _layer_of(data)
    assert sorted(layers) == ["community", "district", "special", "street"]
    assert layers["district"]["410102"] == {
        "code": "410102",
        "name": "中原区",
        "level": "district",
        "kind": "regular",
    }
    assert set(layers["street"]) == {"410102001"}
    assert set(layers["community"]) == {"410102001001", "410102001002"}
    assert layers["special"]["SP-SCHOOL-1"] == {
        "code": "SP-SCHOOL-1",
        "name": "第一实验小学",
        "level": "special",
        "kind": "school",
    }


def test_at_a_low_zoom_only_districts_are_drawn() -> None:
    layers = _layer_of(LayerTiles(sample_grids()).tile(tile_at(113.68, 34.78, 8)))
    assert list(layers) == ["district"]
    assert set(layers["district"]) == {"410102", "410103"}


def test_a_tile_away_from_the_city_is_empty() -> None:
    tiles = LayerTiles(sample_grids())
    assert tiles.tile(tile_at(116.4, 39.9, 12)) == b""
    assert tiles.tile(tile_at(113.68, 34.78, 5)) != b""


def test_feature_ids_are_unique_and_stable_across_tiles() -> None:
    tiles = LayerTiles(sample_grids())
    ids: dict[str, int] = {}
    for z in (9, 12, 14):
        for layer in read_tile(tiles.tile(tile_at(113.68, 34.78, z))).values():
            for feature in layer.features:
                assert ids.setdefault(str(feature.properties["code"]), feature.id) == feature.id
    assert 0 not in ids.values()
    assert len(set(ids.values())) == len(ids)


def test_every_ring_is_wound_as_the_spec_asks_and_holes_follow_their_exterior() -> None:
    lon0, lat0 = 113.60, 34.70
    shell = [(lon0, lat0), (lon0 + 0.01, lat0), (lon0 + 0.01, lat0 + 0.01), (lon0, lat0 + 0.01)]
    hole = [
        (lon0 + 0.003, lat0 + 0.003),
        (lon0 + 0.006, lat0 + 0.003),
        (lon0 + 0.006, lat0 + 0.006),
    ]
    grids = [
        # Counter-clockwise and clockwise inputs must both come out clockwise on screen.
        Grid("CCW", "ccw", GridLevel.DISTRICT, Polygon(shell, [hole])),
        Grid("CW", "cw", GridLevel.STREET, Polygon(shell[::-1], [hole[::-1]])),
    ]
    tile = tile_at(lon0 + 0.005, lat0 + 0.005, 12)
    assert shapely.box(*tile.bounds_lonlat()).contains(Polygon(shell))
    for layer in read_tile(LayerTiles(grids).tile(tile)).values():
        (feature,) = layer.features
        assert feature.geom_type == 3
        polygon = feature.polygon()
        assert len(polygon.geoms) == 1 and len(polygon.geoms[0].interiors) == 1
        assert polygon.is_valid


def test_decoded_geometry_matches_the_grid_within_a_tile_unit() -> None:
    grids = sample_grids()
    tile = tile_at(113.64, 34.73, 15)
    data = LayerTiles(grids).tile(tile)
    (school,) = read_tile(data)["special"].features
    drawn = _to_lonlat(school.polygon(), tile)
    west, south, east, north = tile.bounds_lonlat()
    unit_deg = (east - west) / EXTENT
    # The school is larger than this tile: compare what lies inside the tile proper.
    inside = shapely.box(west, south, east, north)
    school = next(g for g in grids if g.code == "SP-SCHOOL-1").geometry
    error = shapely.hausdorff_distance(drawn.intersection(inside), school.intersection(inside))
    assert error < 2 * unit_deg


def test_a_grid_larger_than_the_tile_is_clipped_to_the_tile_and_its_buffer() -> None:
    tiles = LayerTiles(sample_grids())
    layers = read_tile(tiles.tile(tile_at(113.64, 34.73, 16)))
    (district,) = layers["district"].features
    xs = [x for ring in district.rings for x, _ in ring]
    ys = [y for ring in district.rings for _, y in ring]
    assert min(xs) == min(ys) == -BUFFER_UNITS
    assert max(xs) == max(ys) == EXTENT + BUFFER_UNITS
    # The district covers this tile, so the clipped district is the whole buffered square.
    assert district.polygon().area == (EXTENT + 2 * BUFFER_UNITS) ** 2


def test_a_grid_cut_by_the_tile_edge_keeps_its_part_inside() -> None:
    lon0, lat0 = 113.60, 34.70
    tile = tile_at(lon0, lat0, 14)
    west, south, east, north = tile.bounds_lonlat()
    mid_lat = (south + north) / 2
    # A strip reaching from the middle of the tile to far beyond its east edge.
    strip = shapely.box(west + (east - west) / 2, mid_lat - 0.001, east + 0.05, mid_lat + 0.001)
    data = LayerTiles([Grid("S", "strip", GridLevel.DISTRICT, strip)]).tile(tile)
    (feature,) = read_tile(data)["district"].features
    (ring,) = feature.rings
    xs = sorted({x for x, _ in ring})
    assert xs == [EXTENT // 2, EXTENT + BUFFER_UNITS]


def test_a_multipolygon_grid_is_one_feature_with_two_exteriors() -> None:
    grids = sample_grids()
    (community,) = [g for g in grids if isinstance(g.geometry, MultiPolygon)]
    centre = community.geometry.centroid
    layers = read_tile(LayerTiles(grids).tile(tile_at(centre.x, centre.y, 13)))
    (feature,) = [f for f in layers["community"].features if f.properties["code"] == community.code]
    assert len(feature.polygon().geoms) == 2


def test_a_grid_smaller_than_a_tile_unit_is_left_out_rather_than_drawn_broken() -> None:
    lon0, lat0 = 113.60, 34.70
    grids = [
        Grid("BIG", "big", GridLevel.DISTRICT, shapely.box(lon0, lat0, lon0 + 0.1, lat0 + 0.1)),
        Grid(
            "DOT",
            "dot",
            GridLevel.DISTRICT,
            shapely.box(lon0 + 0.05, lat0 + 0.05, lon0 + 0.05 + 1e-7, lat0 + 0.05 + 1e-7),
        ),
    ]
    layers = read_tile(LayerTiles(grids).tile(tile_at(lon0 + 0.05, lat0 + 0.05, 6)))
    assert [f.properties["code"] for f in layers["district"].features] == ["BIG"]


def test_boundaries_are_simplified_at_low_zoom_within_half_a_pixel() -> None:
    # A circle-like district with a vertex every few metres: far more than a low zoom can show.
    lon0, lat0 = 113.60, 34.70
    angle = np.linspace(0, 2 * math.pi, 4000, endpoint=False)
    ring = np.c_[lon0 + 0.2 * np.cos(angle), lat0 + 0.16 * np.sin(angle)]
    grid = Grid("ROUND", "round", GridLevel.DISTRICT, Polygon(ring))
    tiles = LayerTiles([grid])
    tile = tile_at(lon0 + 0.2, lat0, 9)
    (low,) = read_tile(tiles.tile(tile))["district"].features
    vertices = sum(len(r) for r in low.rings)
    assert vertices < 400
    drawn = _to_lonlat(low.polygon(), tile)
    unit_deg = (tile.bounds_lonlat()[2] - tile.bounds_lonlat()[0]) / EXTENT
    clip = shapely.box(*tile.bounds_lonlat())
    error = shapely.hausdorff_distance(drawn.intersection(clip), grid.geometry.intersection(clip))
    # Simplification (half a pixel, 4 units) plus rounding to the grid.
    tolerance_units = simplify_tolerance_m(9) / (2 * math.pi * 6378137.0 / 512 / EXTENT)
    assert tolerance_units == pytest.approx(4.0)
    assert error < 6 * unit_deg


def test_specials_carry_their_kind_and_regular_grids_say_regular() -> None:
    lon0, lat0 = 113.60, 34.70
    grids = [
        Grid("C1", "社区", GridLevel.COMMUNITY, shapely.box(lon0, lat0, lon0 + 0.01, lat0 + 0.01)),
        Grid(
            "M1",
            "市场",
            GridLevel.SPECIAL,
            shapely.box(lon0 + 0.002, lat0 + 0.002, lon0 + 0.004, lat0 + 0.004),
            special_kind=SpecialKind.MARKET,
        ),
    ]
    layers = _layer_of(LayerTiles(grids).tile(tile_at(lon0 + 0.003, lat0 + 0.003, 15)))
    assert layers["community"]["C1"]["kind"] == "regular"
    assert layers["special"]["M1"]["kind"] == "market"


def test_the_layer_bounds_are_those_of_its_tiled_grids() -> None:
    bounds = LayerTiles(sample_grids()).bounds_lonlat()
    assert bounds == pytest.approx((113.6, 34.7, 113.76, 34.86), abs=1e-9)
    assert LayerTiles([]).bounds_lonlat() is None
    assert LayerTiles([]).tile(TileId(0, 0, 0)) == b""


def _to_lonlat(drawn: shapely.MultiPolygon, tile: TileId) -> shapely.Geometry:
    minx, _, maxx, maxy = tile.bounds_m()
    scale = (maxx - minx) / EXTENT

    def back(coords: np.ndarray) -> np.ndarray:
        x = minx + coords[:, 0] * scale
        y = maxy - coords[:, 1] * scale
        lon, lat = to_lonlat(x, y)
        return np.c_[lon, lat]

    return shapely.transform(drawn, back)
