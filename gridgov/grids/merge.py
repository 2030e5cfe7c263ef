"""多格合一: mapping departments' legacy grids (城管, 市场监管, 综治, 信访 …) onto the unified grids.

Each legacy cell gets the unified grids of one level it shares area with, and each one's share of
the legacy cell's area. A cell is `matched` when one unified grid holds at least `split_share` of
it, `split` when its area is spread over several with none that large, and `unmatched` when the
unified grids cover less than `unmatched_coverage` of it (it lies outside the city's grids).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from gridgov.core.errors import InvalidInput
from gridgov.grids.formats import FieldMap, LayerInputError, read_features, write_rows_csv
from gridgov.grids.measure import Floats, Geometries, area_m2
from gridgov.grids.model import Grid, GridLevel

# Shares below this come from boundaries drawn a few centimetres apart, not from real overlap.
_NOISE_SHARE = 0.001


@dataclass(frozen=True, slots=True)
class LegacyCell:
    """One grid of a department's old layer, in WGS84 lon/lat."""

    department: str
    code: str
    name: str
    geometry: BaseGeometry


class MatchStatus(StrEnum):
    MATCHED = "matched"
    SPLIT = "split"
    UNMATCHED = "unmatched"

    @property
    def label_zh(self) -> str:
        return {"matched": "对应", "split": "跨网格", "unmatched": "无对应"}[self.value]


@dataclass(frozen=True, slots=True)
class Share:
    """A unified grid and the part of the legacy cell's area that falls in it."""

    code: str
    name: str
    share: float
    area_m2: float


@dataclass(frozen=True, slots=True)
class CellMapping:
    """Where one legacy cell lands among the unified grids, largest share first."""

    cell: LegacyCell
    area_m2: float
    shares: tuple[Share, ...]
    status: MatchStatus

    @property
    def primary(self) -> Share | None:
        return self.shares[0] if self.shares else None

    @property
    def coverage(self) -> float:
        return sum(s.share for s in self.shares)

    def to_row(self) -> dict[str, str]:
        primary = self.primary
        return {
            "department": self.cell.department,
            "legacy_code": self.cell.code,
            "legacy_name": self.cell.name,
            "legacy_area_m2": f"{self.area_m2:.1f}",
            "status": self.status.value,
            "status_zh": self.status.label_zh,
            "primary_code": primary.code if primary else "",
            "primary_name": primary.name if primary else "",
            "primary_share": f"{primary.share:.4f}" if primary else "",
            "coverage": f"{self.coverage:.4f}",
            "shares": ";".join(f"{s.code}:{s.share:.4f}" for s in self.shares),
        }


@dataclass(frozen=True, slots=True)
class MergeResult:
    """The mapping of a whole legacy layer; `rows` follow the order of the legacy cells given."""

    level: GridLevel
    rows: tuple[CellMapping, ...]

    @property
    def split(self) -> tuple[CellMapping, ...]:
        return tuple(r for r in self.rows if r.status is MatchStatus.SPLIT)

    @property
    def unmatched(self) -> tuple[CellMapping, ...]:
        return tuple(r for r in self.rows if r.status is MatchStatus.UNMATCHED)

    @property
    def summary(self) -> dict[str, int]:
        counts = dict.fromkeys((s.value for s in MatchStatus), 0)
        for row in self.rows:
            counts[row.status.value] += 1
        return counts

    def to_rows(self) -> list[dict[str, str]]:
        return [r.to_row() for r in self.rows]

    def write_csv(self, path: str | Path) -> None:
        write_rows_csv(self.to_rows(), path, columns=_ROW_COLUMNS)

    def render(self, limit: int | None = None) -> str:
        """Counts, then the cells needing a person's decision (split, unmatched), zh then en."""
        counts = self.summary
        lines = [
            f"多格合一（{self.level.label_zh}）：{len(self.rows)} 个原网格，对应 {counts['matched']}，"
            f"跨网格 {counts['split']}，无对应 {counts['unmatched']}",
            f"Legacy mapping onto {self.level.value} grids: {len(self.rows)} cells, "
            f"{counts['matched']} matched, {counts['split']} split, {counts['unmatched']} unmatched",
        ]
        review = [r for r in self.rows if r.status is not MatchStatus.MATCHED]
        shown = review if limit is None else review[:limit]
        for row in shown:
            shares = ", ".join(f"{s.code} {s.share:.0%}" for s in row.shares) or "—"
            lines.append(
                f"[{row.status.label_zh} {row.status.value}] {row.cell.department} "
                f"{row.cell.code}（{row.cell.name}）: {shares}"
            )
        if len(shown) < len(review):
            hidden = len(review) - len(shown)
            lines.append(f"… 另有 {hidden} 个未列出 / {hidden} more not shown")
        return "\n".join(lines)


_ROW_COLUMNS = (
    "department",
    "legacy_code",
    "legacy_name",
    "legacy_area_m2",
    "status",
    "status_zh",
    "primary_code",
    "primary_name",
    "primary_share",
    "coverage",
    "shares",
)


