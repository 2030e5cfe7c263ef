"""Reports over HTTP: masked lists, one report by role (audited), and placing unlocated ones."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from gridgov.store.tables import CaseRow, ReportRow
from tests.api.staff_world import StaffWorld, build_staff_world
from tests.case_world import ERQI_POINT, PLAIN_POINT, STREET_1
from tests.databases import module_db_url


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StaffWorld]:
    tmp = tmp_path_factory.mktemp("reports-api")
    for url in module_db_url(request, tmp):
        yield from build_staff_world(url, tmp / "var")


def _counts(world: StaffWorld) -> tuple[int, int, int, int]:
    """(reports, cases, events, personal data reads)."""
    with world.runtime.sessions() as session:
        reports = session.scalar(select(func.count()).select_from(ReportRow)) or 0
        cases = session.scalar(select(func.count()).select_from(CaseRow)) or 0
    audits = len(world.runtime.accounts.personal_data_accesses())
    return reports, cases, world.events(), audits


def _list(world: StaffWorld, account: str, **params: Any) -> Any:
    return world.client.get("/api/v1/reports", params=params, headers=world.headers(account))


def test_lists_are_masked_even_for_accounts_that_may_see_personal_data(
    world: StaffWorld,
) -> None:
    body = _list(world, "city_admin").json()
    assert body["total"] >= 2
    inside = next(r for r in body["rows"] if r["id"] == world.reports["inside"])
    assert inside["reporter_phone"] == "138****0000" and inside["reporter_name"] == "张*"
    assert "13800000000" not in str(body)


def test_the_manual_location_queue_is_the_city_desks(world: StaffWorld) -> None:
    waiting = world.unlocated_report()
    queue = _list(world, "city_admin", location_status="awaiting_manual").json()
    assert waiting in [r["id"] for r in queue["rows"]]
    row = next(r for r in queue["rows"] if r["id"] == waiting)
    assert row["case_id"] is None and "13812345678" not in str(row)
    assert "location_explanation" in row["intake"]
    district = _list(world, "district_operator", location_status="awaiting_manual").json()
    assert district["rows"] == [] and district["total"] == 0
    located = _list(world, "district_operator", location_status="located").json()
    assert world.reports["inside"] in [r["id"] for r in located["rows"]]


def test_one_report_is_unmasked_for_the_operator_and_the_read_is_recorded(
    world: StaffWorld,
) -> None:
    before = _counts(world)
    response = world.client.get(
        f"/api/v1/reports/{world.reports['inside']}",
        params={"purpose": "回访 / calling back"},
        headers=world.headers("street_operator"),
    )
    body = response.json()
    assert body["personal_data_visible"] is True and body["reporter_phone"] == "13800000000"
    assert _counts(world)[3] == before[3] + 1
    record = world.runtime.accounts.personal_data_accesses()[-1]
    assert record.subject == f"report:{world.reports['inside']}"
    assert record.reason == "回访 / calling back"


def test_a_grid_worker_reads_the_report_masked_and_nothing_is_recorded(world: StaffWorld) -> None:
    before = _counts(world)
    body = world.client.get(
        f"/api/v1/reports/{world.reports['inside']}", headers=world.headers("grid_worker")
    ).json()
    assert body["personal_data_visible"] is False and body["reporter_phone"] == "138****0000"
    assert _counts(world) == before


def test_the_city_desk_places_an_unlocated_report_and_its_case_opens(world: StaffWorld) -> None:
    waiting = world.unlocated_report()
    lon, lat = PLAIN_POINT
    response = world.client.post(
        f"/api/v1/reports/{waiting}/locate",
        json={"lon": lon, "lat": lat},
        headers=world.headers("city_admin"),
    )
    assert response.status_code == 200, response.text
    case_id = response.json()["case_id"]
    case = world.client.get(f"/api/v1/cases/{case_id}", headers=world.headers("street_operator"))
    assert case.status_code == 200 and case.json()["grid_path"]["street"] == STREET_1
    again = world.client.post(
        f"/api/v1/reports/{waiting}/locate",
        json={"lon": lon, "lat": lat},
        headers=world.headers("city_admin"),
    )
    assert again.status_code == 409


def test_a_point_in_gcj02_is_converted_before_placing(world: StaffWorld) -> None:
    waiting = world.unlocated_report()
    # AMap shows street 1's point about 0.006° east and 0.0013° north of its WGS84 position.
    response = world.client.post(
        f"/api/v1/reports/{waiting}/locate",
        json={"lon": 113.6162, "lat": 34.7113, "crs": "gcj02"},
        headers=world.headers("city_admin"),
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lon": 113.61}, "lat"),
        ({"lon": "east", "lat": 34.7}, "lon"),
        ({"lon": 113.61, "lat": 91}, "lat"),
        ({"lon": 113.61, "lat": 34.71, "crs": "utm"}, "crs"),
        ({"lon": 113.61, "lat": 34.71, "note": "<script>alert(1)</script>"}, "note"),
        ({"lon": 116.4, "lat": 39.9}, "lon,lat"),  # Beijing: outside every grid
        ([113.61, 34.71], "body"),
    ],
)
def test_a_bad_placement_is_a_422_naming_the_field_and_changes_nothing(
    world: StaffWorld, body: Any, field: str
) -> None:
    waiting = world.unlocated_report()
    before = _counts(world)
    response = world.client.post(
        f"/api/v1/reports/{waiting}/locate", json=body, headers=world.headers("city_admin")
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field
    assert _counts(world) == before


def test_malformed_json_is_a_422_and_changes_nothing(world: StaffWorld) -> None:
    waiting = world.unlocated_report()
    before = _counts(world)
    response = world.client.post(
        f"/api/v1/reports/{waiting}/locate",
        content=b'{"lon": 113.61, "lat": ',
        headers={**world.headers("city_admin"), "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "body"
    assert _counts(world) == before


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"location_status": "lost"}, "location_status"),
        ({"channel": "HOTLINE; DROP TABLE reports"}, "channel"),
        ({"channel": "pigeon_post"}, "channel"),
        ({"limit": 501}, "limit"),
        ({"scope": "<img src=x onerror=alert(1)>"}, "scope"),
    ],
)
def test_bad_list_input_is_a_422_naming_the_field(
    world: StaffWorld, params: dict[str, Any], field: str
) -> None:
    response = _list(world, "city_admin", **params)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field


def test_placing_outside_the_city_desk_is_refused_before_anything_is_looked_up(
    world: StaffWorld,
) -> None:
    waiting = world.unlocated_report()
    before = _counts(world)
    lon, lat = ERQI_POINT
    for account, status in (("grid_worker", 403), ("auditor", 403), ("district_operator", 404)):
        response = world.client.post(
            f"/api/v1/reports/{waiting}/locate",
            json={"lon": lon, "lat": lat},
            headers=world.headers(account),
        )
        assert response.status_code == status, (account, response.text)
    assert _counts(world) == before
