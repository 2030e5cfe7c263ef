"""numba kernels behind `gridgov.grids.locator`: exact point-in-polygon, raster building, lookup.

Every kernel is compiled lazily on first call and cached on disk (`cache=True`); importing this
module compiles nothing. Polygons are flattened into closed rings of lon/lat vertices; each ring's
edges are grouped into chunks of `CHUNK` edges with a bounding box, so that tests against the
city polygon (tens of thousands of vertices) skip almost all of its edges.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba
import numpy as np
from numpy.typing import NDArray

F = TypeVar("F", bound=Callable[..., Any])
Arr = NDArray[Any]

CHUNK = 16
# Shewchuk's first-stage error bound for orient2d: (3 + 16 eps) eps with eps = 2**-53.
_CCW_ERRBOUND = (3.0 + 16.0 * 2.0**-53) * 2.0**-53
_OUTSIDE_RASTER = -(2**31)  # below every boundary-cell code, which are -1 … -(boundary cells)
_SPLITTER = 134217729.0  # 2**27 + 1, Dekker's split of a double into two 26-bit halves


def jit(fn: F) -> F:
    """`numba.njit(cache=True)`, typed so that mypy keeps the function's signature."""
    return cast(F, numba.njit(cache=True)(fn))


@jit
def _two_product(a: float, b: float) -> tuple[float, float]:
    p = a * b
    c = _SPLITTER * a
    ahi = c - (c - a)
    alo = a - ahi
    c = _SPLITTER * b
    bhi = c - (c - b)
    blo = b - bhi
    err = alo * blo - (((p - ahi * bhi) - alo * bhi) - ahi * blo)
    return p, err


@jit
def _orient_exact(ax: float, ay: float, bx: float, by: float, cx: float, cy: float) -> int:
    # The differences (ax - cx) are themselves rounded, so expand the determinant into six
    # products of raw coordinates, each split exactly in two, and sum the twelve terms exactly.
    terms = np.empty(12)
    terms[0], terms[1] = _two_product(ax, by)
    terms[2], terms[3] = _two_product(-ax, cy)
    terms[4], terms[5] = _two_product(-cx, by)
    terms[6], terms[7] = _two_product(-ay, bx)
    terms[8], terms[9] = _two_product(ay, cx)
    terms[10], terms[11] = _two_product(cy, bx)
    expansion = np.zeros(13)
    length = 0
    for t in range(12):
        q = terms[t]
        for i in range(length):
            s = q + expansion[i]
            bv = s - q
            err = (q - (s - bv)) + (expansion[i] - bv)
            expansion[i] = err
            q = s
        expansion[length] = q
        length += 1
    # Grow-expansion keeps components non-overlapping and increasing in magnitude, so the sign of
    # the exact sum is the sign of the most significant non-zero component.
    for i in range(length - 1, -1, -1):
        if expansion[i] > 0.0:
            return 1
        if expansion[i] < 0.0:
            return -1
    return 0


@jit
def orient(ax: float, ay: float, bx: float, by: float, cx: float, cy: float) -> int:
    """Exact sign of the turn a → b → c: 1 counter-clockwise, -1 clockwise, 0 collinear."""
    detleft = (ax - cx) * (by - cy)
    detright = (ay - cy) * (bx - cx)
    det = detleft - detright
    if detleft > 0.0:
        if detright <= 0.0:
            return 1 if det > 0.0 else (-1 if det < 0.0 else 0)
        detsum = detleft + detright
    elif detleft < 0.0:
        if detright >= 0.0:
            return 1 if det > 0.0 else (-1 if det < 0.0 else 0)
        detsum = -detleft - detright
    else:
        return 1 if det > 0.0 else (-1 if det < 0.0 else 0)
    bound = _CCW_ERRBOUND * detsum
    if det >= bound:
        return 1
    if -det >= bound:
        return -1
    return _orient_exact(ax, ay, bx, by, cx, cy)


