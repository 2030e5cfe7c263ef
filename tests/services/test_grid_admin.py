"""Import → validate → activate, export and locate, through the services, on both dialects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from shapely.geometry import Polygon, box
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gridgov.core.clock import FixedClock
from gridgov.core.errors import Conflict, InvalidInput, NotFound, OutsideCoverage
from gridgov.core.geo import Crs
from gridgov.grids import crs as crs_convert
from gridgov.grids import formats
from gridgov.grids.model import Grid, GridLevel, LayerStatus
from gridgov.services.grid_admin import GridAdmin, LayerRejected
from gridgov.services.locating import GridLocating, IndexParameters
from gridgov.store.tables import GridRow, LayerRow
from tests.factories import sample_grids

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
INSIDE_SCHOOL = (113.635, 34.73)  # street 410102001, community …001001, school SP-SCHOOL-1


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def admin(sessions: sessionmaker[Session], clock: FixedClock) -> GridAdmin:
    return GridAdmin(sessions, clock)


@pytest.fixture
def locating(sessions: sessionmaker[Session], tmp_path: Path) -> GridLocating:
    return GridLocating(sessions, parameters=IndexParameters(), cache_dir=tmp_path / "index")


def _counts(sessions: sessionmaker[Session]) -> tuple[int, int]:
    with sessions() as s:
        return (
            s.scalar(select(func.count()).select_from(LayerRow)) or 0,
            s.scalar(select(func.count()).select_from(GridRow)) or 0,
        )


def test_an_import_without_commit_writes_nothing(
    admin: GridAdmin, sessions: sessionmaker[Session]
) -> None:
    outcome = admin.import_grids(sample_grids(), name="v1", source="test")
    assert outcome.layer is None
    assert len(outcome.grids) == len(sample_grids())
    assert _counts(sessions) == (0, 0)


def test_a_committed_import_is_a_draft_and_leaves_the_active_layer_alone(
    admin: GridAdmin, clock: FixedClock
) -> None:
    first = admin.import_grids(sample_grids(), name="v1", source="t", commit=True).layer
    assert first is not None
    admin.activate(first.id, commit=True)
    second = admin.import_grids(sample_grids(), name="v2", source="t", commit=True).layer
    assert second is not None and second.status is LayerStatus.DRAFT
    statuses = {layer.name: layer.status for layer in admin.layers()}
    assert statuses == {"v1": LayerStatus.ACTIVE, "v2": LayerStatus.DRAFT}


def test_activation_without_commit_only_previews(admin: GridAdmin) -> None:
    layer = admin.import_grids(sample_grids(), name="v1", source="t", commit=True).layer
    assert layer is not None
    admin.activate(layer.id)
    assert admin.layer(layer.id).status is LayerStatus.DRAFT


def test_activating_a_new_version_retires_the_old_one_which_stays_queryable(
    admin: GridAdmin, locating: GridLocating, clock: FixedClock
) -> None:
    old = admin.import_grids(sample_grids(), name="v1", source="t", commit=True).layer
    assert old is not None
    admin.activate(old.id, commit=True)
    renamed = [
        Grid(
            g.code,
            g.name + "（新）",
            g.level,
            g.geometry,
            g.parent_code,
            g.special_kind,
            g.responsible_unit,
        )
        for g in sample_grids()
    ]
    new = admin.import_grids(renamed, name="v2", source="t", commit=True).layer
    assert new is not None
    clock.advance(timedelta(days=1))
    admin.activate(new.id, commit=True)

    assert admin.layer(old.id).status is LayerStatus.RETIRED
    now_answer = locating.locate(*INSIDE_SCHOOL)
    assert now_answer.layer.id == new.id
    assert now_answer.location.grids[GridLevel.STREET].name.endswith("（新）")
    old_answer = locating.locate(*INSIDE_SCHOOL, layer_id=old.id)
    assert old_answer.layer.id == old.id
    assert not old_answer.location.grids[GridLevel.STREET].name.endswith("（新）")


@pytest.mark.parametrize(
    "bad, kind",
    [
        (
            Grid(
                "410102001", "重复编码", GridLevel.STREET, box(113.6, 34.7, 113.68, 34.78), "410102"
            ),
            "duplicate_code",
        ),
        (
            Grid(
                "SP-BOWTIE",
                "自相交",
                GridLevel.SPECIAL,
                Polygon([(113.61, 34.71), (113.62, 34.72), (113.62, 34.71), (113.61, 34.72)]),
                "410102001",
            ),
            "invalid_geometry",
        ),
        (
            Grid(
                "410102001009",
                "孤儿",
                GridLevel.COMMUNITY,
                box(113.6, 34.7, 113.61, 34.71),
                "410102999",
            ),
            "orphan",
        ),
    ],
)
def test_a_layer_with_validation_errors_is_refused_and_nothing_is_stored(
    admin: GridAdmin, sessions: sessionmaker[Session], bad: Grid, kind: str
) -> None:
    preview = admin.import_grids([*sample_grids(), bad], name="bad", source="t")
    assert not preview.report.ok
    assert preview.report.summary[kind] >= 1
    with pytest.raises(LayerRejected) as raised:
        admin.import_grids([*sample_grids(), bad], name="bad", source="t", commit=True)
    assert raised.value.field == "layer" and kind in raised.value.problem
    assert _counts(sessions) == (0, 0)


def test_a_draft_whose_stored_summary_has_errors_is_refused_on_activation(
    admin: GridAdmin, sessions: sessionmaker[Session]
) -> None:
    layer = admin.import_grids(sample_grids(), name="v1", source="t", commit=True).layer
    assert layer is not None
    with sessions.begin() as s:
        row = s.get(LayerRow, layer.id)
        assert row is not None
        row.validation = {"errors": 2}
    with pytest.raises(Conflict, match="2 validation errors"):
        admin.activate(layer.id, commit=True)
    assert admin.layer(layer.id).status is LayerStatus.DRAFT


def test_an_active_layer_cannot_be_activated_again(admin: GridAdmin) -> None:
    layer = admin.import_grids(sample_grids(), name="v1", source="t", commit=True).layer
    assert layer is not None
    admin.activate(layer.id, commit=True)
    with pytest.raises(Conflict, match="only a draft"):
        admin.activate(layer.id, commit=True)


def test_an_unknown_layer_is_named_in_the_error(admin: GridAdmin) -> None:
    with pytest.raises(NotFound, match="999"):
        admin.activate(999, commit=True)


def test_locate_answers_every_level_and_the_special_grid_with_the_layer_version(
    admin: GridAdmin, locating: GridLocating
) -> None:
    layer = admin.import_grids(sample_grids(), name="v1", source="t", commit=True).layer
    assert layer is not None
    admin.activate(layer.id, commit=True)
    answer = locating.locate(*INSIDE_SCHOOL)
    codes = {level: g.code for level, g in answer.location.grids.items()}
    assert codes == {
        GridLevel.CITY: "410100",
        GridLevel.DISTRICT: "410102",
        GridLevel.STREET: "410102001",
        GridLevel.COMMUNITY: "410102001001",
    }
    assert [g.code for g in answer.location.specials] == ["SP-SCHOOL-1"]
    assert answer.location.match == "inside"
    assert answer.as_dict()["layer"]["id"] == layer.id


def test_locate_converts_gcj02_and_bd09_input_to_the_same_grids(
    admin: GridAdmin, locating: GridLocating
) -> None:
    layer = admin.import_grids(sample_grids(), name="v1", source="t", commit=True).layer
    assert layer is not None
    admin.activate(layer.id, commit=True)
    expected = locating.locate(*INSIDE_SCHOOL).location.grids
    for crs in (Crs.GCJ02, Crs.BD09):
        x, y = crs_convert.from_wgs84(*INSIDE_SCHOOL, crs)
        assert locating.locate(float(x), float(y), crs=crs).location.grids == expected


def test_a_point_far_outside_the_city_is_refused_and_one_at_the_edge_gets_the_nearest_grid(
    admin: GridAdmin, locating: GridLocating
) -> None:
    layer = admin.import_grids(sample_grids(), name="v1", source="t", commit=True).layer
    assert layer is not None
    admin.activate(layer.id, commit=True)
    with pytest.raises(OutsideCoverage, match="lon,lat"):
        locating.locate(116.4, 39.9)
    # 0.0005° of longitude is about 46 m at this latitude: within the 100 m tolerance.
    near = locating.locate(113.6 - 0.0005, 34.71)
    assert near.location.match == "near_edge"
    assert 30 < near.location.distance_m < 60
    assert near.location.grids[GridLevel.STREET].code == "410102001"


@pytest.mark.parametrize(
    "lon, lat, field", [(float("nan"), 34.7, "lon"), (113.6, float("inf"), "lat")]
)
def test_a_coordinate_that_is_not_a_number_is_refused_naming_the_field(
    admin: GridAdmin, locating: GridLocating, lon: float, lat: float, field: str
) -> None:
    layer = admin.import_grids(sample_grids(), name="v1", source="t", commit=True).layer
    assert layer is not None
    admin.activate(layer.id, commit=True)
    with pytest.raises(InvalidInput) as raised:
        locating.locate(lon, lat)
    assert raised.value.field == field


def test_locate_with_no_active_layer_says_so(locating: GridLocating) -> None:
    with pytest.raises(NotFound, match="active grid layer"):
        locating.locate(*INSIDE_SCHOOL)


def test_a_built_index_is_reused_from_disk_by_a_new_process(
    admin: GridAdmin, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    layer = admin.import_grids(sample_grids(), name="v1", source="t", commit=True).layer
    assert layer is not None
    admin.activate(layer.id, commit=True)
    first = GridLocating(sessions, parameters=IndexParameters(), cache_dir=tmp_path / "idx")
    expected = first.locate(*INSIDE_SCHOOL).location.grids
    assert list((tmp_path / "idx").glob(f"layer-{layer.id}-*.pickle"))
    second = GridLocating(sessions, parameters=IndexParameters(), cache_dir=tmp_path / "idx")
    assert second.locate(*INSIDE_SCHOOL).location.grids == expected


def test_export_then_import_round_trips_the_layer(admin: GridAdmin, tmp_path: Path) -> None:
    layer = admin.import_grids(sample_grids(), name="v1", source="t", commit=True).layer
    assert layer is not None
    for suffix in (".geojson", ".gpkg"):
        path = tmp_path / f"out{suffix}"
        assert admin.export(layer.id, path) == len(sample_grids())
        again = admin.import_file(path, name="again")
        assert sorted(g.code for g in again.grids) == sorted(g.code for g in sample_grids())
        assert again.report.ok


def test_a_broken_file_is_refused_and_nothing_is_stored(
    admin: GridAdmin, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    path = tmp_path / "broken.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [', encoding="utf-8")
    with pytest.raises(InvalidInput):
        admin.import_file(path, name="broken", commit=True)
    assert _counts(sessions) == (0, 0)


def test_legacy_cells_are_mapped_onto_unified_communities(admin: GridAdmin, tmp_path: Path) -> None:
    layer = admin.import_grids(sample_grids(), name="v1", source="t", commit=True).layer
    assert layer is not None
    admin.activate(layer.id, commit=True)
    # One legacy cell inside one community, one straddling two, one outside the city.
    legacy = [
        Grid("CG-1", "城管1", GridLevel.COMMUNITY, box(113.605, 34.705, 113.635, 34.775)),
        Grid("CG-2", "城管2", GridLevel.COMMUNITY, box(113.63, 34.705, 113.67, 34.775)),
        Grid("CG-3", "城管3", GridLevel.COMMUNITY, box(114.5, 35.5, 114.51, 35.51)),
    ]
    path = tmp_path / "legacy.geojson"
    formats.write_layer(legacy, path)
    result = admin.map_legacy(path, department="城管", level=GridLevel.COMMUNITY)
    rows = {row["legacy_code"]: row for row in result.to_rows()}
    assert set(rows) >= {"CG-1", "CG-2", "CG-3"}
    statuses = {code: rows[code]["status"] for code in ("CG-1", "CG-2", "CG-3")}
    assert statuses == {"CG-1": "matched", "CG-2": "split", "CG-3": "unmatched"}
