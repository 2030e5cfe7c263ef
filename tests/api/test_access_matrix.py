"""The access matrix: every staff role × every scoped route × an object inside and outside its scope.

A leak anywhere fails the suite: each route of the app under /api/v1 is either in `MATRIX` with
its designed answers or listed in `NOT_SCOPED` with the reason, so a new route cannot be
forgotten. "Inside" is in street 1 / community 1 of district 1, which every scoped account's
subtree holds; "outside" is in the other district. An object is a case, a report, a person or a
grid, or the `scope` a list or an analysis is asked for. The designed answers are explained in
docs/api.md and docs/security.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from gridgov.workflow.model import Action, Actor, Role
from gridgov.workflow.transitions import COMMAND_ACTIONS
from tests.api.staff_world import OTHER_STREET, ROLES, STAFF, StaffWorld, build_staff_world
from tests.case_world import COMMUNITY_1, ERQI_POINT, INTAKE, PLAIN_POINT, SHIFT, STREET_1
from tests.databases import module_db_url

ALLOWED, FORBIDDEN, HIDDEN = 200, 403, 404
CITY = Actor("matrix", Role.CENTRE_LEADER)
MISSING_ID = "999999"
MISSING_GRID = "410199999999"

# Reading: everyone reads inside their scope, and nothing outside it is even said to exist. The
# city admin's scope is the whole city, so its "outside" object is inside.
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
# Placing an unlocated report (a fresh one each time, put at a point inside or outside): the
# intake desk's work, so accounts without the intake role are refused before any lookup; the
# report belongs to no grid yet, so only city-wide accounts see it at all.
PLACE = {role: (FORBIDDEN, FORBIDDEN) for role in ROLES} | {
    "city_admin": (ALLOWED, ALLOWED),
    "district_operator": (HIDDEN, HIDDEN),
    "street_operator": (HIDDEN, HIDDEN),
}
PROBE = "supervise"


@dataclass(frozen=True)
class Probe:
    """How to ask a route about the inside, outside or a missing object."""

    url: str  # with {key} where the object goes
    inside: Callable[[StaffWorld], str]
    outside: Callable[[StaffWorld], str]
    missing: str
    answers: dict[str, tuple[int, int]]
    body: Callable[[str], dict[str, Any] | None] = field(default=lambda where: None)


def _case(where: str) -> Callable[[StaffWorld], str]:
    return lambda w: str(w.inside if where == "inside" else w.outside)


def _grid(where: str) -> Callable[[StaffWorld], str]:
    return lambda w: COMMUNITY_1 if where == "inside" else OTHER_STREET


def _person(where: str) -> Callable[[StaffWorld], str]:
    return lambda w: str(w.people[where])


def _report(where: str) -> Callable[[StaffWorld], str]:
    return lambda w: str(w.reports[where])


def _unlocated(world: StaffWorld) -> str:
    return str(world.unlocated_report())


def _point(where: str) -> dict[str, Any]:
    lon, lat = PLAIN_POINT if where == "inside" else ERQI_POINT
    return {"lon": lon, "lat": lat}


def _by_case(url: str, answers: dict[str, tuple[int, int]]) -> Probe:
    return Probe(url, _case("inside"), _case("outside"), MISSING_ID, answers)


def _by_grid(url: str) -> Probe:
    return Probe(url, _grid("inside"), _grid("outside"), MISSING_GRID, READ)


MATRIX: dict[tuple[str, str], Probe] = {
    ("GET", "/api/v1/cases/{case_id}"): _by_case("/api/v1/cases/{key}", READ),
    ("GET", "/api/v1/cases/{case_id}/reports"): _by_case("/api/v1/cases/{key}/reports", READ),
    ("POST", "/api/v1/cases/{case_id}/actions/{action}"): Probe(
        f"/api/v1/cases/{{key}}/actions/{PROBE}",
        _case("inside"),
        _case("outside"),
        MISSING_ID,
        ACT,
        body=lambda where: {"reason": "矩阵检查 / matrix probe"},
    ),
    ("GET", "/api/v1/cases"): _by_grid("/api/v1/cases?scope={key}"),
    ("GET", "/api/v1/grids/tree"): _by_grid("/api/v1/grids/tree?scope={key}"),
    ("GET", "/api/v1/grids/export"): _by_grid("/api/v1/grids/export?scope={key}"),
    ("GET", "/api/v1/grids/{code}"): _by_grid("/api/v1/grids/{key}"),
    ("GET", "/api/v1/grids/{code}/geometry"): _by_grid("/api/v1/grids/{key}/geometry"),
    ("GET", "/api/v1/people"): _by_grid("/api/v1/people?scope={key}"),
    ("GET", "/api/v1/people/{person_id}"): Probe(
        "/api/v1/people/{key}", _person("inside"), _person("outside"), MISSING_ID, READ
    ),
    ("GET", "/api/v1/reports"): _by_grid("/api/v1/reports?scope={key}"),
    ("GET", "/api/v1/reports/{report_id}"): Probe(
        "/api/v1/reports/{key}", _report("inside"), _report("outside"), MISSING_ID, READ
    ),
    ("POST", "/api/v1/reports/{report_id}/locate"): Probe(
        "/api/v1/reports/{key}/locate", _unlocated, _unlocated, MISSING_ID, PLACE, body=_point
    ),
}

NOT_SCOPED: dict[tuple[str, str], str] = {
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
    ("GET", "/api/v1/categories"): "the city's published taxonomy, the same for every account",
    ("GET", "/api/v1/departments"): "the city's published departments, the same for everyone",
    ("POST", "/api/v1/intake/{channel}"): "channel systems with API keys, no staff scope",
    ("POST", "/api/v1/intake/{channel}/batch"): "channel systems with API keys, no staff scope",
}
# The analyses and AI insights take a `scope` like the lists (or a case number) and answer the
# same way; their content is tested in their own modules.
_ANALYSES = {
    "overview": "",
    "trend": "",
    "children": "",
    "departments": "",
    "cases-map": "&bbox=113,34,114,35",
    "party": "",
    "live": "&once=1",
    "early-warning": "",
}
MATRIX |= {
    ("GET", f"/api/v1/analytics/{name}"): _by_grid(f"/api/v1/analytics/{name}?scope={{key}}{extra}")
    for name, extra in _ANALYSES.items()
}
MATRIX |= {
    ("GET", "/api/v1/briefing/daily"): _by_grid("/api/v1/briefing/daily?scope={key}"),
    ("GET", "/api/v1/cases/{case_id}/suggestions"): _by_case(
        "/api/v1/cases/{key}/suggestions", READ
    ),
}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StaffWorld]:
    """Built once per dialect: the matrix only reads, repeats a state-keeping probe, or places
    a report made for that one call."""
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


def test_every_api_route_is_in_the_matrix_or_listed_as_not_scoped(world: StaffWorld) -> None:
    routes = _api_routes(world)
    assert sorted(routes - set(MATRIX) - set(NOT_SCOPED)) == []
    assert sorted((set(MATRIX) | set(NOT_SCOPED)) - routes) == []  # no stale rows
    assert set(MATRIX).isdisjoint(NOT_SCOPED)


def _ask(world: StaffWorld, probe: Probe, role: str, key: str, where: str) -> Any:
    method = "POST" if probe.body(where) is not None else "GET"
    return world.client.request(
        method, probe.url.format(key=key), json=probe.body(where), headers=world.headers(role)
    )


@pytest.mark.parametrize("where", ["inside", "outside"])
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", sorted(MATRIX))
def test_each_role_gets_the_designed_answer_on_each_scoped_route(
    world: StaffWorld, route: tuple[str, str], role: str, where: str
) -> None:
    probe = MATRIX[route]
    inside, outside = probe.answers[role]
    expected = inside if where == "inside" else outside
    key = (probe.inside if where == "inside" else probe.outside)(world)
    before = world.runtime.cases.events(world.outside, CITY), world.events()
    response = _ask(world, probe, role, key, where)
    assert response.status_code == expected, response.text
    if expected == HIDDEN:
        # Word for word what an object that does not exist gets.
        missing = _ask(world, probe, role, probe.missing, where)
        assert missing.status_code == HIDDEN
        problem = response.json()["error"]["problem"]
        assert problem == missing.json()["error"]["problem"].replace(probe.missing, key)
    if expected != ALLOWED:
        assert (world.runtime.cases.events(world.outside, CITY), world.events()) == before


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


def _in_scope(role: str, case: dict[str, Any]) -> bool:
    scope = STAFF[role][1]
    if STAFF[role][2] is not None:
        # A department handler: its department's area, and only the cases dispatched to it.
        return case["assignee_department"] == STAFF[role][2]
    return scope is None or scope in case["grid_path"].values()


LIST_FILTERS: list[dict[str, Any]] = [
    {"limit": 200},
    {"limit": 200, "state": "dispatched"},
    {"limit": 1},
    {"limit": 200, "offset": 1},
    {"limit": 200, "overdue": "true"},
    {"limit": 200, "category": "E01"},
    {"limit": 200, "channel": "hotline_12345"},
    {"limit": 200, "q": "垃圾"},
    {"limit": 200, "q": "13800000000"},
    {"limit": 200, "department": "410103000000.urban_management"},
    {"limit": 200, "created_from": "2026-01-01T00:00:00+08:00"},
]


@pytest.mark.parametrize("role", ROLES)
def test_the_lists_never_hold_a_case_outside_the_scope(world: StaffWorld, role: str) -> None:
    headers = world.headers(role)
    for params in LIST_FILTERS:
        response = world.client.get("/api/v1/cases", params=params, headers=headers)
        assert response.status_code == ALLOWED, (params, response.text)
        items = response.json()["items"]
        assert [i["id"] for i in items if not _in_scope(role, i)] == [], params
    everything = world.client.get("/api/v1/cases", params={"limit": 200}, headers=headers).json()
    ids = {i["id"] for i in everything["items"]}
    assert everything["total"] == len(ids)
    assert world.inside in ids
    assert (world.outside in ids) is (role == "city_admin")
    queue = world.client.get("/api/v1/queue/manual", headers=headers)
    assert queue.status_code == ALLOWED
    assert [c["id"] for c in queue.json() if not _in_scope(role, c)] == []


@pytest.mark.parametrize("role", ROLES)
def test_the_report_and_people_lists_never_hold_anything_outside_the_scope(
    world: StaffWorld, role: str
) -> None:
    headers = world.headers(role)
    reports = world.client.get("/api/v1/reports", params={"limit": 500}, headers=headers).json()
    ids = {r["id"] for r in reports["rows"]}
    assert world.reports["inside"] in ids
    assert (world.reports["outside"] in ids) is (role == "city_admin")
    # Unlocated reports belong to no grid: only the city-wide account sees them.
    waiting = {r["id"] for r in reports["rows"] if r["location_status"] == "awaiting_manual"}
    assert waiting == set() or role == "city_admin"
    people = world.client.get("/api/v1/people", headers=headers).json()
    found = {r["id"] for r in people["rows"]}
    assert world.people["inside"] in found
    assert (world.people["outside"] in found) is (role == "city_admin")
    tree = world.client.get("/api/v1/grids/export", params={"level": "street"}, headers=headers)
    streets = {f["properties"]["code"] for f in tree.json()["features"]}
    assert (OTHER_STREET in streets) is (role == "city_admin")


def test_the_manual_queue_holds_each_centres_own_cases(world: StaffWorld) -> None:
    def queue(role: str) -> list[str]:
        body = world.client.get("/api/v1/queue/manual", headers=world.headers(role)).json()
        return sorted(c["grid_path"]["district"] for c in body)

    assert queue("city_admin") == ["410102000000", "410103000000"]
    assert queue("district_operator") == ["410102000000"]
    assert queue("street_operator") == []  # the district's centre owns these, not the street's


CASE_ROUTES = (
    "/api/v1/cases/{id}",
    "/api/v1/cases/{id}/reports",
)


def test_a_department_handler_sees_only_the_cases_dispatched_to_its_department(
    world: StaffWorld,
) -> None:
    # A case in the department's own area (street 1) that is not dispatched to it.
    _, case = world.runtime.cases.submit_report(world.cases.report(PLAIN_POINT), INTAKE)
    undispatched = int(case.id)
    headers = world.headers("department_handler")
    for template in CASE_ROUTES:
        path = template.format(id=undispatched)
        assert world.client.get(path, headers=headers).status_code == HIDDEN, path
        assert world.client.get(path, headers=world.headers("street_operator")).status_code == 200
    acted = world.client.post(
        f"/api/v1/cases/{undispatched}/actions/accept", json={}, headers=headers
    )
    assert acted.status_code == HIDDEN
    listed = world.client.get("/api/v1/cases", params={"limit": 200}, headers=headers).json()
    assert undispatched not in {c["id"] for c in listed["items"]}
    assert world.inside in {c["id"] for c in listed["items"]}
    report = world.runtime.cases.reports(undispatched, CITY)[0]["id"]
    assert world.client.get(f"/api/v1/reports/{report}", headers=headers).status_code == HIDDEN


def test_a_scope_inside_the_account_narrows_the_lists(world: StaffWorld) -> None:
    headers = world.headers("district_operator")
    street = world.client.get("/api/v1/cases", params={"scope": STREET_1}, headers=headers)
    assert street.status_code == 200
    assert all(c["grid_path"]["street"] == STREET_1 for c in street.json()["items"])
    assert world.inside in {c["id"] for c in street.json()["items"]}