@jit
def covers(
    poly: int,
    px: float,
    py: float,
    xs: Arr,
    ys: Arr,
    poly_ring_off: Arr,
    ring_chunk_off: Arr,
    chunk_lo: Arr,
    chunk_hi: Arr,
    chunk_box: Arr,
    poly_box: Arr,
) -> bool:
    """Even-odd ray cast to +x that also counts points on an edge or vertex as inside (`covers`)."""
    if (
        px < poly_box[poly, 0]
        or py < poly_box[poly, 1]
        or px > poly_box[poly, 2]
        or py > poly_box[poly, 3]
    ):
        return False
    inside = False
    for r in range(poly_ring_off[poly], poly_ring_off[poly + 1]):
        for ch in range(ring_chunk_off[r], ring_chunk_off[r + 1]):
            # A chunk wholly above, below or left of the point can neither cross the ray nor
            # hold the point on one of its edges.
            if chunk_box[ch, 1] > py or chunk_box[ch, 3] < py or chunk_box[ch, 2] < px:
                continue
            for k in range(chunk_lo[ch], chunk_hi[ch]):
                x1 = xs[k]
                y1 = ys[k]
                x2 = xs[k + 1]
                y2 = ys[k + 1]
                if y1 == py:
                    if x1 == px:
                        return True
                    if y2 == py and (x1 <= px) != (x2 < px):
                        return True
                if (y1 > py) != (y2 > py):
                    o = orient(x1, y1, x2, y2, px, py)
                    if o == 0:
                        return True
                    if (o > 0) == (y2 > y1):
                        inside = not inside
    return inside


@jit
def distance_m(
    poly: int,
    px: float,
    py: float,
    kx: float,
    ky: float,
    limit: float,
    xs: Arr,
    ys: Arr,
    poly_ring_off: Arr,
    ring_chunk_off: Arr,
    chunk_lo: Arr,
    chunk_hi: Arr,
    chunk_box: Arr,
) -> float:
    """Distance in metres from a point to a polygon's boundary, or inf if it exceeds `limit`."""
    best = limit
    for r in range(poly_ring_off[poly], poly_ring_off[poly + 1]):
        for ch in range(ring_chunk_off[r], ring_chunk_off[r + 1]):
            gx = max(chunk_box[ch, 0] - px, 0.0, px - chunk_box[ch, 2]) * kx
            gy = max(chunk_box[ch, 1] - py, 0.0, py - chunk_box[ch, 3]) * ky
            if gx * gx + gy * gy > best * best:
                continue
            for k in range(chunk_lo[ch], chunk_hi[ch]):
                ax = (xs[k] - px) * kx
                ay = (ys[k] - py) * ky
                bx = (xs[k + 1] - px) * kx
                by = (ys[k + 1] - py) * ky
                dx = bx - ax
                dy = by - ay
                length2 = dx * dx + dy * dy
                t = 0.0
                if length2 > 0.0:
                    t = min(1.0, max(0.0, -(ax * dx + ay * dy) / length2))
                qx = ax + t * dx
                qy = ay + t * dy
                d = math.sqrt(qx * qx + qy * qy)
                if d < best:
                    best = d
    return best if best < limit else math.inf


@jit
def walk_edges(
    xs: Arr,
    ys: Arr,
    ring_off: Arr,
    poly_ring_off: Arr,
    poly_layer: Arr,
    x0: float,
    y0: float,
    inv: float,
    nx: int,
    ny: int,
    pad: float,
    last: Arr,
    count: Arr,
    bits: Arr,
    raster: Arr,
    cursor: Arr,
    cands: Arr,
    fill: bool,
) -> None:
    """Mark every cell an edge passes within `pad` degrees of, once per polygon.

    First pass (`fill` False): count distinct polygons per cell and set the layer bit. Second
    pass: append each polygon to its cells' candidate lists. Each edge is walked in steps of at
    most half a cell and the cells under each step's padded bounding box are marked, which is
    conservative: the walk can mark a cell the edge misses, never miss one it touches.
    """
    n_poly = poly_ring_off.shape[0] - 1
    for p in range(n_poly):
        bit = np.uint8(1 << poly_layer[p])
        for r in range(poly_ring_off[p], poly_ring_off[p + 1]):
            for k in range(ring_off[r], ring_off[r + 1] - 1):
                ax = xs[k]
                ay = ys[k]
                bx = xs[k + 1]
                by = ys[k + 1]
                span = max(abs(bx - ax), abs(by - ay)) * inv
                steps = max(1, int(math.ceil(span * 2.0)))
                sx = ax
                sy = ay
                for s in range(1, steps + 1):
                    if s == steps:
                        ex = bx
                        ey = by
                    else:
                        t = s / steps
                        ex = ax + (bx - ax) * t
                        ey = ay + (by - ay) * t
                    i0 = int(math.floor((min(sx, ex) - pad - x0) * inv))
                    i1 = int(math.floor((max(sx, ex) + pad - x0) * inv))
                    j0 = int(math.floor((min(sy, ey) - pad - y0) * inv))
                    j1 = int(math.floor((max(sy, ey) + pad - y0) * inv))
                    i0 = max(i0, 0)
                    j0 = max(j0, 0)
                    i1 = min(i1, nx - 1)
                    j1 = min(j1, ny - 1)
                    for j in range(j0, j1 + 1):
                        for i in range(i0, i1 + 1):
                            c = j * nx + i
                            if last[c] == p:
                                continue
                            last[c] = p
                            if fill:
                                b = -raster[c] - 1
                                cands[cursor[b]] = p
                                cursor[b] += 1
                            else:
                                count[c] += 1
                                bits[c] |= bit
                    sx = ex
                    sy = ey


