"""Benchmark: grid vector tiles over a realistic pan/zoom sequence, at Zhengzhou scale.

    .venv/bin/python bench/tiles.py [--sessions 8] [--no-postgis] [--no-doc]

Builds the demo city (75,363 grids) into a temporary SQLite store and activates it, then replays
map sessions: a 1280 × 800 px viewport (512 px tiles, as MapLibre draws vector tiles) opens over
the city at zoom 8, zooms in step by step to 17 on a spot drawn where the grids are (a micro-grid's
centre), pans there at zooms 17, 14 and 11, and zooms out again. Each distinct tile is timed:

- cold: first request to a fresh `TileService` (layer prepared, no tile cached yet);
- warm: the same requests again (answered from the LRU);
- HTTP: the same sequence through the ASGI app (TestClient) on another fresh service, cold;
- baselines in the same run, on the same tiles: the naive encoder (same clipping and encoding,
  but no search tree and no simplification), and PostGIS `ST_AsMVT`/`ST_AsMVTGeom` over a GiST
  index in a throwaway cluster (`devtools/pg_cluster.py`), the way pg_tileserv and martin do it.

Prints p50/p95/p99 per zoom and ratios, and replaces the "## Vector tiles" section of
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import shapely

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gridgov.bootstrap import build_runtime  # noqa: E402
from gridgov.config import load_settings  # noqa: E402
from gridgov.grids.model import Grid, GridLevel  # noqa: E402
from gridgov.grids.tiles import (  # noqa: E402
    BUFFER_UNITS,
    LayerTiles,
    TileId,
    clip,
    levels_at,
    project,
)
from gridgov.grids.vector_tile import (  # noqa: E402
    EXTENT,
    LayerFeatures,
    encode_tile,
    tile_message_class,
)
from gridgov.services.tiles import TileService  # noqa: E402
from gridgov.sim.city import generate_city  # noqa: E402
from gridgov.store.migrate import upgrade  # noqa: E402

DOC = ROOT / "docs" / "benchmarks.md"
HEADING = "## Vector tiles"
VIEW_PX = (1280, 800)
TILE_PX = 512
ZOOMS = range(8, 18)
TARGET_MS = 50.0


def say(message: str) -> None:
    print(message, flush=True)


def wait_quiet(limit_s: float = 30.0) -> None:
    """Wait (up to limit_s) until other processes use under a quarter of a core."""

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


# --- the pan/zoom sequence ------------------------------------------------------------------------


def world_xy(lon: float, lat: float) -> tuple[float, float]:
    """A point in tile units at zoom 0 (0–1 across the world, y down)."""
    fy = (1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0
    return (lon + 180.0) / 360.0, fy


def view(cx: float, cy: float, z: int) -> list[TileId]:
    """The tiles a viewport centred on (cx, cy) (zoom-0 units) shows at zoom z."""
    side = 1 << z
    half_w, half_h = VIEW_PX[0] / 2 / TILE_PX, VIEW_PX[1] / 2 / TILE_PX
    x0, x1 = int(cx * side - half_w), int(cx * side + half_w)
    y0, y1 = int(cy * side - half_h), int(cy * side + half_h)
    return [
        TileId(z, x, y)
        for y in range(max(0, y0), min(side - 1, y1) + 1)
        for x in range(max(0, x0), min(side - 1, x1) + 1)
    ]


def sessions(grids: list[Grid], n: int, seed: int = 2026) -> list[TileId]:
    """Tile requests of n map sessions, in order; a tile an earlier session asked for is left out,
    so every request is a tile not served before (a cache hit would flatter the cold numbers)."""
    rng = np.random.default_rng(seed)
    micro = [g for g in grids if g.level is GridLevel.MICRO]
    targets = shapely.centroid(np.array([g.geometry for g in micro], dtype=object))
    city_shape = next(g for g in grids if g.level is GridLevel.CITY).geometry
    city = city_shape.centroid
    west, south, east, north = city_shape.bounds
    box = (*world_xy(west, north), *world_xy(east, south))
    requests: list[TileId] = []
    seen: set[TileId] = set()
    for _ in range(n):
        target = targets[rng.integers(len(targets))]
        start = world_xy(city.x, city.y)
        end = world_xy(target.x, target.y)
        steps: list[tuple[float, float, int]] = []
        for i, z in enumerate(ZOOMS):
            f = i / (len(ZOOMS) - 1)
            steps.append(
                (start[0] + (end[0] - start[0]) * f, start[1] + (end[1] - start[1]) * f, z)
            )
        for z in (17, 14, 11):
            angle = rng.uniform(0, 2 * math.pi)
            dx, dy = math.cos(angle), math.sin(angle)
            # Half a viewport per step, six steps: the map dragged across the screen three times,
            # turning back at the city's edge as a person looking at the city would.
            step = VIEW_PX[0] / 2 / TILE_PX / (1 << z)
            cx, cy = end
            for _ in range(6):
                if not (box[0] <= cx + dx * step <= box[2]):
                    dx = -dx
                if not (box[1] <= cy + dy * step <= box[3]):
                    dy = -dy
                cx, cy = cx + dx * step, cy + dy * step
                steps.append((cx, cy, z))
        for z in reversed(ZOOMS):
            steps.append((end[0], end[1], z))
        for cx, cy, z in steps:
            for tile in view(cx, cy, z):
                if tile not in seen:
                    seen.add(tile)
                    requests.append(tile)
    return requests


# --- measurements ----------------------------------------------------------------------------------


def timed_ms(
    tiles: Iterable[TileId], fn: Callable[[TileId], bytes]
) -> list[tuple[TileId, float, int]]:
    out = []
    for tile in tiles:
        started = time.perf_counter()
        data = fn(tile)
        out.append((tile, (time.perf_counter() - started) * 1000.0, len(data)))
    return out


class NaiveTiles:
    """The baseline encoder: same clipping and encoding, no search tree, no simplification."""

    def __init__(self, grids: list[Grid]) -> None:
        self.levels: dict[GridLevel, tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]] = {}
        for level in {spec.level for z in ZOOMS for spec in levels_at(z)}:
            members = [(i, g) for i, g in enumerate(grids) if g.level is level]
            geoms = project(np.array([g.geometry for _, g in members], dtype=object))
            ids = np.array([i + 1 for i, _ in members], dtype=np.int64)
            columns = {
                "code": [g.code for _, g in members],
                "name": [g.name for _, g in members],
                "level": [g.level.value for _, g in members],
                "kind": [g.special_kind.value if g.special_kind else "regular" for _, g in members],
            }
            props = {key: np.array(values, dtype=object) for key, values in columns.items()}
            self.levels[level] = (geoms, ids, props)

    def tile(self, tile: TileId) -> bytes:
        minx, miny, maxx, maxy = tile.bounds_m()
        pad = (maxx - minx) * BUFFER_UNITS / EXTENT
        box = (minx - pad, miny - pad, maxx + pad, maxy + pad)
        layers = []
        for spec in levels_at(tile.z):
            geoms, ids, props = self.levels[spec.level]
            which = np.flatnonzero(shapely.intersects(geoms, shapely.box(*box)))
            if not which.size:
                continue
            layers.append(
                LayerFeatures(
                    spec.source_layer,
                    clip(geoms[which], box),
                    ids[which],
                    {key: column[which] for key, column in props.items()},
                )
            )
        return encode_tile(layers, (minx, maxy, EXTENT / (maxx - minx)))


POSTGIS_TILE = """
select coalesce(string_agg(mvt, ''::bytea), ''::bytea) from (
  select st_asmvt(q, q.level, 4096, 'geom') as mvt from (
    select g.code, g.name, g.level, g.kind,
           st_asmvtgeom(g.geom, st_tileenvelope(%(z)s, %(x)s, %(y)s), 4096, 64, true) as geom
    from grids g
    where g.level = any(%(levels)s)
      and g.geom && st_tileenvelope(%(z)s, %(x)s, %(y)s, margin => 64.0 / 4096)
  ) q where q.geom is not null group by q.level
) t
"""


def postgis(grids: list[Grid], tiles: list[TileId]) -> list[tuple[TileId, float, int]] | None:
    try:
        import psycopg

        from devtools.pg_cluster import ClusterUnavailable, TempCluster
    except ImportError:
        return None
    try:
        cluster = TempCluster.start(settings={"shared_buffers": "'1GB'", "work_mem": "'64MB'"})
    except ClusterUnavailable as exc:
        say(f"PostGIS baseline skipped: {exc}")
        return None
    try:
        cluster.create_database("bench", postgis=True)
        with psycopg.connect(cluster.dsn("bench"), autocommit=True) as conn:
            conn.execute(
                "create table grids (code text, name text, level text, kind text, geom geometry)"
            )
            shapes = shapely.set_srid(np.array([g.geometry for g in grids], dtype=object), 4326)
            ewkb = shapely.to_wkb(shapes, hex=True, include_srid=True)
            with conn.cursor().copy("copy grids (code, name, level, kind, geom) from stdin") as cp:
                for g, w in zip(grids, ewkb, strict=True):
                    kind = g.special_kind.value if g.special_kind else "regular"
                    cp.write_row((g.code, g.name, g.level.value, kind, w))
            conn.execute(
                "alter table grids alter column geom type geometry(Geometry, 3857) "
                "using st_transform(geom, 3857)"
            )
            conn.execute("create index on grids using gist (geom)")
            conn.execute("vacuum analyze grids")

            def one(tile: TileId) -> bytes:
                levels = [spec.source_layer for spec in levels_at(tile.z)]
                params = {"z": tile.z, "x": tile.x, "y": tile.y, "levels": levels}
                row = conn.execute(POSTGIS_TILE, params).fetchone()
                return bytes(row[0]) if row else b""

            one(tiles[0])
            return timed_ms(tiles, one)
    finally:
        cluster.stop()


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q)) if values else float("nan")


def by_zoom(rows: list[tuple[TileId, float, int]]) -> dict[int, list[float]]:
    out: dict[int, list[float]] = {}
    for tile, ms, _ in rows:
        out.setdefault(tile.z, []).append(ms)
    return out


# --- report ---------------------------------------------------------------------------------------


def stats(values: list[float]) -> str:
    return " / ".join(f"{percentile(values, q):.1f}" for q in (50, 95, 99))


def render(
    meta: dict[str, Any],
    cold: list[tuple[TileId, float, int]],
    warm: list[tuple[TileId, float, int]],
    http: list[tuple[TileId, float, int]],
    naive: list[tuple[TileId, float, int]],
    pg: list[tuple[TileId, float, int]] | None,
) -> str:
    cz, wz, hz, nz = by_zoom(cold), by_zoom(warm), by_zoom(http), by_zoom(naive)
    pz = by_zoom(pg) if pg else {}
    sizes: dict[int, list[int]] = {}
    for tile, _, size in cold:
        sizes.setdefault(tile.z, []).append(size)
    lines = [
        HEADING,
        "",
        f"Date {dt.date.today()}; {platform.machine()} × {os.cpu_count()} cores, Python "
        f"{platform.python_version()}. Demo city `generate_city()` ({meta['grids']:,} grids) in a "
        f"SQLite store; {meta['sessions']} map sessions, {len(cold):,} distinct tile requests "
        f"(z 8–17). Rerun with `.venv/bin/python bench/tiles.py`.",
        "",
        f"- Preparing the layer on first use (read 75k grids from the store, project, build the "
        f"search trees): {meta['prepare_s']:.2f} s, once per layer and process.",
        "- Empty tiles (outside the city) are 204 answers; they are counted below.",
        "",
        "p50 / p95 / p99 in ms per tile:",
        "",
        "| zoom | tiles | cold | warm (LRU) | cold via HTTP | naive encoder | PostGIS ST_AsMVT "
        "| median KB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for z in sorted(cz):
        lines.append(
            f"| {z} | {len(cz[z])} | {stats(cz[z])} | {stats(wz[z])} | {stats(hz.get(z, []))} "
            f"| {stats(nz.get(z, []))} | {stats(pz[z]) if z in pz else 'n/a'} "
            f"| {statistics.median(sizes[z]) / 1024:.1f} |"
        )
    all_cold = [ms for _, ms, _ in cold]
    all_warm = [ms for _, ms, _ in warm]
    all_http = [ms for _, ms, _ in http]
    all_naive = [ms for _, ms, _ in naive]
    lines.append(
        f"| all | {len(cold)} | {stats(all_cold)} | {stats(all_warm)} | {stats(all_http)} "
        f"| {stats(all_naive)} | {stats([ms for _, ms, _ in pg]) if pg else 'n/a'} "
        f"| {statistics.median([s for _, _, s in cold]) / 1024:.1f} |"
    )
    p95_cold = percentile(all_cold, 95)
    lines += [
        "",
        f"Cold p95 {p95_cold:.1f} ms, warm p95 {percentile(all_warm, 95) * 1000:.0f} µs, cold via HTTP "
        f"p95 {percentile(all_http, 95):.1f} ms (target p95 < {TARGET_MS:.0f} ms: cold "
        f"{'met' if p95_cold < TARGET_MS else 'NOT met'}, warm "
        f"{'met' if percentile(all_warm, 95) < TARGET_MS else 'NOT met'}).",
        f"Naive encoder time ÷ ours (cold): p50 {percentile(all_naive, 50) / percentile(all_cold, 50):.1f}×, "
        f"p95 {percentile(all_naive, 95) / p95_cold:.1f}×.",
    ]
    if pg:
        all_pg = [ms for _, ms, _ in pg]
        lines.append(
            f"PostGIS ST_AsMVT time ÷ ours (cold; below 1 means PostGIS is faster): p50 "
            f"{percentile(all_pg, 50) / percentile(all_cold, 50):.1f}×, p95 "
            f"{percentile(all_pg, 95) / p95_cold:.1f}×."
        )
    lines += [
        "",
        "Method: cold = first request of each tile on a fresh `TileService` whose layer is "
        "already prepared (per-zoom simplification is computed as tiles first need each grid, so "
        "its cost is inside the cold numbers); warm = the same requests again; HTTP = "
        "`GET /tiles/grids/{z}/{x}/{y}.mvt` through the ASGI app on another fresh service. The "
        "naive encoder tests every grid of the shown levels for intersection and encodes "
        "unsimplified shapes. PostGIS 15/3 runs `ST_AsMVT(ST_AsMVTGeom(geom, ST_TileEnvelope(z, "
        "x, y), 4096, 64, true))` grouped by level over `geom && ST_TileEnvelope(…, margin)` "
        "with a GiST index on the projected grids, one query per tile over loopback. Each "
        "timed pass waits (up to 30 s) for the machine to go quiet.",
        "",
    ]
    return "\n".join(lines)


def write_doc(text: str) -> None:
    doc = DOC.read_text(encoding="utf-8")
    pattern = re.compile(rf"{re.escape(HEADING)}\n.*?(?=\n## |\Z)", re.S)
    doc = (
        pattern.sub(lambda _: text.rstrip("\n"), doc)
        if pattern.search(doc)
        else doc.rstrip("\n") + "\n\n" + text
    )
    DOC.write_text(doc, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=8, help="map sessions to replay")
    parser.add_argument("--no-postgis", action="store_true", help="skip the PostGIS baseline")
    parser.add_argument("--no-doc", action="store_true", help="do not write docs/benchmarks.md")
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from gridgov.api.app import create_app

    say("generating the demo city …")
    grids = generate_city()
    requests = sessions(grids, args.sessions)
    say(f"{len(grids):,} grids; {len(requests):,} tile requests")
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(data_dir=Path(tmp))
        upgrade(settings.resolved_database_url)
        runtime = build_runtime(settings)
        outcome = runtime.grids.import_grids(grids, name="bench", source="bench", commit=True)
        assert outcome.layer is not None
        runtime.grids.activate(outcome.layer.id, commit=True)

        def fresh() -> TileService:
            return TileService(runtime.sessions, runtime.locating, cache_tiles=100_000)

        service = fresh()
        # One-off costs of the process (building the protobuf classes), outside the timings.
        tile_message_class()
        wait_quiet()
        started = time.perf_counter()
        service.prepared()
        prepare_s = time.perf_counter() - started
        say(f"layer prepared in {prepare_s:.2f} s")

        wait_quiet()
        cold = timed_ms(requests, lambda t: service.tile(t.z, t.x, t.y).data)
        wait_quiet()
        warm = timed_ms(requests, lambda t: service.tile(t.z, t.x, t.y).data)
        say("cold and warm passes done")

        runtime.tiles = fresh()
        client = TestClient(create_app(runtime))
        client.get("/tiles/grids.json")

        def over_http(tile: TileId) -> bytes:
            response = client.get(f"/tiles/grids/{tile.z}/{tile.x}/{tile.y}.mvt")
            assert response.status_code in (200, 204), response.text
            return response.content

        wait_quiet()
        http = timed_ms(requests, over_http)
        say("HTTP pass done")
        runtime.close()

    naive_tiles = NaiveTiles(grids)
    wait_quiet()
    naive = timed_ms(requests, naive_tiles.tile)
    say("naive baseline done")
    pg = None if args.no_postgis else postgis(grids, requests)
    if pg:
        say("PostGIS baseline done")
    _check_same_features(grids, requests)
    text = render(
        {"grids": len(grids), "sessions": args.sessions, "prepare_s": prepare_s},
        cold,
        warm,
        http,
        naive,
        pg,
    )
    say(text)
    if not args.no_doc:
        write_doc(text)


def _check_same_features(grids: list[Grid], requests: list[TileId]) -> None:
    """Ours and the naive encoder must put the same grids in each tile (sampled)."""

    def ids(data: bytes) -> dict[str, set[int]]:
        tile = tile_message_class()()
        tile.ParseFromString(data)
        return {layer.name: {f.id for f in layer.features} for layer in tile.layers}

    ours, naive = LayerTiles(grids), NaiveTiles(grids)
    for tile in requests[:: max(1, len(requests) // 200)]:
        a, b = ids(ours.tile(tile)), ids(naive.tile(tile))
        # Simplification may drop a sliver that only grazes the buffer; nothing else may differ.
        for name in set(a) | set(b):
            missing = b.get(name, set()) - a.get(name, set())
            extra = a.get(name, set()) - b.get(name, set())
            assert not extra, (tile, name, extra)
            assert len(missing) <= max(2, len(b.get(name, set())) // 100), (tile, name, missing)


if __name__ == "__main__":
    main()