def map_legacy_layer(
    legacy: Sequence[LegacyCell],
    unified: Sequence[Grid],
    *,
    level: GridLevel,
    split_share: float = 0.9,
    unmatched_coverage: float = 0.01,
) -> MergeResult:
    """Map each legacy cell onto the unified grids of `level` by shared area."""
    if not 0.0 < split_share <= 1.0:
        raise InvalidInput("split_share", f"must be in (0, 1], got {split_share}")
    if not 0.0 <= unmatched_coverage < 1.0:
        raise InvalidInput("unmatched_coverage", f"must be in [0, 1), got {unmatched_coverage}")
    targets = [g for g in unified if g.level is level]
    cells = _polygonal(legacy)
    target_geometries = np.array([g.geometry for g in targets], dtype=object)
    cell_m2 = area_m2(cells)
    pairs = shapely.STRtree(target_geometries).query(cells, predicate="intersects")
    shared_m2 = _shared_area_m2(cells[pairs[0]], target_geometries[pairs[1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(cell_m2[pairs[0]] > 0, shared_m2 / cell_m2[pairs[0]], 0.0)
    keep = share >= _NOISE_SHARE
    by_cell: defaultdict[int, list[Share]] = defaultdict(list)
    for c, t, s, a in zip(
        pairs[0][keep].tolist(),
        pairs[1][keep].tolist(),
        share[keep].tolist(),
        shared_m2[keep].tolist(),
        strict=True,
    ):
        by_cell[c].append(Share(targets[t].code, targets[t].name, min(s, 1.0), a))
    rows = []
    for i, cell in enumerate(legacy):
        shares = tuple(sorted(by_cell.get(i, ()), key=lambda s: (-s.share, s.code)))
        rows.append(
            CellMapping(
                cell=cell,
                area_m2=float(cell_m2[i]),
                shares=shares,
                status=_status(shares, split_share, unmatched_coverage),
            )
        )
    return MergeResult(level=level, rows=tuple(rows))


def _polygonal(legacy: Sequence[LegacyCell]) -> Geometries:
    """The cells' geometries, made valid: departments' old layers are rarely clean."""
    geometries = np.array([c.geometry for c in legacy], dtype=object)
    bad = [
        i
        for i, g in enumerate(geometries)
        if g is None or g.is_empty or g.geom_type not in ("Polygon", "MultiPolygon")
    ]
    if bad:
        i = bad[0]
        cell = legacy[i]
        what = "missing" if cell.geometry is None else cell.geometry.geom_type
        raise InvalidInput(
            f"legacy[{i}] ({cell.department} {cell.code}).geometry",
            f"must be a non-empty Polygon or MultiPolygon, got {what}"
            + (f" ({len(bad) - 1} more like it)" if len(bad) > 1 else ""),
        )
    invalid = ~shapely.is_valid(geometries)
    if invalid.any():
        fixed = shapely.make_valid(geometries[invalid])
        # make_valid may split off zero-area lines; keep the polygons only.
        geometries[invalid] = [
            shapely.union_all(
                [p for p in shapely.get_parts(shapely.get_parts(g)) if p.geom_type == "Polygon"]
            )
            for g in fixed
        ]
    return geometries


def _shared_area_m2(cells: Geometries, targets: Geometries) -> Floats:
    """Area (m²) shared by each pair; containment is answered without computing an overlay."""
    shared: Floats = np.empty(len(cells))
    shapely.prepare(targets)
    inside = shapely.covers(targets, cells)
    shared[inside] = area_m2(cells[inside])
    rest = ~inside
    shapely.prepare(cells[rest])
    holds = np.zeros(len(cells), dtype=bool)
    holds[rest] = shapely.covers(cells[rest], targets[rest])
    shared[holds] = area_m2(targets[holds])
    rest &= ~holds
    shared[rest] = area_m2(shapely.intersection(cells[rest], targets[rest]))
    return shared


def _status(shares: Sequence[Share], split_share: float, unmatched_coverage: float) -> MatchStatus:
    if sum(s.share for s in shares) < unmatched_coverage or not shares:
        return MatchStatus.UNMATCHED
    if shares[0].share >= split_share:
        return MatchStatus.MATCHED
    return MatchStatus.SPLIT


def read_legacy_cells(
    path: str | Path,
    *,
    department: str,
    crs: str | None = None,
    fields: FieldMap | None = None,
) -> list[LegacyCell]:
    """Read a department's legacy grid file; cells need a code, the name defaults to it."""
    features = read_features(path, crs=crs, fields=fields, required=("code",))
    cells: list[LegacyCell] = []
    problems: list[InvalidInput] = []
    for i, geometry in enumerate(features.geometries):
        code = features.text("code", i)
        if code is None:
            problems.append(InvalidInput(f"feature {i}.code", "is empty"))
            continue
        name = features.text("name", i) or code
        cells.append(LegacyCell(department, code, name, geometry))
    if problems:
        raise LayerInputError(features.source, problems)
    return cells
