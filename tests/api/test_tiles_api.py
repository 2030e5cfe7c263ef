"""Grid vector tiles, their TileJSON and the vendored front-end libraries over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import shapely
from fastapi.testclient import TestClient

from gridgov.api.app import create_app
from gridgov.bootstrap import Runtime, build_runtime
from gridgov.config import load_settings
from gridgov.grids.model import Grid
from gridgov.grids.tiles import tile_at
from gridgov.store.migrate import upgrade
from tests.factories import sample_grids
from tests.grids.mvt_reader import read_tile

MVT = "application/vnd.mapbox-vector-tile"
SCHOOL_TILE = tile_at(113.64, 34.73, 14)
SCHOOL_URL = f"/tiles/grids/{SCHOOL_TILE.z}/{SCHOOL_TILE.x}/{SCHOOL_TILE.y}.mvt"


@dataclass
class World:
    client: TestClient
    runtime: Runtime
    layer_id: int


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    upgrade(db_url)
    runtime = build_runtime(load_settings(database_url=db_url, data_dir=tmp_path / "var"))
    layer = runtime.grids.import_grids(sample_grids(), name="v1", source="t", commit=True).layer
    assert layer is not None
    runtime.grids.activate(layer.id, commit=True)
    with TestClient(create_app(runtime)) as client:
        yield World(client, runtime, layer.id)
    runtime.close()


def _codes(data: bytes) -> dict[str, set[str]]:
    return {
        name: {str(f.properties["code"]) for f in layer.features}
        for name, layer in read_tile(data).items()
    }


def test_a_tile_over_the_city_is_a_vector_tile_of_the_levels_shown_at_its_zoom(
    world: World,
) -> None:
    response = world.client.get(SCHOOL_URL)
    assert response.status_code == 200
    assert response.headers["content-type"] == MVT
    assert _codes(response.content) == {
        "district": {"410102"},
        "street": {"410102001"},
        "community": {"410102001001", "410102001002"},
        "special": {"SP-SCHOOL-1"},
    }


def test_a_tile_with_no_grid_is_204_with_no_body(world: World) -> None:
    away = tile_at(116.4, 39.9, 12)
    response = world.client.get(f"/tiles/grids/{away.z}/{away.x}/{away.y}.mvt")
    assert response.status_code == 204 and response.content == b""


BAD_TILES = [
    ("/tiles/grids/23/0/0.mvt", "path.z"),
    ("/tiles/grids/-1/0/0.mvt", "path.z"),
    ("/tiles/grids/zoom/0/0.mvt", "path.z"),
    ("/tiles/grids/3/8/0.mvt", "path.x"),
    ("/tiles/grids/3/0/8.mvt", "path.y"),
    ("/tiles/grids/0/0/1.mvt", "path.y"),
    ("/tiles/grids/3/1.5/0.mvt", "path.x"),
    ("/tiles/grids/3/0/0.mvt?layer=0", "layer"),
    ("/tiles/grids/3/0/0.mvt?layer=abc", "layer"),
    ("/tiles/grids.json?layer=-4", "layer"),
]


def test_a_tile_outside_the_pyramid_is_a_422_naming_the_coordinate(world: World) -> None:
    answers = {url: world.client.get(url) for url, _ in BAD_TILES}
    assert {url: r.status_code for url, r in answers.items()} == {url: 422 for url, _ in BAD_TILES}
    assert {url: r.json()["error"]["field"] for url, r in answers.items()} == dict(BAD_TILES)


def test_an_unknown_layer_is_a_404(world: World) -> None:
    assert world.client.get(SCHOOL_URL, params={"layer": 99}).status_code == 404
    assert world.client.get("/tiles/grids.json", params={"layer": 99}).status_code == 404


def test_tilejson_describes_the_levels_and_points_at_the_active_layer(world: World) -> None:
    response = world.client.get("/tiles/grids.json")
    assert response.status_code == 200
    body = response.json()
    assert body["tilejson"] == "3.0.0"
    assert body["tiles"] == [
        f"http://testserver/tiles/grids/{{z}}/{{x}}/{{y}}.mvt?layer={world.layer_id}"
    ]
    assert body["bounds"] == pytest.approx([113.6, 34.7, 113.76, 34.86])
    assert body["center"][:2] == pytest.approx([113.68, 34.78])
    zooms = {layer["id"]: layer["minzoom"] for layer in body["vector_layers"]}
    assert zooms == {
        "district": 0,
        "street": 9,
        "community": 11,
        "compound": 13,
        "micro": 15,
        "special": 13,
    }
    assert all(
        set(layer["fields"]) == {"code", "name", "level", "kind"} for layer in body["vector_layers"]
    )
    assert body["grid_layer"]["id"] == world.layer_id


def test_the_tile_url_tilejson_hands_out_answers_the_tile(world: World) -> None:
    template = world.client.get("/tiles/grids.json").json()["tiles"][0]
    url = template.format(z=SCHOOL_TILE.z, x=SCHOOL_TILE.x, y=SCHOOL_TILE.y)
    response = world.client.get(url)
    assert response.status_code == 200 and "SP-SCHOOL-1" in _codes(response.content)["special"]


def test_a_browser_revalidating_an_unchanged_tile_gets_304(world: World) -> None:
    first = world.client.get(SCHOOL_URL)
    assert first.headers["cache-control"] == "no-cache"
    again = world.client.get(SCHOOL_URL, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    other = world.client.get(SCHOOL_URL, headers={"If-None-Match": '"grids-0-0"'})
    assert other.status_code == 200


def test_tiles_of_a_named_layer_may_be_cached_by_the_browser(world: World) -> None:
    response = world.client.get(SCHOOL_URL, params={"layer": world.layer_id})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=86400"


def _moved_layer() -> list[Grid]:
    """The sample city with every grid renamed and the school moved out of street 410102001."""
    grids = []
    for grid in sample_grids():
        geometry = grid.geometry
        if grid.code == "SP-SCHOOL-1":
            geometry = shapely.box(113.70, 34.80, 113.71, 34.81)
        grids.append(
            Grid(
                grid.code.replace("410", "420", 1),
                grid.name,
                grid.level,
                geometry,
                parent_code=grid.parent_code.replace("410", "420", 1) if grid.parent_code else None,
                special_kind=grid.special_kind,
                responsible_unit=grid.responsible_unit,
            )
        )
    return grids


def test_activating_another_layer_changes_the_tiles_served(world: World) -> None:
    before = world.client.get(SCHOOL_URL)
    assert "410102" in _codes(before.content)["district"]
    assert world.runtime.tiles.cached_tiles() >= 1
    new = world.runtime.grids.import_grids(_moved_layer(), name="v2", source="t", commit=True)
    assert new.layer is not None
    world.runtime.grids.activate(new.layer.id, commit=True)

    after = world.client.get(SCHOOL_URL)
    assert after.status_code == 200
    assert after.headers["etag"] != before.headers["etag"]
    codes = _codes(after.content)
    assert codes["district"] == {"420102"} and "special" not in codes
    stale = world.client.get(SCHOOL_URL, headers={"If-None-Match": before.headers["etag"]})
    assert stale.status_code == 200
    assert world.client.get("/tiles/grids.json").json()["grid_layer"]["id"] == new.layer.id
    # The old version stays reachable by its id, as the URLs handed out before the switch name it.
    old = world.client.get(SCHOOL_URL, params={"layer": world.layer_id})
    assert _codes(old.content)["district"] == {"410102"}


def test_with_no_active_layer_tiles_are_404(db_url: str, tmp_path: Path) -> None:
    upgrade(db_url)
    runtime = build_runtime(load_settings(database_url=db_url, data_dir=tmp_path / "var"))
    try:
        with TestClient(create_app(runtime)) as client:
            assert client.get(SCHOOL_URL).status_code == 404
            assert client.get("/tiles/grids.json").status_code == 404
    finally:
        runtime.close()


VENDOR_FILES = [
    ("/static/vendor/maplibre-gl/maplibre-gl.js", "text/javascript", b"MapLibre GL JS"),
    ("/static/vendor/maplibre-gl/maplibre-gl.mjs", "text/javascript", b"MapLibre GL JS"),
    ("/static/vendor/maplibre-gl/maplibre-gl-worker.mjs", "text/javascript", b""),
    ("/static/vendor/maplibre-gl/maplibre-gl.css", "text/css", b".maplibregl-map"),
    ("/static/vendor/echarts/echarts.min.js", "text/javascript", b"Apache Software Foundation"),
]


def test_the_front_end_libraries_are_served_by_the_app(world: World) -> None:
    for path, media_type, marker in VENDOR_FILES:
        response = world.client.get(path)
        assert response.status_code == 200, f"{path} missing: run `make assets`"
        assert response.headers["content-type"].startswith(media_type)
        assert marker in response.content[:2000] and len(response.content) > 10_000


def test_a_missing_static_file_is_404(world: World) -> None:
    assert world.client.get("/static/vendor/leaflet/leaflet.js").status_code == 404
    assert world.client.get("/static/../pyproject.toml").status_code == 404
