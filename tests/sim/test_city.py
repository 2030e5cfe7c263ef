from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np
import pytest
import shapely

from gridgov.grids.model import REGULAR_LEVELS, Grid, GridLevel
from gridgov.sim.city import FULL_SCALE, LevelCounts, apportion, generate_city
from gridgov.sim.city_geometry import URBAN_CORE, area_km2, load_districts
from gridgov.sim.city_names import HOSTED_ZONES, load_towns

SMALL = 0.03
CODE_LENGTHS = {
    GridLevel.CITY: 12,
    GridLevel.DISTRICT: 12,
    GridLevel.STREET: 12,
    GridLevel.COMMUNITY: 12,
    GridLevel.COMPOUND: 15,
    GridLevel.MICRO: 17,
    GridLevel.SPECIAL: 15,
}


@pytest.fixture(scope="module")
def city() -> list[Grid]:
    return generate_city(scale=SMALL)


def by_level(grids: list[Grid]) -> dict[GridLevel, list[Grid]]:
    levels: dict[GridLevel, list[Grid]] = defaultdict(list)
    for grid in grids:
        levels[grid.level].append(grid)
    return levels


def children_of(grids: list[Grid]) -> dict[str, list[Grid]]:
    children: dict[str, list[Grid]] = defaultdict(list)
    for grid in grids:
        if grid.parent_code is not None and grid.level is not GridLevel.SPECIAL:
            children[grid.parent_code].append(grid)
    return children


def geoms(grids: list[Grid]) -> np.ndarray:
    return np.array([g.geometry for g in grids], dtype=object)


def level_counts(grids: list[Grid]) -> dict[GridLevel, int]:
    return dict(Counter(g.level for g in grids))


def assert_exact_nesting(grids: list[Grid]) -> None:
    index = {g.code: g for g in grids}
    for parent_code, children in children_of(grids).items():
        parent = index[parent_code].geometry
        parts = geoms(children)
        assert shapely.covers(parent, parts).all(), parent_code
        union = shapely.coverage_union_all(parts)
        assert shapely.symmetric_difference(union, parent).area < 1e-12, parent_code
        assert abs(shapely.area(parts).sum() - union.area) < 1e-12, parent_code


def test_small_city_has_exactly_the_scaled_count_at_every_level(city: list[Grid]) -> None:
    expected = LevelCounts.at_scale(SMALL, 12)
    assert level_counts(city) == {
        GridLevel.CITY: 1,
        GridLevel.DISTRICT: 12,
        GridLevel.STREET: expected.street,
        GridLevel.COMMUNITY: expected.community,
        GridLevel.COMPOUND: expected.compound,
        GridLevel.MICRO: expected.micro,
        GridLevel.SPECIAL: expected.special,
    }
    assert expected.micro == round(FULL_SCALE.micro * SMALL)


def test_tiny_scale_still_gives_every_district_a_street_and_every_parent_a_child() -> None:
    grids = generate_city(scale=0.001)
    levels = by_level(grids)
    assert len(levels[GridLevel.STREET]) == 12
    children = children_of(grids)
    for level in REGULAR_LEVELS[:-1]:
        assert all(children[g.code] for g in levels[level]), level


def test_codes_are_unique_digits_of_the_documented_lengths(city: list[Grid]) -> None:
    assert len({g.code for g in city}) == len(city)
    for grid in city:
        assert grid.code.isdigit()
        assert len(grid.code) == CODE_LENGTHS[grid.level], grid


def test_codes_extend_their_parent_codes(city: list[Grid]) -> None:
    for grid in city:
        if grid.level in (GridLevel.COMPOUND, GridLevel.MICRO):
            assert grid.code.startswith(grid.parent_code or "-"), grid.code
        elif grid.level is GridLevel.COMMUNITY:
            assert grid.code[:9] == (grid.parent_code or "")[:9], grid.code
        elif grid.level is GridLevel.SPECIAL:
            assert grid.code[:10] == (grid.parent_code or "")[:9] + "9", grid.code


def test_every_parent_exists_one_level_up(city: list[Grid]) -> None:
    index = {g.code: g for g in city}
    for grid in city:
        if grid.level is GridLevel.CITY:
            assert grid.parent_code is None
        elif grid.level is GridLevel.SPECIAL:
            assert index[grid.parent_code or ""].level is GridLevel.STREET
        else:
            assert index[grid.parent_code or ""].level.rank == grid.level.rank - 1


