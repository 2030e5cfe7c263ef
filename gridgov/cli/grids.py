"""`gridgov grids`: import, validate, activate, export, locate, merge, list."""

from __future__ import annotations

import csv
import json
import math
import time
from pathlib import Path

import click
import numpy as np

from gridgov.cli.common import crs_option, pad, reports_errors, runtime_from
from gridgov.core.errors import InvalidInput
from gridgov.core.geo import Crs
from gridgov.grids.model import GridLevel
from gridgov.services.grid_admin import ImportOutcome, LayerRejected

COMMIT_HINT = (
    "预览，未写入；加 --commit 执行 / preview only: nothing written; add --commit to do it"
)


@click.group()
def grids() -> None:
    """网格 · Grid layers: import → validate → activate; export; locate; 多格合一."""


@grids.command("list")
@click.pass_context
@reports_errors
def list_layers(ctx: click.Context) -> None:
    """List every layer version with its status and validation summary."""
    for layer in runtime_from(ctx).grids.layers():
        active = f" activated {layer.activated_at:%Y-%m-%d %H:%M}" if layer.activated_at else ""
        click.echo(
            f"{layer.id:>4}  {layer.status.value:<8} {layer.grid_count:>7,} grids  "
            f"{layer.name}{active}  {json.dumps(layer.validation, ensure_ascii=False)}"
        )


@grids.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", required=True, help="Name of the new layer version, e.g. '2026 秋季调整'.")
@click.option(
    "--crs",
    default=None,
    help="Override the file's CRS: gcj02 or bd09 for web-map files, or any EPSG code.",
)
@click.option(
    "--names",
    "names_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CSV of code,name[,level][,parent_code] applied to the file's grids by code.",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the validation report as CSV.",
)
@click.option("--commit", is_flag=True, help="Store the layer as a draft (otherwise preview).")
@click.pass_context
@reports_errors
def import_layer(
    ctx: click.Context,
    path: Path,
    name: str,
    crs: str | None,
    names_path: Path | None,
    report_path: Path | None,
    commit: bool,
) -> None:
    """Read a GeoJSON, Shapefile or GeoPackage layer, validate it, and store it as a draft."""
    try:
        outcome = runtime_from(ctx).grids.import_file(
            path, name=name, crs=crs, names=names_path, commit=commit
        )
    except LayerRejected as rejected:
        click.echo(rejected.report.render(limit=50))
        if report_path:
            rejected.report.write_csv(report_path)
        raise
    _print_import(outcome)
    if report_path:
        outcome.report.write_csv(report_path)
        click.echo(f"校验报告 / report: {report_path}")


def _print_import(outcome: ImportOutcome) -> None:
    counts: dict[str, int] = {}
    for grid in outcome.grids:
        counts[grid.level.value] = counts.get(grid.level.value, 0) + 1
    click.echo("读取 / read: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    click.echo(outcome.report.render(limit=20))
    if outcome.layer is None:
        click.echo(COMMIT_HINT)
    else:
        click.echo(
            f"已保存为草稿图层 {outcome.layer.id} / stored as draft layer {outcome.layer.id}; "
            f"activate with: gridgov grids activate {outcome.layer.id} --commit"
        )


@grids.command()
@click.argument("layer_id", type=int)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the full report as CSV.",
)
@click.option("--commit", is_flag=True, help="Store the new validation summary on the layer.")
@click.pass_context
@reports_errors
def validate(ctx: click.Context, layer_id: int, report_path: Path | None, commit: bool) -> None:
    """Validate a stored layer and print the report."""
    report = runtime_from(ctx).grids.validate(layer_id, commit=commit)
    click.echo(report.render(limit=50))
    if report_path:
        report.write_csv(report_path)
        click.echo(f"校验报告 / report: {report_path}")


@grids.command()
@click.argument("layer_id", type=int)
@click.option("--commit", is_flag=True, help="Switch the city to this layer (otherwise preview).")
@click.pass_context
@reports_errors
def activate(ctx: click.Context, layer_id: int, commit: bool) -> None:
    """Make a validated draft layer the city's grids; the old active layer is retired."""
    layer = runtime_from(ctx).grids.activate(layer_id, commit=commit)
    if not commit:
        click.echo(f"将启用图层 {layer.id} ({layer.name}) / would activate layer {layer.id}")
        click.echo(COMMIT_HINT)
        return
    click.echo(f"已启用图层 {layer.id} / layer {layer.id} is now active ({layer.name})")


@grids.command()
@click.argument("layer_id", type=int)
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--crs",
    default="wgs84",
    show_default=True,
    help="Output CRS: wgs84, gcj02, bd09 or an EPSG code.",
)
@click.pass_context
@reports_errors
def export(ctx: click.Context, layer_id: int, path: Path, crs: str) -> None:
    """Write a layer as .geojson, .shp, .gpkg, or a names-and-codes .csv."""
    count = runtime_from(ctx).grids.export(layer_id, path, crs=crs)
    click.echo(f"已导出 {count:,} 个网格 / exported {count:,} grids to {path}")


