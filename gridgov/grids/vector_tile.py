"""Mapbox Vector Tile 2.1 encoding of polygon layers (what MapLibre GL reads).

A tile is a protobuf `Tile` message of named layers; each feature carries an id, its properties as
indexes into the layer's key and value tables, and its geometry as a stream of commands on a
4096 × 4096 integer grid (y pointing down):

    MoveTo(1) dx dy · LineTo(n − 1) dx dy … · ClosePath      one such block per ring

Every dx, dy is relative to the previous point of the same feature (the cursor stays where a ring
ended) and zigzag-encoded. Exterior rings have positive surveyor's-formula area in tile
coordinates (clockwise on screen), holes negative; each exterior is followed by its holes.

The message classes are built at first use from a descriptor declared here, so no generated code
or protoc step is needed; the `protobuf` runtime does the wire encoding.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

EXTENT = 4096
VERSION = 2

_MOVE_TO, _LINE_TO, _CLOSE_PATH = 1, 2, 7
_POLYGON = 3
_CLOSE = _CLOSE_PATH | (1 << 3)
_MOVE_ONE = _MOVE_TO | (1 << 3)


@dataclass(frozen=True, slots=True)
class LayerFeatures:
    """Polygonal features of one tile layer.

    `properties` holds one column of strings per key (row i belongs to feature i); `ids` are unique
    and positive.
    """

    name: str
    geometries: NDArray[np.object_]
    ids: NDArray[np.int64]
    properties: Mapping[str, NDArray[np.object_]]


@functools.cache
def tile_message_class() -> Any:
    """The `Tile` message class of vector_tile.proto (spec 2.1), built once per process."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    f = descriptor_pb2.FieldDescriptorProto
    optional, required, repeated = f.LABEL_OPTIONAL, f.LABEL_REQUIRED, f.LABEL_REPEATED

    def field(
        message: Any, name: str, number: int, kind: int, label: int = optional, **extra: Any
    ) -> Any:
        added = message.field.add(name=name, number=number, type=kind, label=label, **extra)
        return added

    proto = descriptor_pb2.FileDescriptorProto(
        name="gridgov/vector_tile.proto", package="gridgov.vector_tile", syntax="proto2"
    )
    tile = proto.message_type.add(name="Tile")
    geom_type = tile.enum_type.add(name="GeomType")
    for number, name in enumerate(("UNKNOWN", "POINT", "LINESTRING", "POLYGON")):
        geom_type.value.add(name=name, number=number)
    value = tile.nested_type.add(name="Value")
    for number, name, kind in (
        (1, "string_value", f.TYPE_STRING),
        (2, "float_value", f.TYPE_FLOAT),
        (3, "double_value", f.TYPE_DOUBLE),
        (4, "int_value", f.TYPE_INT64),
        (5, "uint_value", f.TYPE_UINT64),
        (6, "sint_value", f.TYPE_SINT64),
        (7, "bool_value", f.TYPE_BOOL),
    ):
        field(value, name, number, kind)
    packed = descriptor_pb2.FieldOptions(packed=True)
    feature = tile.nested_type.add(name="Feature")
    field(feature, "id", 1, f.TYPE_UINT64, default_value="0")
    field(feature, "tags", 2, f.TYPE_UINT32, repeated, options=packed)
    field(
        feature,
        "type",
        3,
        f.TYPE_ENUM,
        type_name=".gridgov.vector_tile.Tile.GeomType",
        default_value="UNKNOWN",
    )
    field(feature, "geometry", 4, f.TYPE_UINT32, repeated, options=packed)
    layer = tile.nested_type.add(name="Layer")
    field(layer, "version", 15, f.TYPE_UINT32, required, default_value="1")
    field(layer, "name", 1, f.TYPE_STRING, required)
    field(
        layer,
        "features",
        2,
        f.TYPE_MESSAGE,
        repeated,
        type_name=".gridgov.vector_tile.Tile.Feature",
    )
    field(layer, "keys", 3, f.TYPE_STRING, repeated)
    field(layer, "values", 4, f.TYPE_MESSAGE, repeated, type_name=".gridgov.vector_tile.Tile.Value")
    field(layer, "extent", 5, f.TYPE_UINT32, default_value="4096")
    field(tile, "layers", 3, f.TYPE_MESSAGE, repeated, type_name=".gridgov.vector_tile.Tile.Layer")
    # A private pool: another library registering its own vector_tile.proto cannot clash with it.
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("gridgov.vector_tile.Tile"))


