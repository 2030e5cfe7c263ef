from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio.raw
import pytest
import shapely
from pyproj import Geod
from shapely.geometry import box, mapping

from gridgov.core.errors import InvalidInput
from gridgov.grids import crs as chinese_crs
from gridgov.grids.formats import (
    FieldMap,
    LayerInputError,
    NameRow,
    read_layer,
    read_names_csv,
    write_layer,
    write_names_csv,
)
from gridgov.grids.model import Grid, GridLevel, SpecialKind

_GEOD = Geod(ellps="WGS84")


def _layer() -> list[Grid]:
    """A street holding two communities, one with a compound, and a school; near Zhengzhou."""
    return [
        Grid("S1", "人民路街道", GridLevel.STREET, box(113.60, 34.70, 113.62, 34.72), "D1"),
        Grid("C1", "一号社区", GridLevel.COMMUNITY, box(113.60, 34.70, 113.61, 34.72), "S1"),
        Grid("C2", "二号社区", GridLevel.COMMUNITY, box(113.61, 34.70, 113.62, 34.72), "S1"),
        Grid("P1", "花园小区", GridLevel.COMPOUND, box(113.60, 34.70, 113.605, 34.705), "C1"),
        Grid(
            "X1",
            "第一中学",
            GridLevel.SPECIAL,
            box(113.612, 34.712, 113.614, 34.714),
            "S1",
            special_kind=SpecialKind.SCHOOL,
            responsible_unit="市教育局",
        ),
    ]


def _max_error_m(a: shapely.Geometry, b: shapely.Geometry) -> float:
    """How far (m) any vertex of either shape is from the nearest vertex of the other."""
    ca, cb = shapely.get_coordinates(a), shapely.get_coordinates(b)
    lon1, lon2 = np.meshgrid(ca[:, 0], cb[:, 0], indexing="ij")
    lat1, lat2 = np.meshgrid(ca[:, 1], cb[:, 1], indexing="ij")
    distance = np.asarray(_GEOD.inv(lon1, lat1, lon2, lat2)[2])
    return float(max(distance.min(axis=1).max(), distance.min(axis=0).max()))


def _write_geojson(path: Path, features: list[dict[str, Any]], **extra: Any) -> Path:
    path.write_text(
        json.dumps(
            {"type": "FeatureCollection", "features": features, **extra}, ensure_ascii=False
        ),
        encoding="utf-8",
    )
    return path


def _feature(geometry: Any, **properties: Any) -> dict[str, Any]:
    geo = mapping(geometry) if geometry is not None else None
    return {"type": "Feature", "properties": properties, "geometry": geo}


def _square_feature(code: str = "C1", **properties: Any) -> dict[str, Any]:
    fields = {"code": code, "name": "一号社区", "level": "community", "parent_code": "S1"}
    fields.update(properties)
    return _feature(box(113.60, 34.70, 113.61, 34.71), **fields)


# --- round trips -------------------------------------------------------------------------------

FORMATS = [".geojson", ".json", ".shp", ".gpkg"]
SYSTEMS = ["wgs84", "gcj02", "bd09", "cgcs2000", "EPSG:32649", "EPSG:4547"]


@pytest.mark.parametrize("crs", SYSTEMS)
@pytest.mark.parametrize("suffix", FORMATS)
def test_layer_written_and_read_back_keeps_attributes_and_positions(
    tmp_path: Path, suffix: str, crs: str
) -> None:
    grids = _layer()
    path = tmp_path / f"layer{suffix}"
    write_layer(grids, path, crs=crs)
    # Web-map coordinates are labelled WGS84 in the file, so only the caller can say what they are.
    read = read_layer(path, crs=crs if crs in ("gcj02", "bd09") else None)
    assert [(g.code, g.name, g.level, g.parent_code) for g in read.grids] == [
        (g.code, g.name, g.level, g.parent_code) for g in grids
    ]
    assert read.grids[-1].special_kind is SpecialKind.SCHOOL
    assert read.grids[-1].responsible_unit == "市教育局"
    assert read.grids[0].special_kind is None and read.grids[0].responsible_unit is None
    for before, after in zip(grids, read.grids, strict=True):
        assert _max_error_m(before.geometry, after.geometry) < 0.5


def test_gcj02_file_is_shifted_by_hundreds_of_metres_until_read_as_gcj02(tmp_path: Path) -> None:
    grids = _layer()
    path = write_and_return(grids, tmp_path / "amap.geojson", crs="gcj02")
    as_labelled = read_layer(path).grids[0].geometry
    as_gcj02 = read_layer(path, crs="gcj02").grids[0].geometry
    assert _max_error_m(grids[0].geometry, as_labelled) > 100
    assert _max_error_m(grids[0].geometry, as_gcj02) < 0.5


def write_and_return(grids: list[Grid], path: Path, *, crs: str) -> Path:
    write_layer(grids, path, crs=crs)
    return path


