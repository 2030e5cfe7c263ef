"""The grid hierarchy the browse service walks: roots, paths, subtrees, and scope containment."""

from __future__ import annotations

from datetime import UTC, datetime

from gridgov.grids.model import GridLayer, GridLevel, LayerStatus
from gridgov.services.grid_browse import GridHierarchy
from tests.factories import sample_grids

LAYER = GridLayer(1, "v1", LayerStatus.ACTIVE, datetime(2026, 1, 1, tzinfo=UTC))


def test_the_city_is_the_root_and_every_grid_has_its_path() -> None:
    hierarchy = GridHierarchy(LAYER, sample_grids())
    assert [g.code for g in hierarchy.roots()] == ["410100"]
    assert [g.code for g in hierarchy.path("410102001001")] == [
        "410100",
        "410102",
        "410102001",
        "410102001001",
    ]
    assert [g.code for g in hierarchy.path("SP-SCHOOL-1")][-2:] == ["410102001", "SP-SCHOOL-1"]
    assert hierarchy.path("nowhere") == []


def test_children_list_regular_grids_by_code_then_the_special_ones() -> None:
    hierarchy = GridHierarchy(LAYER, sample_grids())
    assert [g.code for g in hierarchy.children("410102001")] == [
        "410102001001",
        "410102001002",
        "SP-SCHOOL-1",
    ]
    assert hierarchy.child_count("410102001001") == 0


def test_containment_is_the_grid_itself_or_anything_below_it() -> None:
    hierarchy = GridHierarchy(LAYER, sample_grids())
    assert hierarchy.contains("410102", "410102001001")
    assert hierarchy.contains("410102001001", "410102001001")
    assert not hierarchy.contains("410102001001", "410102001")  # not upwards
    assert not hierarchy.contains("410102", "410103003001")  # not sideways
    assert hierarchy.contains(None, "410103003001")  # the city holds every grid in the layer
    assert not hierarchy.contains(None, "nowhere")


def test_a_subtree_can_be_one_level_and_a_layer_without_a_city_has_several_roots() -> None:
    without_city = [g for g in sample_grids() if g.level is not GridLevel.CITY]
    hierarchy = GridHierarchy(LAYER, without_city)
    assert sorted(g.code for g in hierarchy.roots()) == ["410102", "410103"]
    communities = [g.code for g in hierarchy.subtree("410103", GridLevel.COMMUNITY)]
    assert communities == ["410103003001", "410103003002", "410103004001", "410103004002"]
    assert len(list(hierarchy.subtree(None))) == len(without_city)
