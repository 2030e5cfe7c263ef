from __future__ import annotations

import random
import re

import pytest
import shapely
from shapely.geometry import box

from gridgov.core.errors import InvalidInput
from gridgov.grids.model import Grid, GridLevel
from gridgov.intake.gazetteer import (
    AddressMatch,
    Gazetteer,
    GazetteerEntry,
    PlaceKind,
    entries_from_grids,
)
from gridgov.sim.city import generate_city
from gridgov.sim.places import generate_places

K = PlaceKind
JIN = ("金水区",)
JIN_WH = ("金水区", "文化路街道")
JIN_WH_BWY = ("金水区", "文化路街道", "博物院社区居民委员会")
JIN_DF_NK = ("金水区", "东风路街道", "农科社区居委会")
ER = ("二七区",)
ER_HH = ("二七区", "淮河路街道")
ER_HH_HH = ("二七区", "淮河路街道", "淮河社区居民委员会")
GC_SB = ("管城回族区", "十八里河街道", "张楼村委会")


def entry(
    name: str, kind: PlaceKind, lon: float, lat: float, parents: tuple[str, ...]
) -> GazetteerEntry:
    return GazetteerEntry(name, kind, lon, lat, f"code-{name}-{lon}", parent_names=parents)


ENTRIES = [
    entry("金水区", K.DISTRICT, 113.68, 34.80, ()),
    entry("二七区", K.DISTRICT, 113.60, 34.70, ()),
    entry("管城回族区", K.DISTRICT, 113.72, 34.72, ()),
    entry("文化路街道", K.STREET, 113.66, 34.79, JIN),
    entry("东风路街道", K.STREET, 113.69, 34.81, JIN),
    entry("淮河路街道", K.STREET, 113.61, 34.71, ER),
    entry("十八里河街道", K.STREET, 113.73, 34.68, ("管城回族区",)),
    entry("博物院社区居民委员会", K.COMMUNITY, 113.665, 34.795, JIN_WH),
    entry("农科社区居委会", K.COMMUNITY, 113.69, 34.812, ("金水区", "东风路街道")),
    entry("淮河社区居民委员会", K.COMMUNITY, 113.612, 34.712, ER_HH),
    entry("张楼村委会", K.COMMUNITY, 113.731, 34.681, ("管城回族区", "十八里河街道")),
    entry("平光华庭", K.COMPOUND, 113.666, 34.796, JIN_WH_BWY),
    entry("幸福家园", K.COMPOUND, 113.691, 34.813, JIN_DF_NK),
    entry("幸福家园", K.COMPOUND, 113.613, 34.713, ER_HH_HH),
    entry("商城路177号院", K.COMPOUND, 113.72, 34.75, ("管城回族区",)),
    entry("张楼村第三村民小组", K.COMPOUND, 113.732, 34.682, GC_SB),
    entry("锦德实验学校", K.SPECIAL, 113.667, 34.791, JIN_WH),
    entry("二七区人民医院", K.SPECIAL, 113.614, 34.709, ER_HH),
    entry("文化路", K.ROAD, 113.665, 34.78, ("金水区", "文化路街道")),
    entry("农业路", K.ROAD, 113.68, 34.785, JIN),
    entry("花园路", K.ROAD, 113.685, 34.79, JIN),
    entry("淮河路", K.ROAD, 113.60, 34.715, ER),
    entry("大学路", K.ROAD, 113.615, 34.72, ER),
    entry("淮河路与大学路交叉口", K.INTERSECTION, 113.61, 34.716, ER_HH_HH),
    entry("农业路与花园路交叉口", K.INTERSECTION, 113.686, 34.786, JIN_DF_NK),
    entry("农业路与文化路交叉口", K.INTERSECTION, 113.666, 34.786, JIN_WH_BWY),
    entry("鑫华超市(文化路店)", K.POI, 113.664, 34.783, JIN_WH_BWY),
]

