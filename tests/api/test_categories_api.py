"""The category taxonomy and the departments over HTTP, for signed-in staff."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.staff_world import StaffWorld, build_staff_world
from tests.case_world import ZHONGYUAN
from tests.databases import module_db_url


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StaffWorld]:
    tmp = tmp_path_factory.mktemp("categories-api")
    for url in module_db_url(request, tmp):
        yield from build_staff_world(url, tmp / "var")


def test_the_taxonomy_lists_leaves_with_their_deadlines(world: StaffWorld) -> None:
    headers = world.headers("grid_worker")
    body = world.client.get("/api/v1/categories", headers=headers).json()
    by_code = {c["code"]: c for c in body["rows"]}
    garbage = by_code["E0102"]
    assert garbage["leaf"] is True and garbage["parent_code"] == by_code["E01"]["code"]
    assert garbage["handle_limit"] and garbage["handle_limit"][-1] in "hd"
    leaves = world.client.get("/api/v1/categories", params={"leaf": "1"}, headers=headers).json()
    assert {c["leaf"] for c in leaves["rows"]} == {True}
    hotline = world.client.get(
        "/api/v1/categories", params={"source": "hotline"}, headers=headers
    ).json()
    assert hotline["rows"] and {c["source"] for c in hotline["rows"]} == {"hotline"}


def test_the_departments_can_be_narrowed_to_the_grid_they_serve(world: StaffWorld) -> None:
    headers = world.headers("street_operator")
    body = world.client.get(
        "/api/v1/departments", params={"serves": ZHONGYUAN}, headers=headers
    ).json()
    codes = {d["code"] for d in body["rows"]}
    assert "410102000000.urban_management" in codes
    assert {d["serves"] for d in body["rows"]} == {ZHONGYUAN}


def test_both_lists_need_credentials_and_refuse_bad_filters(world: StaffWorld) -> None:
    assert world.client.get("/api/v1/categories").status_code == 401
    assert world.client.get("/api/v1/departments").status_code == 401
    headers = world.headers("city_admin")
    bad = world.client.get("/api/v1/categories", params={"source": "rumour"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "source"
    level = world.client.get("/api/v1/departments", params={"level": "planet"}, headers=headers)
    assert level.status_code == 422 and level.json()["error"]["field"] == "level"
