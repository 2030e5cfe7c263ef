"""The HTTP front door over real HTTP through the ASGI stack, on both dialects."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gridgov.api.app import create_app
from gridgov.bootstrap import build_runtime
from gridgov.config import load_settings
from gridgov.store.migrate import upgrade
from tests.factories import sample_grids


@pytest.fixture
def client(db_url: str, tmp_path: Path) -> Iterator[TestClient]:
    upgrade(db_url)
    runtime = build_runtime(load_settings(database_url=db_url, data_dir=tmp_path / "var"))
    layer = runtime.grids.import_grids(sample_grids(), name="v1", source="t", commit=True).layer
    assert layer is not None
    runtime.grids.activate(layer.id, commit=True)
    with TestClient(create_app(runtime)) as test_client:
        yield test_client
    runtime.close()


def test_locate_answers_every_level_with_the_layer_version(client: TestClient) -> None:
    body = client.get("/api/v1/grids/locate", params={"lon": 113.635, "lat": 34.73}).json()
    assert body["layer"]["id"] == 1
    assert body["grids"]["community"]["code"] == "410102001001"
    assert [s["code"] for s in body["specials"]] == ["SP-SCHOOL-1"]


def test_a_point_outside_the_city_is_a_422_naming_the_fields(client: TestClient) -> None:
    response = client.get("/api/v1/grids/locate", params={"lon": 116.4, "lat": 39.9})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "lon,lat"


@pytest.mark.parametrize(
    "params, field",
    [
        ({"lon": "abc", "lat": 34.7}, "lon"),
        ({"lon": 113.6}, "lat"),
        ({"lon": 113.6, "lat": 34.7, "crs": "utm"}, "crs"),
    ],
)
def test_a_malformed_query_is_a_422_naming_the_field(
    client: TestClient, params: dict[str, object], field: str
) -> None:
    response = client.get("/api/v1/grids/locate", params=params)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == field


def test_an_unknown_layer_is_a_404(client: TestClient) -> None:
    response = client.get("/api/v1/grids/locate", params={"lon": 113.635, "lat": 34.73, "layer": 9})
    assert response.status_code == 404


def test_the_layer_list_shows_the_active_version_and_its_validation(client: TestClient) -> None:
    (layer,) = client.get("/api/v1/grid-layers").json()
    assert layer["status"] == "active" and layer["grid_count"] == len(sample_grids())
    assert layer["validation"]["errors"] == 0