def encode_tile(
    layers: Sequence[LayerFeatures], frame: tuple[float, float, float] | None = None
) -> bytes:
    """One tile holding the given layers; layers left with no feature are omitted, b"" if none.

    Without `frame` the geometries are in tile units (y down); with
    `frame = (west, north, units_per_metre)` they are map coordinates (y up), moved into tile units
    as ((x − west) · k, (north − y) · k) on the way, which saves a pass over every vertex.
    """
    if not layers:
        return b""
    # Every layer's geometries in one pass: per-call costs would otherwise dominate small tiles.
    sizes = np.array([len(features.geometries) for features in layers])
    first = np.cumsum(sizes) - sizes
    commands, feature_off, kept_all = polygon_commands(
        np.concatenate([features.geometries for features in layers]), frame
    )
    lo = np.searchsorted(kept_all, first)
    hi = np.searchsorted(kept_all, first + sizes)
    geometry = commands.tolist()
    tile = tile_message_class()()
    for features, start, end, offset in zip(layers, lo, hi, first, strict=True):
        if start == end:
            continue
        kept = kept_all[start:end] - offset
        bounds = feature_off[start : end + 1].tolist()
        layer = tile.layers.add(name=features.name, version=VERSION, extent=EXTENT)
        keys = list(features.properties)
        layer.keys.extend(keys)
        # One value table for the layer: every distinct string once, whichever key it is under.
        columns = [np.asarray(features.properties[key], dtype=object)[kept] for key in keys]
        values, inverse = np.unique(np.concatenate(columns).astype(str), return_inverse=True)
        for text in values.tolist():
            layer.values.add(string_value=text)
        tags = np.empty((len(kept), 2 * len(keys)), dtype=np.int64)
        tags[:, 0::2] = np.arange(len(keys))
        tags[:, 1::2] = inverse.reshape(len(keys), len(kept)).T
        add = layer.features.add
        for position, (feature_id, feature_tags) in enumerate(
            zip(features.ids[kept].tolist(), tags.tolist(), strict=True)
        ):
            add(
                id=feature_id,
                tags=feature_tags,
                type=_POLYGON,
                geometry=geometry[bounds[position] : bounds[position + 1]],
            )
    if not tile.layers:
        return b""
    data: bytes = tile.SerializeToString()
    return data


