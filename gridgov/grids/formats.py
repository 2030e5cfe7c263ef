"""Reading and writing grid layers (GeoJSON, Shapefile, GeoPackage) and name lists (CSV).

Every layer read is returned in WGS84 lon/lat whatever it came in: the file's own CRS is honoured
through pyproj, and Chinese web-map coordinates (GCJ-02, BD-09), which files usually mislabel as
WGS84, are converted when the caller says so. Bad input raises `LayerInputError` listing every
feature and field at fault, so a whole file can be fixed in one pass.
"""

from __future__ import annotations

import csv
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio.errors
import pyogrio.raw
import shapely
from numpy.typing import NDArray
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from gridgov.core.errors import InvalidInput
from gridgov.core.geo import Crs
from gridgov.grids import crs as chinese_crs
from gridgov.grids.model import Grid, GridLevel, SpecialKind

Geometries = NDArray[np.object_]

_DRIVERS = {
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".shp": "ESRI Shapefile",
    ".gpkg": "GPKG",
}
_MAX_LISTED_PROBLEMS = 20


class LayerInputError(InvalidInput):
    """A file with one or more bad features or rows; `problems` holds each one."""

    def __init__(self, source: Path, problems: Sequence[InvalidInput]) -> None:
        self.problems = tuple(problems)
        listed = "; ".join(str(p) for p in self.problems[:_MAX_LISTED_PROBLEMS])
        more = len(self.problems) - _MAX_LISTED_PROBLEMS
        if more > 0:
            listed += f"; … and {more} more"
        super().__init__(str(source), f"{len(self.problems)} problem(s): {listed}")


