from __future__ import annotations

import itertools

import numpy as np
import pytest
from pyproj import Geod

from gridgov.core.geo import Crs
from gridgov.grids import crs

# Every pair of the three systems a Zhengzhou file can arrive in, both ways.
SYSTEMS = (Crs.WGS84, Crs.GCJ02, Crs.BD09)
PAIRS = [(a, b) for a, b in itertools.permutations(SYSTEMS, 2)]

_GEOD = Geod(ellps="WGS84")


def _zhengzhou_points() -> tuple[np.ndarray, np.ndarray]:
    lon, lat = np.meshgrid(np.linspace(112.7, 114.25, 41), np.linspace(34.25, 34.99, 23))
    return lon.ravel(), lat.ravel()


def _convert(lon: np.ndarray, lat: np.ndarray, source: Crs, target: Crs) -> tuple:
    return crs.from_wgs84(*crs.to_wgs84(lon, lat, source), target)


def _metres(lon1, lat1, lon2, lat2) -> np.ndarray:
    return np.asarray(_GEOD.inv(lon1, lat1, lon2, lat2)[2])


@pytest.mark.parametrize(("source", "target"), PAIRS, ids=lambda c: c.value)
def test_round_trip_across_zhengzhou_returns_within_half_a_metre(source: Crs, target: Crs) -> None:
    lon, lat = _zhengzhou_points()
    there = _convert(lon, lat, source, target)
    back = _convert(*there, target, source)
    assert _metres(lon, lat, *back).max() < 0.5


@pytest.mark.parametrize(("source", "target"), PAIRS, ids=lambda c: c.value)
def test_conversion_moves_points_by_the_offset_of_the_web_maps(source: Crs, target: Crs) -> None:
    lon, lat = _zhengzhou_points()
    moved = _metres(lon, lat, *_convert(lon, lat, source, target))
    # GCJ-02 shifts Zhengzhou by a few hundred metres; BD-09 adds about a kilometre more.
    assert moved.min() > 100
    assert moved.max() < 2000


@pytest.mark.parametrize(
    ("forward", "inverse"),
    [
        (crs.wgs84_to_gcj02, crs.gcj02_to_wgs84),
        (crs.gcj02_to_bd09, crs.bd09_to_gcj02),
        (crs.wgs84_to_bd09, crs.bd09_to_wgs84),
    ],
    ids=["wgs84-gcj02", "gcj02-bd09", "wgs84-bd09"],
)
def test_inverse_undoes_the_forward_formula_to_a_centimetre(forward, inverse) -> None:
    lon, lat = _zhengzhou_points()
    assert _metres(lon, lat, *inverse(*forward(lon, lat))).max() < 0.01


def test_forward_formulas_reproduce_the_widely_used_reference_values() -> None:
    # The example in the README of wandergis/coordTransform, the implementation most web-map
    # tooling copies: Tiananmen at (116.404, 39.915).
    assert crs.wgs84_to_gcj02(116.404, 39.915) == pytest.approx(
        (116.41024449916938, 39.91640428150164), abs=1e-12
    )
    assert crs.gcj02_to_bd09(116.404, 39.915) == pytest.approx(
        (116.41036949371029, 39.92133699351021), abs=1e-12
    )


def test_points_outside_china_are_not_shifted() -> None:
    lon, lat = crs.wgs84_to_gcj02(np.array([2.35]), np.array([48.86]))
    assert (lon[0], lat[0]) == (2.35, 48.86)


def test_cgcs2000_is_stored_as_is() -> None:
    lon, lat = crs.to_wgs84(113.6, 34.7, Crs.CGCS2000)
    assert (float(lon), float(lat)) == (113.6, 34.7)


@pytest.mark.parametrize("system", [Crs.WGS84, Crs.CGCS2000, Crs.GCJ02, Crs.BD09])
def test_the_one_point_conversion_agrees_with_the_array_conversion(system: Crs) -> None:
    lon, lat = np.meshgrid(np.linspace(112.7, 114.25, 9), np.linspace(34.25, 34.99, 7))
    arr_x, arr_y = crs.to_wgs84(lon.ravel(), lat.ravel(), system)
    for i, (x, y) in enumerate(zip(lon.ravel().tolist(), lat.ravel().tolist(), strict=True)):
        px, py = crs.point_to_wgs84(x, y, system)
        assert abs(px - arr_x[i]) < 1e-9 and abs(py - arr_y[i]) < 1e-9
