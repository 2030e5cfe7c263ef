from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import shapely
from pyproj import Geod
from shapely.geometry import box

from gridgov.grids.model import Grid, GridLevel, SpecialKind
from gridgov.grids.validation import ProblemKind, Severity, ValidationReport, validate_layer

_GEOD = Geod(ellps="WGS84")
# Near 34.7°N one metre is about 1.1e-5 degrees of longitude and 9.0e-6 of latitude.
_M_LON = 1.0 / 91_500.0
_M_LAT = 1.0 / 110_950.0


def _city() -> list[Grid]:
    """City → two districts → a street each → two communities → compounds → micro-grids, tiled."""
    g = Grid
    return [
        g("Z", "郑州市", GridLevel.CITY, box(113.60, 34.70, 113.64, 34.72)),
        g("D1", "一区", GridLevel.DISTRICT, box(113.60, 34.70, 113.62, 34.72), "Z"),
        g("D2", "二区", GridLevel.DISTRICT, box(113.62, 34.70, 113.64, 34.72), "Z"),
        g("S1", "一街道", GridLevel.STREET, box(113.60, 34.70, 113.62, 34.72), "D1"),
        g("S2", "二街道", GridLevel.STREET, box(113.62, 34.70, 113.64, 34.72), "D2"),
        g("C1", "一社区", GridLevel.COMMUNITY, box(113.60, 34.70, 113.61, 34.72), "S1"),
        g("C2", "二社区", GridLevel.COMMUNITY, box(113.61, 34.70, 113.62, 34.72), "S1"),
        g("P1", "一小区", GridLevel.COMPOUND, box(113.60, 34.70, 113.605, 34.72), "C1"),
        g("P2", "二小区", GridLevel.COMPOUND, box(113.605, 34.70, 113.61, 34.72), "C1"),
        g("M1", "一微网格", GridLevel.MICRO, box(113.60, 34.70, 113.605, 34.71), "P1"),
        g("M2", "二微网格", GridLevel.MICRO, box(113.60, 34.71, 113.605, 34.72), "P1"),
        g(
            "X1",
            "第一中学",
            GridLevel.SPECIAL,
            box(113.604, 34.709, 113.606, 34.711),
            "S1",
            special_kind=SpecialKind.SCHOOL,
            responsible_unit="市教育局",
        ),
        g("X2", "人民医院", GridLevel.SPECIAL, box(113.6045, 34.7095, 113.6055, 34.7105), "C1"),
    ]


def _with(grids: list[Grid], code: str, **changes: object) -> list[Grid]:
    return [replace(g, **changes) if g.code == code else g for g in grids]  # type: ignore[arg-type]


def _without(grids: list[Grid], code: str) -> list[Grid]:
    return [g for g in grids if g.code != code]


def _kinds(report: ValidationReport) -> list[tuple[Severity, ProblemKind, tuple[str, ...]]]:
    return [(p.severity, p.kind, p.codes) for p in report.problems]


def _geodesic_area(geometry: shapely.Geometry) -> float:
    return abs(_GEOD.geometry_area_perimeter(geometry)[0])


def test_tiled_layer_with_overlapping_specials_passes() -> None:
    report = validate_layer(_city())
    assert report.ok
    assert report.problems == ()
    assert report.summary == {"errors": 0, "warnings": 0, "repaired": 0}
    assert report.render().splitlines()[:2] == [
        "网格图层校验通过：13 个网格，0 个错误，0 个警告，0 个已修复",
        "Grid layer validation passed: 13 grids, 0 errors, 0 warnings, 0 repaired",
    ]


# --- geometry ----------------------------------------------------------------------------------


def test_bow_tie_is_rejected_because_repair_would_invent_its_area() -> None:
    bow_tie = shapely.Polygon(
        [(113.60, 34.70), (113.605, 34.71), (113.605, 34.70), (113.60, 34.71)]
    )
    report = validate_layer(_with(_city(), "M1", geometry=bow_tie))
    (problem,) = [p for p in report.problems if p.kind is ProblemKind.INVALID_GEOMETRY]
    assert (problem.severity, problem.codes) == (Severity.ERROR, ("M1",))
    assert "Self-intersection" in problem.message_en and "redraw" in problem.message_en
    assert (problem.lon, problem.lat) == pytest.approx((113.6025, 34.705))
    assert not report.ok
    assert report.repaired_grids == ()


