from __future__ import annotations

import re
from collections import Counter

import pytest
import shapely

from gridgov.grids.model import Grid, GridLevel
from gridgov.intake.gazetteer import Gazetteer, GazetteerEntry, PlaceKind, entries_from_grids
from gridgov.sim.city import generate_city
from gridgov.sim.places import generate_places


@pytest.fixture(scope="module")
def city() -> list[Grid]:
    return generate_city(scale=0.02)


@pytest.fixture(scope="module")
def places(city: list[Grid]) -> list[GazetteerEntry]:
    return generate_places(city)


def test_the_same_seed_gives_the_same_places(
    city: list[Grid], places: list[GazetteerEntry]
) -> None:
    assert generate_places(city) == places
    assert generate_places(city, seed=1) != places


def test_the_city_has_a_few_hundred_uniquely_named_roads_with_the_famous_ones(
    places: list[GazetteerEntry],
) -> None:
    roads = [p.name for p in places if p.kind is PlaceKind.ROAD]
    assert 150 <= len(roads) <= 600
    assert len(set(roads)) == len(roads)
    assert {"文化路", "农业路", "花园路", "大学路", "淮河路", "经三路"} <= set(roads)
    assert all(re.fullmatch(r"\w+(路|街|大道|三环)", r) for r in roads)


def test_crossings_are_named_after_two_roads_of_the_city(places: list[GazetteerEntry]) -> None:
    roads = {p.name for p in places if p.kind is PlaceKind.ROAD}
    crossings = [p for p in places if p.kind is PlaceKind.INTERSECTION]
    assert len(crossings) > 200
    for crossing in crossings:
        a, b = re.fullmatch(r"(.+)与(.+)交叉口", crossing.name).groups()  # type: ignore[union-attr]
        assert {a, b} <= roads


def test_every_place_lies_in_the_grid_it_names(
    city: list[Grid], places: list[GazetteerEntry]
) -> None:
    by_code = {g.code: g for g in city}
    for place in places:
        grid = by_code[place.grid_code]
        assert grid.level is (
            GridLevel.STREET if place.kind is PlaceKind.ROAD else GridLevel.COMPOUND
        )
        assert grid.geometry.covers(shapely.Point(place.lon, place.lat)), place.name


def test_points_of_interest_include_bus_stops_shops_and_buildings(
    places: list[GazetteerEntry],
) -> None:
    names = [p.name for p in places if p.kind is PlaceKind.POI]
    kinds = Counter(
        "stop" if n.endswith("站") else "shop" if n.endswith("店)") else "building" for n in names
    )
    assert kinds["stop"] > 100 and kinds["shop"] > 1000 and kinds["building"] > 300
    assert len(set(names)) == len(names)


def test_places_name_the_district_and_street_they_are_in(
    city: list[Grid], places: list[GazetteerEntry]
) -> None:
    by_code = {g.code: g for g in city}
    for place in places:
        if place.kind is PlaceKind.ROAD:
            assert by_code[place.grid_code].name in place.parent_names
        else:
            community = by_code[str(by_code[place.grid_code].parent_code)]
            assert place.parent_names[-1] == community.name


def test_the_demo_gazetteer_finds_a_crossing_from_a_hotline_style_address(
    city: list[Grid], places: list[GazetteerEntry]
) -> None:
    gazetteer = Gazetteer.build(entries_from_grids(city) + places)
    match = gazetteer.locate("郑州市二七区淮河路与大学路交叉口往北100米")
    assert match is not None and match.located
    assert match.matched_name == "淮河路与大学路交叉口"