@jit
def first_cell_of_label(labels: Arr, n_labels: int) -> Arr:
    """For labels 1..n, the flat index of the first cell carrying it."""
    first = np.full(n_labels + 1, -1, dtype=np.int64)
    flat = labels.ravel()
    for c in range(flat.shape[0]):
        lab = flat[c]
        if lab > 0 and first[lab] < 0:
            first[lab] = c
    return first


@jit
def drop_candidate_pairs(
    pair_cell: Arr,
    pair_poly: Arr,
    raster: Arr,
    b_off: Arr,
    cands: Arr,
) -> Arr:
    """Keep the (cell, polygon) pairs whose polygon is not among that cell's candidates."""
    keep = np.ones(pair_cell.shape[0], dtype=np.bool_)
    for q in range(pair_cell.shape[0]):
        b = -raster[pair_cell[q]] - 1
        for k in range(b_off[b], b_off[b + 1]):
            if cands[k] == pair_poly[q]:
                keep[q] = False
                break
    return keep


@jit
def fill_clean_cells(
    raster: Arr,
    labels: Arr,
    comp_row: Arr,
    row_all_miss: Arr,
    near: Arr,
    far_row: int,
) -> None:
    """Give each edge-free cell its component's row, or the far-outside row if nothing is near."""
    flat_labels = labels.ravel()
    flat_near = near.ravel()
    for c in range(raster.shape[0]):
        lab = flat_labels[c]
        if lab > 0:
            row = comp_row[lab]
            if row_all_miss[row] and not flat_near[c]:
                row = far_row
            raster[c] = row


@jit
def _nearest(
    i: int,
    px: float,
    py: float,
    ix: int,
    iy: int,
    n_levels: int,
    nx: int,
    ny: int,
    rx: int,
    ry: int,
    tolerance_m: float,
    raster: Arr,
    b_off: Arr,
    cands: Arr,
    poly_layer: Arr,
    xs: Arr,
    ys: Arr,
    poly_ring_off: Arr,
    ring_chunk_off: Arr,
    chunk_lo: Arr,
    chunk_hi: Arr,
    chunk_box: Arr,
    level_index: Arr,
) -> float:
    # Any grid within the tolerance has an edge within it, and that edge marked its cell, so
    # the candidate lists of the cells within (rx, ry) name every grid that can be near.
    phi = math.radians(py)
    s = math.sin(phi)
    w = math.sqrt(1.0 - 0.0066943799901413165 * s * s)
    # WGS84 meridional and prime-vertical radii: a local metric frame good to ~1e-5 at 100 m.
    ky = 6378137.0 * (1.0 - 0.0066943799901413165) / (w * w * w) * math.pi / 180.0
    kx = 6378137.0 / w * math.cos(phi) * math.pi / 180.0
    best_level = np.full(n_levels, math.inf)
    seen = np.empty(512, dtype=np.int64)
    n_seen = 0
    for j in range(max(iy - ry, 0), min(iy + ry, ny - 1) + 1):
        for ii in range(max(ix - rx, 0), min(ix + rx, nx - 1) + 1):
            v = raster[j * nx + ii]
            if v >= 0:
                continue
            b = -v - 1
            for k in range(b_off[b], b_off[b + 1]):
                p = cands[k]
                layer = poly_layer[p]
                if layer >= n_levels:
                    continue
                dup = False
                for q in range(n_seen):
                    if seen[q] == p:
                        dup = True
                        break
                if dup:
                    continue
                if n_seen < seen.shape[0]:
                    seen[n_seen] = p
                    n_seen += 1
                d = distance_m(
                    p,
                    px,
                    py,
                    kx,
                    ky,
                    min(tolerance_m, best_level[layer]),
                    xs,
                    ys,
                    poly_ring_off,
                    ring_chunk_off,
                    chunk_lo,
                    chunk_hi,
                    chunk_box,
                )
                if d < best_level[layer] or (d == best_level[layer] and p < level_index[i, layer]):
                    best_level[layer] = d
                    level_index[i, layer] = p
    nearest = math.inf
    for li in range(n_levels):
        nearest = min(nearest, best_level[li])
    return nearest