def test_small_self_intersection_is_repaired_and_the_repair_returned() -> None:
    d = 0.2 * _M_LAT  # a 20 cm twist at one corner
    twisted = shapely.Polygon(
        [(113.60, 34.70), (113.605, 34.70), (113.605, 34.71), (113.60, 34.71),
         (113.60, 34.70 + d), (113.60 + d, 34.70 - d)]
    )  # fmt: skip
    report = validate_layer(_with(_city(), "M1", geometry=twisted))
    assert _kinds(report) == [(Severity.REPAIRED, ProblemKind.INVALID_GEOMETRY, ("M1",))]
    assert report.ok
    (repaired,) = report.repaired_grids
    assert repaired.code == "M1" and repaired.geometry.is_valid
    assert next(g for g in report.grids if g.code == "M1") is repaired
    assert report.summary["repaired"] == 1


def test_empty_geometry_is_an_error() -> None:
    report = validate_layer(_with(_city(), "M2", geometry=shapely.Polygon()))
    assert (Severity.ERROR, ProblemKind.INVALID_GEOMETRY, ("M2",)) in _kinds(report)


# --- codes and hierarchy -----------------------------------------------------------------------


def test_duplicate_codes_are_an_error_naming_the_code() -> None:
    grids = [
        *_city(),
        Grid("M2", "重复", GridLevel.MICRO, box(113.605, 34.70, 113.61, 34.71), "P2"),
    ]
    report = validate_layer(grids)
    assert (Severity.ERROR, ProblemKind.DUPLICATE_CODE, ("M2",)) in _kinds(report)
    assert not report.ok


@pytest.mark.parametrize(
    ("code", "parent", "kind"),
    [
        ("C2", None, ProblemKind.MISSING_PARENT),
        ("C2", "S9", ProblemKind.ORPHAN),
        ("C2", "D1", ProblemKind.WRONG_PARENT_LEVEL),
        ("P2", "S1", ProblemKind.WRONG_PARENT_LEVEL),
        ("X1", "M1", ProblemKind.WRONG_PARENT_LEVEL),
        ("X1", "D1", ProblemKind.WRONG_PARENT_LEVEL),
    ],
)
def test_broken_parent_links_are_errors(code: str, parent: str | None, kind: ProblemKind) -> None:
    report = validate_layer(_with(_city(), code, parent_code=parent))
    problems = [p for p in report.problems if p.kind is kind]
    assert [p.codes[0] for p in problems] == [code]
    assert problems[0].severity is Severity.ERROR


@pytest.mark.parametrize("parent", ["S1", "C1", "P1"])
def test_special_grid_may_hang_below_a_street_community_or_compound(parent: str) -> None:
    assert validate_layer(_with(_city(), "X1", parent_code=parent)).ok


def test_wrong_parent_level_names_the_level_expected() -> None:
    report = validate_layer(_with(_city(), "C2", parent_code="D1"))
    (problem,) = [p for p in report.problems if p.kind is ProblemKind.WRONG_PARENT_LEVEL]
    assert "expected street" in problem.message_en
    assert "一级网格" in problem.message_zh


# --- containment -------------------------------------------------------------------------------


def test_child_reaching_out_of_its_parent_is_measured_in_metres() -> None:
    reach = 20.0
    poking = box(113.605, 34.70, 113.61 + reach * _M_LON, 34.72)
    report = validate_layer(_with(_city(), "P2", geometry=poking))
    (problem,) = [p for p in report.problems if p.kind is ProblemKind.OUTSIDE_PARENT]
    assert (problem.severity, problem.codes) == (Severity.ERROR, ("P2", "C1"))
    assert problem.distance_m == pytest.approx(reach, rel=0.01)
    expected = _geodesic_area(box(113.61, 34.70, 113.61 + reach * _M_LON, 34.72))
    assert problem.area_m2 == pytest.approx(expected, rel=0.01)
    assert problem.lon is not None and 113.61 < problem.lon < 113.61 + reach * _M_LON


def test_child_within_the_tolerance_of_its_parent_passes() -> None:
    nudged = box(113.605, 34.70, 113.61 + 0.5 * _M_LON, 34.72)
    report = validate_layer(_with(_city(), "P2", geometry=nudged))
    assert ProblemKind.OUTSIDE_PARENT not in report.summary


def test_special_grid_straddling_streets_is_a_warning() -> None:
    straddling = box(113.618, 34.709, 113.622, 34.711)
    report = validate_layer(_with(_city(), "X1", geometry=straddling))
    assert _kinds(report) == [(Severity.WARNING, ProblemKind.OUTSIDE_PARENT, ("X1", "S1"))]
    assert report.ok