def _names(value: str | Sequence[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


@dataclass(frozen=True, slots=True)
class FieldMap:
    """Which column of a file holds each grid attribute; the first candidate present wins.

    Matching ignores case. Pass a single column name or a sequence of candidates per attribute.
    """

    code: str | Sequence[str] = ("code", "grid_code", "编码", "网格编码", "代码")
    name: str | Sequence[str] = ("name", "grid_name", "名称", "网格名称")
    level: str | Sequence[str] = ("level", "层级", "网格层级", "级别")
    parent_code: str | Sequence[str] = (
        "parent_code",
        "parent",
        "parent_cod",  # what the shapefile driver leaves of "parent_code"
        "上级编码",
        "上级网格编码",
        "父级编码",
    )
    special_kind: str | Sequence[str] = ("kind", "special_kind", "special_ki", "类型", "专属类型")
    responsible_unit: str | Sequence[str] = (
        "unit",
        "responsible_unit",
        "responsibl",
        "责任单位",
    )

    def resolve(self, columns: Iterable[str]) -> dict[str, str]:
        """Map each attribute to the column that holds it, for the attributes present."""
        by_lower = {c.strip().lower(): c for c in columns}
        found: dict[str, str] = {}
        for attr in _ATTRIBUTES:
            for candidate in _names(getattr(self, attr)):
                column = by_lower.get(candidate.strip().lower())
                if column is not None:
                    found[attr] = column
                    break
        return found


_ATTRIBUTES = ("code", "name", "level", "parent_code", "special_kind", "responsible_unit")
_REQUIRED = ("code", "name", "level")

_LEVEL_ALIASES: dict[str, GridLevel] = {
    **{level.value: level for level in GridLevel},
    **{level.label_zh: level for level in GridLevel},
    "市": GridLevel.CITY,
    "区": GridLevel.DISTRICT,
    "县": GridLevel.DISTRICT,
    "区县": GridLevel.DISTRICT,
    "开发区": GridLevel.DISTRICT,
    "街道": GridLevel.STREET,
    "乡镇": GridLevel.STREET,
    "一级网格": GridLevel.STREET,
    "社区": GridLevel.COMMUNITY,
    "村": GridLevel.COMMUNITY,
    "二级网格": GridLevel.COMMUNITY,
    "小区": GridLevel.COMPOUND,
    "楼院": GridLevel.COMPOUND,
    "三级网格": GridLevel.COMPOUND,
    "专属网格": GridLevel.SPECIAL,
    # Numbered levels as the grid plans count them: 一级 = street … 四级 = micro.
    "1": GridLevel.STREET,
    "2": GridLevel.COMMUNITY,
    "3": GridLevel.COMPOUND,
    "4": GridLevel.MICRO,
}

_KIND_ALIASES: dict[str, SpecialKind] = {
    **{kind.value: kind for kind in SpecialKind},
    **{kind.label_zh: kind for kind in SpecialKind},
}


def parse_level(value: object) -> GridLevel:
    """A level from its English value, Chinese label or plan number; ValueError otherwise."""
    text = str(value).strip().lower()
    if text.endswith(".0"):
        text = text[:-2]
    try:
        return _LEVEL_ALIASES[text]
    except KeyError:
        raise ValueError(value) from None


def _parse_kind(value: object) -> SpecialKind:
    try:
        return _KIND_ALIASES[str(value).strip().lower()]
    except KeyError:
        raise ValueError(value) from None


def _level_choices() -> str:
    return ", ".join(level.value for level in GridLevel) + " (or 街道/社区/小区/微网格/专属网格 …)"


@dataclass(frozen=True, slots=True)
class ReadResult:
    """Grids read from a file, in WGS84, and how their coordinates were understood."""

    grids: tuple[Grid, ...]
    source_crs: str
    columns: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NameRow:
    """One row of a names CSV: renames or annotates the grid with `code`."""

    code: str
    name: str
    level: GridLevel | None = None
    parent_code: str | None = None


# --- reading layers ----------------------------------------------------------------------------


def read_layer(
    path: str | Path, *, crs: str | None = None, fields: FieldMap | None = None
) -> ReadResult:
    """Read a GeoJSON, Shapefile (.shp or zipped) or GeoPackage layer into WGS84 grids.

    `crs` overrides what the file declares: "gcj02"/"bd09" for web-map coordinates mislabelled as
    WGS84, or any EPSG/pyproj string for a file whose CRS is missing or wrong.
    """
    features = read_features(path, crs=crs, fields=fields, required=_REQUIRED)
    rows, problems = _attributes(features.values, len(features.geometries))
    if problems:
        raise LayerInputError(features.source, problems)
    grids = tuple(
        Grid(geometry=geometry, **attrs)
        for geometry, attrs in zip(features.geometries, rows, strict=True)
    )
    return ReadResult(grids=grids, source_crs=features.source_crs, columns=features.columns)


@dataclass(frozen=True, slots=True)
class Features:
    """Polygons of a file in WGS84 with the raw values of the mapped attribute columns."""

    source: Path
    geometries: Geometries
    values: Mapping[str, NDArray[Any]]
    columns: Mapping[str, str]
    source_crs: str

    def text(self, attr: str, index: int) -> str | None:
        """A cell as trimmed text, None when empty or when the column is absent."""
        column = self.values.get(attr)
        return None if column is None else _text(column[index])


def read_features(
    path: str | Path,
    *,
    crs: str | None = None,
    fields: FieldMap | None = None,
    required: Sequence[str] = ("code",),
) -> Features:
    """Read a layer's polygons into WGS84 and find its attribute columns; checks geometry only."""
    source = Path(path)
    meta, wkb, columns = _read_raw(source)
    field_map = fields or FieldMap()
    resolved = field_map.resolve(meta["fields"])
    missing = [attr for attr in required if attr not in resolved]
    if missing:
        wanted = "; ".join(
            f"{a}: one of {', '.join(_names(getattr(field_map, a)))}" for a in missing
        )
        raise InvalidInput(
            ", ".join(missing),
            f"{source.name} has no column for {', '.join(missing)} (looked for {wanted}; "
            f"columns present: {', '.join(meta['fields']) or 'none'}); pass a FieldMap naming them",
        )
    values = {attr: columns[list(meta["fields"]).index(col)] for attr, col in resolved.items()}
    if wkb is None:
        raise InvalidInput("geometry", f"{source.name} has no geometry column")
    geometries = shapely.from_wkb(wkb, on_invalid="ignore")
    codes = values.get("code", np.full(len(geometries), None, dtype=object))
    problems = _geometry_problems(geometries, codes)
    if problems:
        raise LayerInputError(source, problems)
    lonlat, described = _to_wgs84(geometries, meta.get("crs"), crs, source)
    return Features(source, lonlat, values, resolved, described)


def _read_raw(source: Path) -> tuple[dict[str, Any], Geometries | None, list[NDArray[Any]]]:
    if not source.exists():
        raise InvalidInput("path", f"{source} does not exist")
    suffix = source.suffix.lower()
    if suffix not in _DRIVERS and suffix != ".zip":
        raise InvalidInput(
            "path",
            f"{source.name}: unknown format {suffix!r}; use .geojson, .json, .shp, .zip or .gpkg",
        )
    if suffix == ".zip" and not _zip_has_shapefile(source):
        raise InvalidInput("path", f"{source.name} holds no .shp file")
    try:
        meta, _fids, wkb, columns = pyogrio.raw.read(source, force_2d=True)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise InvalidInput("path", f"{source.name} cannot be read: {exc}") from exc
    return meta, wkb, list(columns)


def _zip_has_shapefile(source: Path) -> bool:
    try:
        with zipfile.ZipFile(source) as archive:
            return any(name.lower().endswith(".shp") for name in archive.namelist())
    except zipfile.BadZipFile as exc:
        raise InvalidInput("path", f"{source.name} is not a readable zip file: {exc}") from exc


def _text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        # Codes typed as numbers in a spreadsheet come back as 4101.0; the grid code is "4101".
        value = int(value)
    text = str(value).strip()
    return text or None


def _where(index: int, code: str | None) -> str:
    return f"feature {index}" + (f" (code {code})" if code else "")


def _attributes(
    values: Mapping[str, NDArray[Any]], count: int
) -> tuple[list[dict[str, Any]], list[InvalidInput]]:
    problems: list[InvalidInput] = []
    rows: list[dict[str, Any]] = []
    for i in range(count):
        raw = {attr: _text(column[i]) for attr, column in values.items()}
        where = _where(i, raw["code"])
        for attr in _REQUIRED:
            if raw[attr] is None:
                problems.append(InvalidInput(f"{where}.{attr}", "is empty"))
        level: GridLevel | None = None
        if raw["level"] is not None:
            try:
                level = parse_level(raw["level"])
            except ValueError:
                problems.append(
                    InvalidInput(
                        f"{where}.level",
                        f"unknown level {raw['level']!r}; expected one of {_level_choices()}",
                    )
                )
        kind: SpecialKind | None = None
        if raw.get("special_kind") is not None:
            try:
                kind = _parse_kind(raw["special_kind"])
            except ValueError:
                choices = ", ".join(k.value for k in SpecialKind)
                problems.append(
                    InvalidInput(
                        f"{where}.special_kind",
                        f"unknown kind {raw['special_kind']!r}; expected one of {choices}",
                    )
                )
        rows.append(
            {
                "code": raw["code"],
                "name": raw["name"],
                "level": level,
                "parent_code": raw.get("parent_code"),
                "special_kind": kind,
                "responsible_unit": raw.get("responsible_unit"),
            }
        )
    return rows, problems


def _geometry_problems(geometries: Geometries, codes: NDArray[Any]) -> list[InvalidInput]:
    problems: list[InvalidInput] = []
    type_ids = shapely.get_type_id(geometries)
    empty = shapely.is_empty(geometries)
    polygonal = np.isin(type_ids, [3, 6])  # Polygon, MultiPolygon
    for i in np.flatnonzero((type_ids < 0) | empty | ~polygonal):
        where = _where(int(i), _text(codes[i]))
        geometry = geometries[i]
        if geometry is None:
            problems.append(InvalidInput(f"{where}.geometry", "is missing or unreadable"))
        elif empty[i]:
            problems.append(InvalidInput(f"{where}.geometry", "is empty"))
        else:
            problems.append(
                InvalidInput(
                    f"{where}.geometry",
                    f"is a {geometry.geom_type}; grids must be Polygon or MultiPolygon",
                )
            )
    return problems


def _to_wgs84(
    geometries: Geometries, declared: str | None, override: str | None, source: Path
) -> tuple[Geometries, str]:
    named, projected = _parse_crs(override) if override else (None, None)
    if named is None and projected is None and declared:
        projected = _pyproj_crs(declared, "crs")
    described = _describe(named, projected)
    if named is not None:
        result = shapely.transform(
            geometries, lambda x, y: chinese_crs.to_wgs84(x, y, named), interleaved=False
        )
    elif projected is not None and not _is_wgs84_like(projected):
        transformer = Transformer.from_crs(projected, CRS.from_epsg(4326), always_xy=True)
        result = shapely.transform(geometries, transformer.transform, interleaved=False)
    else:
        result = geometries
    _check_lonlat_in_china(result, described, declared, source)
    return result, described


def _parse_crs(value: str) -> tuple[Crs | None, CRS | None]:
    try:
        return Crs.parse(value), None
    except ValueError:
        return None, _pyproj_crs(value, "crs")


def _pyproj_crs(value: str, field_name: str) -> CRS:
    try:
        return CRS.from_user_input(value)
    except CRSError as exc:
        raise InvalidInput(
            field_name, f"unknown CRS {value!r}; use wgs84, gcj02, bd09 or an EPSG code"
        ) from exc


def _is_wgs84_like(crs: CRS) -> bool:
    # CGCS2000 (EPSG:4490) differs from WGS84 by centimetres; pyproj would "transform" it with a
    # null shift anyway, so skip the work.
    return crs.to_epsg() in (4326, 4490) or crs.equals(CRS.from_epsg(4326), ignore_axis_order=True)


def _describe(named: Crs | None, projected: CRS | None) -> str:
    if named is not None:
        return named.value
    if projected is None:
        return "wgs84 (assumed: the file declares no CRS)"
    epsg = projected.to_epsg()
    return f"EPSG:{epsg}" if epsg else projected.name


def _check_lonlat_in_china(
    geometries: Geometries, described: str, declared: str | None, source: Path
) -> None:
    coords = shapely.get_coordinates(geometries)
    if len(coords) == 0:
        return
    inside = chinese_crs.in_china(coords[:, 0], coords[:, 1])
    if inside.all():
        return
    x, y = coords[int(np.argmin(inside))]
    hint = (
        "the file declares no CRS (a shapefile without its .prj?); pass crs='EPSG:…' naming the "
        "projection, e.g. EPSG:32649 for UTM zone 49N or EPSG:4547 for CGCS2000 / 3-degree GK CM 114E"
        if not declared
        else f"check that the file's CRS ({described}) is right, or pass crs= to override it"
    )
    raise InvalidInput(
        "crs",
        f"{source.name}: coordinate ({x:.6g}, {y:.6g}) read as {described} is not a "
        f"longitude/latitude in China; {hint}",
    )


# --- writing layers ----------------------------------------------------------------------------


def write_layer(grids: Sequence[Grid], path: str | Path, *, crs: str = "wgs84") -> None:
    """Write grids to .geojson/.json, .shp or .gpkg (by extension) in `crs`.

    GCJ-02 and BD-09 files are labelled EPSG:4326, as web-map tools expect; read them back with
    `read_layer(path, crs="gcj02")`.
    """
    target = Path(path)
    driver = _DRIVERS.get(target.suffix.lower())
    if driver is None:
        raise InvalidInput("path", f"{target.name}: write .geojson, .json, .shp or .gpkg")
    named, projected = _parse_crs(crs)
    geometries = np.array([g.geometry for g in grids], dtype=object)
    if named is not None:
        geometries = shapely.transform(
            geometries, lambda x, y: chinese_crs.from_wgs84(x, y, named), interleaved=False
        )
        wkt = CRS.from_epsg(4490 if named is Crs.CGCS2000 else 4326).to_wkt()
    else:
        assert projected is not None
        transformer = Transformer.from_crs(CRS.from_epsg(4326), projected, always_xy=True)
        geometries = shapely.transform(geometries, transformer.transform, interleaved=False)
        wkt = projected.to_wkt()
    # DBF caps field names at 10 bytes, so shapefiles get "parent", which read_layer also knows.
    parent_column = "parent" if driver == "ESRI Shapefile" else "parent_code"
    names = ["code", "name", "level", parent_column, "kind", "unit"]
    data = [
        np.array([g.code for g in grids], dtype=object),
        np.array([g.name for g in grids], dtype=object),
        np.array([g.level.value for g in grids], dtype=object),
        np.array([g.parent_code for g in grids], dtype=object),
        np.array([g.special_kind.value if g.special_kind else None for g in grids], dtype=object),
        np.array([g.responsible_unit for g in grids], dtype=object),
    ]
    if target.exists():
        target.unlink()  # GDAL refuses to overwrite some formats in place
    pyogrio.raw.write(
        target,
        shapely.to_wkb(geometries),
        data,
        names,
        driver=driver,
        crs=wkt,
        geometry_type="MultiPolygon" if driver == "ESRI Shapefile" else "Unknown",
        encoding="UTF-8" if driver == "ESRI Shapefile" else None,
    )


# --- names CSV ---------------------------------------------------------------------------------

_NAME_COLUMNS = FieldMap()


def read_names_csv(path: str | Path) -> list[NameRow]:
    """Read code,name[,level][,parent_code] rows (UTF-8, with or without BOM, or GB18030)."""
    source = Path(path)
    text = _decode(source)
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if not header:
        raise InvalidInput("path", f"{source.name} is empty; expected a header row with code,name")
    resolved = _NAME_COLUMNS.resolve(header)
    for attr in ("code", "name"):
        if attr not in resolved:
            raise InvalidInput(
                f"line 1, column {attr}",
                f"{source.name} header has no {attr} column (found: {', '.join(header)})",
            )
    position = {attr: header.index(column) for attr, column in resolved.items()}
    rows: list[NameRow] = []
    problems: list[InvalidInput] = []
    seen: dict[str, int] = {}
    for line, record in enumerate(reader, start=2):
        if not any(cell.strip() for cell in record):
            continue
        cells = {attr: _cell(record, i) for attr, i in position.items()}
        row_problems = _name_row_problems(line, cells, seen)
        problems.extend(row_problems)
        if row_problems:
            continue
        code = cells["code"]
        assert code is not None and cells["name"] is not None
        seen[code] = line
        level = cells.get("level")
        rows.append(
            NameRow(
                code=code,
                name=cells["name"],
                level=parse_level(level) if level else None,
                parent_code=cells.get("parent_code"),
            )
        )
    if problems:
        raise LayerInputError(source, problems)
    return rows


def apply_names(grids: Sequence[Grid], rows: Sequence[NameRow]) -> list[Grid]:
    """Rename (and re-parent, where a row says so) the grids a names CSV lists, by code."""
    by_code = {row.code: row for row in rows}
    known = {g.code for g in grids}
    unknown = [code for code in by_code if code not in known]
    if unknown:
        shown = ", ".join(unknown[:5]) + (
            f" (+{len(unknown) - 5} more)" if len(unknown) > 5 else ""
        )
        raise InvalidInput("names.code", f"codes not in the layer 图层中没有这些编码: {shown}")
    renamed: list[Grid] = []
    for grid in grids:
        row = by_code.get(grid.code)
        if row is None:
            renamed.append(grid)
            continue
        if row.level is not None and row.level is not grid.level:
            raise InvalidInput(
                f"names.level ({grid.code})",
                f"the CSV says {row.level.value}, the layer has {grid.level.value}",
            )
        renamed.append(
            replace(grid, name=row.name, parent_code=row.parent_code or grid.parent_code)
        )
    return renamed


def _decode(source: Path) -> str:
    if not source.exists():
        raise InvalidInput("path", f"{source} does not exist")
    raw = source.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Excel on Chinese Windows saves CSV as GBK; GB18030 is its superset.
        try:
            return raw.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise InvalidInput("path", f"{source.name} is neither UTF-8 nor GB18030 text") from exc


def _cell(record: Sequence[str], index: int) -> str | None:
    return (record[index].strip() or None) if index < len(record) else None


def _name_row_problems(
    line: int, cells: Mapping[str, str | None], seen: Mapping[str, int]
) -> list[InvalidInput]:
    problems: list[InvalidInput] = []
    for attr in ("code", "name"):
        if cells[attr] is None:
            problems.append(InvalidInput(f"line {line}, column {attr}", "is empty"))
    code = cells["code"]
    if code is not None and code in seen:
        problems.append(
            InvalidInput(f"line {line}, column code", f"{code} repeats line {seen[code]}")
        )
    level = cells.get("level")
    if level:
        try:
            parse_level(level)
        except ValueError:
            problems.append(
                InvalidInput(
                    f"line {line}, column level",
                    f"unknown level {level!r}; expected one of {_level_choices()}",
                )
            )
    return problems


def write_names_csv(grids: Sequence[Grid], path: str | Path) -> None:
    """Write code,name,level,parent_code for each grid, UTF-8 with BOM so Excel shows the Chinese."""
    rows = [
        {"code": g.code, "name": g.name, "level": g.level.value, "parent_code": g.parent_code or ""}
        for g in grids
    ]
    write_rows_csv(rows, path, columns=("code", "name", "level", "parent_code"))


def write_rows_csv(
    rows: Sequence[Mapping[str, object]], path: str | Path, *, columns: Sequence[str] | None = None
) -> None:
    """Write report rows (validation problems, merge results) to a CSV Excel opens correctly."""
    header = list(columns or (rows[0].keys() if rows else ()))
    with Path(path).open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
