"""Who is calling: a bearer token (API clients) or a session cookie (web pages), and the
`/api/v1/auth` routes that sign in and out and issue tokens.

Cookie-authenticated requests with an unsafe method must carry the session's CSRF token in the
`X-CSRF-Token` header: a browser attaches cookies to a forged cross-site form post, but another
site cannot read the token. Bearer tokens need no CSRF check, since browsers never attach them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from gridgov.api.errors import error_responses
from gridgov.api.ids import MAX_ROW_ID
from gridgov.api.ratelimit import Rate, RateLimiter, per_address
from gridgov.services.accounts import (
    Account,
    AccountLocked,
    AccountService,
    NotAuthenticated,
    NotPermitted,
    TotpRequired,
)
from gridgov.workflow.model import Actor

SESSION_COOKIE = "gridgov_session"
CSRF_COOKIE = "gridgov_csrf"
CSRF_HEADER = "X-CSRF-Token"
ACTING_ROLE_HEADER = "X-Acting-Role"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Per address and route, before the lockout: a flood of guesses costs no password hashing.
SIGN_IN_RATE = Rate(60, 60.0)


def install_auth(
    app: FastAPI, accounts: AccountService, *, sign_in_rate: Rate = SIGN_IN_RATE
) -> None:
    """Give `app` the account service, the 401/403 answers and the `/api/v1/auth` routes."""
    app.state.accounts = accounts
    app.state.sign_in_limiter = RateLimiter(sign_in_rate)

    @app.exception_handler(NotAuthenticated)
    async def not_authenticated(_: Request, exc: NotAuthenticated) -> JSONResponse:
        content: dict[str, Any] = {"problem": str(exc)}
        if isinstance(exc, TotpRequired):
            content["totp_required"] = True
        if isinstance(exc, AccountLocked):
            content["locked_until"] = exc.until.isoformat()
        return JSONResponse(
            status_code=401,
            content={"error": content},
            headers={"WWW-Authenticate": 'Bearer realm="gridgov"'},
        )

    @app.exception_handler(NotPermitted)
    async def not_permitted(_: Request, exc: NotPermitted) -> JSONResponse:
        return JSONResponse(status_code=403, content={"error": {"problem": str(exc)}})

    app.include_router(router)


def sign_in_limit(request: Request) -> None:
    """Spend one of the client address's sign-in tokens (429 when none are left)."""
    per_address(request.app.state.sign_in_limiter)(request)


def accounts_of(request: Request) -> AccountService:
    service: AccountService = request.app.state.accounts
    return service


def source_of(request: Request) -> str:
    """The caller's address, as the server sees it (run uvicorn with --proxy-headers behind nginx)."""
    return request.client.host if request.client else "unknown"


def current_account(
    request: Request,
    accounts: Annotated[AccountService, Depends(accounts_of)],
    csrf: Annotated[str | None, Header(alias=CSRF_HEADER, include_in_schema=False)] = None,
) -> Account:
    """The signed-in account; 401 without valid credentials, 403 for a cookie POST without CSRF."""
    authorization = request.headers.get("Authorization")
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthenticated(
                "Authorization 头须为 Bearer 令牌",
                "the Authorization header must be 'Bearer <token>'",
            )
        account, _token = accounts.authenticate_token(token.strip())
        return account
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        raise NotAuthenticated("请先登录", "sign in first, or send 'Authorization: Bearer <token>'")
    web_session = accounts.authenticate_session(session_id)
    if request.method not in SAFE_METHODS:
        accounts.check_csrf(web_session, csrf)
    return web_session.account


def current_actor(
    account: Annotated[Account, Depends(current_account)],
    accounts: Annotated[AccountService, Depends(accounts_of)],
    acting_as: Annotated[
        str | None, Header(alias=ACTING_ROLE_HEADER, description="workflow role to act as")
    ] = None,
) -> Actor:
    """The workflow actor of the signed-in account (403 for read-only accounts such as auditors)."""
    return accounts.actor(account, acting_as)


def reading_actor(
    account: Annotated[Account, Depends(current_account)],
    accounts: Annotated[AccountService, Depends(accounts_of)],
) -> Actor:
    """An actor for read-only routes: the account's scope; never pass it to an action."""
    return accounts.reader(account)


class SignIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"username": "wang.li", "password": "your-own-passphrase"}]}
    )
    username: str = Field(max_length=64, description="用户名 / username")
    password: str = Field(max_length=1024, description="密码 / password")
    totp_code: str | None = Field(
        None, max_length=32, description="动态口令或恢复码 / one-time code or recovery code"
    )


