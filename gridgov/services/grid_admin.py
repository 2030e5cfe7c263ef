"""Grid layer administration: import → validate → activate, export, and 多格合一 mapping.

Imports never touch the active layer: a new version is stored as a draft with its validation
summary, and only `activate` switches the city over, as a whole, in one transaction. Without
`commit=True` every writing function only reports what it would do.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from gridgov.core.clock import Clock
from gridgov.core.errors import Conflict, InvalidInput, NotFound
from gridgov.grids import formats, merge, validation
from gridgov.grids.model import Grid, GridLayer, GridLevel, LayerStatus
from gridgov.store.layers import LayerRepository

Progress = Callable[[str, int, int], None]


class LayerRejected(InvalidInput):
    """A layer with validation errors: nothing is stored; the report says what to fix."""

    def __init__(self, report: validation.ValidationReport) -> None:
        self.report = report
        errors = [p for p in report.problems if p.severity is validation.Severity.ERROR]
        first = "; ".join(f"{p.kind.value} {','.join(p.codes)}" for p in errors[:5])
        more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(
            "layer",
            f"{len(errors)} 个校验错误，未保存 / {len(errors)} validation errors, nothing "
            f"stored: {first}{more}",
        )


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    """What an import found and, when committed, the draft layer it stored."""

    grids: Sequence[Grid]
    report: validation.ValidationReport
    layer: GridLayer | None

    @property
    def committed(self) -> bool:
        return self.layer is not None


class GridAdmin:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        clock: Clock,
        *,
        on_activate: Callable[[], None] | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._clock = clock
        self._on_activate = on_activate

    def layers(self) -> list[GridLayer]:
        with self._session_factory() as session:
            return LayerRepository(session).list()

    def layer(self, layer_id: int) -> GridLayer:
        with self._session_factory() as session:
            return LayerRepository(session).get(layer_id)

    def import_file(
        self,
        path: Path,
        *,
        name: str,
        crs: str | None = None,
        names: Path | None = None,
        commit: bool = False,
    ) -> ImportOutcome:
        """Read a GeoJSON/Shapefile/GeoPackage file and store it as a draft layer.

        `names` is an optional CSV of code,name[,level][,parent_code] applied before validation,
        for boundary files that carry codes but not the official names.
        """
        grids: Sequence[Grid] = formats.read_layer(path, crs=crs).grids
        if names is not None:
            grids = formats.apply_names(grids, formats.read_names_csv(names))
        return self.import_grids(grids, name=name, source=str(path), commit=commit)

    def import_grids(
        self,
        grids: Sequence[Grid],
        *,
        name: str,
        source: str,
        commit: bool = False,
        progress: Progress | None = None,
    ) -> ImportOutcome:
        """Validate grids (repairing what is safe) and, with `commit`, store them as a draft.

        A layer with validation errors is refused with `LayerRejected` and nothing is stored.
        """
        if progress:
            progress("validate 校验", 0, 1)
        report = validation.validate_layer(grids)
        if progress:
            progress("validate 校验", 1, 1)
        repaired = list(report.grids)
        if not commit:
            return ImportOutcome(grids=repaired, report=report, layer=None)
        if not report.ok:
            raise LayerRejected(report)
        with self._session_factory.begin() as session:
            layer = LayerRepository(session).create_draft(
                name=name,
                source=source,
                grids=repaired,
                created_at=self._clock.now(),
                validation=report.summary,
            )
        return ImportOutcome(grids=repaired, report=report, layer=layer)

    def validate(self, layer_id: int, *, commit: bool = False) -> validation.ValidationReport:
        """Validate a stored layer again; with `commit`, store the new summary on the layer."""
        self.layer(layer_id)
        with self._session_factory() as session:
            grids = LayerRepository(session).grids(layer_id)
        report = validation.validate_layer(grids)
        if commit:
            with self._session_factory.begin() as session:
                LayerRepository(session).set_validation(layer_id, report.summary)
        return report

    def activate(self, layer_id: int, *, commit: bool = False) -> GridLayer:
        """Make a validated draft the city's grids; the previously active layer is retired."""
        layer = self.layer(layer_id)
        if layer.status is not LayerStatus.DRAFT:
            raise Conflict(
                f"layer {layer_id} is {layer.status.value}; only a draft can be activated "
                f"/ 只有草稿版本可以启用"
            )
        errors = layer.validation.get("errors", 0)
        if errors:
            raise Conflict(
                f"layer {layer_id} has {errors} validation errors; fix and re-import "
                f"/ 图层有 {errors} 个校验错误，不能启用"
            )
        if not commit:
            return layer
        with self._session_factory.begin() as session:
            activated = LayerRepository(session).activate(layer_id, at=self._clock.now())
        if self._on_activate:
            self._on_activate()
        return activated

    def export(self, layer_id: int, path: Path, *, crs: str = "wgs84") -> int:
        """Write a layer to GeoJSON, Shapefile, GeoPackage (by extension) or a names CSV."""
        self.layer(layer_id)
        with self._session_factory() as session:
            grids = LayerRepository(session).grids(layer_id)
        if path.suffix.lower() == ".csv":
            formats.write_names_csv(grids, path)
        else:
            formats.write_layer(grids, path, crs=crs)
        return len(grids)

    def map_legacy(
        self,
        path: Path,
        *,
        department: str,
        level: GridLevel,
        layer_id: int | None = None,
        crs: str | None = None,
    ) -> merge.MergeResult:
        """多格合一: map a department's legacy grid file onto the unified grids at one level."""
        legacy = merge.read_legacy_cells(path, department=department, crs=crs)
        with self._session_factory() as session:
            repo = LayerRepository(session)
            layer = repo.active() if layer_id is None else repo.get(layer_id)
            if layer is None:
                raise NotFound("grid layer 网格图层", layer_id or "active")
            unified = repo.grids(layer.id, level=level)
        return merge.map_legacy_layer(legacy, unified, level=level)
