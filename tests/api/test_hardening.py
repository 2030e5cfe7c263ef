"""Hardening through the whole ASGI stack: body limits, security headers, cross-site cookie
requests, rate limits, hostile strings in text fields, and settings that refuse to start."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import func, select

from gridgov.api.app import create_app
from gridgov.api.auth import CSRF_HEADER, SESSION_COOKIE
from gridgov.config import PLACEHOLDER_SECRET, Settings
from gridgov.store.tables import CaseEventRow, CaseRow, PersonRow, ReportRow
from tests.api.staff_world import PASSWORD, StaffWorld, build_staff_world
from tests.databases import module_db_url

XSS = "<script>alert(1)</script>"
SQL = "'; DROP TABLE cases; --"
EVIL = "https://evil.example"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StaffWorld]:
    tmp = tmp_path_factory.mktemp("hardening")
    for url in module_db_url(request, tmp):
        yield from build_staff_world(url, tmp / "var")


def _store(world: StaffWorld) -> tuple[int, ...]:
    with world.runtime.sessions() as session:
        return tuple(
            session.scalar(select(func.count()).select_from(table)) or 0
            for table in (CaseRow, CaseEventRow, ReportRow, PersonRow)
        )


def _app_with(world: StaffWorld, **settings: Any) -> Iterator[TestClient]:
    """A second app over the same store with some settings changed (limits made small)."""
    saved = {name: getattr(world.runtime.settings, name) for name in settings}
    for name, value in settings.items():
        setattr(world.runtime.settings, name, value)
    try:
        app: FastAPI = create_app(world.runtime)
    finally:
        for name, value in saved.items():
            setattr(world.runtime.settings, name, value)
    with TestClient(app) as client:
        yield client


# Security headers


@pytest.mark.parametrize(
    "path", ["/healthz", "/api/v1/cases", "/api/v1/nowhere", "/open311/v2/services.json"]
)
def test_every_answer_carries_the_security_headers(world: StaffWorld, path: str) -> None:
    response = world.client.get(path, headers=world.headers("city_admin"))
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["permissions-policy"].startswith("geolocation=(self), camera=(self)")
    policy = dict(
        part.strip().split(" ", 1) for part in headers["content-security-policy"].split(";")
    )
    assert policy["script-src"] == "'self'"  # no inline script, no other origin
    assert policy["worker-src"] == "'self' blob:" and policy["child-src"] == "'self' blob:"
    assert policy["img-src"] == "'self' data: blob:"
    assert policy["frame-ancestors"] == "'none'"


def test_only_the_api_documentation_page_may_load_its_cdn_scripts(world: StaffWorld) -> None:
    docs = world.client.get("/docs").headers["content-security-policy"]
    assert "https://cdn.jsdelivr.net" in docs
    assert "cdn.jsdelivr.net" not in world.client.get("/healthz").headers["content-security-policy"]


# Body size


def test_a_declared_body_over_the_limit_is_a_413_and_changes_nothing(world: StaffWorld) -> None:
    before = _store(world)
    response = world.client.post(
        f"/api/v1/cases/{world.inside}/actions/supervise",
        json={"reason": "x" * (1024 * 1024 + 1)},
        headers=world.headers("city_admin"),
    )
    assert response.status_code == 413
    assert response.json()["error"]["field"] == "body"
    assert _store(world) == before


def test_a_chunked_body_over_the_limit_is_a_413_too(world: StaffWorld) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"reason": "'
        for _ in range(20):
            yield b"x" * 65536
        yield b'"}'

    before = _store(world)
    response = world.client.post(
        f"/api/v1/cases/{world.inside}/actions/supervise",
        content=chunks(),
        headers={**world.headers("city_admin"), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert _store(world) == before


def test_uploads_and_channel_pushes_have_their_own_larger_limit(world: StaffWorld) -> None:
    for client in _app_with(world, api_max_body_bytes=1000, api_max_upload_bytes=5000):
        big_json = {"text": "x" * 2000}
        pushed = client.post("/api/v1/intake/police_110", json=big_json)
        assert pushed.status_code == 401  # past the limit, refused for its missing key
        acted = client.post(
            f"/api/v1/cases/{world.inside}/actions/supervise",
            json={"reason": "x" * 2000},
            headers=world.headers("city_admin"),
        )
        assert acted.status_code == 413
        posted = client.post(
            "/open311/v2/requests.json",
            files={"media": ("p.jpg", b"\xff\xd8" + b"0" * 6000, "image/jpeg")},
        )
        assert posted.status_code == 413
        assert posted.json()[0]["code"] == 413  # in Open311's own error format


# Cross-site cookie requests


def _cookie_session(world: StaffWorld) -> tuple[TestClient, str]:
    client = TestClient(world.app)
    signed = client.post(
        "/api/v1/auth/sign-in", json={"username": "street.operator", "password": PASSWORD}
    )
    assert signed.status_code == 200, signed.text
    return client, str(signed.json()["csrf_token"])


def test_a_cookie_request_from_another_sites_page_is_refused(world: StaffWorld) -> None:
    client, csrf = _cookie_session(world)
    url = f"/api/v1/cases/{world.inside}/actions/supervise"
    before = _store(world)
    forged = client.post(url, json={}, headers={CSRF_HEADER: csrf, "Origin": EVIL})
    assert forged.status_code == 403 and forged.json()["error"]["field"] == "Origin"
    sandboxed = client.post(url, json={}, headers={CSRF_HEADER: csrf, "Origin": "null"})
    assert sandboxed.status_code == 403
    assert _store(world) == before
    own = client.post(url, json={}, headers={CSRF_HEADER: csrf, "Origin": "http://testserver"})
    assert own.status_code == 200, own.text
    # Reading is never refused for its origin: GET changes nothing.
    assert client.get("/api/v1/cases", headers={"Origin": EVIL}).status_code == 200


def test_a_sign_in_posted_from_another_site_is_refused_and_not_recorded(
    world: StaffWorld,
) -> None:
    attempts = len(world.runtime.accounts.attempts())
    client = TestClient(world.app)
    response = client.post(
        "/api/v1/auth/sign-in",
        json={"username": "street.operator", "password": PASSWORD},
        headers={"Origin": EVIL},
    )
    assert response.status_code == 403
    assert SESSION_COOKIE not in response.cookies
    assert len(world.runtime.accounts.attempts()) == attempts


def test_a_bearer_token_request_is_not_checked_for_its_origin(world: StaffWorld) -> None:
    response = world.client.post(
        f"/api/v1/cases/{world.inside}/actions/supervise",
        json={},
        headers=world.headers("street_operator", Origin=EVIL),
    )
    assert response.status_code == 200


# Rate limits


def test_public_grid_reads_are_limited_per_address(world: StaffWorld) -> None:
    for client in _app_with(world, api_public_reads_per_minute=2):
        params = {"lon": 113.61, "lat": 34.71}
        answers = [client.get("/api/v1/grids/locate", params=params) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert int(answers[-1].headers["retry-after"]) >= 1
        assert "too many requests" in answers[-1].json()["error"]["problem"]


def test_sign_in_is_limited_per_address_before_any_password_is_checked(
    world: StaffWorld,
) -> None:
    for client in _app_with(world, api_sign_in_per_minute=2):
        attempts = len(world.runtime.accounts.attempts())
        body = {"username": "nobody.here", "password": "not-the-password"}
        answers = [client.post("/api/v1/auth/sign-in", json=body) for _ in range(3)]
        assert [a.status_code for a in answers] == [401, 401, 429]
        assert len(world.runtime.accounts.attempts()) == attempts + 2


# Hostile strings in every text field


@pytest.mark.parametrize("text", [XSS, SQL])
@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/api/v1/cases", "q"),
        ("/api/v1/cases", "department"),
        ("/api/v1/cases/{inside}/reports", "purpose"),
        ("/api/v1/people", "purpose"),
        ("/api/v1/reports/{report}", "purpose"),
    ],
)
def test_hostile_text_in_a_free_text_field_is_only_text(
    world: StaffWorld, path: str, param: str, text: str
) -> None:
    before = _store(world)
    url = path.format(inside=world.inside, report=world.reports["inside"])
    response = world.client.get(url, params={param: text}, headers=world.headers("city_admin"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    if param in ("q", "department"):
        assert response.json()["items"] == []  # matched as words, never as SQL
    assert _store(world) == before


@pytest.mark.parametrize("text", [XSS, SQL])
@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/api/v1/cases", "scope"),
        ("/api/v1/cases", "channel"),
        ("/api/v1/cases", "category"),
        ("/api/v1/cases", "state"),
        ("/api/v1/grids/tree", "scope"),
        ("/api/v1/grids/export", "level"),
        ("/api/v1/people", "role"),
        ("/api/v1/reports", "location_status"),
        ("/api/v1/departments", "serves"),
        ("/api/v1/categories", "source"),
    ],
)
def test_hostile_text_in_a_coded_field_is_a_422_naming_it(
    world: StaffWorld, path: str, param: str, text: str
) -> None:
    before = _store(world)
    response = world.client.get(path, params={param: text}, headers=world.headers("city_admin"))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"].split(".")[0] == param  # state.0: the first value
    assert _store(world) == before


@pytest.mark.parametrize("text", [XSS, SQL])
@pytest.mark.parametrize("field", ["department", "person", "category_code", "satisfaction"])
def test_hostile_text_in_an_action_body_changes_nothing(
    world: StaffWorld, field: str, text: str
) -> None:
    action = {
        "department": "reassign",
        "person": "reassign",
        "category_code": "file",
        "satisfaction": "evaluate",
    }[field]
    before = _store(world)
    body: dict[str, Any] = {field: text, "reason": text}
    if action == "reassign":
        body.setdefault("department", "410102000000.urban_management")
    response = world.client.post(
        f"/api/v1/cases/{world.outside}/actions/{action}",
        json=body,
        headers=world.headers("city_admin"),
    )
    if response.status_code == 200:
        # Stored as text: the answer is JSON, so the string stays a string.
        assert action == "reassign" and field == "person"
        assert json.loads(response.text)["assignee_person"] == text
    else:
        assert response.status_code in (409, 422), response.text
        assert _store(world) == before


# Credentials on the new routes


NEW_ROUTES = (
    "/api/v1/grids/tree",
    "/api/v1/grids/410102001001",
    "/api/v1/grids/410102001001/geometry",
    "/api/v1/grids/export",
    "/api/v1/people",
    "/api/v1/people/1",
    "/api/v1/reports",
    "/api/v1/reports/1",
    "/api/v1/categories",
    "/api/v1/departments",
)


@pytest.mark.parametrize("path", NEW_ROUTES)
def test_missing_forged_or_revoked_credentials_are_a_401_on_every_new_route(
    world: StaffWorld, path: str
) -> None:
    accounts = world.runtime.accounts
    issued = accounts.issue_token(accounts.get("city.admin"), "revoked-at-once")
    accounts.revoke_token(issued.id)
    for headers, says in (
        ({}, "sign in first"),
        ({"Authorization": "Bearer ggt_forged"}, "invalid token"),
        ({"Authorization": "Basic YWRtaW46YWRtaW4="}, "Bearer"),
        ({"Authorization": f"Bearer {issued.token}"}, "revoked"),
    ):
        response = world.client.get(path, headers=headers)
        assert response.status_code == 401, (headers, response.text)
        assert says in response.json()["error"]["problem"]
        assert response.headers["www-authenticate"].startswith("Bearer")


# Settings


@pytest.mark.parametrize("env", ["test", "prod"])
def test_a_placeholder_secret_refuses_to_start_outside_dev(env: str) -> None:
    with pytest.raises(ValidationError, match="GRIDGOV_SECRET_KEY"):
        Settings(env=env)  # type: ignore[arg-type]
    assert Settings(env=env, secret_key="a-real-secret-from-the-vault").env == env  # type: ignore[arg-type]
    assert Settings(env="dev").secret_key == PLACEHOLDER_SECRET
