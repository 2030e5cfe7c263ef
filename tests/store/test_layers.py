"""Grid layers in the store: bulk import as a draft, read back exactly, activate as a whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import shapely
from pyproj import Geod
from shapely.geometry import LineString
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gridgov.core.clock import FixedClock
from gridgov.core.errors import Conflict, InvalidGeometry, InvalidInput, NotFound
from gridgov.grids.model import Grid, GridLevel, LayerStatus, SpecialKind
from gridgov.store.layers import LayerRepository
from gridgov.store.tables import GridRow, LayerRow
from tests.factories import sample_grids

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def _draft(sessions: sessionmaker[Session], name: str = "2025 grids") -> int:
    with sessions.begin() as session:
        return (
            LayerRepository(session, FixedClock(T0)).create_draft(name, "test", sample_grids()).id
        )


def _stored_counts(sessions: sessionmaker[Session]) -> tuple[int, int]:
    with sessions() as session:
        layers = session.scalar(select(func.count()).select_from(LayerRow))
        grids = session.scalar(select(func.count()).select_from(GridRow))
        return int(layers or 0), int(grids or 0)


def test_a_draft_reads_back_every_grid_exactly(sessions: sessionmaker[Session]) -> None:
    layer_id = _draft(sessions)
    with sessions() as session:
        stored = LayerRepository(session).grids(layer_id)
    expected = sample_grids()
    assert [g.code for g in stored] == [g.code for g in expected]
    for got, want in zip(stored, expected, strict=True):
        assert (got.name, got.level, got.parent_code) == (want.name, want.level, want.parent_code)
        assert (got.special_kind, got.responsible_unit) == (
            want.special_kind,
            want.responsible_unit,
        )
        assert got.geometry.geom_type == want.geometry.geom_type
        assert shapely.equals_exact(got.geometry, want.geometry, tolerance=0)


def test_a_new_draft_is_inactive_and_counts_its_grids(sessions: sessionmaker[Session]) -> None:
    layer_id = _draft(sessions)
    with sessions() as session:
        repo = LayerRepository(session)
        layer = repo.get(layer_id)
        assert repo.active() is None
        assert [x.id for x in repo.list()] == [layer_id]
    assert layer.status is LayerStatus.DRAFT
    assert layer.grid_count == len(sample_grids())
    assert layer.created_at == T0
    assert (layer.name, layer.source) == ("2025 grids", "test")


def test_grids_of_one_level_and_one_grid_by_code(sessions: sessionmaker[Session]) -> None:
    layer_id = _draft(sessions)
    with sessions() as session:
        repo = LayerRepository(session)
        streets = repo.grids(layer_id, level=GridLevel.STREET)
        school = repo.grid(layer_id, "SP-SCHOOL-1")
        with pytest.raises(NotFound, match="NO-SUCH-CODE"):
            repo.grid(layer_id, "NO-SUCH-CODE")
        with pytest.raises(NotFound, match="grid layer"):
            repo.grids(layer_id + 1)
    assert [g.code for g in streets] == ["410102001", "410102002", "410103003", "410103004"]
    assert school.special_kind is SpecialKind.SCHOOL
    assert school.responsible_unit == "中原区教育局"


def test_bbox_and_area_are_stored_for_each_grid(sessions: sessionmaker[Session]) -> None:
    layer_id = _draft(sessions)
    city = sample_grids()[0]
    with sessions() as session:
        row = session.scalars(
            select(GridRow).where(GridRow.layer_id == layer_id, GridRow.code == city.code)
        ).one()
    assert (row.min_lon, row.min_lat, row.max_lon, row.max_lat) == city.geometry.bounds
    geodesic_area, _ = Geod(ellps="WGS84").geometry_area_perimeter(city.geometry)
    assert row.area_m2 == pytest.approx(abs(geodesic_area), rel=0.005)


def test_a_duplicate_code_is_refused_by_name_and_nothing_is_stored(
    sessions: sessionmaker[Session],
) -> None:
    grids = sample_grids()
    grids.append(Grid("410102001", "重复的街道", GridLevel.STREET, grids[3].geometry, "410102"))
    with (
        pytest.raises(InvalidInput, match="duplicate code '410102001'") as caught,
        sessions.begin() as session,
    ):
        LayerRepository(session).create_draft("bad", "test", grids)
    assert caught.value.field == f"grids[{len(grids) - 1}].code"
    assert _stored_counts(sessions) == (0, 0)


def test_a_grid_that_is_not_a_polygon_is_refused_and_nothing_is_stored(
    sessions: sessionmaker[Session],
) -> None:
    grids = sample_grids()
    grids[2] = Grid(
        "410102001", "一条线", GridLevel.STREET, LineString([(113.6, 34.7), (113.7, 34.8)])
    )
    with (
        pytest.raises(InvalidGeometry, match="LineString") as caught,
        sessions.begin() as session,
    ):
        LayerRepository(session).create_draft("bad", "test", grids)
    assert caught.value.field == "grids[2].geometry"
    assert _stored_counts(sessions) == (0, 0)


def test_a_layer_without_a_name_is_refused(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(InvalidInput, match="name"), sessions.begin() as session:
        LayerRepository(session).create_draft("  ", "test", sample_grids())
    assert _stored_counts(sessions) == (0, 0)


def test_activating_a_draft_retires_the_previous_layer(sessions: sessionmaker[Session]) -> None:
    first, second = _draft(sessions, "2024"), _draft(sessions, "2025")
    at1, at2 = T0 + timedelta(days=1), T0 + timedelta(days=30)
    with sessions.begin() as session:
        LayerRepository(session).activate(first, at1)
    with sessions.begin() as session:
        activated = LayerRepository(session).activate(second, at2)
    with sessions() as session:
        repo = LayerRepository(session)
        active, old = repo.active(), repo.get(first)
    assert activated.status is LayerStatus.ACTIVE and activated.activated_at == at2
    assert active is not None and active.id == second
    assert (old.status, old.activated_at, old.retired_at) == (LayerStatus.RETIRED, at1, at2)


def test_activating_the_active_layer_again_changes_nothing(sessions: sessionmaker[Session]) -> None:
    layer_id = _draft(sessions)
    with sessions.begin() as session:
        LayerRepository(session).activate(layer_id, T0)
    with sessions.begin() as session:
        again = LayerRepository(session).activate(layer_id, T0 + timedelta(hours=1))
    assert again.activated_at == T0


def test_a_retired_layer_cannot_be_activated_again(sessions: sessionmaker[Session]) -> None:
    first, second = _draft(sessions, "2024"), _draft(sessions, "2025")
    for layer_id in (first, second):
        with sessions.begin() as session:
            LayerRepository(session).activate(layer_id, T0)
    with (
        pytest.raises(Conflict, match=f"grid layer {first} was retired"),
        sessions.begin() as session,
    ):
        LayerRepository(session).activate(first, T0 + timedelta(days=1))
    with sessions() as session:
        active = LayerRepository(session).active()
    assert active is not None and active.id == second


def test_an_unknown_layer_cannot_be_activated(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(NotFound, match="grid layer not found: 42"), sessions.begin() as session:
        LayerRepository(session).activate(42, T0)


def test_a_layer_that_failed_validation_cannot_be_activated(
    sessions: sessionmaker[Session],
) -> None:
    layer_id = _draft(sessions)
    with sessions.begin() as session:
        stored = LayerRepository(session).set_validation(layer_id, {"errors": 3, "warnings": 1})
    assert stored.validation == {"errors": 3, "warnings": 1}
    with pytest.raises(Conflict, match="3 errors"), sessions.begin() as session:
        LayerRepository(session).activate(layer_id, T0)
    with sessions() as session:
        assert LayerRepository(session).get(layer_id).status is LayerStatus.DRAFT


def test_activation_needs_an_aware_time(sessions: sessionmaker[Session]) -> None:
    layer_id = _draft(sessions)
    with pytest.raises(InvalidInput, match="at: needs a time zone"), sessions.begin() as session:
        LayerRepository(session).activate(layer_id, datetime(2025, 3, 1, 9, 0))


def test_deleting_a_draft_removes_its_grids_but_active_layers_stay(
    sessions: sessionmaker[Session],
) -> None:
    keep, drop = _draft(sessions, "keep"), _draft(sessions, "drop")
    with sessions.begin() as session:
        LayerRepository(session).activate(keep, T0)
    with sessions.begin() as session:
        LayerRepository(session).delete_draft(drop)
    with pytest.raises(Conflict, match="only drafts can be deleted"), sessions.begin() as session:
        LayerRepository(session).delete_draft(keep)
    with pytest.raises(NotFound), sessions.begin() as session:
        LayerRepository(session).delete_draft(drop)
    assert _stored_counts(sessions) == (1, len(sample_grids()))
