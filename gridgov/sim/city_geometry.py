"""Geometry of the demo city: the district coverage, an urban-weighted seed density, and the one
planar partition of which every regular grid is a union.

Why nesting is exact: all district boundaries and all micro-grid Voronoi edges are noded together
once, with snap rounding, and polygonized into faces. A face lies in exactly one district and one
Voronoi cell; every grid at every level is a coverage union of whole faces, so a shared edge has
bit-identical vertices on both sides, every parent is the union of its children, and no two
siblings overlap.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

import numpy as np
import shapely
from numpy.typing import NDArray
from scipy.spatial import cKDTree
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from gridgov.grids.crs import gcj02_to_wgs84

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]
Geoms = NDArray[np.object_]

DISTRICTS_RESOURCE = ("data", "zhengzhou-admin-boundaries", "zhengzhou_districts_datav.geojson")

CORE_LON, CORE_LAT = 113.65, 34.75
URBAN_CORE = ("410102", "410103", "410104", "410105", "410108")
# The airport zone (航空港区) is a second city with no district of its own; its towns sit in
# 新郑市, whose seat lies 15 km away, so it gets its own satellite centre.
_AIRPORT_ZONE = (113.82, 34.52)
_LAT0 = 34.7
KM_PER_DEG_LAT = 110.574
KM_PER_DEG_LON = 111.320 * math.cos(math.radians(_LAT0))
# Voronoi and nearest-seed distances are taken in lon·cos(lat0), lat so cells are not stretched.
_ASPECT = math.cos(math.radians(_LAT0))

_CORE_SIGMA_KM = 9.0
_SATELLITE_SIGMA_KM = 3.0
_MIX = (0.50, 0.19, 0.31)  # core, satellites, uniform
_LATTICE_KM = 0.3

_SNAP_DEG = 1e-9  # ≈ 0.1 mm: snap-rounded noding is robust, and far below any grid's precision
# Voronoi edges reach ~1 m past their district so noding always closes the boundary faces;
# the overshooting dangles are dropped by polygonize.
_OVERSHOOT_DEG = 1e-5
_SEED_MARGIN_DEG = 5e-6


@dataclass(frozen=True, slots=True)
class District:
    adcode: str
    name: str
    geometry: BaseGeometry
    seat: tuple[float, float]


def scaled(lonlat: Floats) -> Floats:
    """Coordinates in which Euclidean distance is proportional to ground distance near Zhengzhou."""
    return np.asarray(lonlat * np.array([_ASPECT, 1.0]), dtype=np.float64)


def area_km2(geometries: Geoms | BaseGeometry) -> Floats:
    """Approximate area in km², scaled at each geometry's own latitude (≈0.1 % in Zhengzhou)."""
    if isinstance(geometries, BaseGeometry):
        geoms = np.empty(1, dtype=object)
        geoms[0] = geometries
    else:
        geoms = geometries
    lat = np.full(len(geoms), _LAT0)
    solid = ~shapely.is_empty(geoms)
    lat[solid] = shapely.get_y(shapely.centroid(geoms[solid]))
    per_deg2 = 111.320 * np.cos(np.radians(lat)) * KM_PER_DEG_LAT
    return np.asarray(shapely.area(geoms) * per_deg2, dtype=np.float64)


def load_districts() -> tuple[list[District], float]:
    """The 12 DataV districts in WGS84 as a clean coverage, and the overlap area (km²) removed.

    Overlaps go to the district with the lower adcode: each district loses whatever the earlier ones
    already cover. The 2021 DataV districts only touch: the overlap removed is 0 km².
    """
    text = resources.files("gridgov.sim").joinpath(*DISTRICTS_RESOURCE).read_text(encoding="utf-8")
    features = sorted(json.loads(text)["features"], key=lambda f: f["properties"]["adcode"])
    geoms = np.array([shape(f["geometry"]) for f in features], dtype=object)
    seats = np.array([f["properties"]["center"] for f in features], dtype=np.float64)
    # One call for every vertex: the converter iterates until the whole array converges, so a
    # vertex shared by two districts must go through it in the same call to stay identical.
    coords = np.vstack([shapely.get_coordinates(geoms), seats])
    lon, lat = gcj02_to_wgs84(coords[:, 0], coords[:, 1])
    converted = np.column_stack([lon, lat])
    geoms = shapely.set_coordinates(geoms, converted[: -len(seats)])
    geoms = np.where(shapely.is_valid(geoms), geoms, shapely.make_valid(geoms))
    districts: list[District] = []
    covered: BaseGeometry | None = None
    overlap = 0.0
    for feature, geom, seat in zip(features, geoms, converted[-len(seats) :], strict=True):
        if covered is not None:
            overlap += float(area_km2(shapely.intersection(geom, covered))[0])
            geom = _polygonal(shapely.difference(geom, covered))
        covered = geom if covered is None else shapely.union(covered, geom)
        props = feature["properties"]
        districts.append(
            District(str(props["adcode"]), props["name"], geom, (float(seat[0]), float(seat[1])))
        )
    return districts, overlap


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if len(parts) != 1 else parts[0]