@jit
def locate_points(
    lon: Arr,
    lat: Arr,
    x0: float,
    y0: float,
    inv: float,
    nx: int,
    ny: int,
    rx: int,
    ry: int,
    tolerance_m: float,
    raster: Arr,
    rows: Arr,
    row_far: Arr,
    row_sp_off: Arr,
    row_sp: Arr,
    b_row: Arr,
    b_off: Arr,
    cands: Arr,
    poly_layer: Arr,
    parent: Arr,
    parent_ok: Arr,
    xs: Arr,
    ys: Arr,
    poly_ring_off: Arr,
    ring_chunk_off: Arr,
    chunk_lo: Arr,
    chunk_hi: Arr,
    chunk_box: Arr,
    poly_box: Arr,
    level_index: Arr,
    match: Arr,
    dist: Arr,
    sp_count: Arr,
    sp_buf: Arr,
) -> int:
    """Answer every point; returns how many special hits there were (the buffer may be short).

    Row values per level: >= 0 the grid, -1 none, -2 test the cell's candidates, <= -3 test
    them and fall back to grid -v-3 (a grid covering the whole cell, possible only where a
    level's grids overlap).
    """
    n_levels = rows.shape[1]
    special_layer = n_levels
    total = 0
    cap = sp_buf.shape[0]
    n = lon.shape[0]
    # Gathering the raster values in a loop of their own lets the CPU keep many cache misses in
    # flight at once; inside the main loop each miss would stall the dependent work behind it.
    cell_value = np.empty(n, dtype=np.int32)
    for i in range(n):
        fx = (lon[i] - x0) * inv
        fy = (lat[i] - y0) * inv
        if fx >= 0.0 and fx < nx and fy >= 0.0 and fy < ny:
            cell_value[i] = raster[int(fy) * nx + int(fx)]
        else:
            cell_value[i] = _OUTSIDE_RASTER
    for i in range(n):
        px = lon[i]
        py = lat[i]
        for li in range(n_levels):
            level_index[i, li] = -1
        sp_count[i] = 0
        dist[i] = 0.0
        v = cell_value[i]
        if v == _OUTSIDE_RASTER:
            match[i] = 2
            dist[i] = math.inf
            continue
        ix = int((px - x0) * inv)
        iy = int((py - y0) * inv)
        hit = False
        if v >= 0:
            if row_far[v]:
                match[i] = 2
                dist[i] = math.inf
                continue
            for li in range(n_levels):
                g = rows[v, li]
                level_index[i, li] = g
                if g >= 0:
                    hit = True
            for k in range(row_sp_off[v], row_sp_off[v + 1]):
                if total < cap:
                    sp_buf[total] = row_sp[k]
                total += 1
                sp_count[i] += 1
                hit = True
        else:
            b = -v - 1
            row = b_row[b]
            for li in range(n_levels - 1, -1, -1):
                state = rows[row, li]
                g = state
                if state <= -2:
                    g = -1
                    if li + 1 < n_levels:
                        child = level_index[i, li + 1]
                        if child >= 0 and parent_ok[child]:
                            g = parent[child]
                    if g < 0:
                        for k in range(b_off[b], b_off[b + 1]):
                            c = cands[k]
                            if poly_layer[c] == li and covers(
                                c,
                                px,
                                py,
                                xs,
                                ys,
                                poly_ring_off,
                                ring_chunk_off,
                                chunk_lo,
                                chunk_hi,
                                chunk_box,
                                poly_box,
                            ):
                                g = c
                                break
                    if g < 0 and state <= -3:
                        g = -state - 3
                level_index[i, li] = g
                if g >= 0:
                    hit = True
            for k in range(row_sp_off[row], row_sp_off[row + 1]):
                if total < cap:
                    sp_buf[total] = row_sp[k]
                total += 1
                sp_count[i] += 1
                hit = True
            for k in range(b_off[b], b_off[b + 1]):
                c = cands[k]
                if poly_layer[c] == special_layer and covers(
                    c,
                    px,
                    py,
                    xs,
                    ys,
                    poly_ring_off,
                    ring_chunk_off,
                    chunk_lo,
                    chunk_hi,
                    chunk_box,
                    poly_box,
                ):
                    if total < cap:
                        sp_buf[total] = c
                    total += 1
                    sp_count[i] += 1
                    hit = True
        if hit:
            match[i] = 0
            continue
        d = _nearest(
            i,
            px,
            py,
            ix,
            iy,
            n_levels,
            nx,
            ny,
            rx,
            ry,
            tolerance_m,
            raster,
            b_off,
            cands,
            poly_layer,
            xs,
            ys,
            poly_ring_off,
            ring_chunk_off,
            chunk_lo,
            chunk_hi,
            chunk_box,
            level_index,
        )
        if d <= tolerance_m:
            match[i] = 1
            dist[i] = d
        else:
            match[i] = 2
            dist[i] = math.inf
    return total
