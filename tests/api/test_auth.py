"""Signing in over HTTP: bearer tokens, session cookies with CSRF, TOTP and lockout, on both dialects."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated

import pyotp
import pytest
from argon2 import PasswordHasher
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from gridgov.api.auth import CSRF_HEADER, SESSION_COOKIE, current_actor, install_auth
from gridgov.core.clock import FixedClock
from gridgov.services.accounts import AccountService
from gridgov.workflow.model import Actor

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
PASSWORD = "green-tea-at-dawn"
STREET = "410102001000"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def accounts(sessions: sessionmaker[Session], clock: FixedClock) -> AccountService:
    service = AccountService(
        sessions, clock, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
    service.create("wang.li", PASSWORD, "street_operator", scope_code=STREET)
    service.create("audit", PASSWORD, "auditor")
    return service


@pytest.fixture
def client(accounts: AccountService) -> Iterator[TestClient]:
    app = FastAPI()
    install_auth(app, accounts)

    @app.get("/whoami")
    def whoami(actor: Annotated[Actor, Depends(current_actor)]) -> dict[str, str | None]:
        return {"id": actor.id, "role": actor.role.value, "scope": actor.scope_code}

    @app.post("/act")
    def act(actor: Annotated[Actor, Depends(current_actor)]) -> dict[str, str]:
        return {"acted_as": actor.role.value}

    with TestClient(app) as test_client:
        yield test_client


def sign_in(client: TestClient, username: str = "wang.li", **extra: str) -> dict[str, object]:
    response = client.post(
        "/api/v1/auth/sign-in", json={"username": username, "password": PASSWORD, **extra}
    )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def issue(client: TestClient, **extra: object) -> tuple[int, str]:
    response = client.post(
        "/api/v1/auth/tokens",
        json={"username": "wang.li", "password": PASSWORD, "name": "大屏", **extra},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return int(body["id"]), str(body["token"])


def test_a_protected_route_without_credentials_is_a_401_saying_what_to_do(
    client: TestClient,
) -> None:
    response = client.get("/whoami")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "sign in" in response.json()["error"]["problem"]


def test_a_bearer_token_gives_the_accounts_actor_and_scope(client: TestClient) -> None:
    _, token = issue(client)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/whoami", headers=headers).json() == {
        "id": "wang.li",
        "role": "dispatcher",
        "scope": STREET,
    }
    # No cookie, so no CSRF token is needed for a POST.
    acted = client.post("/act", headers={**headers, "X-Acting-Role": "supervisor"})
    assert acted.json() == {"acted_as": "supervisor"}
    assert client.post("/act", headers={**headers, "X-Acting-Role": "handler"}).status_code == 403


@pytest.mark.parametrize(
    "authorization, message",
    [
        ("Bearer ggt_forged-forged-forged", "invalid token"),
        ("Bearer not-even-ours", "invalid token"),
        ("Basic d2FuZzpsaQ==", "Bearer"),
    ],
)
def test_forged_or_malformed_credentials_are_a_401(
    client: TestClient, authorization: str, message: str
) -> None:
    response = client.get("/whoami", headers={"Authorization": authorization})
    assert response.status_code == 401 and message in response.json()["error"]["problem"]


def test_an_expired_or_revoked_token_is_a_401_that_says_so(
    client: TestClient, clock: FixedClock
) -> None:
    _, token = issue(client, days=1)
    headers = {"Authorization": f"Bearer {token}"}
    other_id, other = issue(client)
    revoked = client.delete(f"/api/v1/auth/tokens/{other_id}", headers=headers)
    assert revoked.status_code == 200
    gone = client.get("/whoami", headers={"Authorization": f"Bearer {other}"})
    assert gone.status_code == 401 and "revoked" in gone.json()["error"]["problem"]
    clock.advance(timedelta(days=1))
    expired = client.get("/whoami", headers=headers)
    assert expired.status_code == 401 and "expired" in expired.json()["error"]["problem"]


def test_a_session_cookie_reads_freely_but_posts_only_with_the_csrf_token(
    client: TestClient,
) -> None:
    body = sign_in(client)
    cookie = client.cookies.get(SESSION_COOKIE)
    assert cookie and cookie != body["csrf_token"]
    assert client.get("/whoami").json()["id"] == "wang.li"
    forged = client.post("/act")
    assert forged.status_code == 403 and "CSRF" in forged.json()["error"]["problem"]
    wrong = client.post("/act", headers={CSRF_HEADER: "guess"})
    assert wrong.status_code == 403
    right = client.post("/act", headers={CSRF_HEADER: str(body["csrf_token"])})
    assert right.json() == {"acted_as": "dispatcher"}


def test_the_session_cookie_is_httponly_and_samesite_lax(client: TestClient) -> None:
    response = client.post(
        "/api/v1/auth/sign-in", json={"username": "wang.li", "password": PASSWORD}
    )
    (session_cookie,) = [
        h for h in response.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE)
    ]
    assert "HttpOnly" in session_cookie and "SameSite=lax" in session_cookie
    assert "Secure" not in session_cookie  # plain http in the test; https sets it


def test_signing_out_ends_the_session(client: TestClient) -> None:
    body = sign_in(client)
    cookie = client.cookies.get(SESSION_COOKIE)
    out = client.post("/api/v1/auth/sign-out", headers={CSRF_HEADER: str(body["csrf_token"])})
    assert out.status_code == 200
    client.cookies.set(SESSION_COOKIE, str(cookie))
    after = client.get("/whoami")
    assert after.status_code == 401 and "ended" in after.json()["error"]["problem"]


def test_wrong_passwords_are_a_401_then_the_account_locks(client: TestClient) -> None:
    for _ in range(5):
        response = client.post(
            "/api/v1/auth/sign-in", json={"username": "wang.li", "password": "wrong-wrong-wrong"}
        )
        assert response.status_code == 401
        assert "wrong username or password" in response.json()["error"]["problem"]
    locked = client.post("/api/v1/auth/sign-in", json={"username": "wang.li", "password": PASSWORD})
    assert locked.status_code == 401 and "locked_until" in locked.json()["error"]


def test_totp_is_asked_for_then_accepted(
    client: TestClient, accounts: AccountService, clock: FixedClock
) -> None:
    enrollment = accounts.begin_totp("wang.li")
    totp = pyotp.TOTP(enrollment.secret)
    accounts.confirm_totp("wang.li", totp.at(clock.now()))
    clock.advance(timedelta(minutes=1))
    asked = client.post("/api/v1/auth/sign-in", json={"username": "wang.li", "password": PASSWORD})
    assert asked.status_code == 401 and asked.json()["error"]["totp_required"] is True
    body = sign_in(client, totp_code=totp.at(clock.now()))
    assert body["account"]["totp_enabled"] is True  # type: ignore[index]


def test_me_shows_role_scope_powers_and_personal_data_right(client: TestClient) -> None:
    sign_in(client)
    me = client.get("/api/v1/auth/me").json()
    assert me["role_zh"] == "街道城运中心" and me["scope_code"] == STREET
    assert "dispatcher" in me["acts_as"] and me["sees_personal_data"] is True


def test_an_auditor_signs_in_but_may_not_act(client: TestClient) -> None:
    body = sign_in(client, "audit")
    assert body["account"]["sees_personal_data"] is False  # type: ignore[index]
    refused = client.get("/whoami")
    assert refused.status_code == 403 and "reads only" in refused.json()["error"]["problem"]
