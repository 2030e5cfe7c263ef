"""Point → grid lookup: the grid at every regular level and every special grid covering a point.

The index is a raster of small cells (0.0002°, about 18 × 22 m at Zhengzhou) over the whole layer:

    cell through which no grid edge passes  → one precomputed row: the grid at each level, the
                                              set of specials (every point of the cell has the
                                              same answer, because no edge separates them)
    boundary cell (some edge passes through) → the same row, with "test" at the levels whose
                                              edges pass through, plus the grids owning those
                                              edges, ray-cast exactly:
        finest level          test its candidates
        each coarser level    the finer answer's parent, where the child was proven at build
                              to be covered by its parent; otherwise test this level's candidates
        specials              the row's specials plus the candidate specials that cover the point
    point covered by nothing → the nearest grid at each level within `edge_tolerance_m`
                               ("near_edge", GPS error at the city's edge), else "outside"

Answers equal shapely's `covers`: points on an edge or vertex belong to the grid. On an edge
shared by two grids of one level the tie goes to the grid that comes first in the layer's order
(the order the grids were given in, per level); coarser levels then follow its parents.

`GridIndex.locate` returns `match="outside"` rather than raising, so that single and batch answers
agree; the service layer turns "outside" into `OutsideCoverage`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

import numpy as np
import shapely
from numpy.typing import NDArray

from gridgov.core.errors import InvalidCoordinate, InvalidGeometry
from gridgov.grids.model import REGULAR_LEVELS, Grid, GridLevel

Match = Literal["inside", "near_edge", "outside"]
MATCH_NAMES: tuple[Match, Match, Match] = ("inside", "near_edge", "outside")

_EDGE_PAD_DEG = 1e-9  # ~0.1 mm: swallows rounding in the edge walk, far below survey precision
_WGS84_A = 6378137.0
_WGS84_E2 = 0.0066943799901413165
_TEST = -2


@dataclass(frozen=True)
class Location:
    """Where one point lies."""

    lon: float
    lat: float
    grids: dict[GridLevel, Grid]
    specials: tuple[Grid, ...]
    match: Match
    distance_m: float


@dataclass(frozen=True)
class BatchLocation:
    """Where many points lie, as arrays (row i is point i); global grid indices, -1 for none.

    `match` is 0 inside, 1 near_edge, 2 outside; `distance_m` is 0 inside, the distance to the
    nearest grid when near_edge and inf outside. Specials of point i are
    `special_index[special_offsets[i]:special_offsets[i + 1]]`.
    """

    levels: tuple[GridLevel, ...]
    level_index: NDArray[np.int32]
    special_offsets: NDArray[np.int64]
    special_index: NDArray[np.int32]
    match: NDArray[np.uint8]
    distance_m: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.match.shape[0])


@dataclass(frozen=True)
class _Geometry:
    xs: NDArray[np.float64]
    ys: NDArray[np.float64]
    ring_off: NDArray[np.int64]
    poly_ring_off: NDArray[np.int64]
    ring_chunk_off: NDArray[np.int64]
    chunk_lo: NDArray[np.int64]
    chunk_hi: NDArray[np.int64]
    chunk_box: NDArray[np.float64]
    poly_box: NDArray[np.float64]


def _kernels() -> ModuleType:
    # numba is imported on first build, not when gridgov.grids is imported.
    from gridgov.grids import locator_kernels

    return locator_kernels


def _metres_per_degree(lat_deg: float) -> tuple[float, float]:
    """Metres per degree of longitude and of latitude on the WGS84 ellipsoid at a latitude."""
    s = math.sin(math.radians(lat_deg))
    w = math.sqrt(1.0 - _WGS84_E2 * s * s)
    per_lat = _WGS84_A * (1.0 - _WGS84_E2) / w**3 * math.pi / 180.0
    per_lon = _WGS84_A / w * math.cos(math.radians(lat_deg)) * math.pi / 180.0
    return per_lon, per_lat


def _flatten(geoms: NDArray[Any], chunk: int) -> _Geometry:
    kind, coords, offsets = shapely.to_ragged_array(geoms)
    if kind == shapely.GeometryType.POLYGON:
        ring_off, poly_ring_off = offsets
    else:
        ring_off, part_off, geom_off = offsets
        poly_ring_off = part_off[geom_off]
    ring_off = ring_off.astype(np.int64)
    poly_ring_off = poly_ring_off.astype(np.int64)
    xs = np.ascontiguousarray(coords[:, 0], dtype=np.float64)
    ys = np.ascontiguousarray(coords[:, 1], dtype=np.float64)
    edges = np.diff(ring_off) - 1
    per_ring = (edges + chunk - 1) // chunk
    ring_chunk_off = np.zeros(len(per_ring) + 1, dtype=np.int64)
    np.cumsum(per_ring, out=ring_chunk_off[1:])
    ring_of_chunk = np.repeat(np.arange(len(per_ring)), per_ring)
    within = np.arange(ring_chunk_off[-1]) - ring_chunk_off[ring_of_chunk]
    chunk_lo = ring_off[ring_of_chunk] + within * chunk
    chunk_hi = np.minimum(chunk_lo + chunk, ring_off[ring_of_chunk + 1] - 1)
    # Edge k joins vertex k to k + 1; the edge joining one ring's last vertex to the next ring's
    # first is not real, so it is neutralised before the per-chunk reductions.
    lo_x, hi_x = np.minimum(xs[:-1], xs[1:]), np.maximum(xs[:-1], xs[1:])
    lo_y, hi_y = np.minimum(ys[:-1], ys[1:]), np.maximum(ys[:-1], ys[1:])
    junction = ring_off[1:-1] - 1
    for low in (lo_x, lo_y):
        low[junction] = np.inf
    for high in (hi_x, hi_y):
        high[junction] = -np.inf
    chunk_box = np.empty((len(chunk_lo), 4))
    if len(chunk_lo):
        chunk_box[:, 0] = np.minimum.reduceat(lo_x, chunk_lo)
        chunk_box[:, 1] = np.minimum.reduceat(lo_y, chunk_lo)
        chunk_box[:, 2] = np.maximum.reduceat(hi_x, chunk_lo)
        chunk_box[:, 3] = np.maximum.reduceat(hi_y, chunk_lo)
    return _Geometry(
        xs=xs,
        ys=ys,
        ring_off=ring_off,
        poly_ring_off=poly_ring_off,
        ring_chunk_off=ring_chunk_off,
        chunk_lo=chunk_lo.astype(np.int64),
        chunk_hi=chunk_hi.astype(np.int64),
        chunk_box=np.ascontiguousarray(chunk_box),
        poly_box=np.ascontiguousarray(shapely.bounds(geoms)),
    )


class _SetTable:
    """Interns sets of specials so that rows can name a set by a small integer (0 = empty)."""

    def __init__(self) -> None:
        self._ids: dict[tuple[int, ...], int] = {(): 0}
        self.items: list[tuple[int, ...]] = [()]

    def intern(self, members: tuple[int, ...]) -> int:
        found = self._ids.get(members)
        if found is None:
            found = len(self.items)
            self._ids[members] = found
            self.items.append(members)
        return found

    def group(self, n: int, owner: NDArray[np.int64], member: NDArray[np.int64]) -> NDArray[Any]:
        """Set id for each of n owners, given (owner, member) pairs."""
        out = np.zeros(n, dtype=np.int32)
        if len(owner) == 0:
            return out
        order = np.lexsort((member, owner))
        owner, member = owner[order], member[order]
        starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
        ends = np.r_[starts[1:], len(owner)]
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
            out[owner[s]] = self.intern(tuple(member[s:e].tolist()))
        return out


def _intern_rows(matrix: NDArray[np.int32]) -> tuple[NDArray[np.int32], NDArray[np.int64]]:
    """Unique rows and, for each input row, its row number; hashes first, verified exactly."""
    rng = np.random.default_rng(20240611)
    weights = rng.integers(1, 2**63, size=matrix.shape[1], dtype=np.uint64) | np.uint64(1)
    keys = (matrix.astype(np.int64).view(np.uint64) * weights).sum(axis=1, dtype=np.uint64)
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    unique = matrix[first]
    if not np.array_equal(unique[inverse], matrix):
        unique, inverse = np.unique(matrix, axis=0, return_inverse=True)
    return np.ascontiguousarray(unique), inverse.reshape(-1).astype(np.int64)


def _check_coordinates(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> None:
    for name, values, limit in (("lon", lon, 180.0), ("lat", lat, 90.0)):
        bad = ~(np.abs(values) <= limit)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            value = float(values.reshape(-1)[i])
            problem = (
                f"must be a finite number, got {value}"
                if not math.isfinite(value)
                else f"must be between -{limit:g} and {limit:g}, got {value}"
            )
            where = f" (point {i})" if values.size > 1 else ""
            raise InvalidCoordinate(name, problem + where)


class GridIndex:
    """An in-memory, exact point → grid index over one grid layer. Build it with `build`."""

    levels: tuple[GridLevel, ...]
    build_seconds: float

    def __init__(self) -> None:
        raise TypeError("use GridIndex.build(grids)")

    @classmethod
    def build(
        cls,
        grids: Sequence[Grid],
        *,
        cell_size_deg: float = 0.0002,
        edge_tolerance_m: float = 100.0,
    ) -> GridIndex:
        """Index a layer's grids (all regular levels and specials)."""
        if not grids:
            raise InvalidGeometry("grids", "an index needs at least one grid")
        if not cell_size_deg > 0:
            raise ValueError("cell_size_deg must be positive")
        if not edge_tolerance_m >= 0:
            raise ValueError("edge_tolerance_m must be zero or positive")
        started = time.perf_counter()
        self = object.__new__(cls)
        _Builder(self, grids, cell_size_deg, edge_tolerance_m).run()
        self.build_seconds = time.perf_counter() - started
        return self

    # Attributes set by _Builder.
    _grids: list[Grid]
    _codes: list[str]
    _k: ModuleType
    _arrays: dict[str, NDArray[Any]]
    _raster_params: tuple[float, float, float, int, int, int, int, float]

    def __getstate__(self) -> dict[str, Any]:
        # The kernels module cannot be pickled; a built index is cached on disk without it.
        state = dict(self.__dict__)
        state.pop("_k", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._k = _kernels()

    def code(self, index: int) -> str:
        """The code of the grid with this global index."""
        return self._codes[index]

    def grid(self, index: int) -> Grid:
        return self._grids[index]

    def __len__(self) -> int:
        return len(self._grids)

    def memory_bytes(self) -> dict[str, int]:
        """Bytes of each array the index holds (the grids' shapely geometries not included)."""
        return {name: int(array.nbytes) for name, array in self._arrays.items()}

    def locate(self, lon: float, lat: float) -> Location:
        """Where one point lies; never raises for points outside the layer (see module doc)."""
        x = np.array([lon], dtype=np.float64)
        y = np.array([lat], dtype=np.float64)
        _check_coordinates(x, y)
        batch = self._run(x, y, 8)
        grids = {
            self.levels[li]: self._grids[g]
            for li, g in enumerate(batch.level_index[0].tolist())
            if g >= 0
        }
        specials = tuple(self._grids[g] for g in batch.special_index.tolist())
        distance = float(batch.distance_m[0])
        return Location(
            lon=float(lon),
            lat=float(lat),
            grids=grids,
            specials=specials,
            match=MATCH_NAMES[int(batch.match[0])],
            distance_m=distance,
        )

    def locate_many(self, lon: NDArray[Any], lat: NDArray[Any]) -> BatchLocation:
        """Where each of many points lies; one kernel call, no per-point Python objects."""
        x = np.ascontiguousarray(lon, dtype=np.float64)
        y = np.ascontiguousarray(lat, dtype=np.float64)
        if x.ndim != 1 or x.shape != y.shape:
            raise InvalidCoordinate("lon", "lon and lat must be 1-D arrays of the same length")
        _check_coordinates(x, y)
        return self._run(x, y, len(x) // 2 + 64)

    def _run(self, x: NDArray[np.float64], y: NDArray[np.float64], capacity: int) -> BatchLocation:
        a = self._arrays
        x0, y0, inv, nx, ny, rx, ry, tolerance = self._raster_params
        n = len(x)
        level_index = np.empty((n, len(self.levels)), dtype=np.int32)
        match = np.empty(n, dtype=np.uint8)
        dist = np.empty(n, dtype=np.float64)
        sp_count = np.empty(n, dtype=np.int64)
        while True:
            sp_buf = np.empty(capacity, dtype=np.int32)
            total = self._k.locate_points(
                x, y, x0, y0, inv, nx, ny, rx, ry, tolerance,
                a["raster"], a["rows"], a["row_far"], a["row_special_offsets"],
                a["row_specials"], a["boundary_row"], a["boundary_offsets"],
                a["candidates"], a["layer"], a["parent"], a["parent_ok"],
                a["xs"], a["ys"], a["poly_ring_offsets"], a["ring_chunk_offsets"],
                a["chunk_lo"], a["chunk_hi"], a["chunk_box"], a["poly_box"],
                level_index, match, dist, sp_count, sp_buf,
            )  # fmt: skip
            if total <= capacity:
                break
            capacity = int(total)
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(sp_count, out=offsets[1:])
        return BatchLocation(
            levels=self.levels,
            level_index=level_index,
            special_offsets=offsets,
            special_index=sp_buf[:total],
            match=match,
            distance_m=dist,
        )


class _Builder:
    """Builds a GridIndex's arrays; long because the steps share many intermediate arrays."""

    def __init__(
        self, index: GridIndex, grids: Sequence[Grid], cell_size: float, tolerance_m: float
    ) -> None:
        self.index = index
        self.cell = cell_size
        self.tolerance = tolerance_m
        present = {g.level for g in grids}
        self.levels = tuple(level for level in REGULAR_LEVELS if level in present)
        layer_of = {level: i for i, level in enumerate(self.levels)}
        self.n_levels = len(self.levels)
        layer_of[GridLevel.SPECIAL] = self.n_levels
        order = sorted(range(len(grids)), key=lambda i: layer_of[grids[i].level])
        self.grids = [grids[i] for i in order]
        self.layer = np.array([layer_of[g.level] for g in self.grids], dtype=np.int8)
        self.geoms = np.array([g.geometry for g in self.grids], dtype=object)
        kinds = shapely.get_type_id(self.geoms)
        bad = ~np.isin(kinds, (3, 6)) | shapely.is_empty(self.geoms)
        if bad.any():
            culprit = self.grids[int(np.flatnonzero(bad)[0])]
            raise InvalidGeometry("geometry", f"grid {culprit.code} is not a non-empty polygon")
        self.k = _kernels()

    def run(self) -> None:
        geo = _flatten(self.geoms, self.k.CHUNK)
        self._raster_frame(geo.poly_box)
        self._mark_boundaries(geo)
        labels_all, comp_rows_all = self._layers()
        self._rows_and_raster(labels_all, comp_rows_all)
        parent, parent_ok = self._parents()
        index = self.index
        index.levels = self.levels
        index._grids = self.grids
        index._codes = [g.code for g in self.grids]
        index._k = self.k
        index._raster_params = (
            self.x0, self.y0, 1.0 / self.cell, self.nx, self.ny, self.rx, self.ry, self.tolerance
        )  # fmt: skip
        index._arrays = {
            "raster": self.raster,
            "rows": self.rows,
            "row_far": self.row_far,
            "row_special_offsets": self.row_sp_off,
            "row_specials": self.row_sp,
            "boundary_row": self.b_row,
            "boundary_offsets": self.b_off,
            "candidates": self.cands,
            "layer": self.layer,
            "parent": parent,
            "parent_ok": parent_ok,
            "xs": geo.xs,
            "ys": geo.ys,
            "poly_ring_offsets": geo.poly_ring_off,
            "ring_chunk_offsets": geo.ring_chunk_off,
            "chunk_lo": geo.chunk_lo,
            "chunk_hi": geo.chunk_hi,
            "chunk_box": geo.chunk_box,
            "poly_box": geo.poly_box,
        }

    def _raster_frame(self, poly_box: NDArray[np.float64]) -> None:
        minx, miny = poly_box[:, 0].min(), poly_box[:, 1].min()
        maxx, maxy = poly_box[:, 2].max(), poly_box[:, 3].max()
        far_lat = max(abs(miny), abs(maxy))
        per_lon, _ = _metres_per_degree(min(far_lat, 89.0))
        _, per_lat = _metres_per_degree(0.0)
        # Conservative reach in cells: the smallest metres per degree anywhere in the frame.
        self.rx = math.ceil(self.tolerance / (self.cell * per_lon)) + 1
        self.ry = math.ceil(self.tolerance / (self.cell * per_lat)) + 1
        pad = max(self.rx, self.ry) + 2
        self.x0 = float(minx - pad * self.cell)
        self.y0 = float(miny - pad * self.cell)
        self.nx = math.ceil((maxx - self.x0) / self.cell) + pad + 1
        self.ny = math.ceil((maxy - self.y0) / self.cell) + pad + 1

    def _mark_boundaries(self, geo: _Geometry) -> None:
        n_cells = self.nx * self.ny
        last = np.full(n_cells, -1, dtype=np.int32)
        count = np.zeros(n_cells, dtype=np.int32)
        self.bits = np.zeros(n_cells, dtype=np.uint8)
        args = (geo.xs, geo.ys, geo.ring_off, geo.poly_ring_off, self.layer, self.x0, self.y0)
        frame = (1.0 / self.cell, self.nx, self.ny, _EDGE_PAD_DEG)
        no_cands = np.empty(0, dtype=np.int32)
        no_cursor = np.empty(0, dtype=np.int64)
        self.k.walk_edges(*args, *frame, last, count, self.bits, count, no_cursor, no_cands, False)
        self.boundary = np.flatnonzero(count)
        nb = len(self.boundary)
        self.b_off = np.zeros(nb + 1, dtype=np.int64)
        np.cumsum(count[self.boundary], out=self.b_off[1:])
        del count
        self.raster = np.zeros(n_cells, dtype=np.int32)
        self.raster[self.boundary] = -np.arange(1, nb + 1, dtype=np.int32)
        self.cands = np.empty(int(self.b_off[-1]), dtype=np.int32)
        cursor = self.b_off[:-1].copy()
        last.fill(-1)
        self.k.walk_edges(
            *args, *frame, last, last, self.bits, self.raster, cursor, self.cands, True
        )

    def _centres(self, cells: NDArray[np.int64]) -> NDArray[Any]:
        iy, ix = np.divmod(cells, self.nx)
        centres: NDArray[Any] = shapely.points(
            self.x0 + (ix + 0.5) * self.cell, self.y0 + (iy + 0.5) * self.cell
        )
        return centres

    def _layers(self) -> tuple[NDArray[np.int32], NDArray[np.int32]]:
        """Per layer, the answer in edge-free components and the state of boundary cells."""
        from scipy import ndimage

        shape = (self.ny, self.nx)
        labels_all = np.empty(shape, dtype=np.int32)
        n_all = int(ndimage.label((self.bits == 0).reshape(shape), output=labels_all))
        reps_all = self.k.first_cell_of_label(labels_all, n_all)[1:]
        nb = len(self.boundary)
        n_cols = self.n_levels + 1
        self.values_all = np.empty((n_all, n_cols), dtype=np.int32)
        self.values_b = np.empty((nb, n_cols), dtype=np.int32)
        self.sets = _SetTable()
        labels = np.empty(shape, dtype=np.int32)
        for layer in range(n_cols):
            members = np.flatnonzero(self.layer == layer)
            if len(members) == 0:
                self.values_all[:, layer] = -1 if layer < self.n_levels else 0
                self.values_b[:, layer] = -1 if layer < self.n_levels else 0
                continue
            tree = shapely.STRtree(self.geoms[members])
            clean = (self.bits & np.uint8(1 << layer)) == 0
            n = int(ndimage.label(clean.reshape(shape), output=labels))
            reps = self.k.first_cell_of_label(labels, n)[1:]
            hit_rep, hit_poly = tree.query(self._centres(reps), predicate="covered_by")
            hit_poly = members[hit_poly]
            comp_value = np.zeros(n + 1, dtype=np.int32)
            overlapping = False
            if layer < self.n_levels:
                comp_value[:] = np.iinfo(np.int32).max
                # Where grids of one level overlap, the lowest index wins, as on shared edges.
                np.minimum.at(comp_value[1:], hit_rep, hit_poly.astype(np.int32))
                hits = np.bincount(hit_rep, minlength=n)
                comp_value[1:][hits == 0] = -1
                overlapping = bool((hits > 1).any())
                overlapping = overlapping or not shapely.coverage_is_valid(self.geoms[members])
            else:
                comp_value[1:] = self.sets.group(n, hit_rep, hit_poly)
            self.values_all[:, layer] = comp_value[labels.ravel()[reps_all]]
            lab_b = labels.ravel()[self.boundary]
            column = comp_value[lab_b]
            testing = np.flatnonzero(lab_b == 0)
            column[testing] = _TEST if layer < self.n_levels else 0
            if layer == self.n_levels or overlapping:
                self._whole_cell_cover(tree, members, layer, testing, column)
            self.values_b[:, layer] = column
        del labels
        comp_rows_all = np.zeros(n_all + 1, dtype=np.int32)
        return labels_all, comp_rows_all

    def _whole_cell_cover(
        self,
        tree: shapely.STRtree,
        members: NDArray[np.int64],
        layer: int,
        testing: NDArray[np.int64],
        column: NDArray[np.int32],
    ) -> None:
        """In boundary cells, the grids that cover the whole cell without an edge in it.

        Possible only where grids of a layer overlap (always assumed for specials): such a grid
        covers the cell's centre and is not among the cell's candidates.
        """
        cells = self.boundary[testing]
        at, poly = tree.query(self._centres(cells), predicate="covered_by")
        poly = members[poly]
        keep = self.k.drop_candidate_pairs(cells[at], poly, self.raster, self.b_off, self.cands)
        at, poly = at[keep], poly[keep]
        if layer < self.n_levels:
            best = np.full(len(testing), np.iinfo(np.int32).max, dtype=np.int64)
            np.minimum.at(best, at, poly)
            found = best < np.iinfo(np.int32).max
            column[testing[found]] = (-3 - best[found]).astype(np.int32)
        else:
            column[testing] = self.sets.group(len(testing), at, poly)

    def _rows_and_raster(
        self, labels_all: NDArray[np.int32], comp_rows_all: NDArray[np.int32]
    ) -> None:
        from scipy import ndimage

        n_all = len(self.values_all)
        far = np.full((1, self.n_levels + 1), -1, dtype=np.int32)
        far[0, -1] = 0
        unique, row_of = _intern_rows(np.vstack([self.values_all, self.values_b]))
        # The far-outside row must differ from an ordinary "nothing here" row (which still looks
        # for a grid within the tolerance), so it is appended after the interned ones.
        far_row = len(unique)
        unique = np.vstack([unique, far])
        comp_rows_all[1:] = row_of[:n_all]
        self.b_row = row_of[n_all : n_all + len(self.values_b)].astype(np.int32)
        self.rows = np.ascontiguousarray(unique[:, : self.n_levels])
        set_ids = unique[:, -1]
        row_all_miss = (self.rows == -1).all(axis=1) & (set_ids == 0)
        self.row_far = np.zeros(len(unique), dtype=np.bool_)
        self.row_far[far_row] = True
        set_len = np.array([len(s) for s in self.sets.items], dtype=np.int64)
        set_off = np.zeros(len(set_len) + 1, dtype=np.int64)
        np.cumsum(set_len, out=set_off[1:])
        set_items = np.array([m for s in self.sets.items for m in s], dtype=np.int32)
        row_len = set_len[set_ids]
        self.row_sp_off = np.zeros(len(unique) + 1, dtype=np.int64)
        np.cumsum(row_len, out=self.row_sp_off[1:])
        starts = np.repeat(set_off[set_ids] - self.row_sp_off[:-1], row_len)
        self.row_sp = set_items[starts + np.arange(int(self.row_sp_off[-1]))]
        regular_bits = np.uint8((1 << self.n_levels) - 1)
        edge = ((self.bits & regular_bits) != 0).reshape(self.ny, self.nx).view(np.uint8)
        near = ndimage.maximum_filter1d(edge, size=2 * self.rx + 1, axis=1)
        near = ndimage.maximum_filter1d(near, size=2 * self.ry + 1, axis=0).view(np.bool_)
        self.k.fill_clean_cells(self.raster, labels_all, comp_rows_all, row_all_miss, near, far_row)
        del self.bits

    def _parents(self) -> tuple[NDArray[np.int32], NDArray[np.bool_]]:
        """Each grid's parent one level up, and whether the parent provably covers it."""
        n = len(self.grids)
        parent = np.full(n, -1, dtype=np.int32)
        where = {g.code: i for i, g in enumerate(self.grids) if self.layer[i] < self.n_levels}
        for i, g in enumerate(self.grids):
            layer = int(self.layer[i])
            if 0 < layer < self.n_levels and g.parent_code in where:
                p = where[g.parent_code]
                if self.layer[p] == layer - 1:
                    parent[i] = p
        parent_ok = np.zeros(n, dtype=np.bool_)
        child = np.flatnonzero(parent >= 0)
        if len(child):
            parents = self.geoms[parent[child]]
            fresh = np.unique(parent[child][~shapely.is_prepared(parents)])
            shapely.prepare(self.geoms[fresh])
            try:
                parent_ok[child] = shapely.covers(parents, self.geoms[child])
            finally:
                shapely.destroy_prepared(self.geoms[fresh])
        return parent, parent_ok
