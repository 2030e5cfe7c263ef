"""The page routes: each renders a template shell in the visitor's language; its script loads the
data from the JSON API. Staff pages send a visitor without a session to /signin and back."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from gridgov.bootstrap import Runtime
from gridgov.services.accounts import Account, AccountRole
from gridgov.web.i18n import (
    LANGUAGE_COOKIE,
    LANGUAGES,
    Translator,
    catalogue,
    choose_language,
    other_language,
)
from gridgov.web.signed_in import page_account
from gridgov.workflow.model import CaseState, Role

TEMPLATES = Path(__file__).resolve().parent / "templates"
MAX_CASE_ID = 2**53 - 1  # the largest integer a page script holds exactly
LANGUAGE_COOKIE_DAYS = 365
MAX_NEXT = 2000  # the longest way back a sign-in or language switch keeps

_CENTRE = frozenset(
    {
        AccountRole.CITY_ADMIN,
        AccountRole.DISTRICT_OPERATOR,
        AccountRole.STREET_OPERATOR,
        AccountRole.AUDITOR,
    }
)
# Where each role lands after signing in.
HOMES = {role.value: ("/dashboard" if role in _CENTRE else "/worker") for role in AccountRole}
HOMES[AccountRole.RESIDENT.value] = "/resident"
_ROLE_EN = {
    AccountRole.CITY_ADMIN: "city administrator",
    AccountRole.DISTRICT_OPERATOR: "district operation centre",
    AccountRole.STREET_OPERATOR: "street operation centre",
    AccountRole.COMMUNITY_WORKER: "community worker",
    AccountRole.GRID_WORKER: "grid worker",
    AccountRole.DEPARTMENT_HANDLER: "department handler",
    AccountRole.POLICE_LIAISON: "police liaison",
    AccountRole.AUDITOR: "auditor",
    AccountRole.RESIDENT: "resident",
}


@dataclass(frozen=True, slots=True)
class NavItem:
    page: str
    href: str
    key: str


def _nav(account: Account | None) -> list[NavItem]:
    items = [NavItem("home", "/", "nav.home")]
    if account is not None and account.role in _CENTRE:
        items += [
            NavItem("dashboard", "/dashboard", "nav.dashboard"),
            NavItem("console", "/console", "nav.console"),
        ]
    elif account is not None and account.role is not AccountRole.RESIDENT:
        items += [
            NavItem("worker", "/worker", "nav.worker"),
            NavItem("console", "/console", "nav.console"),
        ]
    items.append(NavItem("resident", "/resident", "nav.resident"))
    return items


def _cards(account: Account | None) -> list[dict[str, str]]:
    pages = [item.page for item in _nav(account) if item.page != "home"]
    if account is not None and account.role not in _CENTRE and "dashboard" not in pages:
        pages.insert(1, "dashboard")
    return [{"page": p, "href": f"/{p}", "key": f"page.{p}"} for p in pages]


def may_patrol(account: Account) -> bool:
    """Whether the account reports from patrol: those acting as grid workers."""
    return Role.GRID_WORKER in account.role.powers


def local_path(next_url: str | None) -> str | None:
    """`next_url` if it is a path on this site, else None (no redirect to another origin)."""
    if not next_url or len(next_url) > MAX_NEXT:
        return None
    parts = urlsplit(next_url)
    if parts.scheme or parts.netloc or not next_url.startswith("/") or next_url.startswith("//"):
        return None
    if "\\" in next_url or any(ord(ch) < 32 for ch in next_url):
        return None
    return next_url


class PageRenderer:
    """Templates and what every page is told: language, account, server time, map settings."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
        )
        self.tz = ZoneInfo(runtime.settings.timezone)
        self.basemap = runtime.settings.basemap_url or None

    def account(self, request: Request) -> Account | None:
        return page_account(request, self.runtime.accounts)

    def render(
        self,
        request: Request,
        page: str,
        account: Account | None,
        *,
        title: str | None = None,
        data: dict[str, Any] | None = None,
        context: dict[str, Any] | None = None,
        status_code: int = 200,
    ) -> HTMLResponse:
        lang = choose_language(request.cookies.get(LANGUAGE_COOKIE))
        now = self.runtime.clock.now().astimezone(self.tz)
        page_data: dict[str, Any] = {
            "page": page,
            "lang": lang,
            "tz": self.runtime.settings.timezone,
            "utc_offset": _offset(now),
            "now": now.isoformat(),
            "basemap": self.basemap,
            "account": None if account is None else _account_data(account, lang),
            **(data or {}),
        }
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        html = self.env.get_template(f"{page}.html").render(
            t=Translator(lang),
            lang=lang,
            other_lang=other_language(lang),
            messages=dict(catalogue(lang)),
            page=page,
            page_data=page_data,
            title_key=f"title.{title or page}",
            nav=_nav(account),
            here=here,
            account=page_data["account"],
            **(context or {}),
        )
        return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})


