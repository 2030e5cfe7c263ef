"""The access matrix: every staff role × every case route × a case inside and outside its scope.

A leak anywhere fails the suite: each route of the app under /api/v1 is either in `MATRIX` with
its designed answers or listed in `NOT_CASE_SCOPED` with the reason, so a new route cannot be
forgotten. The designed answers are explained in docs/api.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from gridgov.workflow.model import Action, Actor, Role
from gridgov.workflow.transitions import COMMAND_ACTIONS
from tests.api.staff_world import ROLES, STAFF, StaffWorld, build_staff_world, module_db_url
from tests.case_world import ERQI_POINT, INTAKE, PLAIN_POINT, SHIFT

ALLOWED, FORBIDDEN, HIDDEN = 200, 403, 404
CITY = Actor("matrix", Role.CENTRE_LEADER)

# Reading: everyone reads inside their scope, and nothing outside it is even said to exist. The
# city admin's scope is the whole city, so its "outside" case is inside.
READ = {role: (ALLOWED, HIDDEN) for role in ROLES} | {"city_admin": (ALLOWED, ALLOWED)}
# Acting, probed with `supervise` on a dispatched case (the state stays, so the probe repeats):
# centre accounts may; workers and handlers hold no role the table allows (403); outside the scope
# it is 404 before the role is considered; an auditor is refused before any case is looked up.
ACT = {
    "city_admin": (ALLOWED, ALLOWED),
    "district_operator": (ALLOWED, HIDDEN),
    "street_operator": (ALLOWED, HIDDEN),
    "community_worker": (FORBIDDEN, HIDDEN),
    "grid_worker": (FORBIDDEN, HIDDEN),
    "department_handler": (FORBIDDEN, HIDDEN),
    "police_liaison": (FORBIDDEN, HIDDEN),
    "auditor": (FORBIDDEN, FORBIDDEN),
}
PROBE = "supervise"

MATRIX: dict[tuple[str, str], dict[str, tuple[int, int]]] = {
    ("GET", "/api/v1/cases/{case_id}"): READ,
    ("GET", "/api/v1/cases/{case_id}/reports"): READ,
    ("POST", "/api/v1/cases/{case_id}/actions/{action}"): ACT,
}

NOT_CASE_SCOPED: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/cases"): "the list: checked below never to hold an out-of-scope case",
    ("GET", "/api/v1/queue/manual"): "a list: checked below never to hold an out-of-scope case",
    ("POST", "/api/v1/residents/cases/{case_id}/follow"): "residents: no account; the case "
    "number and phone digits prove it is theirs (tests/api/test_residents.py)",
    ("POST", "/api/v1/residents/cases/{case_id}/rating"): "residents, as above",
    ("POST", "/api/v1/auth/sign-in"): "no case",
    ("POST", "/api/v1/auth/sign-out"): "no case",
    ("POST", "/api/v1/auth/tokens"): "no case",
    ("DELETE", "/api/v1/auth/tokens/{token_id}"): "no case (tests/api/test_auth.py)",
    ("GET", "/api/v1/auth/me"): "no case",
    ("GET", "/api/v1/grid-layers"): "public grid data, no case",
    ("GET", "/api/v1/grids/locate"): "public grid data, no case",
    ("POST", "/api/v1/intake/{channel}"): "channel systems with API keys, no staff scope",
    ("POST", "/api/v1/intake/{channel}/batch"): "channel systems with API keys, no staff scope",
}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StaffWorld]:
    """Built once per dialect: the matrix only reads, or repeats a state-keeping probe."""
    tmp = tmp_path_factory.mktemp("matrix")
    for url in module_db_url(request, tmp):
        for built in build_staff_world(url, tmp / "var"):
            # Cases routing cannot place (H02 has no department here): one in each district's
            # manual queue, so the queue has something to leak.
            for point in (PLAIN_POINT, ERQI_POINT):
                _, case = built.runtime.cases.submit_report(
                    built.cases.report(point, category="H02"), INTAKE
                )
                built.runtime.cases.file(int(case.id), SHIFT)
            yield built


def _api_routes(world: StaffWorld) -> set[tuple[str, str]]:
    # Read from the OpenAPI schema, the public list of routes (FastAPI's `app.routes` nests
    # included routers lazily); every /api/v1 route must be in the schema anyway.
    paths: dict[str, dict[str, Any]] = world.app.openapi()["paths"]
    return {
        (method.upper(), path)
        for path, operations in paths.items()
        if path.startswith("/api/v1")
        for method in operations
    }


def test_every_api_route_is_in_the_matrix_or_listed_as_not_case_scoped(world: StaffWorld) -> None:
    routes = _api_routes(world)
    assert sorted(routes - set(MATRIX) - set(NOT_CASE_SCOPED)) == []
    assert sorted((set(MATRIX) | set(NOT_CASE_SCOPED)) - routes) == []  # no stale rows
    assert set(MATRIX).isdisjoint(NOT_CASE_SCOPED)


def _call(world: StaffWorld, route: tuple[str, str], role: str, case_id: int) -> Any:
    method, template = route
    path = template.format(case_id=case_id, action=PROBE)
    body = {"reason": "矩阵检查 / matrix probe"} if method == "POST" else None
    return world.client.request(method, path, json=body, headers=world.headers(role))


@pytest.mark.parametrize("where", ["inside", "outside"])
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", sorted(MATRIX))
def test_each_role_gets_the_designed_answer_on_each_case_route(
    world: StaffWorld, route: tuple[str, str], role: str, where: str
) -> None:
    inside, outside = MATRIX[route][role]
    expected = inside if where == "inside" else outside
    case_id = world.inside if where == "inside" else world.outside
    before = world.runtime.cases.events(world.outside, CITY)
    response = _call(world, route, role, case_id)
    assert response.status_code == expected, response.text
    if expected == HIDDEN:
        # Word for word what a case number that does not exist gets.
        missing = _call(world, route, role, 999_999)
        assert missing.status_code == HIDDEN
        problem = response.json()["error"]["problem"]
        assert problem == missing.json()["error"]["problem"].replace("999999", str(case_id))
    if where == "outside" and expected != ALLOWED:
        assert world.runtime.cases.events(world.outside, CITY) == before


@pytest.mark.parametrize("role", [r for r in ROLES if r != "city_admin"])
def test_no_action_of_any_kind_reaches_a_case_outside_the_scope(
    world: StaffWorld, role: str
) -> None:
    later = (world.clock.now() + timedelta(days=30)).isoformat()
    body = {
        "reason": "越权 / out of scope",
        "evidence": ["photo.jpg"],
        "department": "410103000000.urban_management",
        "satisfaction": "satisfied",
        "until": later,
        "handle_due": later,
        "into": world.inside,
    }
    expected = FORBIDDEN if role == "auditor" else HIDDEN
    before = world.runtime.cases.events(world.outside, CITY)
    wrong = {}
    for action in (a for a in COMMAND_ACTIONS if a is not Action.REPORT):
        response = world.client.post(
            f"/api/v1/cases/{world.outside}/actions/{action.value}",
            json=body,
            headers=world.headers(role),
        )
        if response.status_code != expected:
            wrong[action.value] = (response.status_code, response.text)
    assert wrong == {}
    assert world.runtime.cases.events(world.outside, CITY) == before


def _in_scope(role: str, grid_path: dict[str, str]) -> bool:
    scope = STAFF[role][1]
    if STAFF[role][2] is not None:  # a department handler's scope is its department's area
        scope = "410102000000"
    return scope is None or scope in grid_path.values()


@pytest.mark.parametrize("role", ROLES)
def test_the_lists_never_hold_a_case_outside_the_scope(world: StaffWorld, role: str) -> None:
    headers = world.headers(role)
    for params in ({"limit": 200}, {"limit": 200, "state": "dispatched"}, {"limit": 1}):
        response = world.client.get("/api/v1/cases", params=params, headers=headers)
        assert response.status_code == ALLOWED
        items = response.json()["items"]
        assert [i["id"] for i in items if not _in_scope(role, i["grid_path"])] == []
    everything = world.client.get("/api/v1/cases", params={"limit": 200}, headers=headers).json()
    ids = {i["id"] for i in everything["items"]}
    assert world.inside in ids
    assert (world.outside in ids) is (role == "city_admin")
    queue = world.client.get("/api/v1/queue/manual", headers=headers)
    assert queue.status_code == ALLOWED
    assert [c["id"] for c in queue.json() if not _in_scope(role, c["grid_path"])] == []


def test_the_manual_queue_holds_each_centres_own_cases(world: StaffWorld) -> None:
    def queue(role: str) -> list[str]:
        body = world.client.get("/api/v1/queue/manual", headers=world.headers(role)).json()
        return sorted(c["grid_path"]["district"] for c in body)

    assert queue("city_admin") == ["410102000000", "410103000000"]
    assert queue("district_operator") == ["410102000000"]
    assert queue("street_operator") == []  # the district's centre owns these, not the street's