@dataclass(frozen=True, slots=True)
class Density:
    """Share of all seeds per km²: a Gaussian core, Gaussian satellites at county seats, uniform."""

    satellites: Floats
    city_area_km2: float

    @classmethod
    def for_districts(cls, districts: list[District]) -> Density:
        seats = [d.seat for d in districts if d.adcode not in URBAN_CORE] + [_AIRPORT_ZONE]
        area = float(area_km2(np.array([d.geometry for d in districts], dtype=object)).sum())
        return cls(np.array(seats, dtype=np.float64), area)

    def per_km2(self, lon: Floats, lat: Floats) -> Floats:
        core = _gaussian(lon - CORE_LON, lat - CORE_LAT, _CORE_SIGMA_KM)
        sats = np.zeros_like(lon)
        for s_lon, s_lat in self.satellites:
            sats += _gaussian(lon - s_lon, lat - s_lat, _SATELLITE_SIGMA_KM)
        sats /= len(self.satellites)
        return _MIX[0] * core + _MIX[1] * sats + _MIX[2] / self.city_area_km2


def _gaussian(dlon: Floats, dlat: Floats, sigma_km: float) -> Floats:
    r2 = (dlon * KM_PER_DEG_LON) ** 2 + (dlat * KM_PER_DEG_LAT) ** 2
    return np.asarray(np.exp(-r2 / (2 * sigma_km**2)) / (2 * math.pi * sigma_km**2))


@dataclass(frozen=True, slots=True)
class Lattice:
    """Cell centres of a ~300 m lattice over the city with the district and density mass of each."""

    lonlat: Floats
    district: Ints
    mass: Floats
    step: tuple[float, float]

    @classmethod
    def over(cls, districts: list[District], density: Density) -> Lattice:
        step_lon, step_lat = _LATTICE_KM / KM_PER_DEG_LON, _LATTICE_KM / KM_PER_DEG_LAT
        minx, miny, maxx, maxy = shapely.total_bounds([d.geometry for d in districts])
        xs = np.arange(minx + step_lon / 2, maxx, step_lon)
        ys = np.arange(miny + step_lat / 2, maxy, step_lat)
        lon, lat = (a.ravel() for a in np.meshgrid(xs, ys))
        owner = np.full(lon.shape, -1, dtype=np.int64)
        for i, d in enumerate(districts):
            shapely.prepare(d.geometry)
            owner[(owner < 0) & shapely.contains_xy(d.geometry, lon, lat)] = i
        inside = owner >= 0
        mass = density.per_km2(lon[inside], lat[inside]) * _LATTICE_KM**2
        return cls(
            np.column_stack([lon[inside], lat[inside]]), owner[inside], mass, (step_lon, step_lat)
        )

    def district_mass(self, n_districts: int) -> Floats:
        mass = np.bincount(self.district, weights=self.mass, minlength=n_districts)
        return np.asarray(mass, dtype=np.float64)

    def draw(
        self,
        n: int,
        rng: np.random.Generator,
        within: BaseGeometry,
        cells: Ints,
        *,
        uniform: bool = False,
    ) -> Floats:
        """n points inside `within` from the density (or uniform), proposed from lattice `cells`."""
        p = (
            np.full(len(cells), 1.0 / len(cells))
            if uniform
            else self.mass[cells] / self.mass[cells].sum()
        )
        shapely.prepare(within)
        chunks: list[Floats] = []
        have = 0
        while have < n:
            batch = max(2 * (n - have), 64)
            pick = rng.choice(cells, size=batch, p=p)
            jitter = rng.uniform(-0.5, 0.5, size=(batch, 2)) * np.array(self.step)
            pts = self.lonlat[pick] + jitter
            pts = pts[shapely.contains_xy(within, pts[:, 0], pts[:, 1])][: n - have]
            chunks.append(pts)
            have += len(pts)
        return np.vstack(chunks)


