"""Validating a grid layer before it is switched on, with a report a person can act on.

Each problem found is one row: how bad it is, what kind, which grid codes, where (a point inside
the problem area) and how big (m² or m), in Chinese first and English second. Problems, by the
order they are checked:

    invalid_geometry     self-intersections …; repaired when safe, else an error
    duplicate_code       two grids with one code
    missing_parent       a grid below the city with no parent code
    orphan               a parent code that is not in the layer
    wrong_parent_level   a parent that is not one level up (specials: street, community, compound)
    outside_parent       a child reaching beyond its parent by more than the tolerance
    overlap              two grids of one regular level sharing area beyond the tolerance
    gap                  part of a parent covered by none of its children (a warning)
    outside_city         a special grid reaching beyond the city

Everything spatial is vectorized over the layer (STRtree, prepared predicates, shapely 2 array
functions) because a Zhengzhou-sized layer has 75,000 polygons and 6 million vertices.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from gridgov.grids.formats import write_rows_csv
from gridgov.grids.measure import (
    Floats,
    Geometries,
    Ints,
    area_m2,
    max_distance_outside_m,
    pairwise,
    representative_points,
)
from gridgov.grids.model import REGULAR_LEVELS, Grid, GridLevel

_MAX_REPAIR_AREA_CHANGE = 0.01
_REASON_POINT = re.compile(r"\[([-+0-9.eE]+) ([-+0-9.eE]+)\]")
_SPECIAL_PARENT_LEVELS = frozenset({GridLevel.STREET, GridLevel.COMMUNITY, GridLevel.COMPOUND})


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    REPAIRED = "repaired"

    @property
    def label_zh(self) -> str:
        return {"error": "错误", "warning": "警告", "repaired": "已修复"}[self.value]


class ProblemKind(StrEnum):
    INVALID_GEOMETRY = "invalid_geometry"
    DUPLICATE_CODE = "duplicate_code"
    MISSING_PARENT = "missing_parent"
    ORPHAN = "orphan"
    WRONG_PARENT_LEVEL = "wrong_parent_level"
    OUTSIDE_PARENT = "outside_parent"
    OVERLAP = "overlap"
    GAP = "gap"
    OUTSIDE_CITY = "outside_city"

    @property
    def label_zh(self) -> str:
        return _KIND_LABELS_ZH[self]


_KIND_LABELS_ZH = {
    ProblemKind.INVALID_GEOMETRY: "几何无效",
    ProblemKind.DUPLICATE_CODE: "编码重复",
    ProblemKind.MISSING_PARENT: "缺少上级编码",
    ProblemKind.ORPHAN: "上级不存在",
    ProblemKind.WRONG_PARENT_LEVEL: "上级层级错误",
    ProblemKind.OUTSIDE_PARENT: "超出上级范围",
    ProblemKind.OVERLAP: "同级重叠",
    ProblemKind.GAP: "覆盖缺口",
    ProblemKind.OUTSIDE_CITY: "超出市域",
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding; `lon`/`lat` is a point inside the area at fault."""

    severity: Severity
    kind: ProblemKind
    codes: tuple[str, ...]
    level: GridLevel | None
    message_zh: str
    message_en: str
    area_m2: float | None = None
    distance_m: float | None = None
    lon: float | None = None
    lat: float | None = None

    def to_row(self) -> dict[str, str]:
        return {
            "severity": self.severity.value,
            "kind": self.kind.value,
            "codes": ";".join(self.codes),
            "level": self.level.value if self.level else "",
            "area_m2": _fmt(self.area_m2, 1),
            "distance_m": _fmt(self.distance_m, 2),
            "lon": _fmt(self.lon, 6),
            "lat": _fmt(self.lat, 6),
            "message_zh": self.message_zh,
            "message_en": self.message_en,
        }

    def to_text(self) -> str:
        where = f" @ {self.lon:.6f}, {self.lat:.6f}" if self.lon is not None else ""
        return (
            f"[{self.severity.label_zh} {self.severity.value}] {self.kind.label_zh} "
            f"{self.kind.value} {', '.join(self.codes)}{where}\n"
            f"    {self.message_zh}\n    {self.message_en}"
        )


