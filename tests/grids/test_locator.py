"""The point → grid locator answers exactly what shapely's `covers` answers, level by level."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from gridgov.core.errors import InvalidCoordinate
from gridgov.grids.locator import BatchLocation, GridIndex
from gridgov.grids.model import Grid, GridLevel

LON0, LAT0 = 113.60, 34.70
SPAN = 0.10
LEVELS = (GridLevel.STREET, GridLevel.COMMUNITY, GridLevel.COMPOUND, GridLevel.MICRO)
GROUPS = {GridLevel.COMPOUND: 60, GridLevel.COMMUNITY: 12, GridLevel.STREET: 3}


def _voronoi(rng: np.random.Generator, seeds: NDArray[np.float64]) -> NDArray[np.object_]:
    """Voronoi cells of the seeds, bounded by a ring of outside seeds (a ragged outer edge)."""
    t = np.linspace(0.0, 1.0, 30, endpoint=False)
    lo_x, lo_y, hi_x, hi_y = LON0 - 0.01, LAT0 - 0.01, LON0 + SPAN + 0.01, LAT0 + SPAN + 0.01
    ring = np.vstack(
        [
            np.c_[lo_x + t * (hi_x - lo_x), np.full_like(t, lo_y)],
            np.c_[np.full_like(t, hi_x), lo_y + t * (hi_y - lo_y)],
            np.c_[hi_x - t * (hi_x - lo_x), np.full_like(t, hi_y)],
            np.c_[np.full_like(t, lo_x), hi_y - t * (hi_y - lo_y)],
        ]
    )
    points = shapely.multipoints(np.vstack([seeds, ring]))
    return shapely.get_parts(shapely.voronoi_polygons(points, ordered=True))[: len(seeds)]


def _star(rng: np.random.Generator, x: float, y: float, radius: float) -> shapely.Polygon:
    angle = np.sort(rng.uniform(0, 2 * np.pi, 24))
    reach = radius * rng.uniform(0.5, 1.0, 24)
    return shapely.Polygon(np.c_[x + reach * np.cos(angle), y + reach * np.sin(angle)])


def _specials(rng: np.random.Generator) -> list[Grid]:
    grids = [
        Grid(f"SP{i:02d}", "special", GridLevel.SPECIAL, _star(rng, *xy, 0.004))
        for i, xy in enumerate(rng.uniform((LON0, LAT0), (LON0 + SPAN, LAT0 + SPAN), (30, 2)))
    ]
    # Overlapping each other: a park with a lake (hole) and a campus in two parts.
    park = shapely.Point(LON0 + 0.05, LAT0 + 0.05).buffer(0.01)
    lake = shapely.Point(LON0 + 0.05, LAT0 + 0.05).buffer(0.004)
    campus = shapely.MultiPolygon(
        [
            shapely.box(LON0 + 0.045, LAT0 + 0.045, LON0 + 0.06, LAT0 + 0.06),
            shapely.box(LON0 + 0.07, LAT0 + 0.02, LON0 + 0.08, LAT0 + 0.03),
        ]
    )
    grids.append(Grid("SPPARK", "park", GridLevel.SPECIAL, park.difference(lake)))
    grids.append(Grid("SPCAMPUS", "campus", GridLevel.SPECIAL, campus))
    return grids


def nested_layer(*, nested: bool = True, gap: bool = False, seed: int = 1) -> list[Grid]:
    """Four regular levels built bottom-up from 300 Voronoi micro-grids, plus specials.

    `nested=False` replaces the compounds by an unrelated Voronoi tiling (parents still named);
    `gap=True` drops every tenth micro-grid, leaving holes in the finest level only.
    """
    rng = np.random.default_rng(seed)
    seeds = rng.uniform((LON0, LAT0), (LON0 + SPAN, LAT0 + SPAN), (300, 2))
    geoms, level_seeds = _voronoi(rng, seeds), seeds
    codes = [f"MI{i:03d}" for i in range(len(seeds))]
    grids: list[Grid] = []
    for finer, coarser in zip(LEVELS[::-1], LEVELS[-2::-1], strict=False):
        chosen = rng.choice(len(level_seeds), GROUPS[coarser], replace=False)
        _, group = cKDTree(level_seeds[chosen]).query(level_seeds)
        coarse_codes = [f"{coarser.value[:3].upper()}{i:03d}" for i in range(len(chosen))]
        keep = [
            i for i in range(len(codes)) if not (gap and finer is GridLevel.MICRO and i % 10 == 0)
        ]
        grids += [Grid(codes[i], codes[i], finer, geoms[i], coarse_codes[group[i]]) for i in keep]
        coarse = [shapely.coverage_union_all(geoms[group == g]) for g in range(len(chosen))]
        if not nested and coarser is GridLevel.COMPOUND:
            other = rng.uniform((LON0, LAT0), (LON0 + SPAN, LAT0 + SPAN), (len(chosen), 2))
            coarse = list(_voronoi(rng, other))
        geoms, level_seeds, codes = (
            np.array(coarse, dtype=object),
            level_seeds[chosen],
            coarse_codes,
        )
    grids += [Grid(codes[i], codes[i], LEVELS[0], geoms[i]) for i in range(len(codes))]
    return grids + _specials(rng)


def donut_layer() -> list[Grid]:
    """Two districts: one a square with a square hole, the other two squares, one in that hole."""
    outer = shapely.box(LON0, LAT0, LON0 + 0.04, LAT0 + 0.04)
    hole = shapely.box(LON0 + 0.01, LAT0 + 0.01, LON0 + 0.03, LAT0 + 0.03)
    island = shapely.box(LON0 + 0.015, LAT0 + 0.015, LON0 + 0.025, LAT0 + 0.025)
    east = shapely.box(LON0 + 0.04, LAT0, LON0 + 0.06, LAT0 + 0.04)
    return [
        Grid("D1", "ring", GridLevel.DISTRICT, outer.difference(hole)),
        Grid("D2", "two parts", GridLevel.DISTRICT, shapely.MultiPolygon([island, east])),
    ]


def probe_points(grids: list[Grid], n: int, seed: int) -> tuple[NDArray[np.float64], ...]:
    """Random points around the layer, plus every vertex and every edge midpoint of every grid."""
    rng = np.random.default_rng(seed)
    geoms = np.array([g.geometry for g in grids], dtype=object)
    x0, y0, x1, y1 = shapely.total_bounds(geoms)
    pad = 0.003
    lon = rng.uniform(x0 - pad, x1 + pad, n)
    lat = rng.uniform(y0 - pad, y1 + pad, n)
    vertices = shapely.get_coordinates(shapely.get_exterior_ring(shapely.get_parts(geoms)))
    middles = (vertices[:-1] + vertices[1:]) / 2
    return np.r_[lon, vertices[:, 0], middles[:, 0]], np.r_[lat, vertices[:, 1], middles[:, 1]]


def disagreements(
    index: GridIndex, lon: NDArray[np.float64], lat: NDArray[np.float64], found: BatchLocation
) -> dict[str, int]:
    """Per level and for specials, how many points the index answers differently from shapely."""
    geoms = np.array([index.grid(i).geometry for i in range(len(index))], dtype=object)
    level = np.array([index.grid(i).level for i in range(len(index))], dtype=object)
    points = shapely.points(lon, lat)
    inside = found.match == 0
    wrong: dict[str, int] = {}
    for li, lv in enumerate(index.levels):
        answer = found.level_index[:, li]
        hit = np.flatnonzero(inside & (answer >= 0))
        wrong_level = level[answer[hit]] != lv
        bad = int((~shapely.covers(geoms[answer[hit]], points[hit])).sum() + wrong_level.sum())
        members = np.flatnonzero(level == lv)
        miss = np.flatnonzero(~(inside & (answer >= 0)))
        covered, _ = shapely.STRtree(geoms[members]).query(points[miss], predicate="covered_by")
        wrong[lv.value] = bad + len(np.unique(covered))
    members = np.flatnonzero(level == GridLevel.SPECIAL)
    p, s = shapely.STRtree(geoms[members]).query(points, predicate="covered_by")
    expected = np.sort(p.astype(np.int64) * len(index) + members[s])
    per_point = np.diff(found.special_offsets)
    got = np.sort(np.repeat(np.arange(len(lon)), per_point) * len(index) + found.special_index)
    wrong["special"] = len(np.setxor1d(expected, got))
    return wrong


@pytest.fixture(scope="module")
def nested() -> tuple[list[Grid], GridIndex]:
    grids = nested_layer()
    return grids, GridIndex.build(grids)


def _assert_exact(grids: list[Grid], index: GridIndex, seed: int) -> BatchLocation:
    lon, lat = probe_points(grids, 50_000, seed)
    found = index.locate_many(lon, lat)
    assert disagreements(index, lon, lat, found) == dict.fromkeys(
        [lv.value for lv in index.levels] + ["special"], 0
    )
    return found


def test_every_answer_on_a_nested_layer_equals_shapely_covers(
    nested: tuple[list[Grid], GridIndex],
) -> None:
    grids, index = nested
    found = _assert_exact(grids, index, seed=10)
    assert (found.match == 0).sum() > 40_000
    assert len(found.special_index) > 1_000


def test_every_answer_equals_shapely_covers_when_a_level_does_not_nest_in_its_parent() -> None:
    grids = nested_layer(nested=False, seed=2)
    _assert_exact(grids, GridIndex.build(grids), seed=11)


def test_points_in_gaps_of_the_finest_level_still_get_their_coarser_grids() -> None:
    grids = nested_layer(gap=True, seed=3)
    index = GridIndex.build(grids)
    found = _assert_exact(grids, index, seed=12)
    micro = index.levels.index(GridLevel.MICRO)
    in_gap = (found.level_index[:, micro] < 0) & (found.level_index[:, micro - 1] >= 0)
    assert in_gap.sum() > 1_000


def test_a_point_in_a_hole_is_not_inside_but_a_point_on_an_island_in_it_is() -> None:
    grids = donut_layer()
    index = GridIndex.build(grids)
    _assert_exact(grids, index, seed=13)
    in_hole = index.locate(LON0 + 0.0125, LAT0 + 0.0125)  # > 200 m from every edge
    near_hole_edge = index.locate(LON0 + 0.0105, LAT0 + 0.0105)  # ~46 m from D1's inner edge
    on_island = index.locate(LON0 + 0.02, LAT0 + 0.02)
    in_east_part = index.locate(LON0 + 0.05, LAT0 + 0.02)
    assert (in_hole.match, in_hole.grids) == ("outside", {})
    assert near_hole_edge.match == "near_edge"
    assert near_hole_edge.grids[GridLevel.DISTRICT].code == "D1"
    assert on_island.grids[GridLevel.DISTRICT].code == "D2"
    assert in_east_part.grids[GridLevel.DISTRICT].code == "D2"


def test_points_on_axis_parallel_edges_and_corners_count_as_covered() -> None:
    grids = donut_layer()
    index = GridIndex.build(grids)
    # A lattice whose lines run exactly along the boxes' edges and through their corners.
    steps = np.round(np.arange(-0.005, 0.0651, 0.0025), 6)
    lon, lat = np.meshgrid(LON0 + steps, LAT0 + steps)
    lon, lat = lon.ravel(), lat.ravel()
    found = index.locate_many(lon, lat)
    assert disagreements(index, lon, lat, found) == {"district": 0, "special": 0}
    shared = index.locate(LON0 + 0.04, LAT0 + 0.02)
    assert shared.grids[GridLevel.DISTRICT].code == "D1"  # first in the layer's order wins


def test_answers_on_shared_edges_are_the_same_on_every_build(
    nested: tuple[list[Grid], GridIndex],
) -> None:
    grids, index = nested
    lon, lat = probe_points(grids, 0, seed=14)
    again = GridIndex.build(grids).locate_many(lon, lat)
    first = index.locate_many(lon, lat)
    np.testing.assert_array_equal(first.level_index, again.level_index)
    np.testing.assert_array_equal(first.special_index, again.special_index)


def test_locate_answers_every_level_and_overlapping_specials_for_one_point(
    nested: tuple[list[Grid], GridIndex],
) -> None:
    _, index = nested
    where = index.locate(LON0 + 0.05, LAT0 + 0.05 + 0.006)  # in the park and on the campus
    assert where.match == "inside"
    assert where.distance_m == 0.0
    assert [lv for lv in where.grids] == list(index.levels)
    point = shapely.Point(where.lon, where.lat)
    assert all(g.geometry.covers(point) for g in where.grids.values())
    assert {"SPPARK", "SPCAMPUS"} <= {g.code for g in where.specials}
    assert index.locate(LON0 + 0.05, LAT0 + 0.05).specials[0].code == "SPCAMPUS"  # lake: no park


def test_locate_many_equals_locate_point_by_point(nested: tuple[list[Grid], GridIndex]) -> None:
    grids, index = nested
    lon, lat = probe_points(grids, 400, seed=15)
    found = index.locate_many(lon[:400], lat[:400])
    names = ("inside", "near_edge", "outside")
    for i in range(400):
        one = index.locate(float(lon[i]), float(lat[i]))
        row = found.level_index[i]
        expected = {index.levels[li]: index.grid(g) for li, g in enumerate(row.tolist()) if g >= 0}
        assert one.grids == expected
        specials = found.special_index[found.special_offsets[i] : found.special_offsets[i + 1]]
        assert [g.code for g in one.specials] == [index.code(g) for g in specials.tolist()]
        assert one.match == names[found.match[i]]
        assert one.distance_m == pytest.approx(float(found.distance_m[i]))


def _metres(lon: float, lat: float, geometry: shapely.Geometry) -> float:
    """Distance in a local WGS84 metric frame at the point, computed by shapely."""
    e2 = 0.0066943799901413165
    w = math.sqrt(1 - e2 * math.sin(math.radians(lat)) ** 2)
    ky = 6378137.0 * (1 - e2) / w**3 * math.pi / 180
    kx = 6378137.0 / w * math.cos(math.radians(lat)) * math.pi / 180
    local = shapely.transform(geometry, lambda xy: (xy - (lon, lat)) * (kx, ky))
    return float(shapely.distance(local, shapely.Point(0, 0)))


def test_a_point_just_outside_the_edge_gets_the_nearest_grid_at_each_level_and_its_distance(
    nested: tuple[list[Grid], GridIndex],
) -> None:
    grids, index = nested
    city_edge = shapely.coverage_union_all([g.geometry for g in grids if g.level is LEVELS[0]])
    rng = np.random.default_rng(16)
    just_out = shapely.buffer(city_edge, 0.0008).exterior  # 73-89 m, plus the corners' reach
    near = 0
    for fraction in rng.uniform(0, 1, 20):
        probe = just_out.interpolate(fraction, normalized=True)
        where = index.locate(probe.x, probe.y)
        nearest = min(_metres(probe.x, probe.y, g.geometry) for g in grids if g.level in LEVELS)
        if nearest > 100.0:
            assert where.match == "outside"
            continue
        assert where.match == "near_edge"
        near += 1
        assert where.distance_m == pytest.approx(nearest, rel=1e-6)
        assert set(where.grids) == set(index.levels)
        for level, grid in where.grids.items():
            best = min(_metres(probe.x, probe.y, g.geometry) for g in grids if g.level is level)
            assert _metres(probe.x, probe.y, grid.geometry) == pytest.approx(best, rel=1e-6)
        assert where.specials == ()
    assert near >= 15


def test_a_point_beyond_the_edge_tolerance_is_outside_with_no_grids(
    nested: tuple[list[Grid], GridIndex],
) -> None:
    _, index = nested
    for lon, lat in [(LON0 - 0.02, LAT0 + 0.05), (LON0 + 1.0, LAT0), (0.0, 0.0)]:
        where = index.locate(lon, lat)
        assert (where.match, where.grids, where.specials) == ("outside", {}, ())
        assert where.distance_m == math.inf


def test_edge_tolerance_is_configurable(nested: tuple[list[Grid], GridIndex]) -> None:
    grids, _ = nested
    strict = GridIndex.build(grids, edge_tolerance_m=0.0)
    lon, lat = probe_points(grids, 20_000, seed=17)
    found = strict.locate_many(lon, lat)
    assert not (found.match == 1).any()
    assert (found.match == 2).any()


@pytest.mark.parametrize(
    ("lon", "lat", "field", "problem"),
    [
        (math.nan, 34.7, "lon", "finite"),
        (113.6, math.inf, "lat", "finite"),
        (-math.inf, 34.7, "lon", "finite"),
        (180.5, 34.7, "lon", "between -180 and 180"),
        (113.6, -90.01, "lat", "between -90 and 90"),
    ],
)
def test_a_bad_coordinate_raises_naming_the_field_and_the_problem(
    nested: tuple[list[Grid], GridIndex], lon: float, lat: float, field: str, problem: str
) -> None:
    _, index = nested
    with pytest.raises(InvalidCoordinate) as single:
        index.locate(lon, lat)
    assert (single.value.field, problem in single.value.problem) == (field, True)
    with pytest.raises(InvalidCoordinate) as batch:
        index.locate_many(np.array([113.6, lon]), np.array([34.7, lat]))
    assert batch.value.field == field
    assert "point 1" in batch.value.problem


def test_the_index_lists_levels_coarse_to_fine_and_maps_indices_to_grids(
    nested: tuple[list[Grid], GridIndex],
) -> None:
    grids, index = nested
    assert index.levels == LEVELS
    assert sorted(index.code(i) for i in range(len(index))) == sorted(g.code for g in grids)
    assert all(index.grid(i).code == index.code(i) for i in range(len(index)))
    memory = index.memory_bytes()
    assert memory["raster"] > 0 and all(size >= 0 for size in memory.values())
    assert index.build_seconds > 0