def polygon_commands(
    geometries: NDArray[np.object_], frame: tuple[float, float, float] | None = None
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Geometry command streams of polygons (in tile units, or moved there by `frame`).

    Returns the commands of all kept features back to back, their offsets (len(kept) + 1) and the
    indexes of the kept features. Vertices are rounded to the integer grid; repeated vertices are
    dropped, and so are rings left with fewer than three vertices or no area, and polygons whose
    exterior ring went. A feature with nothing left is not kept.
    """
    empty = (np.zeros(0, np.int64), np.zeros(1, np.int64), np.zeros(0, np.int64))
    if len(geometries) == 0:
        return empty
    kind, coords, offsets = shapely.to_ragged_array(_polygonal(geometries))
    if kind == shapely.GeometryType.POLYGON:
        ring_off, part_off = offsets
        geom_off = np.arange(len(part_off))
    else:
        ring_off, part_off, geom_off = offsets
    if len(coords) == 0:
        return empty
    if frame is not None:
        west, north, k = frame
        coords = np.column_stack([(coords[:, 0] - west) * k, (north - coords[:, 1]) * k])
    xy = np.rint(coords).astype(np.int64)
    pts, ring_start, ring_n = _clean_rings(xy, ring_off.astype(np.int64))
    area2 = _ring_areas(pts, ring_start, ring_n)
    parts = _Parts(
        (ring_n >= 3) & (area2 != 0),
        part_off.astype(np.int64),
        geom_off.astype(np.int64),
        len(geometries),
    )
    rings = np.flatnonzero(parts.ring_ok)
    if not rings.size:
        return empty
    # Exterior rings need positive area, holes negative; reverse the ones that are the wrong way.
    reverse = (area2[rings] > 0) != parts.exterior[rings]
    n = ring_n[rings]
    first_pt = np.cumsum(n) - n
    j = np.arange(int(n.sum())) - np.repeat(first_pt, n)
    start = np.repeat(ring_start[rings], n)
    src = np.where(np.repeat(reverse, n), start + np.repeat(n, n) - 1 - j, start + j)
    ring_pts = pts[src]
    # The cursor runs through all rings of one feature and starts at (0, 0) for each feature.
    geom_of_ring = parts.geom_of_ring[rings]
    starts_feature = np.ones(len(rings), dtype=bool)
    starts_feature[1:] = geom_of_ring[1:] != geom_of_ring[:-1]
    previous = np.zeros_like(ring_pts)
    previous[1:] = ring_pts[:-1]
    previous[first_pt[starts_feature]] = 0
    delta = ring_pts - previous
    zigzag = (delta << 1) ^ (delta >> 63)
    # Each ring of n vertices takes 2n + 3 integers: MoveTo(1) x y LineTo(n-1) x y … ClosePath.
    ring_len = 2 * n + 3
    out_off = np.zeros(len(rings) + 1, dtype=np.int64)
    np.cumsum(ring_len, out=out_off[1:])
    out = np.empty(int(out_off[-1]), dtype=np.int64)
    pos = np.repeat(out_off[:-1], n) + 1 + 2 * j + (j > 0)
    out[pos] = zigzag[:, 0]
    out[pos + 1] = zigzag[:, 1]
    out[out_off[:-1]] = _MOVE_ONE
    out[out_off[:-1] + 3] = _LINE_TO | ((n - 1) << 3)
    out[out_off[1:] - 1] = _CLOSE
    kept = geom_of_ring[starts_feature]
    feature_off = np.append(out_off[:-1][starts_feature], out_off[-1])
    return out, feature_off, kept


def _clean_rings(
    xy: NDArray[np.int64], ring_off: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Each ring's vertices without its closing vertex or repeats: (points, ring start, count)."""
    n_rings = len(ring_off) - 1
    ring_of_point = np.repeat(np.arange(n_rings), np.diff(ring_off))
    keep = np.ones(len(xy), dtype=bool)
    keep[ring_off[1:][np.diff(ring_off) > 0] - 1] = False
    same = np.zeros(len(xy), dtype=bool)
    same[1:] = (xy[1:] == xy[:-1]).all(axis=1)
    same[ring_off[:-1][np.diff(ring_off) > 0]] = False
    keep &= ~same
    counts = np.bincount(ring_of_point[keep], minlength=n_rings)
    start = np.cumsum(counts) - counts
    # A last vertex that rounded onto the first would make a zero-length closing edge.
    kept_idx = np.flatnonzero(keep)
    loops = np.flatnonzero(counts > 1)
    loops = loops[
        (xy[kept_idx[start[loops]]] == xy[kept_idx[start[loops] + counts[loops] - 1]]).all(axis=1)
    ]
    if loops.size:
        keep[kept_idx[start[loops] + counts[loops] - 1]] = False
        kept_idx = np.flatnonzero(keep)
        counts = np.bincount(ring_of_point[keep], minlength=n_rings)
        start = np.cumsum(counts) - counts
    return xy[kept_idx], start, counts


class _Parts:
    """Which rings are exteriors, which feature each ring belongs to, and which rings are kept:
    the usable ones, except the holes of a polygon whose exterior ring was not usable."""

    def __init__(
        self,
        ring_ok: NDArray[np.bool_],
        part_off: NDArray[np.int64],
        geom_off: NDArray[np.int64],
        n_geoms: int,
    ) -> None:
        n_rings = len(ring_ok)
        n_parts = len(part_off) - 1
        rings_per_part = np.diff(part_off)
        part_of_ring = np.repeat(np.arange(n_parts), rings_per_part)
        self.exterior = np.zeros(n_rings, dtype=bool)
        has_rings = rings_per_part > 0
        self.exterior[part_off[:-1][has_rings]] = True
        exterior_ok = np.zeros(n_parts, dtype=bool)
        exterior_ok[has_rings] = ring_ok[part_off[:-1][has_rings]]
        self.ring_ok = ring_ok & exterior_ok[part_of_ring]
        geom_of_part = np.repeat(np.arange(n_geoms), np.diff(geom_off))
        self.geom_of_ring = geom_of_part[part_of_ring]


def _ring_areas(
    pts: NDArray[np.int64], ring_start: NDArray[np.int64], ring_n: NDArray[np.int64]
) -> NDArray[np.float64]:
    """Twice the surveyor's-formula area of every ring (exact: integer products, float sums)."""
    ring_of_point = np.repeat(np.arange(len(ring_n)), ring_n)
    nxt = np.arange(len(pts)) + 1
    last = np.repeat(ring_start + ring_n, ring_n) == nxt
    nxt[last] = np.repeat(ring_start, ring_n)[last]
    cross = pts[:, 0] * pts[nxt, 1] - pts[nxt, 0] * pts[:, 1]
    weighted = np.bincount(ring_of_point, weights=cross, minlength=len(ring_n))
    return np.asarray(weighted, dtype=np.float64)


def _polygonal(geometries: NDArray[np.object_]) -> NDArray[np.object_]:
    """The geometries as polygons or multipolygons; a clip that left lines or points gives empty."""
    types = shapely.get_type_id(geometries)
    odd = (types != shapely.GeometryType.POLYGON) & (types != shapely.GeometryType.MULTIPOLYGON)
    if not odd.any():
        return geometries
    fixed = geometries.copy()
    # Clipping a grid whose box met the tile but whose shape did not leaves an empty collection.
    empty = odd & shapely.is_empty(geometries)
    fixed[empty] = shapely.Polygon()
    for i in np.flatnonzero(odd & ~empty):
        parts = shapely.get_parts(shapely.get_parts(geometries[i]))
        polygons = parts[shapely.get_type_id(parts) == shapely.GeometryType.POLYGON]
        fixed[i] = shapely.MultiPolygon(list(polygons))
    return fixed