def _fmt(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """The problems found; `grids` is the layer with safe repairs applied, ready to store if ok."""

    problems: tuple[Problem, ...]
    grids: tuple[Grid, ...]
    repaired_grids: tuple[Grid, ...]

    @property
    def ok(self) -> bool:
        return not any(p.severity is Severity.ERROR for p in self.problems)

    @property
    def summary(self) -> dict[str, int]:
        """Totals per severity ("errors", "warnings", "repaired") and per kind, for the layer."""
        by_severity = Counter(p.severity for p in self.problems)
        return {
            "errors": by_severity[Severity.ERROR],
            "warnings": by_severity[Severity.WARNING],
            "repaired": by_severity[Severity.REPAIRED],
            **Counter(p.kind.value for p in self.problems),
        }

    def to_rows(self) -> list[dict[str, str]]:
        return [p.to_row() for p in self.problems]

    def write_csv(self, path: str | Path) -> None:
        write_rows_csv(self.to_rows(), path, columns=_ROW_COLUMNS)

    def render(self, limit: int | None = None) -> str:
        """The report as text, Chinese then English; errors first, at most `limit` problems."""
        summary = self.summary
        errors, warnings, repaired = summary["errors"], summary["warnings"], summary["repaired"]
        head_zh = "校验通过" if self.ok else "校验未通过"
        head_en = "passed" if self.ok else "failed"
        lines = [
            f"网格图层{head_zh}：{len(self.grids)} 个网格，{errors} 个错误，"
            f"{warnings} 个警告，{repaired} 个已修复",
            f"Grid layer validation {head_en}: {len(self.grids)} grids, {errors} errors, "
            f"{warnings} warnings, {repaired} repaired",
        ]
        ordered = sorted(self.problems, key=lambda p: list(Severity).index(p.severity))
        shown = ordered if limit is None else ordered[:limit]
        lines.extend(p.to_text() for p in shown)
        if len(shown) < len(ordered):
            hidden = len(ordered) - len(shown)
            lines.append(f"… 另有 {hidden} 个问题未列出 / {hidden} more not shown")
        return "\n".join(lines)


_ROW_COLUMNS = (
    "severity",
    "kind",
    "codes",
    "level",
    "area_m2",
    "distance_m",
    "lon",
    "lat",
    "message_zh",
    "message_en",
)


# --- the checks --------------------------------------------------------------------------------


@dataclass(slots=True)
class _Layer:
    """Working state shared by the checks."""

    grids: list[Grid]
    geometries: Geometries
    usable: NDArray[np.bool_]
    parent: Ints
    problems: list[Problem]


def validate_layer(
    grids: Sequence[Grid],
    *,
    parent_tolerance_m: float = 1.0,
    overlap_tolerance_m2: float = 1.0,
    gap_tolerance_m2: float = 100.0,
) -> ValidationReport:
    """Check a whole layer; see the module docstring for what is checked."""
    layer = _Layer(
        grids=list(grids),
        geometries=np.array([g.geometry for g in grids], dtype=object),
        usable=np.ones(len(grids), dtype=bool),
        parent=np.full(len(grids), -1, dtype=np.intp),
        problems=[],
    )
    repaired = _check_geometry(layer)
    first_index = _check_duplicates(layer)
    _check_hierarchy(layer, first_index)
    clipped_deg2 = _check_inside_parent(layer, parent_tolerance_m)
    sibling_overlap_m2 = _check_overlaps(layer, overlap_tolerance_m2)
    _check_gaps(layer, clipped_deg2, sibling_overlap_m2, gap_tolerance_m2)
    _check_inside_city(layer, parent_tolerance_m)
    return ValidationReport(
        problems=tuple(layer.problems),
        grids=tuple(layer.grids),
        repaired_grids=tuple(layer.grids[i] for i in repaired),
    )


def _check_geometry(layer: _Layer) -> list[int]:
    geometries = layer.geometries
    type_ids = shapely.get_type_id(geometries)
    polygonal = np.isin(type_ids, [3, 6])
    empty = ~polygonal | shapely.is_empty(geometries)
    valid = np.zeros(len(geometries), dtype=bool)
    valid[~empty] = shapely.is_valid(geometries[~empty])
    repaired: list[int] = []
    for i in np.flatnonzero(empty):
        grid = layer.grids[i]
        what = "empty" if polygonal[i] or grid.geometry is None else grid.geometry.geom_type
        layer.usable[i] = False
        layer.problems.append(
            Problem(
                Severity.ERROR,
                ProblemKind.INVALID_GEOMETRY,
                (grid.code,),
                grid.level,
                f"网格 {grid.code}（{grid.name}）的几何不是有效的面：{what}",
                f"grid {grid.code} ({grid.name}) has no polygon geometry: {what}",
            )
        )
    for i in np.flatnonzero(~empty & ~valid):
        if _repair(layer, int(i)):
            repaired.append(int(i))
    return repaired


def _polygonal_part(geometry: BaseGeometry) -> BaseGeometry | None:
    parts = shapely.get_parts(shapely.get_parts(geometry))
    polygons = [p for p in parts if p.geom_type == "Polygon" and not p.is_empty]
    if not polygons:
        return None
    return polygons[0] if len(polygons) == 1 else shapely.MultiPolygon(polygons)


def _fault_location(reason: str, geometry: BaseGeometry) -> tuple[float, float]:
    """Where GEOS found the fault ("Self-intersection[113.6 34.7]"), else the grid's centre."""
    found = _REASON_POINT.search(reason)
    if found:
        return float(found[1]), float(found[2])
    centre = geometry.envelope.centroid
    return float(centre.x), float(centre.y)


def _repair(layer: _Layer, i: int) -> bool:
    grid = layer.grids[i]
    reason = shapely.is_valid_reason(grid.geometry)
    before = float(shapely.area(grid.geometry))
    # Lines and points that make_valid splits off carry no area, so dropping them loses nothing.
    fixed = _polygonal_part(shapely.make_valid(grid.geometry))
    after = float(shapely.area(fixed)) if fixed is not None else 0.0
    change = abs(after - before) / before if before > 0 else math.inf
    lon, lat = _fault_location(reason, grid.geometry)
    if fixed is not None and change < _MAX_REPAIR_AREA_CHANGE:
        layer.grids[i] = replace(grid, geometry=fixed)
        layer.geometries[i] = fixed
        layer.problems.append(
            Problem(
                Severity.REPAIRED,
                ProblemKind.INVALID_GEOMETRY,
                (grid.code,),
                grid.level,
                f"网格 {grid.code}（{grid.name}）几何无效（{reason}），已自动修复，面积变化 {change:.2%}",
                f"grid {grid.code} ({grid.name}) was invalid ({reason}); repaired, "
                f"area changed by {change:.2%}",
                lon=lon,
                lat=lat,
            )
        )
        return True
    layer.usable[i] = False
    why_zh = "修复后不是面" if fixed is None else f"修复会使面积变化 {change:.0%}"
    why_en = (
        "repair leaves no polygon" if fixed is None else f"repair would change area by {change:.0%}"
    )
    layer.problems.append(
        Problem(
            Severity.ERROR,
            ProblemKind.INVALID_GEOMETRY,
            (grid.code,),
            grid.level,
            f"网格 {grid.code}（{grid.name}）几何无效（{reason}），{why_zh}，无法自动修复，请重新绘制",
            f"grid {grid.code} ({grid.name}) is invalid ({reason}) and cannot be repaired safely: "
            f"{why_en}; redraw it",
            lon=lon,
            lat=lat,
        )
    )
    return False


def _check_duplicates(layer: _Layer) -> dict[str, int]:
    positions: defaultdict[str, list[int]] = defaultdict(list)
    for i, grid in enumerate(layer.grids):
        positions[grid.code].append(i)
    for code, where in positions.items():
        if len(where) < 2:
            continue
        names = "、".join(layer.grids[i].name for i in where)
        layer.problems.append(
            Problem(
                Severity.ERROR,
                ProblemKind.DUPLICATE_CODE,
                (code,),
                layer.grids[where[0]].level,
                f"编码 {code} 出现 {len(where)} 次（{names}），编码必须唯一",
                f"code {code} is used {len(where)} times ({', '.join(layer.grids[i].name for i in where)}); "
                "codes must be unique",
            )
        )
    return {code: where[0] for code, where in positions.items()}


def _expected_parent_levels(level: GridLevel) -> frozenset[GridLevel]:
    if level is GridLevel.SPECIAL:
        return _SPECIAL_PARENT_LEVELS
    return frozenset({REGULAR_LEVELS[level.rank - 1]})


def _check_hierarchy(layer: _Layer, first_index: dict[str, int]) -> None:
    for i, grid in enumerate(layer.grids):
        if grid.level is GridLevel.CITY:
            continue
        expected = _expected_parent_levels(grid.level)
        wanted_zh = "或".join(level.label_zh for level in sorted(expected, key=lambda v: v.rank))
        wanted_en = " or ".join(level.value for level in sorted(expected, key=lambda v: v.rank))
        head_zh = f"{grid.level.label_zh} {grid.code}（{grid.name}）"
        head_en = f"{grid.level.value} grid {grid.code} ({grid.name})"
        if grid.parent_code is None:
            layer.problems.append(
                Problem(
                    Severity.ERROR,
                    ProblemKind.MISSING_PARENT,
                    (grid.code,),
                    grid.level,
                    f"{head_zh}没有上级编码，应填写所属{wanted_zh}的编码",
                    f"{head_en} has no parent code; give the code of its {wanted_en}",
                )
            )
            continue
        p = first_index.get(grid.parent_code)
        if p is None:
            layer.problems.append(
                Problem(
                    Severity.ERROR,
                    ProblemKind.ORPHAN,
                    (grid.code, grid.parent_code),
                    grid.level,
                    f"{head_zh}的上级编码 {grid.parent_code} 在图层中不存在",
                    f"{head_en} names parent {grid.parent_code}, which is not in the layer",
                )
            )
            continue
        parent = layer.grids[p]
        if parent.level not in expected:
            layer.problems.append(
                Problem(
                    Severity.ERROR,
                    ProblemKind.WRONG_PARENT_LEVEL,
                    (grid.code, parent.code),
                    grid.level,
                    f"{head_zh}的上级 {parent.code} 是{parent.level.label_zh}，应为{wanted_zh}",
                    f"{head_en} has parent {parent.code} at level {parent.level.value}; "
                    f"expected {wanted_en}",
                )
            )
            continue
        layer.parent[i] = p


def _check_inside_parent(layer: _Layer, tolerance_m: float) -> Floats:
    """Report children reaching out of their parents; return each child's area inside it (deg²).

    Degrees², not m²: a parent's gap is its area minus its children's, and only areas measured
    with one scale cancel exactly (each grid's own latitude would leave a district 10⁵ m² off).
    """
    clipped = np.where(layer.usable, shapely.area(layer.geometries), 0.0)
    children = np.flatnonzero((layer.parent >= 0) & layer.usable)
    children = children[layer.usable[layer.parent[children]]]
    if len(children) == 0:
        return clipped
    parents = layer.parent[children]
    shapely.prepare(layer.geometries[np.unique(parents)])
    covered = shapely.covers(layer.geometries[parents], layer.geometries[children])
    out_children, out_parents = children[~covered], parents[~covered]
    if len(out_children) == 0:
        return clipped
    outside = pairwise(
        shapely.difference, layer.geometries[out_children], layer.geometries[out_parents]
    )
    outside_m2 = area_m2(outside)
    clipped[out_children] -= shapely.area(outside)
    nonempty = ~shapely.is_empty(outside)
    distance = np.zeros(len(outside))
    distance[nonempty] = max_distance_outside_m(
        outside[nonempty], layer.geometries[out_parents[nonempty]]
    )
    report = np.flatnonzero(distance > tolerance_m)
    lon, lat = representative_points(outside[report])
    for k, j in enumerate(report):
        child, parent = layer.grids[out_children[j]], layer.grids[out_parents[j]]
        special = child.level is GridLevel.SPECIAL
        # A special grid (a park, a campus) may straddle the line between two streets.
        layer.problems.append(
            Problem(
                Severity.WARNING if special else Severity.ERROR,
                ProblemKind.OUTSIDE_PARENT,
                (child.code, parent.code),
                child.level,
                f"{child.level.label_zh} {child.code}（{child.name}）超出上级 {parent.code}"
                f"（{parent.name}）{outside_m2[j]:.1f} m²，最远 {distance[j]:.1f} m",
                f"{child.level.value} grid {child.code} ({child.name}) reaches "
                f"{outside_m2[j]:.1f} m² outside its parent {parent.code} ({parent.name}), "
                f"up to {distance[j]:.1f} m",
                area_m2=float(outside_m2[j]),
                distance_m=float(distance[j]),
                lon=float(lon[k]),
                lat=float(lat[k]),
            )
        )
    return clipped


def _check_overlaps(layer: _Layer, tolerance_m2: float) -> Floats:
    """Report overlapping grids of each regular level; return the overlap area (m²) per parent."""
    overlap_per_parent = np.zeros(len(layer.grids))
    levels = np.array([g.level.value for g in layer.grids])
    for level in REGULAR_LEVELS:
        members = np.flatnonzero((levels == level.value) & layer.usable)
        if len(members) < 2:
            continue
        geometries = layer.geometries[members]
        pairs = shapely.STRtree(geometries).query(geometries, predicate="intersects")
        pairs = pairs[:, pairs[0] < pairs[1]]
        # Keep pairs whose interiors meet (DE-9IM "2…"). A plain relate over the pairs is several
        # times faster than the tree's "overlaps" predicate, which also misses a grid lying
        # wholly inside another.
        interiors_meet = pairwise(_interiors_meet, geometries[pairs[0]], geometries[pairs[1]])
        pairs = pairs[:, interiors_meet]
        if pairs.shape[1] == 0:
            continue
        shared = pairwise(shapely.intersection, geometries[pairs[0]], geometries[pairs[1]])
        shared_m2 = area_m2(shared)
        a, b = members[pairs[0]], members[pairs[1]]
        same_parent = (layer.parent[a] == layer.parent[b]) & (layer.parent[a] >= 0)
        np.add.at(overlap_per_parent, layer.parent[a][same_parent], shared_m2[same_parent])
        report = np.flatnonzero(shared_m2 > tolerance_m2)
        lon, lat = representative_points(shared[report])
        for k, j in enumerate(report):
            first, second = layer.grids[a[j]], layer.grids[b[j]]
            layer.problems.append(
                Problem(
                    Severity.ERROR,
                    ProblemKind.OVERLAP,
                    (first.code, second.code),
                    level,
                    f"{level.label_zh} {first.code}（{first.name}）与 {second.code}"
                    f"（{second.name}）重叠 {shared_m2[j]:.1f} m²",
                    f"{level.value} grids {first.code} ({first.name}) and {second.code} "
                    f"({second.name}) overlap by {shared_m2[j]:.1f} m²",
                    area_m2=float(shared_m2[j]),
                    lon=float(lon[k]),
                    lat=float(lat[k]),
                )
            )
    return overlap_per_parent


def _interiors_meet(a: Geometries, b: Geometries) -> NDArray[np.bool_]:
    meet: NDArray[np.bool_] = shapely.relate_pattern(a, b, "2********")
    return meet


def _check_gaps(
    layer: _Layer, clipped_deg2: Floats, overlap_m2: Floats, tolerance_m2: float
) -> None:
    regular_child = np.array(
        [g.level is not GridLevel.SPECIAL for g in layer.grids], dtype=bool
    ) & (layer.parent >= 0)
    regular_child &= layer.usable
    children = np.flatnonzero(regular_child)
    if len(children) == 0:
        return
    parents = layer.parent[children]
    covered = np.bincount(parents, weights=clipped_deg2[children], minlength=len(layer.grids))
    with_children = np.unique(parents)
    # Parent area minus the children's areas inside it is the gap exactly when siblings do not
    # overlap; their pairwise overlap bounds the error. Only parents this estimate cannot clear
    # get the costly union.
    parent_geometries = layer.geometries[with_children]
    m2_per_deg2 = area_m2(parent_geometries) / shapely.area(parent_geometries)
    estimate = (shapely.area(parent_geometries) - covered[with_children]) * m2_per_deg2
    suspect = with_children[estimate + overlap_m2[with_children] > tolerance_m2]
    if len(suspect) == 0:
        return
    by_parent: defaultdict[int, list[int]] = defaultdict(list)
    suspect_set = set(suspect.tolist())
    for child, parent in zip(children.tolist(), parents.tolist(), strict=True):
        if parent in suspect_set:
            by_parent[parent].append(child)
    for p in suspect.tolist():
        union = shapely.union_all(layer.geometries[by_parent[p]])
        pieces = shapely.get_parts(shapely.difference(layer.geometries[p], union))
        pieces = pieces[shapely.get_type_id(pieces) == 3]
        piece_m2 = area_m2(pieces)
        big = np.flatnonzero(piece_m2 > tolerance_m2)
        lon, lat = representative_points(pieces[big])
        parent = layer.grids[p]
        child_level = REGULAR_LEVELS[parent.level.rank + 1]
        for k, j in enumerate(big):
            # A warning, not an error: real layers leave rivers, rail and ring roads outside every
            # community; the coarser levels still answer there, and the operator decides.
            layer.problems.append(
                Problem(
                    Severity.WARNING,
                    ProblemKind.GAP,
                    (parent.code,),
                    parent.level,
                    f"{parent.level.label_zh} {parent.code}（{parent.name}）有 {piece_m2[j]:.1f} m² "
                    f"不属于任何{child_level.label_zh}",
                    f"{parent.level.value} grid {parent.code} ({parent.name}) has "
                    f"{piece_m2[j]:.1f} m² covered by none of its {child_level.value} grids",
                    area_m2=float(piece_m2[j]),
                    lon=float(lon[k]),
                    lat=float(lat[k]),
                )
            )


def _city_outline(layer: _Layer) -> BaseGeometry | None:
    for level in (GridLevel.CITY, GridLevel.DISTRICT):
        members = [i for i, g in enumerate(layer.grids) if g.level is level and layer.usable[i]]
        if members:
            outline: BaseGeometry = shapely.union_all(layer.geometries[members])
            return outline
    return None


def _check_inside_city(layer: _Layer, tolerance_m: float) -> None:
    specials = np.flatnonzero(
        np.array([g.level is GridLevel.SPECIAL for g in layer.grids], dtype=bool) & layer.usable
    )
    if len(specials) == 0:
        return
    city = _city_outline(layer)
    if city is None:
        return
    shapely.prepare(city)
    out = specials[~shapely.covers(city, layer.geometries[specials])]
    if len(out) == 0:
        return
    outside = shapely.difference(layer.geometries[out], city)
    outside_m2 = area_m2(outside)
    city_per_row = np.full(len(out), city, dtype=object)
    distance = max_distance_outside_m(outside, city_per_row)
    report = np.flatnonzero(distance > tolerance_m)
    lon, lat = representative_points(outside[report])
    for k, j in enumerate(report):
        grid = layer.grids[out[j]]
        layer.problems.append(
            Problem(
                Severity.ERROR,
                ProblemKind.OUTSIDE_CITY,
                (grid.code,),
                grid.level,
                f"专属网格 {grid.code}（{grid.name}）有 {outside_m2[j]:.1f} m² 在市域以外，"
                f"最远 {distance[j]:.1f} m",
                f"special grid {grid.code} ({grid.name}) has {outside_m2[j]:.1f} m² outside the "
                f"city, up to {distance[j]:.1f} m",
                area_m2=float(outside_m2[j]),
                distance_m=float(distance[j]),
                lon=float(lon[k]),
                lat=float(lat[k]),
            )
        )