def draw_seeds(
    lattice: Lattice, index: int, district: District, n: int, rng: np.random.Generator
) -> Floats:
    """n distinct micro-grid seeds inside a district, at least ~0.5 m from its boundary."""
    cells = np.flatnonzero(lattice.district == index)
    inner = shapely.buffer(district.geometry, -_SEED_MARGIN_DEG)
    seeds = lattice.draw(n, rng, inner, cells)
    if len(np.unique(seeds, axis=0)) != n:
        raise RuntimeError(f"duplicate seeds drawn in {district.name}; try another seed")
    return seeds


def voronoi_edges(district: District, seeds: Floats) -> Geoms:
    """Edges of the seeds' Voronoi cells, cut to just past the district boundary."""
    if len(seeds) < 2:
        return np.empty(0, dtype=object)
    minx, miny, maxx, maxy = district.geometry.bounds
    frame = shapely.box(minx * _ASPECT - 0.05, miny - 0.05, maxx * _ASPECT + 0.05, maxy + 0.05)
    diagram = shapely.voronoi_polygons(shapely.multipoints(scaled(seeds)), extend_to=frame)
    cells = shapely.transform(shapely.get_parts(diagram), lambda c: c / np.array([_ASPECT, 1.0]))
    reach = shapely.buffer(district.geometry, _OVERSHOOT_DEG)
    shapely.prepare(reach)
    edges = shapely.boundary(cells)
    crossing = ~shapely.contains(reach, cells)
    edges[crossing] = shapely.intersection(edges[crossing], reach)
    return np.asarray(edges, dtype=object)


def micro_cells(
    districts: list[District],
    seeds: list[Floats],
    edges: list[Geoms],
    report: Callable[[int, int], None],
) -> Geoms:
    """One polygon per seed (in the order of `seeds`, district by district): its Voronoi cell in
    its district, cut from the shared planar partition."""
    lines = np.concatenate([*edges, shapely.boundary([d.geometry for d in districts])])
    noded = shapely.unary_union(shapely.get_parts(lines), grid_size=_SNAP_DEG)
    report(1, 4)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    report(2, 4)
    probe = shapely.get_coordinates(shapely.point_on_surface(faces))
    owner = np.full(len(faces), -1, dtype=np.int64)
    for i, d in enumerate(districts):
        owner[(owner < 0) & shapely.contains_xy(d.geometry, probe[:, 0], probe[:, 1])] = i
    # Faces outside every district are the small loops closed by overshooting edges.
    faces, probe, owner = faces[owner >= 0], probe[owner >= 0], owner[owner >= 0]
    all_seeds = np.vstack(seeds)
    offsets = np.cumsum([0, *(len(s) for s in seeds)])
    seed_of_face = np.full(len(faces), -1, dtype=np.int64)
    # Each seed first claims the face it lies in, so that no seed ends up without a cell.
    hits = shapely.STRtree(faces).query(shapely.points(all_seeds), predicate="within")
    if len(hits[0]) != len(all_seeds) or len(np.unique(hits[1])) != len(all_seeds):
        raise RuntimeError("a micro-grid seed lies on a partition edge; try another seed")
    seed_of_face[hits[1]] = hits[0]
    for i, district_seeds in enumerate(seeds):
        rest = np.flatnonzero((owner == i) & (seed_of_face < 0))
        if len(rest):
            _, nearest = cKDTree(scaled(district_seeds)).query(scaled(probe[rest]))
            seed_of_face[rest] = offsets[i] + nearest
    report(3, 4)
    cells = union_groups(faces, seed_of_face, len(all_seeds))
    report(4, 4)
    return cells


def union_groups(geoms: Geoms, labels: Ints, n: int) -> Geoms:
    """The union of the geometries of each label 0..n-1; every label must have at least one."""
    counts = np.bincount(labels, minlength=n)
    if len(counts) != n or (counts == 0).any():
        raise ValueError("every group needs at least one geometry")
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    starts = np.cumsum(counts) - counts
    result = np.empty(n, dtype=object)
    single = counts == 1
    result[single] = geoms[order[starts[single]]]
    multi = np.flatnonzero(~single)
    if len(multi):
        row = np.full(n, -1, dtype=np.int64)
        row[multi] = np.arange(len(multi))
        in_multi = row[sorted_labels] >= 0
        table = np.full((len(multi), counts.max()), None, dtype=object)
        position = np.arange(len(labels)) - starts[sorted_labels]
        table[row[sorted_labels][in_multi], position[in_multi]] = geoms[order][in_multi]
        unions = shapely.coverage_union_all(table, axis=1)
        # A coverage union trusts its input to be a clean coverage; if one is not, redo it fully.
        broken = ~shapely.is_valid(unions) | ~np.isin(
            shapely.get_type_id(unions),
            (shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON),
        )
        for j in np.flatnonzero(broken):
            unions[j] = shapely.union_all(table[j])
        result[multi] = unions
    return result


