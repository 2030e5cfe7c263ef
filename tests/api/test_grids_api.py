"""The grid routes over HTTP: tree, detail, geometry and export within the account's scope, and
their refusals of bad input. The sample city: 郑州市 → 2 districts → 4 streets → 8 communities,
plus a school in street 1 and a hospital in street 4."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from shapely.geometry import Point, shape

from tests.api.staff_world import OTHER_STREET, StaffWorld, build_staff_world
from tests.case_world import CITY, COMMUNITY_1, STREET_1, ZHONGYUAN
from tests.databases import module_db_url


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StaffWorld]:
    tmp = tmp_path_factory.mktemp("grids-api")
    for url in module_db_url(request, tmp):
        yield from build_staff_world(url, tmp / "var")


def _get(world: StaffWorld, path: str, role: str = "district_operator", **params: Any) -> Any:
    return world.client.get(path, params=params, headers=world.headers(role))


def test_the_tree_starts_at_the_accounts_own_scope(world: StaffWorld) -> None:
    body = _get(world, "/api/v1/grids/tree").json()
    assert (body["code"], body["level"], body["child_count"]) == (ZHONGYUAN, "district", 2)
    assert [(c["code"], c["child_count"]) for c in body["children"]] == [
        (STREET_1, 3),  # two communities and the school
        ("410102002000", 2),
    ]
    assert all(c["children"] is None for c in body["children"])


def test_the_city_admins_tree_is_the_city_and_goes_as_deep_as_asked(world: StaffWorld) -> None:
    body = _get(world, "/api/v1/grids/tree", "city_admin", depth=3).json()
    assert body["code"] == CITY and body["level_zh"] == "市"
    streets = [s for d in body["children"] for s in d["children"]]
    communities = [c for s in streets for c in s["children"]]
    assert len(streets) == 4
    assert {c["level"] for c in communities} == {"community", "special"}
    assert all(c["children"] is None for c in communities)  # beyond the asked depth


def test_a_grid_shows_its_path_box_area_and_a_point_inside(world: StaffWorld) -> None:
    body = _get(world, f"/api/v1/grids/{COMMUNITY_1}", "community_worker").json()
    assert [g["code"] for g in body["path"]] == [CITY, ZHONGYUAN, STREET_1, COMMUNITY_1]
    assert body["parent_code"] == STREET_1 and body["layer_id"] == 1
    min_lon, min_lat, max_lon, max_lat = body["bbox"]
    lon, lat = body["label_point"]
    assert min_lon < lon < max_lon and min_lat < lat < max_lat
    # 0.04° × 0.08° at 34.7° N is about 3.66 km × 8.9 km.
    assert body["area_m2"] == pytest.approx(3.66e3 * 8.9e3, rel=0.02)


def test_the_geometry_is_a_geojson_feature_in_wgs84(world: StaffWorld) -> None:
    feature = _get(world, f"/api/v1/grids/{COMMUNITY_1}/geometry").json()
    assert feature["type"] == "Feature" and feature["id"] == COMMUNITY_1
    assert feature["properties"]["level"] == "community"
    assert shape(feature["geometry"]).contains(Point(113.61, 34.71))


def test_the_export_holds_the_scopes_grids_of_one_level(world: StaffWorld) -> None:
    response = _get(world, "/api/v1/grids/export", "street_operator", level="community")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/geo+json")
    assert "attachment" in response.headers["content-disposition"]
    codes = sorted(f["properties"]["code"] for f in response.json()["features"])
    assert codes == [COMMUNITY_1, "410102001002"]
    everything = _get(world, "/api/v1/grids/export", "street_operator").json()
    assert len(everything["features"]) == 4  # the street, two communities and the school


def test_an_export_over_the_limit_asks_for_a_level_or_a_smaller_scope(world: StaffWorld) -> None:
    limit = world.runtime.browse.max_export_features
    world.runtime.browse.max_export_features = 3
    try:
        response = _get(world, "/api/v1/grids/export", "city_admin")
    finally:
        world.runtime.browse.max_export_features = limit
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "level"


def test_a_grid_outside_the_scope_is_answered_as_one_that_does_not_exist(
    world: StaffWorld,
) -> None:
    for path in (f"/api/v1/grids/{OTHER_STREET}", f"/api/v1/grids/{OTHER_STREET}/geometry"):
        hidden = _get(world, path, "street_operator")
        missing = _get(world, path.replace(OTHER_STREET, "410199999999"), "street_operator")
        assert hidden.status_code == missing.status_code == 404
        assert hidden.json()["error"]["problem"].endswith(OTHER_STREET)
    # Even the account's own district, above its street.
    assert _get(world, f"/api/v1/grids/{ZHONGYUAN}", "street_operator").status_code == 404


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/v1/grids/tree", {"depth": 0}, "depth"),
        ("/api/v1/grids/tree", {"depth": 4}, "depth"),
        ("/api/v1/grids/tree", {"depth": "two"}, "depth"),
        ("/api/v1/grids/tree", {"scope": "' OR 1=1 --"}, "scope"),
        ("/api/v1/grids/tree", {"scope": "<script>alert(1)</script>"}, "scope"),
        ("/api/v1/grids/export", {"level": "planet"}, "level"),
        ("/api/v1/grids/export", {"format": "shp"}, "format"),
        ("/api/v1/grids/%3Cscript%3E", {}, "path.code"),
        ("/api/v1/grids/" + "1" * 65, {}, "path.code"),
        # Far-off numbers broke the Baidu offset's inversion (a 500) before the range check.
        ("/api/v1/grids/locate", {"lon": 3.4333409828708376e306, "lat": 0.0, "crs": "bd09"}, "lon"),
        ("/api/v1/grids/locate", {"lon": 15.0, "lat": 3.433340982864048e306, "crs": "bd09"}, "lat"),
        ("/api/v1/grids/locate", {"lon": 181.0, "lat": 34.7}, "lon"),
        ("/api/v1/grids/locate", {"lon": 113.6, "lat": -90.5, "crs": "gcj02"}, "lat"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(
    world: StaffWorld, path: str, params: dict[str, Any], field: str
) -> None:
    response = _get(world, path, "city_admin", **params)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field


def test_the_scoped_routes_need_credentials_and_locate_does_not(world: StaffWorld) -> None:
    for path in ("/api/v1/grids/tree", f"/api/v1/grids/{COMMUNITY_1}", "/api/v1/grids/export"):
        assert world.client.get(path).status_code == 401
    located = world.client.get("/api/v1/grids/locate", params={"lon": 113.61, "lat": 34.71})
    assert located.json()["grids"]["community"]["code"] == COMMUNITY_1