def test_zipped_shapefile_is_read_like_the_shapefile(tmp_path: Path) -> None:
    write_layer(_layer(), tmp_path / "layer.shp")
    archive = tmp_path / "layer.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for part in tmp_path.glob("layer.*"):
            if part.suffix != ".zip":
                out.write(part, part.name)
    assert [g.code for g in read_layer(archive).grids] == ["S1", "C1", "C2", "P1", "X1"]


def test_zip_without_a_shapefile_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "layer.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("readme.txt", "no shapes here")
    with pytest.raises(InvalidInput, match=r"holds no \.shp"):
        read_layer(archive)


def test_names_csv_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "names.csv"
    write_names_csv(_layer(), path)
    rows = read_names_csv(path)
    assert rows[0] == NameRow("S1", "人民路街道", GridLevel.STREET, "D1")
    assert rows[-1] == NameRow("X1", "第一中学", GridLevel.SPECIAL, "S1")


# --- columns -----------------------------------------------------------------------------------


def test_chinese_column_names_and_level_labels_are_understood(tmp_path: Path) -> None:
    path = _write_geojson(
        tmp_path / "zh.geojson",
        [
            _feature(
                box(113.6, 34.7, 113.61, 34.71),
                编码="S1",
                名称="街道一",
                层级="街道",
                上级编码="D1",
            ),
            _feature(
                box(113.6, 34.7, 113.605, 34.705),
                编码="C1",
                名称="社区一",
                层级="二级网格",
                上级编码="S1",
            ),
        ],
    )
    grids = read_layer(path).grids
    assert [(g.code, g.level, g.parent_code) for g in grids] == [
        ("S1", GridLevel.STREET, "D1"),
        ("C1", GridLevel.COMMUNITY, "S1"),
    ]


def test_field_map_names_a_file_s_own_columns(tmp_path: Path) -> None:
    path = _write_geojson(
        tmp_path / "custom.geojson",
        [_feature(box(113.6, 34.7, 113.61, 34.71), WGBM=4101020001, WGMC="网格一", JB=2)],
    )
    grids = read_layer(path, fields=FieldMap(code="WGBM", name="WGMC", level="JB")).grids
    # A code stored as a number is still the code as people write it, without ".0".
    assert (grids[0].code, grids[0].name, grids[0].level) == (
        "4101020001",
        "网格一",
        GridLevel.COMMUNITY,
    )


def test_file_without_a_name_column_says_which_columns_it_looked_for(tmp_path: Path) -> None:
    path = _write_geojson(
        tmp_path / "noname.geojson",
        [_feature(box(113.6, 34.7, 113.61, 34.71), code="C1", level="community")],
    )
    with pytest.raises(InvalidInput) as caught:
        read_layer(path)
    assert caught.value.field == "name"
    assert "名称" in caught.value.problem and "FieldMap" in caught.value.problem


# --- bad features ------------------------------------------------------------------------------


def test_broken_geojson_names_the_file_and_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "broken.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [ {', encoding="utf-8")
    with pytest.raises(InvalidInput) as caught:
        read_layer(path)
    assert "broken.geojson" in str(caught.value)
    assert "Unterminated" in str(caught.value) or "parse" in str(caught.value).lower()


def test_missing_values_name_the_feature_its_code_and_the_field(tmp_path: Path) -> None:
    path = _write_geojson(
        tmp_path / "gaps.geojson",
        [_square_feature("C1"), _square_feature("C2", name=""), _square_feature("", level=None)],
    )
    with pytest.raises(LayerInputError) as caught:
        read_layer(path)
    fields = [p.field for p in caught.value.problems]
    assert fields == ["feature 1 (code C2).name", "feature 2.code", "feature 2.level"]


def test_unknown_level_lists_the_levels_accepted(tmp_path: Path) -> None:
    path = _write_geojson(tmp_path / "level.geojson", [_square_feature("C1", level="村民小组")])
    with pytest.raises(LayerInputError) as caught:
        read_layer(path)
    problem = caught.value.problems[0]
    assert problem.field == "feature 0 (code C1).level"
    assert "村民小组" in problem.problem and "community" in problem.problem


@pytest.mark.parametrize(
    ("geometry", "said"),
    [
        (shapely.Point(113.6, 34.7), "Point"),
        (shapely.LineString([(113.6, 34.7), (113.61, 34.71)]), "LineString"),
        (None, "missing"),
    ],
    ids=["point", "line", "no geometry"],
)
def test_feature_without_a_polygon_is_refused_by_name(
    tmp_path: Path, geometry: shapely.Geometry | None, said: str
) -> None:
    fields = {"code": "C9", "name": "九号", "level": "community", "parent_code": "S1"}
    path = _write_geojson(
        tmp_path / "shapes.geojson", [_square_feature("C1"), _feature(geometry, **fields)]
    )
    with pytest.raises(LayerInputError) as caught:
        read_layer(path)
    (problem,) = caught.value.problems
    assert problem.field == "feature 1 (code C9).geometry"
    assert said in problem.problem


