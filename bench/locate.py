"""Benchmark: point → grid lookup (`GridIndex`) against PostGIS, at Zhengzhou scale.

    .venv/bin/python bench/locate.py [--points 1000000] [--no-postgis] [--layer demo|synthetic]

Measures, in one run: index build time and memory; `locate_many` over uniform random points in
the layer's bounding box (one thread, median of 3); exactness of every answer against shapely;
single-point `locate` latency; and a serial PostGIS join of the same points against the same
layer (`ST_Subdivide(geom, 64)` + GiST). Prints the numbers and ratios and replaces the
"## Locate" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import itertools
import os
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from scipy.spatial import cKDTree

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gridgov.grids.locator import BatchLocation, GridIndex  # noqa: E402
from gridgov.grids.model import Grid, GridLevel, SpecialKind  # noqa: E402

DOC = ROOT / "docs" / "benchmarks.md"
BOX = (112.7, 34.25, 114.25, 34.99)
CENTRE = (113.65, 34.75)
COUNTS = {
    GridLevel.MICRO: 47_188,
    GridLevel.COMPOUND: 19_582,
    GridLevel.COMMUNITY: 3_530,
    GridLevel.STREET: 215,
    GridLevel.DISTRICT: 12,
    GridLevel.CITY: 1,
}
SPECIALS = 4_835
PREFIX = {
    GridLevel.COMPOUND: "CP",
    GridLevel.COMMUNITY: "CM",
    GridLevel.STREET: "ST",
    GridLevel.DISTRICT: "DI",
    GridLevel.CITY: "CI",
}


def say(message: str) -> None:
    print(message, flush=True)


# --- synthetic Zhengzhou-scale layer ------------------------------------------------------------


class Frame:
    """A local metric frame (equirectangular at the box's centre) for building the layer."""

    def __init__(self) -> None:
        self.lon0 = (BOX[0] + BOX[2]) / 2
        self.lat0 = (BOX[1] + BOX[3]) / 2
        self.ky = 111_132.0
        self.kx = 111_320.0 * np.cos(np.radians(self.lat0))

    def to_m(self, lon: Any, lat: Any) -> tuple[Any, Any]:
        return (np.asarray(lon) - self.lon0) * self.kx, (np.asarray(lat) - self.lat0) * self.ky

    def to_deg(self, xy: np.ndarray) -> np.ndarray:
        return np.c_[xy[:, 0] / self.kx + self.lon0, xy[:, 1] / self.ky + self.lat0]


def urban_points(rng: np.random.Generator, n: int, frame: Frame) -> np.ndarray:
    """Points in the box: 50 % a city core (σ 9 km), 19 % five satellites, 31 % uniform."""
    x_lo, y_lo = frame.to_m(BOX[0], BOX[1])
    x_hi, y_hi = frame.to_m(BOX[2], BOX[3])
    cx, cy = frame.to_m(*CENTRE)
    satellites = [frame.to_m(113.35, 34.55), frame.to_m(113.95, 34.5), frame.to_m(113.8, 34.9)]
    satellites += [frame.to_m(113.0, 34.8), frame.to_m(114.05, 34.75)]
    out: list[np.ndarray] = []
    while sum(len(o) for o in out) < n:
        m = n
        kind = rng.random(m)
        pts = np.c_[rng.uniform(x_lo, x_hi, m), rng.uniform(y_lo, y_hi, m)]
        core = kind < 0.5
        pts[core] = rng.normal((cx, cy), 9_000.0, (core.sum(), 2))
        sat = (kind >= 0.5) & (kind < 0.69)
        which = rng.integers(0, len(satellites), sat.sum())
        pts[sat] = np.array(satellites)[which] + rng.normal(0, 4_000.0, (sat.sum(), 2))
        ok = (pts[:, 0] > x_lo) & (pts[:, 0] < x_hi) & (pts[:, 1] > y_lo) & (pts[:, 1] < y_hi)
        out.append(pts[ok])
    return np.vstack(out)[:n]


def densify_and_warp(cells: np.ndarray, step_m: float) -> np.ndarray:
    """Densify every edge every `step_m` in canonical edge order, then warp by a smooth field.

    Both neighbours of an edge walk it from the same end, so they get bit-identical vertices and
    the layer stays an exact coverage; the warp is the same function everywhere and never folds.
    """
    _, coords, (ring_off, geom_off) = shapely.to_ragged_array(cells)
    n = len(coords)
    is_edge = np.ones(n - 1, dtype=bool)
    is_edge[ring_off[1:-1] - 1] = False
    k = np.flatnonzero(is_edge)
    a, b = coords[k], coords[k + 1]
    swap = (a[:, 0] > b[:, 0]) | ((a[:, 0] == b[:, 0]) & (a[:, 1] > b[:, 1]))
    s = np.where(swap[:, None], b, a)
    e = np.where(swap[:, None], a, b)
    parts = np.maximum(1, np.ceil(np.hypot(*(e - s).T) / step_m)).astype(np.int64)
    edge_of = np.repeat(np.arange(len(k)), parts)
    j = np.arange(len(edge_of)) - np.repeat(np.cumsum(parts) - parts, parts)
    i = np.where(swap[edge_of], parts[edge_of] - j, j)
    t = (i / parts[edge_of])[:, None]
    new = s[edge_of] + (e[edge_of] - s[edge_of]) * t
    new[j == 0] = a[edge_of[j == 0]]
    ring_of_edge = np.searchsorted(ring_off, k, side="right") - 1
    per_ring = np.bincount(ring_of_edge, weights=parts, minlength=len(ring_off) - 1).astype(int)
    starts = np.r_[0, np.cumsum(per_ring + 1)]
    out = np.empty((starts[-1], 2))
    body = np.ones(starts[-1], dtype=bool)
    body[starts[1:] - 1] = False
    out[body] = new
    out[starts[1:] - 1] = out[starts[:-1]]
    x, y = out[:, 0], out[:, 1]
    wx = x + 12.0 * np.sin(2 * np.pi * y / 600.0 + 0.3) + 6.0 * np.sin(2 * np.pi * (x + y) / 250.0)
    wy = y + 12.0 * np.sin(2 * np.pi * x / 700.0 + 1.1) + 6.0 * np.sin(2 * np.pi * (x - y) / 270.0)
    return shapely.from_ragged_array(
        shapely.GeometryType.POLYGON, np.c_[wx, wy], (starts.astype(np.int64), geom_off)
    )


def union_groups(geoms: np.ndarray, group: np.ndarray, n: int) -> np.ndarray:
    order = np.argsort(group, kind="stable")
    bounds = np.searchsorted(group[order], np.arange(n + 1))
    return np.array(
        [shapely.coverage_union_all(geoms[order[bounds[g] : bounds[g + 1]]]) for g in range(n)],
        dtype=object,
    )


def star(rng: np.random.Generator, centre: np.ndarray) -> shapely.Polygon:
    corners = int(rng.integers(20, 81))
    radius = float(np.exp(rng.normal(np.log(150.0), 0.5)))
    angle = np.sort(rng.uniform(0, 2 * np.pi, corners))
    reach = radius * rng.uniform(0.55, 1.0, corners)
    return shapely.Polygon(
        np.c_[centre[0] + reach * np.cos(angle), centre[1] + reach * np.sin(angle)]
    )


def synthetic_layer(seed: int = 7) -> list[Grid]:
    """Voronoi micro-grids grouped bottom-up into compounds … city, plus star-shaped specials."""
    rng = np.random.default_rng(seed)
    frame = Frame()
    seeds = urban_points(rng, COUNTS[GridLevel.MICRO], frame)
    x_lo, y_lo = frame.to_m(BOX[0], BOX[1])
    x_hi, y_hi = frame.to_m(BOX[2], BOX[3])
    # A ring of outside seeds bounds the outer cells; the city's edge is whatever Voronoi makes.
    ring: list[tuple[float, float]] = []
    for t in np.arange(0.0, 1.0, 1_500.0 / float(x_hi - x_lo)):
        ring += [(x_lo - 2_000 + t * (x_hi - x_lo + 4_000), y_lo - 2_000)]
        ring += [(x_lo - 2_000 + t * (x_hi - x_lo + 4_000), y_hi + 2_000)]
    for t in np.arange(0.0, 1.0, 1_500.0 / float(y_hi - y_lo)):
        ring += [(x_lo - 2_000, y_lo - 2_000 + t * (y_hi - y_lo + 4_000))]
        ring += [(x_hi + 2_000, y_lo - 2_000 + t * (y_hi - y_lo + 4_000))]
    everything = shapely.multipoints(np.vstack([seeds, np.unique(np.array(ring), axis=0)]))
    cells = shapely.get_parts(shapely.voronoi_polygons(everything, ordered=True))[: len(seeds)]
    micro_m = densify_and_warp(cells, 25.0)
    micro = shapely.transform(micro_m, frame.to_deg)
    grids: list[Grid] = []
    levels = [GridLevel.MICRO, GridLevel.COMPOUND, GridLevel.COMMUNITY, GridLevel.STREET]
    levels += [GridLevel.DISTRICT, GridLevel.CITY]
    layer_geoms, layer_seeds = micro, seeds
    codes = [f"MI{i:05d}" for i in range(len(micro))]
    for finer, coarser in itertools.pairwise(levels):
        n = COUNTS[coarser]
        chosen = rng.choice(len(layer_seeds), n, replace=False)
        _, group = cKDTree(layer_seeds[chosen]).query(layer_seeds)
        coarse_codes = [f"{PREFIX[coarser]}{i:05d}" for i in range(n)]
        grids += [
            Grid(code, code, finer, geom, parent_code=coarse_codes[g])
            for code, geom, g in zip(codes, layer_geoms, group, strict=True)
        ]
        layer_geoms = union_groups(layer_geoms, group, n)
        layer_seeds, codes = layer_seeds[chosen], coarse_codes
    grids += [Grid(codes[0], "city", GridLevel.CITY, layer_geoms[0])]
    streets = [g for g in grids if g.level is GridLevel.STREET]
    street_tree = shapely.STRtree([g.geometry for g in streets])
    centres = urban_points(rng, SPECIALS, frame)
    kinds = list(SpecialKind)
    for i, c in enumerate(centres):
        geom = shapely.transform(star(rng, c), frame.to_deg)
        hit = street_tree.query(shapely.centroid(geom), predicate="within")
        parent = streets[int(hit[0])].code if len(hit) else None
        grids.append(
            Grid(
                f"SP{i:05d}", f"special {i}", GridLevel.SPECIAL, geom, parent, kinds[i % len(kinds)]
            )
        )
    return grids


def load_layer(name: str) -> tuple[list[Grid], str, str]:
    if name == "demo":
        try:
            from gridgov.sim.city import generate_city  # type: ignore[import-not-found]
        except ImportError:
            say("gridgov.sim.city.generate_city is not available yet; using the synthetic layer")
        else:
            return list(generate_city()), "demo", "`gridgov.sim.city.generate_city()`"
    return synthetic_layer(), "synthetic", "Voronoi, built by bench/locate.py (anchor §1 method)"


# --- measurements -------------------------------------------------------------------------------


def wait_quiet(limit_s: float = 60.0) -> None:
    """Wait (up to limit_s) until the machine's other processes use under a quarter of a core."""

    def busy() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        return sum(fields) - fields[3] - fields[4], sum(fields)

    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        b0, t0 = busy()
        time.sleep(1.0)
        b1, t1 = busy()
        if (b1 - b0) / max(t1 - t0, 1) * (os.cpu_count() or 1) < 0.25:
            return


def timed(fn: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    times, result = [], None
    for _ in range(repeat):
        wait_quiet()
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return times, result


def exactness(
    index: GridIndex, lon: np.ndarray, lat: np.ndarray, found: BatchLocation
) -> dict[str, int]:
    """Disagreements with shapely per level and for the specials set (0 everywhere is the goal)."""
    geoms = np.array([index.grid(i).geometry for i in range(len(index))], dtype=object)
    level = np.array([index.grid(i).level for i in range(len(index))], dtype=object)
    points = shapely.points(lon, lat)
    inside = found.match == 0
    wrong: dict[str, int] = {}
    for li, lv in enumerate(index.levels):
        members = np.flatnonzero(level == lv)
        answer = found.level_index[:, li]
        hit = np.flatnonzero(inside & (answer >= 0))
        prepared = np.unique(answer[hit])
        shapely.prepare(geoms[prepared])
        bad_hits = int((~shapely.covers(geoms[answer[hit]], points[hit])).sum())
        shapely.destroy_prepared(geoms[prepared])
        miss = np.flatnonzero(~(inside & (answer >= 0)))
        covered, _ = shapely.STRtree(geoms[members]).query(points[miss], predicate="covered_by")
        wrong[lv.value] = bad_hits + len(np.unique(covered))
    members = np.flatnonzero(level == GridLevel.SPECIAL)
    p, s = shapely.STRtree(geoms[members]).query(points, predicate="covered_by")
    expected = np.sort(p.astype(np.int64) * len(index) + members[s])
    counts = np.diff(found.special_offsets)
    got = np.sort(np.repeat(np.arange(len(lon)), counts) * len(index) + found.special_index)
    wrong["special"] = len(np.setxor1d(expected, got))
    return wrong


def single_point_us(index: GridIndex, lon: np.ndarray, lat: np.ndarray) -> float:
    for i in range(200):
        index.locate(float(lon[i]), float(lat[i]))
    samples = []
    for x, y in zip(lon.tolist(), lat.tolist(), strict=True):
        started = time.perf_counter_ns()
        index.locate(x, y)
        samples.append(time.perf_counter_ns() - started)
    return statistics.median(samples) / 1_000.0


def postgis(grids: list[Grid], lon: np.ndarray, lat: np.ndarray) -> dict[str, Any]:
    import psycopg

    from devtools.pg_cluster import TempCluster

    settings = {"shared_buffers": "'2GB'", "work_mem": "'256MB'"}
    settings["max_parallel_workers_per_gather"] = "0"
    cluster = TempCluster.start(settings=settings)
    try:
        cluster.create_database("bench")
        with psycopg.connect(cluster.dsn("bench"), autocommit=True) as conn:
            started = time.perf_counter()
            conn.execute("create table grids (gid int, level text, geom geometry)")
            ewkb = shapely.to_wkb(
                shapely.set_srid(np.array([g.geometry for g in grids], dtype=object), 4326),
                hex=True,
                include_srid=True,
            )
            text = "".join(
                f"{i}\t{g.level.value}\t{w}\n"
                for i, (g, w) in enumerate(zip(grids, ewkb, strict=True))
            )
            with conn.cursor().copy("copy grids from stdin") as copy:
                copy.write(text)
            conn.execute(
                "create table sub as select gid, level, st_subdivide(geom, 64) as geom from grids"
            )
            conn.execute("create index on sub using gist (geom)")
            conn.execute("vacuum analyze sub")
            load_layer_s = time.perf_counter() - started
            started = time.perf_counter()
            conn.execute("create table pts (id int, geom geometry(Point, 4326))")
            points = shapely.to_wkb(
                shapely.set_srid(shapely.points(lon, lat), 4326), hex=True, include_srid=True
            )
            buf = io.StringIO()
            for i, w in enumerate(points.tolist()):
                buf.write(f"{i}\t{w}\n")
            with conn.cursor().copy("copy pts from stdin") as copy:
                copy.write(buf.getvalue())
            conn.execute("vacuum analyze pts")
            load_points_s = time.perf_counter() - started
            pieces = conn.execute("select count(*) from sub").fetchone()
            conn.execute("set max_parallel_workers_per_gather = 0")
            query = (
                "create temp table res as select p.id, s.gid from pts p "
                "join sub s on st_contains(s.geom, p.geom)"
            )
            times = []
            for _ in range(3):
                conn.execute("drop table if exists res")
                started = time.perf_counter()
                conn.execute(query)
                times.append(time.perf_counter() - started)
                if times[0] > 90:
                    break
            pairs = conn.execute("select count(*) from res").fetchone()
        return {
            "times": times,
            "load_layer_s": load_layer_s,
            "load_points_s": load_points_s,
            "pieces": pieces[0] if pieces else 0,
            "pairs": pairs[0] if pairs else 0,
        }
    finally:
        cluster.stop()


# --- report -------------------------------------------------------------------------------------


INTRO = """## Locate

Point → grid lookup (`gridgov.grids.locator.GridIndex`): the grid at every regular level plus
every special grid covering a point. Rerun with `.venv/bin/python bench/locate.py --layer demo`
(or `--layer synthetic`); each run rewrites its own layer's subsection below.
"""

METHOD = """### Method

The index is a 0.0002° raster over the layer. Cells no grid edge passes through hold a precomputed
answer row: edge-free cells are grouped into connected components per level with
`scipy.ndimage.label`, one shapely query per component. Boundary cells list the grids whose edges
pass through them, which are ray-cast exactly (exact orientation signs; points on edges count as
inside); coarser levels follow parent arrays where the child is proven (shapely `covers`, at
build) to lie in its parent. Points covered by nothing look for the nearest grid within 100 m in
a local WGS84 metric frame. Exactness is checked per level with shapely `covers` for every hit and
an STRtree `covered_by` query for every miss, and for specials by comparing the sets. PostGIS 15
runs in a throwaway cluster (`devtools/pg_cluster.py`, fsync off, `shared_buffers=2GB`,
`work_mem=256MB`, `max_parallel_workers_per_gather=0`): `create temp table res as select p.id,
s.gid from pts p join sub s on st_contains(s.geom, p.geom)` over the `ST_Subdivide(geom, 64)`
pieces of every grid of every level. Timed runs wait (up to 60 s) for the machine to go quiet.
"""


def write_doc(kind: str, subsection: str) -> None:
    """Replace this layer's subsection of the "## Locate" section, keeping the other layer's."""
    text = (
        DOC.read_text()
        if DOC.exists()
        else "# Benchmarks\n\nMeasured numbers; each section says how to rerun it.\n"
    )
    pattern = re.compile(r"^## Locate\n.*?(?=^## |\Z)", re.S | re.M)
    found = pattern.search(text)
    kept: dict[str, str] = {}
    if found:
        for block in re.split(r"^(?=### )", found.group(0), flags=re.M):
            heading = re.match(r"### Layer `([^`]+)`", block)
            if heading:
                kept[heading.group(1)] = block.rstrip("\n") + "\n"
    kept[kind] = subsection
    body = INTRO + "".join("\n" + kept[k] for k in sorted(kept)) + "\n" + METHOD
    text = pattern.sub(lambda _: body, text) if found else text.rstrip("\n") + "\n\n" + body
    DOC.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--points", type=int, default=1_000_000, help="random points to locate")
    parser.add_argument("--no-postgis", action="store_true", help="skip the PostGIS baseline")
    parser.add_argument(
        "--layer", choices=["demo", "synthetic"], default="demo", help="which layer"
    )
    parser.add_argument("--no-doc", action="store_true", help="do not write docs/benchmarks.md")
    parser.add_argument(
        "--cell-size", type=float, default=0.0002, help="raster cell size in degrees"
    )
    args = parser.parse_args()

    started = time.perf_counter()
    grids, kind, layer_name = load_layer(args.layer)
    generate_s = time.perf_counter() - started
    by_level = {lv: sum(g.level is lv for g in grids) for lv in GridLevel}
    vertices = int(
        shapely.get_num_coordinates(np.array([g.geometry for g in grids], dtype=object)).sum()
    )
    say(f"layer: {layer_name}: {len(grids):,} grids, {vertices:,} vertices ({generate_s:.1f} s)")
    say("  " + ", ".join(f"{lv.value} {n:,}" for lv, n in by_level.items() if n))

    # The first build compiles the kernels (or loads them from numba's on-disk cache).
    cold_times, cold = timed(lambda: GridIndex.build(grids, cell_size_deg=args.cell_size), 1)
    del cold
    build_times, index = timed(lambda: GridIndex.build(grids, cell_size_deg=args.cell_size), 1)
    memory = index.memory_bytes()
    memory_mb = sum(memory.values()) / 1e6
    say(
        f"build: {build_times[0]:.2f} s (first build in this process: {cold_times[0]:.2f} s), arrays {memory_mb:.1f} MB"
    )
    for name, size in sorted(memory.items(), key=lambda kv: -kv[1])[:6]:
        say(f"    {name:22s} {size / 1e6:8.1f} MB")

    rng = np.random.default_rng(12345)
    lo = np.array([g.geometry.bounds for g in grids if g.level is not GridLevel.SPECIAL])
    box = (lo[:, 0].min(), lo[:, 1].min(), lo[:, 2].max(), lo[:, 3].max())
    lon = rng.uniform(box[0], box[2], args.points)
    lat = rng.uniform(box[1], box[3], args.points)
    index.locate_many(lon[:1000], lat[:1000])
    times, found = timed(lambda: index.locate_many(lon, lat), 3)
    ours_s = statistics.median(times)
    rate = args.points / ours_s
    matches = np.bincount(found.match, minlength=3)
    say(
        f"locate_many: {', '.join(f'{t:.3f}' for t in times)} s → median {ours_s:.3f} s = {rate / 1e6:.2f} M points/s"
    )
    say(
        f"  inside {matches[0]:,}, near_edge {matches[1]:,}, outside {matches[2]:,}; specials hits {len(found.special_index):,}"
    )

    started = time.perf_counter()
    wrong = exactness(index, lon, lat, found)
    say(f"exactness vs shapely ({time.perf_counter() - started:.1f} s): {wrong}")

    one_us = single_point_us(index, lon[:10_000], lat[:10_000])
    say(f"single locate: median {one_us:.1f} µs")

    pg: dict[str, Any] | None = None
    if not args.no_postgis:
        say("PostGIS: loading …")
        pg = postgis(grids, lon, lat)
        pg_s = statistics.median(pg["times"])
        say(
            f"PostGIS serial join: {', '.join(f'{t:.1f}' for t in pg['times'])} s → median {pg_s:.1f} s = {args.points / pg_s / 1e3:.0f} k points/s; ratio {pg_s / ours_s:.0f}×"
        )

    if not args.no_doc:
        if args.cell_size != 0.0002:
            kind = f"{kind}, cell {args.cell_size:g}°"
        write_doc(
            kind,
            render(
                kind, cold_times[0], layer_name, grids, by_level, vertices, index, build_times[0], memory_mb, times,
                rate, matches, wrong, one_us, pg, args.points,
            )
        )  # fmt: skip
        say(f"wrote {DOC.relative_to(ROOT)}")


def render(
    kind: str,
    cold_s: float,
    layer_name: str,
    grids: list[Grid],
    by_level: dict[GridLevel, int],
    vertices: int,
    index: GridIndex,
    build_s: float,
    memory_mb: float,
    times: list[float],
    rate: float,
    matches: np.ndarray,
    wrong: dict[str, int],
    one_us: float,
    pg: dict[str, Any] | None,
    n_points: int,
) -> str:
    ours = statistics.median(times)
    counts = ", ".join(f"{n:,} {lv.value}" for lv, n in by_level.items() if n)
    lines = [
        f"### Layer `{kind}`",
        "",
        f"- Date {dt.date.today().isoformat()}; machine: {os.cpu_count()} cores (`nproc` {len(os.sched_getaffinity(0))}),",
        f"  {platform.processor() or platform.machine()}, Python {platform.python_version()}; shared and noisy, so medians.",
        f"- Layer: {layer_name}: {len(grids):,} grids ({counts}), {vertices:,} vertices.",
        f"- Points: {n_points:,} uniform in the regular grids' bounding box (seed 12345):",
        f"  {matches[0]:,} inside, {matches[1]:,} near an edge (≤ 100 m), {matches[2]:,} outside.",
        "",
        "| measure | value |",
        "| --- | --- |",
        f"| index build (second build in the process; the first, {cold_s:.1f} s, also loads or compiles the kernels) | {build_s:.1f} s |",
        f"| index arrays (`memory_bytes`) | {memory_mb:.0f} MB |",
        f"| `locate_many`, all levels + specials, 1 thread, median of 3 ({', '.join(f'{t:.3f}' for t in times)} s) | {ours:.3f} s = **{rate / 1e6:.2f} M points/s** |",
        f"| disagreements with shapely `covers` over all points (per level / specials) | {', '.join(f'{k} {v}' for k, v in wrong.items())} |",
        f"| single `locate`, median of 10,000 calls | {one_us:.1f} µs |",
    ]
    if pg is not None:
        pg_s = statistics.median(pg["times"])
        runs = len(pg["times"])
        lines += [
            f"| PostGIS serial join, all levels ({pg['pieces']:,} `ST_Subdivide(geom, 64)` pieces, GiST), median of {runs} ({', '.join(f'{t:.1f}' for t in pg['times'])} s) | {pg_s:.1f} s = {n_points / pg_s / 1e3:.0f} k points/s |",
            f"| **ratio, PostGIS time / ours** | **{pg_s / ours:.0f}×** |",
            f"| PostGIS load: layer COPY + subdivide + GiST / points COPY + analyze | {pg['load_layer_s']:.1f} s / {pg['load_points_s']:.1f} s |",
        ]
    lines += [
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