@grids.command()
@click.argument("lon", type=float)
@click.argument("lat", type=float)
@crs_option
@click.option(
    "--layer",
    "layer_id",
    type=int,
    default=None,
    help="Layer version to ask (default: the active one).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
@reports_errors
def locate(
    ctx: click.Context, lon: float, lat: float, crs: str, layer_id: int | None, as_json: bool
) -> None:
    """Every grid containing a point: each level and every special grid."""
    answer = runtime_from(ctx).locating.locate(lon, lat, crs=Crs(crs), layer_id=layer_id)
    if as_json:
        click.echo(json.dumps(answer.as_dict(), ensure_ascii=False, indent=2))
        return
    loc = answer.location
    click.echo(
        f"图层 / layer {answer.layer.id} ({answer.layer.name})  point {loc.lon:.6f}, "
        f"{loc.lat:.6f} WGS84"
    )
    if loc.match == "near_edge":
        click.echo(
            f"注意：点在网格外 {loc.distance_m:.0f} m，取最近网格 / "
            f"near edge: {loc.distance_m:.0f} m outside, nearest grid given"
        )
    for level, grid in loc.grids.items():
        click.echo(f"  {pad(level.label_zh, 20)} {level.value:<10} {grid.code:<18} {grid.name}")
    for grid in loc.specials:
        kind = grid.special_kind.label_zh if grid.special_kind else ""
        click.echo(
            f"  {pad('专属网格 ' + kind, 20)} {'special':<10} {grid.code:<18} {grid.name}"
            f"  责任单位 {grid.responsible_unit or '-'}"
        )
    if not loc.specials:
        click.echo(f"  {pad('专属网格', 20)} {'special':<10} (none)")


@grids.command("merge")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--department", required=True, help="Owner of the legacy grids, e.g. 城管, 市场监管.")
@click.option(
    "--level",
    type=click.Choice([lv.value for lv in GridLevel if lv != GridLevel.SPECIAL]),
    default="community",
    show_default=True,
    help="Unified level to map onto.",
)
@click.option("--layer", "layer_id", type=int, default=None, help="Unified layer (default active).")
@click.option("--crs", default=None, help="Override the legacy file's CRS (gcj02, bd09, EPSG).")
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the full mapping as CSV.",
)
@click.pass_context
@reports_errors
def merge_cmd(
    ctx: click.Context,
    path: Path,
    department: str,
    level: str,
    layer_id: int | None,
    crs: str | None,
    out_path: Path | None,
) -> None:
    """多格合一: map a department's legacy grids onto the unified grids by area share."""
    result = runtime_from(ctx).grids.map_legacy(
        path, department=department, level=GridLevel(level), layer_id=layer_id, crs=crs
    )
    click.echo(result.render(limit=20))
    if out_path:
        result.write_csv(out_path)
        click.echo(f"映射表 / mapping: {out_path}")


@grids.command("locate-file")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--lon-column", default="lon", show_default=True, help="Column with longitudes.")
@click.option("--lat-column", default="lat", show_default=True, help="Column with latitudes.")
@crs_option
@click.option("--layer", "layer_id", type=int, default=None, help="Layer (default: active).")
@click.pass_context
@reports_errors
def locate_file(
    ctx: click.Context,
    source: Path,
    target: Path,
    lon_column: str,
    lat_column: str,
    crs: str,
    layer_id: int | None,
) -> None:
    """批量定位 · Locate every row of a CSV; write it back with the grid codes of each level."""
    with source.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        header = list(reader.fieldnames or [])
        rows = list(reader)
    for column in (lon_column, lat_column):
        if column not in header:
            raise InvalidInput(
                f"column {column}", f"not in {source.name} (found: {', '.join(header)})"
            )
    lon, lat = _coordinates(rows, lon_column, lat_column)
    started = time.perf_counter()
    layer, index, batch = runtime_from(ctx).locating.locate_many(
        lon, lat, crs=Crs(crs), layer_id=layer_id
    )
    elapsed = time.perf_counter() - started
    levels = [level.value for level in batch.levels]
    with target.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*header, "layer", "match", "distance_m", *levels, "specials"])
        for i, row in enumerate(rows):
            codes = [index.code(g) if g >= 0 else "" for g in batch.level_index[i].tolist()]
            lo, hi = batch.special_offsets[i], batch.special_offsets[i + 1]
            specials = ";".join(index.code(g) for g in batch.special_index[lo:hi].tolist())
            match = ("inside", "near_edge", "outside")[int(batch.match[i])]
            distance = float(batch.distance_m[i])
            writer.writerow(
                [*(row[c] for c in header), layer.id, match,
                 f"{distance:.1f}" if math.isfinite(distance) else "", *codes, specials]
            )  # fmt: skip
    click.echo(
        f"已定位 {len(rows):,} 行 / located {len(rows):,} rows in {elapsed:.2f} s "
        f"(layer {layer.id}) → {target}"
    )


def _coordinates(
    rows: list[dict[str, str]], lon_column: str, lat_column: str
) -> tuple[np.ndarray, np.ndarray]:
    lon = np.empty(len(rows))
    lat = np.empty(len(rows))
    for i, row in enumerate(rows):
        for column, out in ((lon_column, lon), (lat_column, lat)):
            try:
                out[i] = float(row[column])
            except (TypeError, ValueError):
                raise InvalidInput(
                    f"line {i + 2}, column {column}", f"{row[column]!r} is not a number"
                ) from None
    return lon, lat
