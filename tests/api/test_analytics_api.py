"""The dashboard API over HTTP: real figures of the known month, scope for every role, bad input.

The world is tests/api/staff_world.py (which adds a dispatched case K in street 1 and one in the
other district) with the known month of tests/analytics_world.py played on it, so street 1 holds
A–G, the merged duplicate I, and K; 30 days on, E and K are open past their deadline.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.analytics_world import DEPARTMENT, KnownCases, play_known_month, seed_party
from tests.api.staff_world import ROLES, StaffWorld, build_staff_world
from tests.case_world import COMMUNITY_1, ERQI, STREET_1, ZHONGYUAN
from tests.databases import module_db_url

ROUTES = ("overview", "trend", "children", "departments", "cases-map", "party", "live")
CITY_BOX = "113.5,34.6,113.8,34.9"
# What each route needs besides the scope; `live` sends what is pending and closes.
EXTRA: dict[str, dict[str, str]] = {"cases-map": {"bbox": CITY_BOX}, "live": {"once": "1"}}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[StaffWorld, KnownCases]]:
    tmp = tmp_path_factory.mktemp("analytics-api")
    for url in module_db_url(request, tmp):
        for built in build_staff_world(url, tmp / "var"):
            known = play_known_month(built.cases)
            seed_party(built.runtime.sessions, built.clock)
            yield built, known


def _get(
    world: tuple[StaffWorld, KnownCases], route: str, role: str = "street_operator", **params: Any
) -> Any:
    staff, _ = world
    return staff.client.get(
        f"/api/v1/analytics/{route}", params=params, headers=staff.headers(role)
    )


def _ok(
    world: tuple[StaffWorld, KnownCases], route: str, role: str = "street_operator", **params: Any
) -> Any:
    response = _get(world, route, role, **params)
    assert response.status_code == 200, response.text
    return response.json()


# Figures


def test_the_overview_of_street_1_on_the_day_the_cases_came_in(world: Any) -> None:
    body = _ok(world, "overview", day="2026-11-27")
    assert body["scope"] == {
        "code": STREET_1,
        "name": "第1街道",
        "level": "street",
        "level_zh": "一级网格(街道/乡镇)",
    }
    today = body["today"]
    assert (today["reports"], today["cases"], today["closed"]) == (9, 8, 4)
    assert today["by_channel"]["hotline_12345"] == 6
    assert today["by_channel"]["grid_patrol"] == 2
    assert today["by_channel"]["citizen_app"] == 1
    assert today["by_channel"]["iot_sensor"] == 0
    assert (body["open"], body["overdue"]) == (3, 2)  # E and K overdue, G not yet filed
    assert body["on_time_close_rate"] == pytest.approx(4 / 7)
    assert body["close_rate"] == pytest.approx(5 / 7)
    assert body["satisfaction_rate"] == pytest.approx(2 / 3)
    assert body["return_rate"] == pytest.approx(1 / 7)
    assert body["rework_rate"] == pytest.approx(0.2)
    assert body["by_state"] == {
        "evaluated": 3,
        "closed": 2,
        "dispatched": 2,
        "reported": 1,
        "merged": 1,
    }
    assert body["window"] == {"first_day": "2026-10-29", "last_day": "2026-11-27"}


def test_the_overview_defaults_to_today_and_the_accounts_own_scope(world: Any) -> None:
    body = _ok(world, "overview", "district_operator")
    assert body["scope"]["code"] == ZHONGYUAN
    assert body["day"] == "2026-12-27"
    assert (body["today"]["cases"], body["today"]["closed"]) == (0, 1)  # D closed today
    assert body["close_rate"] is None  # nothing created in the 30 days before today
    assert _ok(world, "overview", "city_admin")["open"] == 5  # E, G, K and two in Erqi


def test_a_departments_staff_see_only_their_departments_cases(world: Any) -> None:
    body = _ok(world, "overview", "department_handler", day="2026-11-27")
    assert body["scope"]["code"] == ZHONGYUAN
    assert body["today"]["cases"] == 7  # A–F and K; not the unfiled G
    rows = _ok(world, "departments", "department_handler", month="2026-11")["rows"]
    assert [r["department"] for r in rows] == [DEPARTMENT]


def test_the_trend_counts_each_day_and_the_overdue_cases_at_its_end(world: Any) -> None:
    body = _ok(world, "trend", days=31)
    days = {d["day"]: d for d in body["days"]}
    assert len(days) == 31
    assert days["2026-11-27"] == {
        "day": "2026-11-27",
        "created": 8,
        "closed": 4,
        "closed_on_time": 4,
        "overdue_open": 0,
    }
    assert days["2026-12-26"]["overdue_open"] == 3  # D, E and K
    assert days["2026-12-27"]["overdue_open"] == 2  # D closed
    assert days["2026-12-27"]["closed"] == 1


def test_the_region_evaluation_scores_each_street_of_a_district(world: Any) -> None:
    body = _ok(world, "children", "district_operator", month="2026-11")
    assert body["level"] == "street"
    assert "监督举报率" in body["formula"] and "supervision rate" in body["formula"]
    first, second = body["rows"]
    assert first["code"] == STREET_1
    assert (first["filed"], first["closed"], first["due"], first["closed_on_time"]) == (7, 5, 7, 4)
    assert first["public_filed"] == 5  # B and C came from grid patrols
    # 5/7×40 + 4/7×40 + (1 − 5/7)×20 = 28.57 + 22.86 + 5.71
    assert (first["score"], first["grade"]) == (57.14, "D")
    assert second["code"] == "410102002000"
    assert (second["filed"], second["score"], second["grade"]) == (0, None, None)


def test_the_department_evaluation_follows_gbt_30428(world: Any) -> None:
    body = _ok(world, "departments", "district_operator", month="2026-11")
    assert "返工率分值" in body["formula"]
    (row,) = body["rows"]
    assert row["department"] == DEPARTMENT
    assert row["name"]
    assert (row["filed"], row["filed_score"]) == (7, 100)
    assert row["close_rate"] == pytest.approx(5 / 7)
    assert row["on_time_handle_rate"] == pytest.approx(4 / 7)
    assert row["rework_rate"] == pytest.approx(0.2)
    # 100×10% + 5/7×100×30% + 4/7×100×30% + 80×30% = 10 + 21.43 + 17.14 + 24
    assert (row["score"], row["grade"]) == (72.57, "C")
    assert _ok(world, "departments", "district_operator", month="2026-10")["rows"] == []


def test_the_case_map_is_geojson_of_the_open_cases_in_the_box(world: Any) -> None:
    staff, known = world
    body = _ok(world, "cases-map", bbox=CITY_BOX)
    assert body["type"] == "FeatureCollection"
    found = {f["properties"]["id"]: f for f in body["features"]}
    assert set(found) == {known.ids["E"], known.ids["G"], staff.inside}
    e = found[known.ids["E"]]
    assert e["geometry"] == {"type": "Point", "coordinates": [113.61, 34.71]}
    assert e["properties"]["overdue"] is True
    assert found[known.ids["G"]]["properties"]["overdue"] is False
    assert len(_ok(world, "cases-map", "city_admin", bbox=CITY_BOX)["features"]) == 5
    assert _ok(world, "cases-map", bbox="100,20,101,21")["features"] == []
    assert _ok(world, "cases-map", bbox=CITY_BOX, days=30)["features"] == body["features"]
    recent = _ok(world, "cases-map", bbox=CITY_BOX, days=31)["features"]  # back to the 27th
    assert {f["properties"]["id"] for f in recent} == {
        *(known.ids[name] for name in "ABCDEFGI"),
        staff.inside,
    }


def test_party_figures_add_up_per_street(world: Any) -> None:
    body = _ok(world, "party", "district_operator")
    assert (body["organisations"], body["members"], body["tasks_done"], body["tasks_open"]) == (
        2,
        2,
        1,
        2,
    )
    assert [(r["code"], r["organisations"], r["members"]) for r in body["rows"]] == [
        (STREET_1, 1, 2),
        ("410102002000", 1, 0),
    ]


# The live stream


def _events(text: str) -> list[tuple[str, dict[str, Any], str | None]]:
    found = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.split("\n") if not line.startswith(":"))
        if "event" in fields:
            found.append((fields["event"], json.loads(fields["data"]), fields.get("id")))
    return found


def test_the_live_stream_sends_each_change_in_scope_after_its_position(world: Any) -> None:
    staff, _ = world
    response = _get(world, "live", once="1")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    (ready,) = _events(response.text)
    assert ready[0] == "ready" and ready[1]["scope"] == STREET_1
    position = ready[1]["position"]
    for case_id in (staff.inside, staff.outside):
        acted = staff.client.post(
            f"/api/v1/cases/{case_id}/actions/supervise",
            json={"reason": "督办 / hurry"},
            headers=staff.headers("city_admin"),
        )
        assert acted.status_code == 200, acted.text
    sent = _events(_get(world, "live", once="1", after=position).text)
    assert sent[0][0] == "ready" and sent[0][1]["position"] == position
    cases = [(data["id"], data["street_code"]) for kind, data, _ in sent if kind == "case"]
    assert cases == [(staff.inside, STREET_1)]  # not the other district's case
    resumed = staff.client.get(
        "/api/v1/analytics/live",
        params={"once": "1"},
        headers=staff.headers("street_operator", **{"Last-Event-ID": str(position)}),
    )
    assert [d["id"] for kind, d, _ in _events(resumed.text) if kind == "case"] == [staff.inside]


# Scope: every role, inside and outside its own part of the city


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", ROUTES)
def test_each_role_reads_its_own_scope_and_no_other_district(
    world: Any, route: str, role: str
) -> None:
    extra = EXTRA.get(route, {})
    assert _get(world, route, role, **extra).status_code == 200
    outside = _get(world, route, role, scope=ERQI, **extra)
    if role == "city_admin":
        assert outside.status_code == 200
        return
    assert outside.status_code == 404
    missing = _get(world, route, role, scope="410199000000", **extra)
    assert missing.status_code == 404
    # Word for word what a grid that does not exist gets.
    problem = outside.json()["error"]["problem"]
    assert problem == missing.json()["error"]["problem"].replace("410199000000", ERQI)


@pytest.mark.parametrize(
    ("role", "scope", "status"),
    [
        ("street_operator", COMMUNITY_1, 200),  # below its own scope
        ("street_operator", ZHONGYUAN, 404),  # above it
        ("community_worker", STREET_1, 404),
        ("district_operator", STREET_1, 200),
        ("street_operator", "410102002000", 404),  # the other street of its district
    ],
)
def test_a_scope_below_the_accounts_own_is_open_and_any_other_is_not_found(
    world: Any, role: str, scope: str, status: int
) -> None:
    assert _get(world, "overview", role, scope=scope).status_code == status


def test_without_credentials_every_route_is_401(world: Any) -> None:
    staff, _ = world
    for route in ROUTES:
        response = staff.client.get(f"/api/v1/analytics/{route}", params=EXTRA.get(route, {}))
        assert response.status_code == 401, route


# Bad input: 422 naming the field


@pytest.mark.parametrize(
    ("route", "params", "field"),
    [
        ("overview", {"day": "2026-13-01"}, "day"),
        ("overview", {"day": "1900-01-01"}, "day"),
        ("overview", {"scope": "SP-SCHOOL-1"}, "scope"),  # a special grid inside street 1
        ("overview", {"scope": "bad code!"}, "scope"),
        ("trend", {"days": "0"}, "days"),
        ("trend", {"days": "367"}, "days"),
        ("trend", {"day": "2000-01-10", "days": "30"}, "day"),
        ("children", {"month": "2026-13"}, "month"),
        ("children", {"month": "2026-1"}, "month"),
        ("departments", {"month": "1999-12"}, "month"),
        ("cases-map", {}, "bbox"),
        ("cases-map", {"bbox": "113,34,114"}, "bbox"),
        ("cases-map", {"bbox": "114,34,113,35"}, "bbox"),
        ("cases-map", {"bbox": "nan,34,114,35"}, "bbox"),
        ("cases-map", {"bbox": "113,34,200,35"}, "bbox"),
        ("cases-map", {"bbox": CITY_BOX, "limit": "0"}, "limit"),
        ("live", {"once": "1", "after": "-1"}, "after"),
    ],
)
def test_bad_parameters_are_422_naming_the_field(
    world: Any, route: str, params: dict[str, str], field: str
) -> None:
    response = _get(world, route, **params)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field


def test_a_malformed_last_event_id_is_422(world: Any) -> None:
    staff, _ = world
    response = staff.client.get(
        "/api/v1/analytics/live",
        params={"once": "1"},
        headers=staff.headers("street_operator", **{"Last-Event-ID": "12a"}),
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "Last-Event-ID"
