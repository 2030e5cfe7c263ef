"""Metres from lon/lat: the local frame must agree with a true projection to well under 1%; pairs
split over threads give what one thread gives, sharing no prepared geometry."""

from __future__ import annotations

import os

import numpy as np
import pyproj
import pytest
import shapely

from gridgov.grids.measure import (
    area_m2,
    max_distance_outside_m,
    pairwise,
    representative_points,
)

# A UTM zone through Zhengzhou (zone 49N) as the reference frame.
_TO_UTM = pyproj.Transformer.from_crs(4326, 32649, always_xy=True).transform


@pytest.mark.parametrize("lat", [18.3, 34.75, 45.8])
def test_area_of_a_city_block_matches_utm_within_half_a_percent(lat: float) -> None:
    block = shapely.box(113.60, lat, 113.61, lat + 0.008)
    expected = shapely.transform(block, _TO_UTM, interleaved=False).area
    assert area_m2(np.array([block]))[0] == pytest.approx(expected, rel=0.005)


def test_an_empty_geometry_measures_zero_not_nan() -> None:
    assert area_m2(np.array([shapely.Polygon()]))[0] == 0.0


def test_a_child_poking_110_metres_out_of_its_parent_is_measured_as_about_110_metres() -> None:
    parent = shapely.box(113.60, 34.70, 113.62, 34.72)
    # 0.001° of latitude is ~111 m anywhere.
    child = shapely.box(113.61, 34.71, 113.615, 34.721)
    inside = shapely.box(113.605, 34.705, 113.606, 34.706)
    distances = max_distance_outside_m(np.array([child, inside]), np.array([parent, parent]))
    assert distances[0] == pytest.approx(111.2, abs=1.0)
    assert distances[1] == 0.0


def test_representative_points_lie_inside_even_a_u_shaped_grid() -> None:
    u_shape = shapely.Polygon([(0, 0), (3, 0), (3, 3), (2, 3), (2, 1), (1, 1), (1, 3), (0, 3)])
    xs, ys = representative_points(np.array([u_shape]))
    assert u_shape.contains(shapely.Point(xs[0], ys[0]))
    assert not u_shape.contains(u_shape.centroid)


@pytest.mark.skipif(
    (os.cpu_count() or 1) < 2, reason="one core: pairs are never split over threads"
)
def test_pairs_split_over_threads_share_no_prepared_geometry_and_match_one_thread() -> None:
    # A tiling whose neighbour pairs, as an STRtree query returns them, share each geometry
    # between chunks; the query leaves the geometries prepared, as in grid validation.
    cells = np.array(
        [shapely.box(x, y, x + 1.02, y + 1.02) for x in range(60) for y in range(60)], dtype=object
    )
    pairs = shapely.STRtree(cells).query(cells, predicate="intersects")
    pairs = pairs[:, pairs[0] < pairs[1]]
    a, b = cells[pairs[0]], cells[pairs[1]]
    expected = shapely.relate_pattern(a, b, "2********")
    shapely.prepare(cells)
    assert len(a) >= 2000

    meet = pairwise(lambda x, y: shapely.relate_pattern(x, y, "2********"), a, b)

    assert not shapely.is_prepared(cells).any()
    assert (meet == expected).all() and meet.sum() > 0
