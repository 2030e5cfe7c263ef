"""The cases API through the ASGI stack with bearer tokens, on both dialects."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from gridgov.services.accounts import AccountRole
from tests.api.staff_world import PASSWORD, StaffWorld, build_staff_world
from tests.case_world import INTAKE, SHIFT, STREET_1

OTHER_STREET = "410102002000"  # the same district, another street


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[StaffWorld]:
    yield from build_staff_world(db_url, tmp_path / "var")


def _filed_case(world: StaffWorld) -> int:
    _, case = world.runtime.cases.submit_report(world.cases.report(), INTAKE)
    world.runtime.cases.file(int(case.id), SHIFT)
    return int(case.id)


def _token(world: StaffWorld, username: str, role: AccountRole, scope: str) -> dict[str, str]:
    account = world.runtime.accounts.create(username, PASSWORD, role, scope_code=scope)
    token = world.runtime.accounts.issue_token(account, "tests", days=1).token
    return {"Authorization": f"Bearer {token}"}


def test_a_district_operator_lists_and_dispatches_a_case_in_the_district(
    world: StaffWorld,
) -> None:
    case_id = _filed_case(world)
    headers = world.headers("district_operator")
    listed = world.client.get("/api/v1/cases", params={"state": "filed"}, headers=headers)
    assert [c["id"] for c in listed.json()["items"]] == [case_id]
    detail = world.client.get(f"/api/v1/cases/{case_id}", headers=headers).json()
    assert "dispatch" in detail["allowed_actions"]
    response = world.client.post(
        f"/api/v1/cases/{case_id}/actions/dispatch", json={}, headers=headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["state"] == "dispatched"
    assert body["assignee_department"] == "410102000000.urban_management"
    timeline = world.client.get(f"/api/v1/cases/{case_id}", headers=headers).json()["timeline"]
    assert [(e["action"], e["actor_id"], e["actor_role"]) for e in timeline][-1] == (
        "dispatch",
        "district.operator",
        "dispatcher",
    )


def test_a_street_operator_of_another_street_sees_nothing_of_it(world: StaffWorld) -> None:
    case_id = _filed_case(world)
    headers = _token(world, "zhou.jie", AccountRole.STREET_OPERATOR, OTHER_STREET)
    assert world.client.get("/api/v1/cases", headers=headers).json()["items"] == []
    assert world.client.get(f"/api/v1/cases/{case_id}", headers=headers).status_code == 404
    assert world.client.get(f"/api/v1/cases/{case_id}/reports", headers=headers).status_code == 404
    action = world.client.post(
        f"/api/v1/cases/{case_id}/actions/dispatch", json={}, headers=headers
    )
    assert action.status_code == 404
    assert world.client.get("/api/v1/queue/manual", headers=headers).json() == []


def test_a_department_handler_accepts_then_handles_with_evidence(world: StaffWorld) -> None:
    headers = world.headers("department_handler")
    url = f"/api/v1/cases/{world.inside}/actions"
    accepted = world.client.post(f"{url}/accept", json={}, headers=headers)
    assert accepted.status_code == 200 and accepted.json()["state"] == "accepted"
    handled = world.client.post(
        f"{url}/handle",
        json={"evidence": ["photo-1.jpg"], "reason": "垃圾已清运"},
        headers=headers,
    )
    assert handled.status_code == 200 and handled.json()["state"] == "handled"
    detail = world.client.get(f"/api/v1/cases/{world.inside}", headers=headers).json()
    last = detail["timeline"][-1]
    assert (last["action"], last["reason"]) == ("handle", "垃圾已清运")
    assert last["details"]["evidence"] == ["photo-1.jpg"]


def test_an_auditor_reads_but_every_action_is_a_403(world: StaffWorld) -> None:
    headers = world.headers("auditor")
    detail = world.client.get(f"/api/v1/cases/{world.inside}", headers=headers)
    assert detail.status_code == 200 and detail.json()["allowed_actions"] == []
    for action in ("accept", "supervise", "close"):
        response = world.client.post(
            f"/api/v1/cases/{world.inside}/actions/{action}",
            json={"reason": "审计 / audit"},
            headers=headers,
        )
        assert response.status_code == 403
        assert "reads only" in response.json()["error"]["problem"]


def test_personal_data_is_shown_only_to_who_may_see_it_and_each_read_is_recorded(
    world: StaffWorld,
) -> None:
    url = f"/api/v1/cases/{world.inside}/reports"
    subject = f"case:{world.inside}"
    masked = world.client.get(url, headers=world.headers("grid_worker")).json()
    assert masked["personal_data_visible"] is False
    assert masked["reports"][0]["reporter_phone"] == "138****0000"
    assert world.runtime.accounts.personal_data_accesses(subject) == []
    shown = world.client.get(
        url, params={"purpose": "回访核实"}, headers=world.headers("street_operator")
    ).json()
    assert shown["personal_data_visible"] is True
    assert shown["reports"][0]["reporter_phone"] == "13800000000"
    (access,) = world.runtime.accounts.personal_data_accesses(subject)
    assert (access.username, access.reason) == ("street.operator", "回访核实")


@pytest.mark.parametrize(
    "action, body, field",
    [
        ("accept", {"colour": "red"}, "colour"),
        ("handle", {"evidence": "photo-1.jpg"}, "evidence"),
        ("request_extension", {"reason": "材料未到"}, "until"),
        ("request_extension", {"reason": "x", "until": "2026-12-31T09:00:00"}, "until"),
        ("return", {}, "reason"),
    ],
)
def test_a_bad_body_is_a_422_naming_the_field_and_changes_nothing(
    world: StaffWorld, action: str, body: dict[str, object], field: str
) -> None:
    before = world.events()
    response = world.client.post(
        f"/api/v1/cases/{world.inside}/actions/{action}",
        json=body,
        headers=world.headers("department_handler"),
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field
    assert world.events() == before


def test_an_illegal_action_is_a_409_with_the_workflows_reason(world: StaffWorld) -> None:
    before = world.events()
    response = world.client.post(
        f"/api/v1/cases/{world.inside}/actions/close",
        json={},
        headers=world.headers("street_operator"),
    )
    assert response.status_code == 409
    assert "case is dispatched: cannot close" in response.json()["error"]["problem"]
    assert world.events() == before


def test_a_role_the_table_does_not_allow_is_a_403(world: StaffWorld) -> None:
    response = world.client.post(
        f"/api/v1/cases/{world.inside}/actions/accept",
        json={},
        headers=world.headers("grid_worker"),
    )
    assert response.status_code == 403
    assert "allowed roles: handler" in response.json()["error"]["problem"]


def test_an_acting_role_header_chooses_the_role_and_one_not_held_is_a_403(
    world: StaffWorld,
) -> None:
    url = f"/api/v1/cases/{world.inside}/actions/supervise"
    headers = world.headers("street_operator", **{"X-Acting-Role": "supervisor"})
    assert world.client.post(url, json={}, headers=headers).status_code == 200
    timeline = world.client.get(f"/api/v1/cases/{world.inside}", headers=headers).json()["timeline"]
    assert timeline[-1]["actor_role"] == "supervisor"
    wrong = world.headers("street_operator", **{"X-Acting-Role": "handler"})
    assert world.client.post(url, json={}, headers=wrong).status_code == 403


def test_an_expired_or_forged_token_is_a_401(world: StaffWorld) -> None:
    headers = _token(world, "short.lived", AccountRole.STREET_OPERATOR, OTHER_STREET)
    assert world.client.get("/api/v1/cases", headers=headers).status_code == 200
    world.clock.advance(timedelta(days=1))
    expired = world.client.get("/api/v1/cases", headers=headers)
    assert expired.status_code == 401 and "expired" in expired.json()["error"]["problem"]
    forged = world.client.get(
        f"/api/v1/cases/{world.inside}", headers={"Authorization": "Bearer ggt_forged"}
    )
    assert forged.status_code == 401 and "invalid token" in forged.json()["error"]["problem"]


def test_the_list_pages_with_limit_and_offset(world: StaffWorld) -> None:
    extra = [_filed_case(world) for _ in range(2)]
    headers = world.headers("city_admin")
    first = world.client.get("/api/v1/cases", params={"limit": 2}, headers=headers).json()
    assert [c["id"] for c in first["items"]] == extra[::-1] and first["next_offset"] == 2
    rest = world.client.get(
        "/api/v1/cases", params={"limit": 2, "offset": 2}, headers=headers
    ).json()
    assert [c["id"] for c in rest["items"]] == [world.outside, world.inside]
    assert rest["next_offset"] is None
    bad = world.client.get("/api/v1/cases", params={"limit": 0}, headers=headers)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "limit"


def test_a_case_number_beyond_the_stores_integers_is_a_422_not_a_database_error(
    world: StaffWorld,
) -> None:
    headers = world.headers("city_admin")
    huge = 2**63  # found by tests/api/test_openapi_fuzz.py: a 500 on both stores
    for response in (
        world.client.get(f"/api/v1/cases/{huge}", headers=headers),
        world.client.get(f"/api/v1/cases/{2**31}/reports", headers=headers),
        world.client.post(f"/api/v1/cases/{huge}/actions/file", json={}, headers=headers),
    ):
        assert response.status_code == 422, response.text
        assert response.json()["error"]["field"] == "path.case_id"


def _ids(world: StaffWorld, account: str = "city_admin", **params: object) -> list[int]:
    response = world.client.get("/api/v1/cases", params=params, headers=world.headers(account))
    assert response.status_code == 200, response.text
    return [c["id"] for c in response.json()["items"]]


def test_the_list_filters_by_state_category_channel_department_and_time(
    world: StaffWorld,
) -> None:
    filed = _filed_case(world)
    _, police = world.runtime.cases.submit_report(
        world.cases.report(category="H02", channel="police_110"), INTAKE
    )
    police_id = int(police.id)
    everything = [police_id, filed, world.outside, world.inside]
    assert _ids(world) == everything
    assert _ids(world, state=["dispatched", "filed"]) == [filed, world.outside, world.inside]
    assert _ids(world, category="E01") == [filed, world.outside, world.inside]  # E0102 is in E01
    assert _ids(world, channel="police_110") == [police_id]
    assert _ids(world, department="410102000000.urban_management") == [world.inside]
    now = world.clock.now()
    assert _ids(world, created_from=now.isoformat()) == everything
    assert _ids(world, created_to=now.isoformat()) == []
    assert _ids(world, scope=STREET_1) == [police_id, filed, world.inside]
    assert _ids(world, overdue="true") == []
    world.clock.advance(timedelta(days=30))
    assert _ids(world, overdue="true") == [world.outside, world.inside]


def test_text_search_finds_numbers_only_for_who_may_see_them(world: StaffWorld) -> None:
    report = world.cases.report()
    phone_in_text = replace(report, text="井盖坏了，请回电13912345678")
    _, case = world.runtime.cases.submit_report(phone_in_text, INTAKE)
    found = int(case.id)
    assert _ids(world, q="请回电") == [found]
    assert _ids(world, "grid_worker", q="请回电") == [found]
    assert _ids(world, q="13912345678") == [found]
    # A grid worker may not see the number, so searching by it must not tell which case has it.
    assert _ids(world, "grid_worker", q="13912345678") == []
    assert _ids(world, "grid_worker", q=str(world.inside)) == [world.inside]  # the case number
    assert _ids(world, q="50%_") == []  # LIKE's wildcards are plain characters


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"state": "lost"}, "state.0"),
        ({"created_from": "2026-11-27T10:00:00"}, "created_from"),
        ({"created_to": "yesterday"}, "created_to"),
        ({"category": "ZZ99"}, "category"),
        ({"channel": "pigeon_post"}, "channel"),
        ({"q": "x" * 101}, "q"),
        ({"overdue": "sometimes"}, "overdue"),
        ({"offset": 1_000_001}, "offset"),
    ],
)
def test_a_bad_list_filter_is_a_422_naming_it(
    world: StaffWorld, params: dict[str, object], field: str
) -> None:
    response = world.client.get("/api/v1/cases", params=params, headers=world.headers("city_admin"))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field


def test_a_dispatch_to_a_department_that_does_not_exist_is_a_422(world: StaffWorld) -> None:
    case_id = _filed_case(world)
    before = world.events()
    response = world.client.post(
        f"/api/v1/cases/{case_id}/actions/dispatch",
        json={"department": "no.such.department"},
        headers=world.headers("district_operator"),
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "department"
    assert world.events() == before
