"""Measuring lon/lat grid geometries in metres, vectorized over a whole layer."""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

Geometries = NDArray[np.object_]
Floats = NDArray[np.float64]
Ints = NDArray[np.intp]

# Metres per degree of latitude on the mean-radius sphere; with cos(latitude) for longitude this
# local frame is good to ~0.3% over a city, far inside what the tolerances need.
M_PER_DEG = 6371008.8 * math.pi / 180.0

# Below this many pairs, threads cost more than they save.
_PARALLEL_MIN_PAIRS = 2000


def area_m2(geometries: Geometries) -> Floats:
    """Areas in m² of lon/lat geometries, each measured in a frame local to its own latitude."""
    bounds = shapely.bounds(geometries)
    lat = np.nan_to_num((bounds[:, 1] + bounds[:, 3]) / 2.0)
    areas: Floats = shapely.area(geometries) * M_PER_DEG**2 * np.cos(np.radians(lat))
    return np.nan_to_num(areas)


def local_metres(geometries: Geometries, lat0: Floats) -> Geometries:
    """Each geometry scaled to metres in an equirectangular frame true at its own `lat0`."""
    coords, index = shapely.get_coordinates(geometries, return_index=True)
    scale_x = M_PER_DEG * np.cos(np.radians(lat0))[index]
    scaled = np.column_stack((coords[:, 0] * scale_x, coords[:, 1] * M_PER_DEG))
    out: Geometries = shapely.set_coordinates(np.array(geometries, dtype=object), scaled)
    return out


def max_distance_outside_m(outside: Geometries, container: Geometries) -> Floats:
    """For each pair, how far (m) the vertices of `outside` lie from `container` at most."""
    bounds = shapely.bounds(outside)
    lat0 = (bounds[:, 1] + bounds[:, 3]) / 2.0
    # Only the container's part near the outside piece matters; clipping first keeps a street's
    # thousands of vertices from being copied for every micro-grid that pokes out of it.
    margin = (bounds[:, 2] - bounds[:, 0]) + (bounds[:, 3] - bounds[:, 1])
    low_x, low_y = bounds[:, 0] - margin, bounds[:, 1] - margin
    high_x, high_y = bounds[:, 2] + margin, bounds[:, 3] + margin
    near = np.array(
        [
            shapely.clip_by_rect(c, *box)
            for c, box in zip(
                container, zip(low_x, low_y, high_x, high_y, strict=True), strict=True
            )
        ],
        dtype=object,
    )
    near = np.where(shapely.is_empty(near), container, near)
    outside_m = local_metres(outside, lat0)
    container_m = local_metres(near, lat0)
    coords, index = shapely.get_coordinates(outside_m, return_index=True)
    distances = shapely.distance(shapely.points(coords), container_m[index])
    result = np.zeros(len(outside))
    np.maximum.at(result, index, distances)
    return result


def pairwise(
    operation: Callable[[Geometries, Geometries], NDArray[Any]], a: Geometries, b: Geometries
) -> NDArray[Any]:
    """`operation(a, b)` split over threads: shapely releases the GIL, and overlays of a whole
    layer's neighbour pairs are most of the validation time.

    The pairs share geometries between threads, so none may be prepared: predicates use a
    geometry's prepared form when it has one (an STRtree query with a predicate leaves them
    prepared), and GEOS builds a prepared geometry's indexes lazily, on first use, unguarded —
    two threads reaching the same one crashed the process (a segfault in `relate_pattern`).
    """
    workers = min(os.cpu_count() or 1, 8)
    if workers == 1 or len(a) < _PARALLEL_MIN_PAIRS:
        return operation(a, b)
    shapely.destroy_prepared(a)
    shapely.destroy_prepared(b)
    bounds = np.linspace(0, len(a), workers * 4 + 1).astype(int)
    with ThreadPoolExecutor(workers) as pool:
        parts = pool.map(
            lambda ij: operation(a[ij[0] : ij[1]], b[ij[0] : ij[1]]),
            itertools.pairwise(bounds),
        )
        return np.concatenate(list(parts))


def representative_points(geometries: Geometries) -> tuple[Floats, Floats]:
    """A point inside each geometry (not its centroid, which may fall outside), as x and y."""
    points = shapely.point_on_surface(geometries)
    return shapely.get_x(points), shapely.get_y(points)
