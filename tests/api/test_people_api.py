"""People in grids over HTTP: the scope, phones masked by role, every unmasked read recorded."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from gridgov.grids.people import AssignmentRole
from tests.api.staff_world import OTHER_STREET, StaffWorld, build_staff_world
from tests.case_world import COMMUNITY_1, STREET_1
from tests.databases import module_db_url


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StaffWorld]:
    tmp = tmp_path_factory.mktemp("people-api")
    for url in module_db_url(request, tmp):
        for built in build_staff_world(url, tmp / "var"):
            people = built.runtime.people
            leader = people.add_person("网格长甲", phone="13955556666")
            people.assign(leader.id, STREET_1, AssignmentRole.GRID_LEADER)
            # A grid worker who left a month ago.
            gone = people.add_person("已离任乙", phone="13977778888")
            people.assign(
                gone.id,
                COMMUNITY_1,
                AssignmentRole.GRID_WORKER,
                valid_from=built.clock.now() - timedelta(days=90),
                valid_to=built.clock.now() - timedelta(days=30),
            )
            yield built


def _people(world: StaffWorld, account: str, **params: Any) -> Any:
    return world.client.get("/api/v1/people", params=params, headers=world.headers(account))


def _audits(world: StaffWorld) -> int:
    return len(world.runtime.accounts.personal_data_accesses())


def test_a_street_operator_sees_its_streets_people_with_phones_and_the_read_is_recorded(
    world: StaffWorld,
) -> None:
    before = _audits(world)
    body = _people(world, "street_operator", purpose="排班 / rota").json()
    names = {r["name"]: r for r in body["rows"]}
    assert set(names) == {"网格员inside", "网格长甲", "已离任乙"}
    assert body["phones_visible"] is True and body["total"] == 3
    assert names["网格员inside"]["phone"] == "13911112222"
    assert _audits(world) == before + 1
    record = world.runtime.accounts.personal_data_accesses()[-1]
    assert (record.username, record.subject, record.reason) == (
        "street.operator",
        f"people:{STREET_1}",
        "排班 / rota",
    )


@pytest.mark.parametrize("role", ["grid_worker", "community_worker", "police_liaison", "auditor"])
def test_roles_without_the_right_get_masked_phones_and_nothing_is_recorded(
    world: StaffWorld, role: str
) -> None:
    before = _audits(world)
    body = _people(world, role).json()
    assert body["phones_visible"] is False
    phones = [r["phone"] for r in body["rows"]]
    assert phones and all("****" in p for p in phones)
    assert "13911112222" not in str(body)
    assert _audits(world) == before


def test_on_duty_and_role_choose_the_rows(world: StaffWorld) -> None:
    on = _people(world, "street_operator", on_duty="1").json()
    assert {r["name"] for r in on["rows"]} == {"网格员inside", "网格长甲"}
    assert all(r["on_duty"] for r in on["rows"])
    off = _people(world, "street_operator", on_duty="0").json()
    assert [r["name"] for r in off["rows"]] == ["已离任乙"]
    leaders = _people(world, "street_operator", role="grid_leader").json()
    assert [(r["name"], r["role_zh"], r["grid_code"]) for r in leaders["rows"]] == [
        ("网格长甲", "网格长", STREET_1)
    ]


def test_each_row_is_pinned_inside_its_grid_and_pages_carry_the_total(world: StaffWorld) -> None:
    first = _people(world, "city_admin", limit=2).json()
    assert first["total"] == 4 and first["next_offset"] == 2 and len(first["rows"]) == 2
    rest = _people(world, "city_admin", limit=2, offset=2).json()
    assert rest["next_offset"] is None
    everyone = first["rows"] + rest["rows"]
    assert len({r["assignment_id"] for r in everyone}) == 4
    inside = next(r for r in everyone if r["grid_code"] == COMMUNITY_1)
    assert 113.60 < inside["lon"] < 113.64 and 34.70 < inside["lat"] < 34.78


def test_a_person_in_scope_is_shown_with_their_assignments_and_one_outside_is_not(
    world: StaffWorld,
) -> None:
    mine = world.client.get(
        f"/api/v1/people/{world.people['inside']}", headers=world.headers("grid_worker")
    )
    assert mine.status_code == 200
    assert mine.json()["phone"] == "139****2222"
    assert [a["grid_code"] for a in mine.json()["assignments"]] == [COMMUNITY_1]
    other = world.client.get(
        f"/api/v1/people/{world.people['outside']}", headers=world.headers("grid_worker")
    )
    missing = world.client.get("/api/v1/people/999999", headers=world.headers("grid_worker"))
    assert other.status_code == missing.status_code == 404


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"role": "mayor"}, "role"),
        ({"on_duty": "perhaps"}, "on_duty"),
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"offset": -1}, "offset"),
        ({"scope": "'; DROP TABLE people; --"}, "scope"),
        ({"purpose": "x" * 201}, "purpose"),
    ],
)
def test_bad_input_is_a_422_naming_the_field_and_records_nothing(
    world: StaffWorld, params: dict[str, Any], field: str
) -> None:
    before = _audits(world), world.runtime.people.count()
    response = _people(world, "city_admin", **params)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field
    assert (_audits(world), world.runtime.people.count()) == before


def test_a_scope_outside_the_account_is_a_404_like_an_unknown_grid(world: StaffWorld) -> None:
    hidden = _people(world, "street_operator", scope=OTHER_STREET)
    unknown = _people(world, "street_operator", scope="410199999999")
    assert hidden.status_code == unknown.status_code == 404
