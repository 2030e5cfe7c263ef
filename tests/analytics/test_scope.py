"""The grid catalogue: lineage, children, scopes, and which child a grid rolls up to."""

from __future__ import annotations

import pytest

from gridgov.analytics.scope import GridCatalogue
from gridgov.grids.model import GridLevel
from tests.case_world import CITY, COMMUNITY_1, ERQI, STREET_1, ZHONGYUAN, demo_coded_grids


@pytest.fixture(scope="module")
def catalogue() -> GridCatalogue:
    return GridCatalogue.from_grids(demo_coded_grids())


def test_a_communitys_scope_names_every_level_above_it(catalogue: GridCatalogue) -> None:
    scope = catalogue.scope(COMMUNITY_1)
    assert scope is not None
    assert scope.level is GridLevel.COMMUNITY
    assert dict(scope.path) == {
        "city": CITY,
        "district": ZHONGYUAN,
        "street": STREET_1,
        "community": COMMUNITY_1,
    }
    assert scope.child_level is GridLevel.COMPOUND


def test_special_and_unknown_grids_are_no_scope(catalogue: GridCatalogue) -> None:
    assert catalogue.scope("SP-SCHOOL-1") is None
    assert catalogue.scope("nowhere") is None


def test_a_grid_lies_within_itself_and_its_ancestors_only(catalogue: GridCatalogue) -> None:
    assert catalogue.within(COMMUNITY_1, COMMUNITY_1)
    assert catalogue.within(COMMUNITY_1, STREET_1)
    assert catalogue.within(COMMUNITY_1, CITY)
    assert not catalogue.within(COMMUNITY_1, ERQI)
    assert not catalogue.within(STREET_1, COMMUNITY_1)
    assert catalogue.within("SP-SCHOOL-1", STREET_1)


def test_children_are_the_next_regular_level_without_special_grids(
    catalogue: GridCatalogue,
) -> None:
    assert [c.code for c in catalogue.children(CITY)] == [ZHONGYUAN, ERQI]
    assert [c.code for c in catalogue.children(STREET_1)] == [COMMUNITY_1, "410102001002"]
    assert catalogue.children(COMMUNITY_1) == []
    assert [c.code for c in catalogue.cities()] == [CITY]


def test_a_grid_rolls_up_to_the_child_of_the_scope_on_its_way_down(
    catalogue: GridCatalogue,
) -> None:
    assert catalogue.child_under(COMMUNITY_1, ZHONGYUAN) == STREET_1
    assert catalogue.child_under("SP-SCHOOL-1", ZHONGYUAN) == STREET_1
    assert catalogue.child_under(ZHONGYUAN, ZHONGYUAN) == ZHONGYUAN
    assert catalogue.child_under(COMMUNITY_1, ERQI) is None