# (address, matched name, district of the match or None, located)
LOCATED_AS = [
    ("郑州市金水区文化路街道博物院社区平光华庭3号楼东侧", "平光华庭", "金水区", True),
    ("河南省郑州市金水区文化路街道博物院社区平光华庭", "平光华庭", "金水区", True),
    ("金水区文化路街道办博物院社区居民委员会平光华庭", "平光华庭", "金水区", True),
    ("金水区文化路街道博物院社区平光华庭３号楼２单元", "平光华庭", "金水区", True),
    ("文化路街道博物院社区平光华苑2单元", "平光华庭", "金水区", True),
    ("博物院社区平光华庭小区", "平光华庭", "金水区", True),
    ("平光华庭", "平光华庭", "金水区", True),
    ("博物院社区", "博物院社区居民委员会", "金水区", True),
    ("博物院", "博物院社区居民委员会", "金水区", True),
    ("文化路街道博物苑社区", "博物院社区居民委员会", "金水区", True),
    ("金水区文化路街道", "文化路街道", "金水区", True),
    ("金水区", "金水区", None, False),
    ("二七区淮河路与大学路交叉口", "淮河路与大学路交叉口", "二七区", True),
    ("淮河路大学路交叉口往北100米", "淮河路与大学路交叉口", "二七区", True),
    ("金水区农业路花园路口", "农业路与花园路交叉口", "金水区", True),
    ("农业路和文化路交叉口附近", "农业路与文化路交叉口", "金水区", True),
    ("农业路文化路", "农业路与文化路交叉口", "金水区", True),
    ("锦德实验学校门口", "锦德实验学校", "金水区", True),
    ("锦德实验学校对面", "锦德实验学校", "金水区", True),
    ("二七区人民医院急诊楼", "二七区人民医院", "二七区", True),
    ("金水区幸福家园5号楼", "幸福家园", "金水区", True),
    ("二七区幸福家园", "幸福家园", "二七区", True),
    ("淮河路街道幸福家园", "幸福家园", "二七区", True),
    ("管城区张楼村三组", "张楼村第三村民小组", "管城回族区", True),
    ("管城回族区十八里河街道张楼村第三村民小组", "张楼村第三村民小组", "管城回族区", True),
    ("商城路177号院3号楼2单元501室", "商城路177号院", "管城回族区", True),
    ("鑫华超市（文化路店）", "鑫华超市(文化路店)", "金水区", True),
    ("文化路88号", "文化路", "金水区", False),
]


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer.build(ENTRIES)


def district_of(match: AddressMatch) -> str | None:
    return match.parent_names[0] if match.parent_names else None


@pytest.mark.parametrize(("text", "name", "district", "located"), LOCATED_AS)
def test_an_address_is_located_at_the_place_it_names(
    gazetteer: Gazetteer, text: str, name: str, district: str | None, located: bool
) -> None:
    match = gazetteer.locate(text)
    assert match is not None
    assert (match.matched_name, district_of(match), match.located) == (name, district, located)
    assert 0 <= match.confidence <= 1


@pytest.mark.parametrize("text", ["今天天气很好", "asdfgh", "", "   ", "３号楼２单元"])
def test_text_that_names_no_place_is_not_located(gazetteer: Gazetteer, text: str) -> None:
    match = gazetteer.locate(text)
    assert match is None or not match.located


def test_a_typo_still_matches_but_with_lower_confidence_than_the_exact_name(
    gazetteer: Gazetteer,
) -> None:
    exact = gazetteer.locate("文化路街道博物院社区平光华庭")
    typo = gazetteer.locate("文化路街道博物院社区平光华苑")
    assert exact is not None and typo is not None
    assert typo.confidence < exact.confidence
    assert "75%" in typo.explanation_zh


def test_a_name_in_two_districts_without_a_district_goes_to_manual_location_with_both_listed(
    gazetteer: Gazetteer,
) -> None:
    match = gazetteer.locate("幸福家园3号楼")
    assert match is not None
    assert not match.located
    places = {(match.matched_name, district_of(match))} | {
        (c.matched_name, c.parent_names[0]) for c in match.candidates
    }
    assert {("幸福家园", "金水区"), ("幸福家园", "二七区")} <= places
    assert "人工确认" in match.explanation_zh and "confirm" in match.explanation_en


def test_the_district_in_the_text_picks_between_two_places_of_the_same_name(
    gazetteer: Gazetteer,
) -> None:
    alone = gazetteer.locate("幸福家园")
    with_district = gazetteer.locate("二七区幸福家园")
    assert alone is not None and with_district is not None
    assert with_district.confidence > alone.confidence
    assert with_district.grid_code == "code-幸福家园-113.613"


def test_a_place_that_contradicts_the_district_in_the_text_goes_to_manual_location(
    gazetteer: Gazetteer,
) -> None:
    match = gazetteer.locate("金水区淮河社区")
    assert match is not None
    assert not match.located
    offered = {c.matched_name: c for c in match.candidates}
    assert "淮河社区居民委员会" in offered
    assert offered["淮河社区居民委员会"].confidence < 0.5


def test_an_offset_in_the_text_moves_the_point_that_far(gazetteer: Gazetteer) -> None:
    plain = gazetteer.locate("淮河路与大学路交叉口")
    moved = gazetteer.locate("淮河路与大学路交叉口往北100米")
    east = gazetteer.locate("淮河路与大学路交叉口向东0.5公里")
    assert plain is not None and moved is not None and east is not None
    assert moved.lat - plain.lat == pytest.approx(100 / 110_574, rel=0.01)
    assert moved.lon == pytest.approx(plain.lon)
    assert east.lon > plain.lon and east.lat == pytest.approx(plain.lat)
    assert moved.offset is not None and moved.offset.distance_m == pytest.approx(100)
    assert moved.grid_code == plain.grid_code