def test_special_grid_outside_the_city_is_an_error() -> None:
    beyond = box(113.639, 34.709, 113.645, 34.711)
    report = validate_layer(_with(_city(), "X1", geometry=beyond, parent_code="S2"))
    (problem,) = [p for p in report.problems if p.kind is ProblemKind.OUTSIDE_CITY]
    assert problem.codes == ("X1",)
    assert problem.distance_m == pytest.approx(0.005 / _M_LON, rel=0.01)
    assert not report.ok


# --- overlaps and gaps -------------------------------------------------------------------------


def test_overlapping_siblings_are_an_error_with_the_shared_area() -> None:
    into = 10.0
    grown = box(113.60, 34.71 - into * _M_LAT, 113.605, 34.72)
    report = validate_layer(_with(_city(), "M2", geometry=grown))
    (problem,) = report.problems
    assert (problem.severity, problem.kind, problem.codes) == (
        Severity.ERROR,
        ProblemKind.OVERLAP,
        ("M1", "M2"),
    )
    expected = _geodesic_area(box(113.60, 34.71 - into * _M_LAT, 113.605, 34.71))
    assert problem.area_m2 == pytest.approx(expected, rel=0.01)


def test_grid_lying_inside_another_of_its_level_is_an_overlap() -> None:
    inner = Grid("M3", "内嵌", GridLevel.MICRO, box(113.601, 34.701, 113.602, 34.702), "P1")
    report = validate_layer([*_city(), inner])
    assert (Severity.ERROR, ProblemKind.OVERLAP, ("M1", "M3")) in _kinds(report)


def test_overlap_below_the_tolerance_passes() -> None:
    grown = box(113.60, 34.71 - 0.001 * _M_LAT, 113.605, 34.72)  # 1 mm × 450 m ≈ 0.5 m²
    assert validate_layer(_with(_city(), "M2", geometry=grown)).ok


def test_grids_of_one_level_in_different_parents_must_not_overlap_either() -> None:
    grown = box(113.605, 34.70, 113.6105, 34.72)
    report = validate_layer(
        [
            *_with(_city(), "P2", geometry=grown),
            Grid("P3", "三小区", GridLevel.COMPOUND, box(113.61, 34.70, 113.62, 34.72), "C2"),
        ]
    )
    assert (Severity.ERROR, ProblemKind.OVERLAP, ("P2", "P3")) in _kinds(report)


def test_part_of_a_parent_without_children_is_a_gap_that_warns_but_does_not_block() -> None:
    report = validate_layer(_without(_city(), "M2"))
    (problem,) = report.problems
    assert problem.severity is Severity.WARNING and report.ok
    assert (problem.kind, problem.codes, problem.level) == (
        ProblemKind.GAP,
        ("P1",),
        GridLevel.COMPOUND,
    )
    assert problem.area_m2 == pytest.approx(
        _geodesic_area(box(113.60, 34.71, 113.605, 34.72)), rel=0.01
    )
    assert problem.lat is not None and 34.71 < problem.lat < 34.72
    assert "微网格" in problem.message_zh


def test_gap_below_the_tolerance_passes() -> None:
    shrunk = box(113.60, 34.71 + 0.1 * _M_LAT, 113.605, 34.72)  # a 10 cm strip, ~45 m²
    assert validate_layer(_with(_city(), "M2", geometry=shrunk)).ok


def test_gap_hidden_by_an_overlap_elsewhere_among_the_siblings_is_still_found() -> None:
    # M2 slides down over M1 by as much as it leaves uncovered at the top: areas still add up.
    slid = box(113.60, 34.709, 113.605, 34.719)
    report = validate_layer(_with(_city(), "M2", geometry=slid))
    assert {p.kind for p in report.problems} == {ProblemKind.OVERLAP, ProblemKind.GAP}


# --- the report --------------------------------------------------------------------------------


def test_report_rows_and_text_carry_both_languages(tmp_path: Path) -> None:
    report = validate_layer(_without(_city(), "M2"))
    (row,) = report.to_rows()
    assert row["severity"] == "warning" and row["kind"] == "gap" and row["codes"] == "P1"
    assert float(row["area_m2"]) > 100
    assert "覆盖缺口" in report.render() and "gap" in report.render()
    path = tmp_path / "report.csv"
    report.write_csv(path)
    assert path.read_text(encoding="utf-8-sig").splitlines()[0].startswith("severity,kind,codes")


def test_render_limits_the_problems_listed() -> None:
    grids = [
        *_city(),
        *(
            Grid(f"Q{i}", "孤儿", GridLevel.MICRO, box(113.60, 34.70, 113.601, 34.701), f"N{i}")
            for i in range(5)
        ),
    ]
    text = validate_layer(grids).render(limit=2)
    assert "more not shown" in text