def test_children_nest_exactly_in_their_parents(city: list[Grid]) -> None:
    assert_exact_nesting(city)


def test_siblings_of_each_level_form_a_clean_coverage(city: list[Grid]) -> None:
    for level, grids in by_level(city).items():
        if level not in (GridLevel.CITY, GridLevel.SPECIAL):
            assert shapely.coverage_is_valid(geoms(grids)), level


def test_every_geometry_is_a_valid_polygon_or_multipolygon(city: list[Grid]) -> None:
    parts = geoms(city)
    assert shapely.is_valid(parts).all()
    assert set(shapely.get_type_id(parts).tolist()) <= {
        shapely.GeometryType.POLYGON,
        shapely.GeometryType.MULTIPOLYGON,
    }
    lon, lat = shapely.get_coordinates(parts).T
    assert lon.min() > 112.6 and lon.max() < 114.3
    assert lat.min() > 34.2 and lat.max() < 35.0


def test_special_grids_lie_inside_the_street_at_their_centroid(city: list[Grid]) -> None:
    levels = by_level(city)
    whole = levels[GridLevel.CITY][0].geometry
    specials = levels[GridLevel.SPECIAL]
    streets = {g.code: g.geometry for g in levels[GridLevel.STREET]}
    assert shapely.covers(whole, geoms(specials)).all()
    for special in specials:
        street = streets[special.parent_code or ""]
        assert street.covers(special.geometry.centroid)
        assert street.covers(special.geometry)
        assert special.special_kind is not None
        assert special.responsible_unit
    assert len({s.name for s in specials}) == len(specials)
    areas = area_km2(geoms(specials))
    assert areas.min() > 0.009 and areas.max() < 0.51


def test_some_special_grids_straddle_compound_boundaries(city: list[Grid]) -> None:
    levels = by_level(city)
    compounds = shapely.STRtree(geoms(levels[GridLevel.COMPOUND]))
    hits = compounds.query(geoms(levels[GridLevel.SPECIAL]), predicate="overlaps")
    assert len(set(hits[0].tolist())) > len(levels[GridLevel.SPECIAL]) / 10


def test_streets_carry_official_nbs_names_and_codes_under_their_district(
    city: list[Grid],
) -> None:
    official = {t.code + "000": t.name for ts in load_towns().values() for t in ts}
    streets = {g.code: g for g in by_level(city)[GridLevel.STREET]}
    jingba = streets["410105001000"]
    assert (jingba.name, jingba.parent_code) == ("经八路街道", "410105000000")
    for code, street in streets.items():
        if code in official:
            assert street.name == official[code]
        else:
            assert code[6] in "78", code


def test_communities_carry_official_village_names_of_their_street(city: list[Grid]) -> None:
    villages = {
        v.code: (v.name, t.code + "000")
        for ts in load_towns().values()
        for t in ts
        for v in t.villages
    }
    communities = by_level(city)[GridLevel.COMMUNITY]
    assert sum(c.code in villages for c in communities) > len(communities) / 2
    for community in communities:
        if community.code in villages:
            assert (community.name, community.parent_code) == villages[community.code]
    assert any(c.name == "碧沙岗社区居委会" for c in communities)


def test_urban_core_micro_grids_are_much_smaller_than_rural_ones(city: list[Grid]) -> None:
    micro = by_level(city)[GridLevel.MICRO]
    area = area_km2(geoms(micro))
    urban = np.array([HOSTED_ZONES.get(m.code[:6], m.code[:6]) in URBAN_CORE for m in micro])
    assert np.median(area[~urban]) > 3 * np.median(area[urban])


def test_the_same_seed_gives_the_same_city_and_another_seed_a_different_one() -> None:
    def fingerprint(grids: list[Grid]) -> list[tuple[object, ...]]:
        return [(g.code, g.name, g.parent_code, g.geometry.wkb) for g in grids]

    first = generate_city(7, scale=0.02)
    assert fingerprint(first) == fingerprint(generate_city(7, scale=0.02))
    assert fingerprint(first) != fingerprint(generate_city(8, scale=0.02))