def group_points(points: Floats, k: int, rng: np.random.Generator, rounds: int = 4) -> Ints:
    """Split points into k non-empty groups of nearby points: a few Lloyd rounds, then each point
    goes to the nearest of k group seeds, which are themselves among the points."""
    n = len(points)
    if k >= n:
        return np.arange(n, dtype=np.int64)
    if k == 1:
        return np.zeros(n, dtype=np.int64)
    centres = points[rng.choice(n, size=k, replace=False)]
    for _ in range(rounds):
        _, label = cKDTree(centres).query(points)
        sums = np.zeros_like(centres)
        np.add.at(sums, label, points)
        sizes = np.bincount(label, minlength=k)
        filled = sizes > 0
        centres[filled] = sums[filled] / sizes[filled, None]
    # Snap each centre to a distinct point so the final groups are non-empty by construction.
    _, ranked = cKDTree(points).query(centres, k=min(n, 8))
    chosen = np.full(k, -1, dtype=np.int64)
    used = np.zeros(n, dtype=bool)
    for g in range(k):
        free = [int(j) for j in ranked[g] if not used[j]]
        chosen[g] = free[0] if free else int(np.flatnonzero(~used)[0])
        used[chosen[g]] = True
    _, label = cKDTree(points[chosen]).query(points)
    label = np.asarray(label, dtype=np.int64)
    label[chosen] = np.arange(k)
    return label


def grow_groups(points: Floats, labels: Ints, need: Ints, rounds: int = 100) -> Ints:
    """Regroup so that group g has at least need[g] points where possible.

    Nearest-seed grouping gives sparse areas groups with few points, yet a rural town must hold
    all its official villages. Each group keeps a seed among its own points (the one nearest its
    mean); a short group's seed gets an additive weight just large enough to take its missing
    points from the neighbours (a power diagram), repeated until no group is short.
    """
    k = len(need)
    sums = np.zeros((k, 2))
    np.add.at(sums, labels, points)
    means = sums / np.bincount(labels, minlength=k)[:, None]
    chosen = np.empty(k, dtype=np.int64)
    for g in range(k):
        members = np.flatnonzero(labels == g)
        chosen[g] = members[np.argmin(((points[members] - means[g]) ** 2).sum(axis=1))]
    d2 = ((points[:, None, :] - points[chosen][None, :, :]) ** 2).sum(axis=2)
    weight = np.zeros(k)
    rows = np.arange(len(points))
    assigned = labels
    for _ in range(rounds):
        cost = d2 - weight
        assigned = np.argmin(cost, axis=1)
        assigned[chosen] = np.arange(k)
        sizes = np.bincount(assigned, minlength=k)
        short = np.flatnonzero(sizes < need)
        if not len(short):
            break
        best = cost[rows, assigned]
        for g in short.tolist():
            gap = (cost[:, g] - best)[assigned != g]
            missing = min(int(need[g] - sizes[g]), len(gap))
            weight[g] += np.partition(gap, missing - 1)[missing - 1] * (1 + 1e-9) + 1e-18
    return np.asarray(assigned, dtype=np.int64)


def special_shape(
    lonlat: tuple[float, float], area: float, star: bool, rng: np.random.Generator
) -> BaseGeometry:
    """A star or rotated rectangle of about `area` km² centred on `lonlat`."""
    if star:
        rays = int(rng.integers(5, 10))
        angles = np.linspace(0, 2 * math.pi, 2 * rays, endpoint=False) + rng.uniform(0, math.pi)
        radii = np.where(np.arange(2 * rays) % 2 == 0, 1.0, rng.uniform(0.45, 0.8))
        radii = radii * rng.uniform(0.9, 1.1, size=2 * rays)
        xy = np.column_stack([radii * np.cos(angles), radii * np.sin(angles)])
    else:
        aspect = rng.uniform(1.0, 2.5)
        half = np.array([[-aspect, -1], [aspect, -1], [aspect, 1], [-aspect, 1]]) / 2
        turn = rng.uniform(0, math.pi)
        rot = np.array([[math.cos(turn), -math.sin(turn)], [math.sin(turn), math.cos(turn)]])
        xy = half @ rot.T
    unit = shapely.Polygon(xy)
    xy = xy * math.sqrt(area / unit.area)
    lon = lonlat[0] + xy[:, 0] / (111.320 * math.cos(math.radians(lonlat[1])))
    lat = lonlat[1] + xy[:, 1] / KM_PER_DEG_LAT
    return shapely.Polygon(np.column_stack([lon, lat]))
