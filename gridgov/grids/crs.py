"""Conversions between WGS84 and the Chinese web-map systems GCJ-02 and BD-09, and from any
projected CRS (via pyproj) to WGS84.

GCJ-02 is WGS84 passed through a published non-linear offset (a few hundred metres in China, none
outside it); BD-09 is GCJ-02 with a further rotation and shift. Neither has a closed-form inverse,
so the inverses iterate the forward formula until it reproduces the input to 1e-10 degrees
(about 0.01 mm), far inside the 0.5 m the grids need. All functions take and return numpy arrays
(or floats) of longitudes and latitudes in degrees.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gridgov.core.geo import Crs

Floats = NDArray[np.float64]
_Forward = Callable[[Floats, Floats], tuple[Floats, Floats]]

# Krasovsky 1940 ellipsoid, the one the GCJ-02 formula is defined on.
_A = 6378245.0
_EE = 0.00669342162296594323
_BD_K = np.pi * 3000.0 / 180.0
_MAX_ITERATIONS = 30
_TOLERANCE_DEG = 1e-10


def _arrays(lon: ArrayLike, lat: ArrayLike) -> tuple[Floats, Floats]:
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError("longitude and latitude arrays differ in shape")
    return x, y


def in_china(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
    """The rough box inside which GCJ-02 applies its offset; outside it GCJ-02 equals WGS84."""
    x, y = _arrays(lon, lat)
    return (x >= 72.004) & (x <= 137.8347) & (y >= 0.8293) & (y <= 55.8271)


def _offset(x: Floats, y: Floats) -> tuple[Floats, Floats]:
    dx, dy = x - 105.0, y - 35.0
    two_thirds = 2.0 / 3.0
    shared = (20.0 * np.sin(6.0 * np.pi * dx) + 20.0 * np.sin(2.0 * np.pi * dx)) * two_thirds
    dlat = -100.0 + 2.0 * dx + 3.0 * dy + 0.2 * dy * dy + 0.1 * dx * dy + 0.2 * np.sqrt(np.abs(dx))
    dlat += shared
    dlat += (20.0 * np.sin(np.pi * dy) + 40.0 * np.sin(np.pi * dy / 3.0)) * two_thirds
    dlat += (160.0 * np.sin(np.pi * dy / 12.0) + 320.0 * np.sin(np.pi * dy / 30.0)) * two_thirds
    dlon = 300.0 + dx + 2.0 * dy + 0.1 * dx * dx + 0.1 * dx * dy + 0.1 * np.sqrt(np.abs(dx))
    dlon += shared
    dlon += (20.0 * np.sin(np.pi * dx) + 40.0 * np.sin(np.pi * dx / 3.0)) * two_thirds
    dlon += (150.0 * np.sin(np.pi * dx / 12.0) + 300.0 * np.sin(np.pi * dx / 30.0)) * two_thirds
    rad = np.radians(y)
    magic = 1.0 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat_deg = dlat * 180.0 / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon_deg = dlon * 180.0 / (_A / sqrt_magic * np.cos(rad) * np.pi)
    inside = in_china(x, y)
    return np.where(inside, dlon_deg, 0.0), np.where(inside, dlat_deg, 0.0)


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Floats, Floats]:
    x, y = _arrays(lon, lat)
    dx, dy = _offset(x, y)
    return x + dx, y + dy


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[Floats, Floats]:
    x, y = _arrays(lon, lat)
    z = np.hypot(x, y) + 0.00002 * np.sin(y * _BD_K)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _BD_K)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[Floats, Floats]:
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def _invert(
    forward: _Forward, lon: ArrayLike, lat: ArrayLike, first_guess: tuple[Floats, Floats]
) -> tuple[Floats, Floats]:
    target_x, target_y = _arrays(lon, lat)
    x, y = first_guess
    for _ in range(_MAX_ITERATIONS):
        fx, fy = forward(x, y)
        ex, ey = fx - target_x, fy - target_y
        x, y = x - ex, y - ey
        if np.all(np.abs(ex) < _TOLERANCE_DEG) and np.all(np.abs(ey) < _TOLERANCE_DEG):
            break
    return x, y


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[Floats, Floats]:
    x, y = _arrays(lon, lat)
    return _invert(wgs84_to_gcj02, x, y, (x.copy(), y.copy()))


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Floats, Floats]:
    x, y = _arrays(lon, lat)
    return _invert(gcj02_to_bd09, x, y, (x - 0.0065, y - 0.006))


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[Floats, Floats]:
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def to_wgs84(lon: ArrayLike, lat: ArrayLike, crs: Crs) -> tuple[Floats, Floats]:
    """Convert coordinates in a named Chinese CRS to WGS84 (CGCS2000 is taken as equal)."""
    if crs in (Crs.WGS84, Crs.CGCS2000):
        return _arrays(lon, lat)
    if crs is Crs.GCJ02:
        return gcj02_to_wgs84(lon, lat)
    return bd09_to_wgs84(lon, lat)


def from_wgs84(lon: ArrayLike, lat: ArrayLike, crs: Crs) -> tuple[Floats, Floats]:
    if crs in (Crs.WGS84, Crs.CGCS2000):
        return _arrays(lon, lat)
    if crs is Crs.GCJ02:
        return wgs84_to_gcj02(lon, lat)
    return wgs84_to_bd09(lon, lat)


# --- one point at a time ----------------------------------------------------------------------
# numpy's per-call overhead makes the array functions above cost ~70 µs for a single point, most
# of a request's budget; these scalar twins of the same formulas cost a few µs.


def _offset_point(x: float, y: float) -> tuple[float, float]:
    if not (72.004 <= x <= 137.8347 and 0.8293 <= y <= 55.8271):
        return 0.0, 0.0
    dx, dy = x - 105.0, y - 35.0
    two_thirds = 2.0 / 3.0
    pi = math.pi
    shared = (20.0 * math.sin(6.0 * pi * dx) + 20.0 * math.sin(2.0 * pi * dx)) * two_thirds
    dlat = -100.0 + 2.0 * dx + 3.0 * dy + 0.2 * dy * dy + 0.1 * dx * dy + 0.2 * math.sqrt(abs(dx))
    dlat += shared
    dlat += (20.0 * math.sin(pi * dy) + 40.0 * math.sin(pi * dy / 3.0)) * two_thirds
    dlat += (160.0 * math.sin(pi * dy / 12.0) + 320.0 * math.sin(pi * dy / 30.0)) * two_thirds
    dlon = 300.0 + dx + 2.0 * dy + 0.1 * dx * dx + 0.1 * dx * dy + 0.1 * math.sqrt(abs(dx))
    dlon += shared
    dlon += (20.0 * math.sin(pi * dx) + 40.0 * math.sin(pi * dx / 3.0)) * two_thirds
    dlon += (150.0 * math.sin(pi * dx / 12.0) + 300.0 * math.sin(pi * dx / 30.0)) * two_thirds
    rad = math.radians(y)
    magic = 1.0 - _EE * math.sin(rad) ** 2
    sqrt_magic = math.sqrt(magic)
    return (
        dlon * 180.0 / (_A / sqrt_magic * math.cos(rad) * pi),
        dlat * 180.0 / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * pi),
    )


def _gcj02_point(x: float, y: float) -> tuple[float, float]:
    dx, dy = _offset_point(x, y)
    return x + dx, y + dy


def _bd09_from_gcj02_point(x: float, y: float) -> tuple[float, float]:
    z = math.hypot(x, y) + 0.00002 * math.sin(y * _BD_K)
    theta = math.atan2(y, x) + 0.000003 * math.cos(x * _BD_K)
    return z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006


def _invert_point(
    forward: Callable[[float, float], tuple[float, float]],
    tx: float,
    ty: float,
    x: float,
    y: float,
) -> tuple[float, float]:
    for _ in range(_MAX_ITERATIONS):
        fx, fy = forward(x, y)
        ex, ey = fx - tx, fy - ty
        x, y = x - ex, y - ey
        if abs(ex) < _TOLERANCE_DEG and abs(ey) < _TOLERANCE_DEG:
            break
    return x, y


def point_to_wgs84(lon: float, lat: float, crs: Crs) -> tuple[float, float]:
    """`to_wgs84` for one point, without numpy's per-call cost."""
    if crs in (Crs.WGS84, Crs.CGCS2000):
        return float(lon), float(lat)
    x, y = float(lon), float(lat)
    if crs is Crs.BD09:
        x, y = _invert_point(_bd09_from_gcj02_point, x, y, x - 0.0065, y - 0.006)
    return _invert_point(_gcj02_point, x, y, x, y)