def test_empty_polygon_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.gpkg"
    pyogrio.raw.write(
        path,
        shapely.to_wkb(np.array([shapely.Polygon()], dtype=object)),
        [
            np.array(["C1"], dtype=object),
            np.array(["一"], dtype=object),
            np.array(["street"], dtype=object),
        ],
        ["code", "name", "level"],
        crs="EPSG:4326",
        geometry_type="Polygon",
    )
    with pytest.raises(LayerInputError, match=r"feature 0 \(code C1\)\.geometry: is empty"):
        read_layer(path)


def test_self_intersecting_polygon_is_read_for_validation_to_judge(tmp_path: Path) -> None:
    bow_tie = shapely.Polygon([(113.60, 34.70), (113.61, 34.71), (113.61, 34.70), (113.60, 34.71)])
    path = _write_geojson(
        tmp_path / "bowtie.geojson", [_feature(bow_tie, code="C1", name="一", level="community")]
    )
    (grid,) = read_layer(path).grids
    assert not grid.geometry.is_valid


# --- coordinate systems ------------------------------------------------------------------------


def _utm_file(tmp_path: Path) -> tuple[Path, list[Grid]]:
    grids = _layer()
    path = tmp_path / "utm.shp"
    write_layer(grids, path, crs="EPSG:32649")
    return path, grids


def test_projected_file_is_converted_to_lon_lat(tmp_path: Path) -> None:
    path, grids = _utm_file(tmp_path)
    read = read_layer(path)
    assert read.source_crs == "EPSG:32649"
    assert _max_error_m(grids[0].geometry, read.grids[0].geometry) < 0.5


def test_projected_file_without_its_prj_is_refused_with_a_hint(tmp_path: Path) -> None:
    path, _ = _utm_file(tmp_path)
    path.with_suffix(".prj").unlink()
    with pytest.raises(InvalidInput) as caught:
        read_layer(path)
    assert caught.value.field == "crs"
    assert ".prj" in caught.value.problem and "EPSG:32649" in caught.value.problem


def test_projected_file_without_its_prj_reads_when_told_the_crs(tmp_path: Path) -> None:
    path, grids = _utm_file(tmp_path)
    path.with_suffix(".prj").unlink()
    read = read_layer(path, crs="EPSG:32649")
    assert _max_error_m(grids[1].geometry, read.grids[1].geometry) < 0.5


def test_lon_lat_outside_china_is_refused(tmp_path: Path) -> None:
    path = _write_geojson(
        tmp_path / "swapped.geojson",
        [_feature(box(34.70, 113.60, 34.71, 113.61), code="C1", name="一", level="community")],
    )
    with pytest.raises(InvalidInput, match="not a longitude/latitude in China"):
        read_layer(path)


def test_unknown_crs_name_is_refused(tmp_path: Path) -> None:
    path = _write_geojson(tmp_path / "ok.geojson", [_square_feature()])
    with pytest.raises(InvalidInput, match="unknown CRS 'mars'"):
        read_layer(path, crs="mars")


def test_unknown_output_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"\.kml"):
        write_layer(_layer(), tmp_path / "layer.kml")


# --- names CSV ---------------------------------------------------------------------------------


def test_names_csv_in_gbk_with_chinese_headers_is_read(tmp_path: Path) -> None:
    path = tmp_path / "names.csv"
    path.write_bytes(
        "编码,名称,层级,上级编码\nC1,一号社区,社区,S1\nS1,人民路街道,,\n".encode("gbk")
    )
    assert read_names_csv(path) == [
        NameRow("C1", "一号社区", GridLevel.COMMUNITY, "S1"),
        NameRow("S1", "人民路街道", None, None),
    ]


def test_bad_names_csv_rows_name_the_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "names.csv"
    path.write_text(
        "code,name,level\nC1,一号社区,community\nC2,,community\nC3,三号,村民小组\nC1,重复,community\n",
        encoding="utf-8",
    )
    with pytest.raises(LayerInputError) as caught:
        read_names_csv(path)
    assert [p.field for p in caught.value.problems] == [
        "line 3, column name",
        "line 4, column level",
        "line 5, column code",
    ]
    assert "repeats line 2" in caught.value.problems[-1].problem


def test_names_csv_without_a_code_column_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "names.csv"
    path.write_text("编号,名称\n1,一\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="no code column"):
        read_names_csv(path)


def test_gcj02_conversion_used_by_the_reader_is_the_crs_module_s(tmp_path: Path) -> None:
    grid = _layer()[3]
    lon, lat = chinese_crs.wgs84_to_gcj02(113.60, 34.70)
    shifted = Grid(grid.code, grid.name, grid.level, box(lon, lat, lon + 0.005, lat + 0.005), "C1")
    path = tmp_path / "one.geojson"
    write_layer([shifted], path)
    (read,) = read_layer(path, crs="gcj02").grids
    x, y = shapely.get_coordinates(read.geometry).min(axis=0)
    assert _GEOD.inv(x, y, 113.60, 34.70)[2] < 0.5