class TokenRequest(SignIn):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "username": "wang.li",
                    "password": "your-own-passphrase",
                    "name": "大屏 / wall screen",
                    "days": 30,
                }
            ]
        }
    )
    name: str = Field(max_length=100, description="令牌名称 / what the token is for")
    days: int | None = Field(None, ge=1, description="有效天数 / days until it expires")


def _me(account: Account, accounts: AccountService) -> dict[str, Any]:
    return {
        "username": account.username,
        "display_name": account.display_name,
        "role": account.role.value,
        "role_zh": account.role.label_zh,
        "scope_code": account.scope_code,
        "department_code": account.department_code,
        "acts_as": [r.value for r in account.role.powers],
        "totp_enabled": account.totp_enabled,
        "sees_personal_data": accounts.may_see_personal_data(account),
    }


router = APIRouter(prefix="/api/v1/auth", tags=["auth 登录"])


@router.post(
    "/sign-in",
    dependencies=[Depends(sign_in_limit)],
    responses=error_responses(
        401, 422, 429, s401="用户名或密码错误、已锁定或需要动态口令 / refused"
    ),
)
def sign_in(
    body: SignIn,
    request: Request,
    response: Response,
    accounts: Annotated[AccountService, Depends(accounts_of)],
) -> dict[str, Any]:
    """登录 · Sign in for the web pages: sets the session cookie; returns the CSRF token."""
    source = source_of(request)
    account = accounts.sign_in(
        body.username, body.password, source=source, totp_code=body.totp_code
    )
    started = accounts.start_session(account, source=source)
    secure = request.url.scheme == "https"
    max_age = int(accounts.policy.session_lifetime.total_seconds())
    response.set_cookie(
        SESSION_COOKIE,
        started.session_id,
        max_age=max_age,
        httponly=True,  # page scripts never need the session id, so an XSS cannot steal it
        samesite="lax",
        secure=secure,
        path="/",
    )
    # Readable by the page's own script, which echoes it in the X-CSRF-Token header.
    response.set_cookie(
        CSRF_COOKIE, started.csrf_token, max_age=max_age, samesite="strict", secure=secure, path="/"
    )
    return {
        "account": _me(account, accounts),
        "csrf_token": started.csrf_token,
        "expires_at": started.expires_at.isoformat(),
    }


@router.post("/sign-out", responses=error_responses(401, 403))
def sign_out(
    request: Request,
    response: Response,
    account: Annotated[Account, Depends(current_account)],
    accounts: Annotated[AccountService, Depends(accounts_of)],
) -> dict[str, str]:
    """登出 · End the current web session."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id and request.headers.get("Authorization") is None:
        accounts.end_session(session_id)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return {"status": "signed_out", "username": account.username}


@router.post(
    "/tokens",
    status_code=201,
    dependencies=[Depends(sign_in_limit)],
    responses=error_responses(401, 422, 429),
)
def issue_token(
    body: TokenRequest,
    request: Request,
    accounts: Annotated[AccountService, Depends(accounts_of)],
) -> dict[str, Any]:
    """签发令牌 · Issue a named API token with username and password (and code); shown once."""
    account = accounts.sign_in(
        body.username, body.password, source=source_of(request), totp_code=body.totp_code
    )
    issued = accounts.issue_token(account, body.name, days=body.days)
    return {
        "id": issued.id,
        "name": issued.name,
        "token": issued.token,
        "token_type": "bearer",
        "expires_at": issued.expires_at.isoformat(),
    }


@router.delete(
    "/tokens/{token_id}",
    responses=error_responses(401, 403, 404, 422, s404="无此令牌 / no such token of yours"),
)
def revoke_token(
    token_id: Annotated[int, Path(ge=1, le=MAX_ROW_ID)],
    account: Annotated[Account, Depends(current_account)],
    accounts: Annotated[AccountService, Depends(accounts_of)],
) -> dict[str, Any]:
    """吊销令牌 · Revoke one of your tokens (a city admin may revoke anyone's)."""
    revoked = accounts.revoke_token(token_id, by=account)
    return {"id": revoked.id, "name": revoked.name, "revoked_at": revoked.revoked_at}


@router.get("/me", responses=error_responses(401))
def me(
    account: Annotated[Account, Depends(current_account)],
    accounts: Annotated[AccountService, Depends(accounts_of)],
) -> dict[str, Any]:
    """我的账号 · Who the credentials belong to, their role, scope and powers."""
    return _me(account, accounts)
