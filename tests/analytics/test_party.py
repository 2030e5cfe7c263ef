"""Party figures rolled up from the grids they are registered in to the scope's children."""

from __future__ import annotations

from gridgov.analytics.party import PartyCounts, roll_up
from gridgov.analytics.scope import GridCatalogue
from tests.case_world import COMMUNITY_1, ERQI, STREET_1, ZHONGYUAN, demo_coded_grids


def test_counts_below_each_child_add_up_and_other_districts_are_left_out() -> None:
    catalogue = GridCatalogue.from_grids(demo_coded_grids())
    scope = catalogue.scope(ZHONGYUAN)
    assert scope is not None
    by_grid = {
        COMMUNITY_1: PartyCounts(1, 5, 2, 1),
        "410102001002": PartyCounts(1, 3, 0, 2),
        "SP-SCHOOL-1": PartyCounts(1, 0, 0, 0),  # a special grid, under street 1
        ZHONGYUAN: PartyCounts(1, 2, 0, 0),  # on the scope itself: in the totals only
        "410103003000": PartyCounts(9, 9, 9, 9),  # the other district
        ERQI: PartyCounts(9, 9, 9, 9),
    }
    totals, children = roll_up(by_grid, catalogue, scope)
    assert totals == PartyCounts(4, 10, 2, 3)
    assert children == {
        STREET_1: PartyCounts(3, 8, 2, 3),
        "410102002000": PartyCounts(),
    }
