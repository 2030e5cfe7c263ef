"""The page routes over HTTP: who is sent where, the language cookie, and what a malformed address
gets."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gridgov.web.pages import local_path
from tests.api.staff_world import StaffWorld
from tests.web.conftest import session_client

_PAGE_DATA = re.compile(r'<script type="application/json" id="gg-page">(.*?)</script>', re.S)


def _page_data(html: str) -> dict[str, Any]:
    found = _PAGE_DATA.search(html)
    assert found is not None
    data: dict[str, Any] = json.loads(found.group(1))
    return data


@pytest.mark.parametrize("path", ["/dashboard", "/console", "/console/cases/1", "/worker"])
def test_a_staff_page_sends_a_visitor_to_sign_in_with_the_way_back(
    staff: StaffWorld, path: str
) -> None:
    answer = staff.client.get(path, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/signin?next={path.replace('/', '%2F')}"


@pytest.mark.parametrize("path", ["/", "/resident", "/signin"])
def test_public_pages_render_in_chinese_for_a_visitor(staff: StaffWorld, path: str) -> None:
    answer = staff.client.get(path)
    assert answer.status_code == 200
    assert '<html lang="zh-CN">' in answer.text
    assert _page_data(answer.text)["account"] is None


@pytest.mark.parametrize(
    ("username", "home"),
    [("street.operator", "/dashboard"), ("auditor", "/dashboard"), ("grid.worker", "/worker")],
)
def test_a_signed_in_account_asking_for_sign_in_goes_to_its_home(
    staff: StaffWorld, username: str, home: str
) -> None:
    client, _ = session_client(staff.app, username)
    answer = client.get("/signin", follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, home)


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("/console?state=dispatched", "/console?state=dispatched"),
        ("//evil.example/x", None),
        ("https://evil.example/", None),
        ("/\\evil.example", None),
        ("javascript:alert(1)", None),
        ("console", None),
        ("/console\n", None),
        (None, None),
    ],
)
def test_only_a_path_on_this_site_is_a_way_back(given: str | None, kept: str | None) -> None:
    assert local_path(given) == kept


def test_the_language_switch_sets_a_cookie_and_returns_only_within_the_site(
    staff: StaffWorld,
) -> None:
    answer = staff.client.get("/lang/en?next=//evil.example/", follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, "/")
    assert "gridgov_lang=en" in answer.headers["set-cookie"]
    visitor = TestClient(staff.app)
    visitor.cookies.set("gridgov_lang", "en")
    english = visitor.get("/resident")
    assert '<html lang="en">' in english.text
    assert "Report a problem" in english.text
    unknown = staff.client.get("/lang/xx?next=/resident", follow_redirects=False)
    assert unknown.headers["location"] == "/resident"
    assert "set-cookie" not in unknown.headers


def test_a_malformed_case_number_or_scope_gets_the_page_saying_so(staff: StaffWorld) -> None:
    client, _ = session_client(staff.app, "street.operator")
    case = client.get("/console/cases/abc")
    assert case.status_code == 404
    assert _page_data(case.text)["case_id"] is None
    dashboard = client.get("/dashboard", params={"scope": "<script>alert(1)</script>"})
    assert dashboard.status_code == 200
    assert _page_data(dashboard.text)["scope_refused"] is True
    assert "<script>alert(1)" not in dashboard.text


def test_a_page_tells_its_script_the_account_and_the_servers_time(staff: StaffWorld) -> None:
    client, _ = session_client(staff.app, "street.operator")
    data = _page_data(client.get("/dashboard").text)
    assert data["account"]["username"] == "street.operator"
    assert data["account"]["scope_code"] == "410102001000"
    assert data["now"].startswith("2026-11-27T15:00:00+08:00")
    assert data["utc_offset"] == "+08:00"
    # Pages carry the account; a shared cache must never keep one.
    assert client.get("/dashboard").headers["cache-control"] == "no-store"
