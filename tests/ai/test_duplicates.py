"""Cross-channel duplicates (并单): what joins a case, what stays apart, and the recent index."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import pytest

from gridgov.ai.duplicates import DuplicateFinder, RecentIndex, ReportSignature, distance_m
from gridgov.workflow.categories import Taxonomy, load_taxonomy

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LON, LAT = 113.66, 34.75


@pytest.fixture(scope="module")
def finder() -> DuplicateFinder:
    return DuplicateFinder(taxonomy=load_taxonomy())


def east(metres: float) -> float:
    return LON + metres / (math.cos(math.radians(LAT)) * 111_320.0)


def report(
    id: str,
    text: str,
    *,
    channel: str = "citizen_app",
    metres_east: float = 0.0,
    minutes: float = 0.0,
    category: str | None = None,
    accuracy_m: float = 30.0,
    case_id: str | None = None,
) -> ReportSignature:
    return ReportSignature.of(
        id, case_id or id, channel, east(metres_east), LAT, T0 + timedelta(minutes=minutes),
        category, text, accuracy_m,
    )  # fmt: skip


def test_one_manhole_reported_on_three_channels_becomes_one_case(finder: DuplicateFinder) -> None:
    patrol = report(
        "p", "金水路南侧污水井盖缺失，已设置临时警示", channel="grid_patrol", category="C0102"
    )
    hotline = report(
        "h", "市民来电反映：金水路南侧有一个井盖丢失，行人和车辆经过很危险，请尽快处理。",
        channel="hotline_12345", metres_east=90, minutes=40, category="C0102", accuracy_m=150,
    )  # fmt: skip
    app = report(
        "a", "金水路上井盖没了，晚上看不见太危险", metres_east=-20, minutes=75, category="C0102"
    )
    assert finder.find(hotline, [patrol]).same_as == "p"
    joined = report("h", hotline.text, case_id="p", metres_east=90, minutes=40, category="C0102")
    assert finder.find(app, [patrol, joined]).same_as == "p"


def test_two_potholes_30_m_apart_on_different_roads_stay_separate(finder: DuplicateFinder) -> None:
    first = report("1", "花园路东侧路面有一个大坑，电动车容易摔倒", category="E0402")
    second = report(
        "2",
        "纬五路东侧路面有一个大坑，电动车容易摔倒",
        metres_east=30,
        minutes=20,
        category="E0402",
    )
    decision = finder.find(second, [first])
    assert decision.same_as is None
    assert any("road: 纬五路 ≠ 花园路" in r.en for r in decision.reasons)


def test_the_same_problem_on_the_other_side_of_the_road_stays_separate(
    finder: DuplicateFinder,
) -> None:
    first = report("1", "金水路北侧路面塌陷出现坑洼", category="E0402")
    second = report("2", "金水路南侧路面塌陷出现坑洼", metres_east=35, minutes=10, category="E0402")
    assert finder.find(second, [first]).same_as is None


def test_garbage_at_building_3_and_building_7_stays_separate(finder: DuplicateFinder) -> None:
    first = report("1", "绿城小区3号楼东侧垃圾堆积多日无人清运", category="E0102")
    second = report(
        "2", "绿城小区七号楼东侧垃圾堆积多日无人清运", metres_east=40, minutes=30, category="E0102"
    )
    decision = finder.find(second, [first])
    assert decision.same_as is None
    assert "楼: 7 ≠ 3" in decision.reasons[-1].en


def test_a_detail_contradicting_any_report_of_the_case_keeps_a_report_out(
    finder: DuplicateFinder,
) -> None:
    vague = report("v", "小区里垃圾堆成山了，臭死了", category="E0102", case_id="c")
    precise = report(
        "p", "绿城小区3号楼东侧暴露垃圾一处", metres_east=10, category="E0102", case_id="c"
    )
    other = report(
        "o", "绿城小区7号楼东侧垃圾堆成山了，臭死了", metres_east=20, minutes=15, category="E0102"
    )
    assert finder.find(other, [vague, precise]).same_as is None


def test_the_same_wording_a_kilometre_away_is_another_problem(finder: DuplicateFinder) -> None:
    first = report("1", "金水路南侧井盖丢失", category="C0102")
    second = report("2", "金水路南侧井盖丢失", metres_east=1_000, minutes=5, category="C0102")
    assert finder.find(second, [first]).same_as is None


def test_the_same_place_four_days_later_is_another_problem(finder: DuplicateFinder) -> None:
    first = report("1", "金水路南侧井盖丢失", category="C0102")
    second = report("2", "金水路南侧井盖丢失", minutes=4 * 24 * 60, category="C0102")
    assert finder.find(second, [first]).same_as is None


def test_conflicting_categories_at_the_same_spot_stay_separate(finder: DuplicateFinder) -> None:
    light = report("1", "这里路灯不亮", category="C0105")
    garbage = report("2", "这里垃圾没人收", metres_east=5, minutes=5, category="E0102")
    decision = finder.find(garbage, [light])
    assert decision.same_as is None
    assert decision.review_case is None


def test_an_ambiguous_match_is_offered_for_review_not_merged(finder: DuplicateFinder) -> None:
    patrol = report(
        "p", "文化路北侧行道树倒伏一棵，影响通行", channel="grid_patrol", category="C0402"
    )
    app = report("a", "树倒了，横在路上", metres_east=60, minutes=30, category="C0402")
    decision = finder.find(app, [patrol])
    assert decision.same_as is None
    assert decision.review_case == "p"


def test_a_decision_explains_itself_in_both_languages(finder: DuplicateFinder) -> None:
    first = report("1", "金水路南侧井盖丢失，很危险", category="C0102")
    second = report("2", "金水路南侧井盖丢失了", metres_east=40, minutes=12, category="C0102")
    decision = finder.find(second, [first])
    assert decision.same_as == "1"
    assert decision.matched_report_id == "1"
    reasons = {r.key: r for r in decision.reasons}
    assert reasons["distance"].zh == "相距 40 米"
    assert reasons["time"].en == "12 min apart"
    assert reasons["category"].zh == "分类相同"
    assert "细节一致" in reasons["details"].zh


def test_sibling_categories_agree_less_than_the_same_leaf(finder: DuplicateFinder) -> None:
    assert finder.category_relation("C0102", "C0102") == "same"
    assert finder.category_relation("C0102", "C0103") == "sibling"
    assert finder.category_relation("C0102", "E0102") == "conflict"
    assert finder.category_relation("H01", "E0102") == "other_taxonomy"
    assert finder.category_relation(None, "E0102") == "unknown"


def test_a_report_never_duplicates_itself(finder: DuplicateFinder) -> None:
    only = report("1", "金水路南侧井盖丢失", category="C0102")
    assert finder.find(only, [only]).same_as is None


def test_distance_is_measured_in_metres() -> None:
    assert distance_m(LON, LAT, east(100), LAT) == pytest.approx(100, rel=1e-3)


def test_the_recent_index_returns_neighbours_and_not_far_reports(finder: DuplicateFinder) -> None:
    index = RecentIndex.for_finder(finder)
    index.add(report("near", "井盖丢失", metres_east=120))
    index.add(report("far", "井盖丢失", metres_east=2_000))
    assert [s.id for s in index.near(LON, LAT)] == ["near"]


def test_the_recent_index_says_which_signatures_a_lookup_would_read(
    finder: DuplicateFinder,
) -> None:
    # Exactly those `near` would return once they are kept: from the next cells, not beyond.
    for metres in (0, 120, 350, 650, 900, 1_300, 2_000, -350, -900):
        index = RecentIndex.for_finder(finder)
        index.add(report("here", "井盖丢失"))
        arrived = report("arrived", "井盖丢失", metres_east=metres)
        said = index.would_read([(LON, LAT)], [arrived])
        index.add(arrived)
        assert said == ("arrived" in [s.id for s in index.near(LON, LAT)]), metres
    index = RecentIndex.for_finder(finder)
    far = report("far", "井盖丢失", metres_east=5_000)
    assert not index.would_read([(LON, LAT), (east(1_000), LAT)], [far])
    assert index.would_read([(LON, LAT), (east(4_800), LAT)], [far])
    assert not index.would_read([], [far]) and not index.would_read([(LON, LAT)], [])


def test_the_recent_index_forgets_reports_older_than_the_window(finder: DuplicateFinder) -> None:
    index = RecentIndex.for_finder(finder)
    index.add(report("old", "井盖丢失"))
    index.add(report("new", "井盖丢失", minutes=60 * 48))
    assert index.evict(T0 + timedelta(hours=73)) == 1
    assert [s.id for s in index.near(LON, LAT)] == ["new"]


def test_a_closed_case_leaves_the_recent_index(finder: DuplicateFinder) -> None:
    index = RecentIndex.for_finder(finder)
    index.add(report("1", "井盖丢失", case_id="c"))
    index.add(report("2", "井盖丢失了", case_id="c", metres_east=10))
    index.add(report("3", "垃圾", case_id="d"))
    assert [s.id for s in index.of_case("c")] == ["1", "2"]
    index.remove_case("c")
    assert [s.id for s in index.near(LON, LAT)] == ["3"]
    assert len(index) == 1


def test_a_report_added_again_replaces_its_old_signature(finder: DuplicateFinder) -> None:
    index = RecentIndex.for_finder(finder)
    index.add(report("1", "井盖丢失"))
    index.add(report("1", "井盖丢失", case_id="merged"))
    assert [s.case_id for s in index.near(LON, LAT)] == ["merged"]


def test_the_finder_refuses_a_review_threshold_above_the_merge_threshold() -> None:
    with pytest.raises(ValueError, match="review_threshold"):
        DuplicateFinder(threshold=0.5, review_threshold=0.6)


def test_the_shipped_taxonomy_fits_the_category_tree_protocol() -> None:
    taxonomy: Taxonomy = load_taxonomy()
    assert DuplicateFinder(taxonomy=taxonomy).category_relation("E0401", "E0403") == "sibling"


def test_time_apart_is_exact_to_the_microsecond_across_time_zones(finder: DuplicateFinder) -> None:
    beijing = timezone(timedelta(hours=8))
    first = report("1", "金水路南侧井盖丢失", category="C0102")
    later = ReportSignature.of(
        "2", "2", "police_110", east(5), LAT,
        (T0 + timedelta(minutes=31, seconds=30, microseconds=7)).astimezone(beijing),
        "C0102", "金水路南侧井盖丢失", 30.0,
    )  # fmt: skip
    decision = finder.find(later, [first])
    reasons = {r.key: r for r in decision.reasons}
    assert reasons["time"].value == round((31 * 60 + 30.000007) / 60, 1)
    assert decision.same_as == "1"


def test_a_signature_refuses_a_time_without_a_zone() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ReportSignature.of("1", "1", "citizen_app", LON, LAT, datetime(2026, 3, 2, 9), None, "井盖")


def test_details_stated_alike_in_many_neighbours_score_the_same_each_time(
    finder: DuplicateFinder,
) -> None:
    # Detail comparisons are remembered across lookups; the answers must not depend on order.
    new = report("new", "和平新村3号楼东侧井盖丢失", category="C0102", minutes=30)
    same = report("a", "和平新村3号楼东侧井盖没了", category="C0102", metres_east=10)
    other = report("b", "和平新村7号楼东侧井盖没了", category="C0102", metres_east=10)
    first = finder.find(new, [other, same])
    second = finder.find(new, [same, other])
    assert first == second and first.same_as == "a"
    assert finder.find(new, [other]).same_as is None