def _offset(now: datetime) -> str:
    raw = now.strftime("%z") or "+0000"
    return f"{raw[:3]}:{raw[3:]}"


def _account_data(account: Account, lang: str) -> dict[str, Any]:
    return {
        "username": account.username,
        "display_name": account.display_name or account.username,
        "role": account.role.value,
        "role_label": account.role.label_zh if lang == "zh-CN" else _ROLE_EN[account.role],
        "scope_code": account.scope_code,
        "department_code": account.department_code,
        "acts_as": [r.value for r in account.role.powers],
    }


def _to_signin(request: Request) -> RedirectResponse:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/signin?next={quote(here, safe='')}", status_code=303)


NextQuery = Annotated[str | None, Query(alias="next", description="where to go afterwards")]
_SCOPE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_CASE_ID = re.compile(r"[0-9]{1,16}")


def pages_router(runtime: Runtime) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    pages = PageRenderer(runtime)

    @router.get("/", response_class=HTMLResponse)
    def home(request: Request) -> Response:
        account = pages.account(request)
        return pages.render(request, "home", account, context={"cards": _cards(account)})

    @router.get("/signin", response_class=HTMLResponse)
    def signin(request: Request, next_url: NextQuery = None) -> Response:
        account = pages.account(request)
        target = local_path(next_url)
        if account is not None:
            return RedirectResponse(target or HOMES[account.role.value], status_code=303)
        return pages.render(request, "signin", None, data={"next": target, "homes": HOMES})

    @router.get("/lang/{language}")
    def switch_language(language: str, next_url: NextQuery = None) -> Response:
        chosen = language if language in LANGUAGES else None
        response = RedirectResponse(local_path(next_url) or "/", status_code=303)
        if chosen is not None:
            response.set_cookie(
                LANGUAGE_COOKIE,
                chosen,
                max_age=LANGUAGE_COOKIE_DAYS * 24 * 3600,
                samesite="lax",
                path="/",
            )
        return response

    @router.get("/dashboard", response_class=HTMLResponse)
    def dashboard(request: Request, scope: str | None = None) -> Response:
        account = pages.account(request)
        if account is None:
            return _to_signin(request)
        # A malformed code is refused like a grid outside the scope: the page says so.
        refused = scope is not None and not _SCOPE.fullmatch(scope)
        return pages.render(
            request,
            "dashboard",
            account,
            data={"scope": None if refused else scope, "scope_refused": refused},
        )

    @router.get("/console", response_class=HTMLResponse)
    def console(request: Request) -> Response:
        account = pages.account(request)
        if account is None:
            return _to_signin(request)
        states = [s.value for s in CaseState]
        return pages.render(request, "console", account, context={"states": states})

    @router.get("/console/cases/{case_id}", response_class=HTMLResponse)
    def case_page(request: Request, case_id: str) -> Response:
        account = pages.account(request)
        if account is None:
            return _to_signin(request)
        # A case number that cannot exist gets the page's own "no such case", not a JSON error.
        valid = _CASE_ID.fullmatch(case_id) is not None and 1 <= int(case_id) <= MAX_CASE_ID
        return pages.render(
            request,
            "case",
            account,
            data={"case_id": int(case_id) if valid else None},
            status_code=200 if valid else 404,
        )

    @router.get("/worker", response_class=HTMLResponse)
    def worker(request: Request) -> Response:
        account = pages.account(request)
        if account is None:
            return _to_signin(request)
        return pages.render(request, "worker", account, context={"may_patrol": may_patrol(account)})

    @router.get("/resident", response_class=HTMLResponse)
    def resident(request: Request) -> Response:
        return pages.render(request, "resident", pages.account(request))

    return router