def test_progress_reports_each_long_step_up_to_its_total() -> None:
    calls: list[tuple[str, int, int]] = []
    generate_city(scale=0.01, progress=lambda step, done, total: calls.append((step, done, total)))
    finals = {step: (done, total) for step, done, total in calls}
    assert set(finals) == {"districts", "voronoi", "hierarchy", "partition", "union", "specials"}
    assert all(done == total for done, total in finals.values())
    assert all(0 <= done <= total for _, done, total in calls)


def test_scale_must_be_positive() -> None:
    with pytest.raises(ValueError, match="scale"):
        generate_city(scale=0)


@pytest.mark.parametrize(
    ("total", "weights", "floors", "caps", "expected"),
    [
        (10, [1, 1], [0, 0], None, [5, 5]),
        (10, [3, 1], [0, 0], None, [8, 2]),
        (10, [1, 1, 1], [0, 0, 0], None, [4, 3, 3]),
        (10, [9, 1], [0, 4], None, [6, 4]),
        (10, [9, 1], [0, 0], [5, 10], [5, 5]),
        (7, [0, 0, 1], [1, 1, 1], None, [1, 1, 5]),
        (3, [1, 2, 3], [1, 1, 1], None, [1, 1, 1]),
    ],
)
def test_apportion_splits_a_total_proportionally_within_floors_and_caps(
    total: int,
    weights: list[float],
    floors: list[int],
    caps: list[int] | None,
    expected: list[int],
) -> None:
    assert apportion(total, weights, floors, caps).tolist() == expected


def test_apportion_refuses_a_total_the_floors_or_caps_cannot_hold() -> None:
    with pytest.raises(ValueError):
        apportion(2, [1, 1, 1], [1, 1, 1])
    with pytest.raises(ValueError):
        apportion(9, [1, 1], [0, 0], [4, 4])


def test_districts_load_as_a_coverage_with_almost_no_overlap_removed() -> None:
    districts, overlap = load_districts()
    assert [d.adcode for d in districts][:2] == ["410102", "410103"]
    assert len(districts) == 12
    assert overlap < 1e-3
    parts = geoms([Grid(d.adcode, d.name, GridLevel.DISTRICT, d.geometry) for d in districts])
    assert abs(shapely.area(parts).sum() - shapely.union_all(parts).area) < 1e-12
    jinshui = next(d for d in districts if d.name == "金水区")
    # DataV's seat of 金水区 is (113.686037, 34.775838) in GCJ-02; WGS84 lies ~555 m west of it.
    assert jinshui.seat == pytest.approx((113.6799, 34.7769), abs=2e-4)


def test_functional_zone_towns_are_hosted_by_a_statutory_district() -> None:
    towns = load_towns()
    assert "410101" not in towns
    assert not set(HOSTED_ZONES) & set(towns)
    for zone, host in HOSTED_ZONES.items():
        assert any(t.code.startswith(zone) for t in towns[host])
    assert sum(len(ts) for ts in towns.values()) == 206
    assert sum(len(t.villages) for ts in towns.values() for t in ts) == 3206


@pytest.mark.slow
def test_full_scale_city_has_the_reference_counts_every_official_name_and_exact_nesting() -> None:
    grids = generate_city()
    assert level_counts(grids) == {
        GridLevel.CITY: 1,
        GridLevel.DISTRICT: 12,
        GridLevel.STREET: 215,
        GridLevel.COMMUNITY: 3530,
        GridLevel.COMPOUND: 19582,
        GridLevel.MICRO: 47188,
        GridLevel.SPECIAL: 4835,
    }
    codes = {g.code: g for g in grids}
    assert len(codes) == len(grids)
    towns = [t for ts in load_towns().values() for t in ts]
    assert all(t.code + "000" in codes for t in towns)
    assert all(v.code in codes for t in towns for v in t.villages)
    for zone, host in HOSTED_ZONES.items():
        hosted = [g for g in grids if g.level is GridLevel.STREET and g.code.startswith(zone)]
        assert hosted and {g.parent_code for g in hosted} == {host + "000000"}
    assert_exact_nesting(grids)
    specials = geoms([g for g in grids if g.level is GridLevel.SPECIAL])
    pairs = shapely.STRtree(specials).query(specials, predicate="overlaps")
    assert (pairs[0] != pairs[1]).any()
