from __future__ import annotations

import json
from pathlib import Path

import pytest
import shapely
from shapely.geometry import box, mapping

from gridgov.core.errors import InvalidInput
from gridgov.grids.merge import LegacyCell, MatchStatus, map_legacy_layer, read_legacy_cells
from gridgov.grids.model import Grid, GridLevel


def _unified() -> list[Grid]:
    return [
        Grid("S1", "一街道", GridLevel.STREET, box(113.60, 34.70, 113.62, 34.72), "D1"),
        Grid("C1", "一社区", GridLevel.COMMUNITY, box(113.60, 34.70, 113.61, 34.72), "S1"),
        Grid("C2", "二社区", GridLevel.COMMUNITY, box(113.61, 34.70, 113.62, 34.72), "S1"),
    ]


def _cell(code: str, west: float, east: float, department: str = "城管") -> LegacyCell:
    return LegacyCell(department, code, f"{department}{code}", box(west, 34.705, east, 34.715))


def _map(
    *cells: LegacyCell, **options: float
) -> dict[str, tuple[MatchStatus, list[tuple[str, float]]]]:
    result = map_legacy_layer(cells, _unified(), level=GridLevel.COMMUNITY, **options)
    return {
        row.cell.code: (row.status, [(s.code, round(s.share, 3)) for s in row.shares])
        for row in result.rows
    }


def test_cell_inside_one_grid_maps_to_it_whole() -> None:
    assert _map(_cell("A", 113.602, 113.606)) == {"A": (MatchStatus.MATCHED, [("C1", 1.0)])}


def test_cell_mostly_in_one_grid_maps_to_it_and_lists_the_rest() -> None:
    assert _map(_cell("A", 113.6005, 113.6105)) == {
        "A": (MatchStatus.MATCHED, [("C1", 0.95), ("C2", 0.05)])
    }


def test_cell_spread_over_grids_is_split() -> None:
    assert _map(_cell("A", 113.605, 113.615)) == {
        "A": (MatchStatus.SPLIT, [("C1", 0.5), ("C2", 0.5)])
    }


def test_split_threshold_is_configurable() -> None:
    ((status, _),) = _map(_cell("A", 113.605, 113.615), split_share=0.5).values()
    assert status is MatchStatus.MATCHED


def test_cell_outside_the_unified_grids_is_unmatched() -> None:
    outside = _cell("A", 113.70, 113.71)
    barely = _cell("B", 113.5901, 113.6000 + 0.00005)  # 0.5% inside C1
    assert _map(outside, barely) == {
        "A": (MatchStatus.UNMATCHED, []),
        "B": (MatchStatus.UNMATCHED, [("C1", 0.005)]),
    }


def test_grid_merely_touching_the_cell_is_not_a_match() -> None:
    assert _map(_cell("A", 113.605, 113.61)) == {"A": (MatchStatus.MATCHED, [("C1", 1.0)])}


def test_only_grids_of_the_level_asked_for_are_considered() -> None:
    result = map_legacy_layer([_cell("A", 113.605, 113.615)], _unified(), level=GridLevel.STREET)
    assert result.rows[0].primary is not None and result.rows[0].primary.code == "S1"


def test_self_intersecting_legacy_cell_is_made_valid_first() -> None:
    bow_tie = shapely.Polygon(
        [(113.601, 34.705), (113.609, 34.715), (113.609, 34.705), (113.601, 34.715)]
    )
    result = map_legacy_layer(
        [LegacyCell("综治", "A", "甲", bow_tie)], _unified(), level=GridLevel.COMMUNITY
    )
    row = result.rows[0]
    assert row.status is MatchStatus.MATCHED and row.area_m2 > 0


def test_legacy_cell_that_is_not_a_polygon_is_refused_by_name() -> None:
    line = LegacyCell("信访", "L1", "线", shapely.LineString([(113.6, 34.7), (113.61, 34.71)]))
    with pytest.raises(InvalidInput) as caught:
        map_legacy_layer([line], _unified(), level=GridLevel.COMMUNITY)
    assert caught.value.field == "legacy[0] (信访 L1).geometry"


def test_result_lists_split_and_unmatched_cells_and_exports_rows(tmp_path: Path) -> None:
    result = map_legacy_layer(
        [
            _cell("A", 113.602, 113.606),
            _cell("B", 113.605, 113.615, "市场监管"),
            _cell("C", 113.70, 113.71),
        ],
        _unified(),
        level=GridLevel.COMMUNITY,
    )
    assert [r.cell.code for r in result.split] == ["B"]
    assert [r.cell.code for r in result.unmatched] == ["C"]
    assert result.summary == {"matched": 1, "split": 1, "unmatched": 1}
    rows = result.to_rows()
    assert rows[1]["department"] == "市场监管"
    assert rows[1]["shares"] == "C1:0.5000;C2:0.5000"
    assert rows[2]["primary_code"] == ""
    text = result.render()
    assert "跨网格" in text and "split" in text and "B" in text
    path = tmp_path / "mapping.csv"
    result.write_csv(path)
    assert len(path.read_text(encoding="utf-8-sig").splitlines()) == 4


def test_legacy_file_is_read_with_the_department_given(tmp_path: Path) -> None:
    path = tmp_path / "legacy.geojson"
    features = [
        {
            "type": "Feature",
            "properties": {"编码": "CG01", "名称": "城管一"},
            "geometry": mapping(box(113.602, 34.705, 113.606, 34.715)),
        },
        {
            "type": "Feature",
            "properties": {"编码": "CG02"},
            "geometry": mapping(box(113.612, 34.705, 113.616, 34.715)),
        },
    ]
    path.write_text(
        json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8"
    )
    cells = read_legacy_cells(path, department="城管")
    assert [(c.department, c.code, c.name) for c in cells] == [
        ("城管", "CG01", "城管一"),
        ("城管", "CG02", "CG02"),
    ]