def test_the_explanation_names_the_match_and_its_areas_in_chinese_and_english(
    gazetteer: Gazetteer,
) -> None:
    match = gazetteer.locate("金水区文化路街道博物院社区平光华庭")
    assert match is not None
    assert "平光华庭" in match.explanation_zh and "金水区" in match.explanation_zh
    assert match.explanation_en.startswith("compound 平光华庭 (exact name)")


def test_the_threshold_decides_between_located_and_manual_location() -> None:
    strict = Gazetteer.build(ENTRIES, threshold=0.9)
    lenient = Gazetteer.build(ENTRIES, threshold=0.5)
    assert not strict.locate("文化路街道博物院社区平光华苑").located  # type: ignore[union-attr]
    assert lenient.locate("金水区").located  # type: ignore[union-attr]


def test_a_threshold_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        Gazetteer.build(ENTRIES, threshold=1.5)
    assert refused.value.field == "threshold"


def test_an_intersection_not_named_after_its_two_roads_is_refused() -> None:
    bad = GazetteerEntry("大学路口", K.INTERSECTION, 113.6, 34.7, "x")
    with pytest.raises(InvalidInput) as refused:
        Gazetteer.build([bad])
    assert refused.value.field == "entries"


def test_grid_entries_carry_their_parent_names_and_a_point_inside_the_grid() -> None:
    grids = [
        Grid("410100000000", "郑州市", GridLevel.CITY, box(0, 0, 4, 4)),
        Grid("410105000000", "金水区", GridLevel.DISTRICT, box(0, 0, 4, 4), "410100000000"),
        Grid("410105001000", "文化路街道", GridLevel.STREET, box(0, 0, 2, 2), "410105000000"),
        Grid("410105001001", "博物院社区", GridLevel.COMMUNITY, box(0, 0, 1, 1), "410105001000"),
        Grid("410105001001001", "平光华庭", GridLevel.COMPOUND, box(0, 0, 1, 1), "410105001001"),
        Grid("41010500100100101", "第1微网格", GridLevel.MICRO, box(0, 0, 1, 1), "410105001001001"),
    ]
    entries = {e.name: e for e in entries_from_grids(grids)}
    assert set(entries) == {"金水区", "文化路街道", "博物院社区", "平光华庭"}
    compound = entries["平光华庭"]
    assert compound.parent_names == ("金水区", "文化路街道", "博物院社区")
    assert compound.kind is K.COMPOUND and compound.grid_code == "410105001001001"
    assert box(0, 0, 1, 1).contains(shapely.Point(compound.lon, compound.lat))


_TYPO_CHARS = "的一是在不了有和人这中大为上个我以要他时来用们生到作地于出就分对成会可主发年动"


def _typo(text: str, rng: random.Random) -> str:
    if len(text) < 3:
        return text
    i = rng.randrange(len(text))
    return text[:i] + rng.choice(_TYPO_CHARS) + text[i + 1 :]


@pytest.mark.slow
def test_addresses_built_from_the_demo_city_find_their_community_at_least_95_percent() -> None:
    grids = generate_city(scale=0.02)
    gazetteer = Gazetteer.build(entries_from_grids(grids) + generate_places(grids))
    by_code = {g.code: g for g in grids}
    rng = random.Random(4)
    compounds = [g for g in grids if g.level is GridLevel.COMPOUND]
    found = 0
    for compound in compounds:
        community = by_code[str(compound.parent_code)]
        street = by_code[str(community.parent_code)]
        district = by_code[str(street.parent_code)]
        short = re.sub(r"(居民委员会|居委会|村民委员会|村委会)$", "", community.name)
        parts = [district.name, street.name, rng.choice([community.name, short]), compound.name]
        for i in range(3):
            if rng.random() < 0.3:
                parts[i] = ""
        if rng.random() < 0.2:
            i = rng.randrange(4)
            parts[i] = _typo(parts[i], rng)
        match = gazetteer.locate("郑州市" + "".join(parts) + "3号楼")
        if match is None or not match.located:
            continue
        matched = by_code.get(match.grid_code)
        while matched is not None and matched.level not in (GridLevel.COMMUNITY, GridLevel.CITY):
            matched = by_code.get(str(matched.parent_code))
        found += matched is not None and matched.code == community.code
    assert len(compounds) > 300
    assert found / len(compounds) >= 0.95
