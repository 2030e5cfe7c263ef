"""One served app and one Chromium per test process; each test opens its own browser contexts
(fresh cookies and storage), closed after it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from tests.api.staff_world import PASSWORD, StaffWorld, build_staff_world
from tests.databases import module_db_url
from tests.web.web_world import DESKTOP, WebWorld, build_web_world, launch

PageFactory = Callable[..., Page]


@pytest.fixture(scope="session")
def web_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebWorld]:
    yield from build_web_world(tmp_path_factory.mktemp("web"))


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    started = launch(playwright)
    yield started
    started.close()


@pytest.fixture
def new_page(browser: Browser) -> Iterator[PageFactory]:
    """`new_page(viewport=…, geolocation=…, locale=…)`: a page in a fresh context."""
    contexts = []

    def make(**options: Any) -> Page:
        options.setdefault("viewport", DESKTOP)
        options.setdefault("locale", "zh-CN")
        options.setdefault("timezone_id", "Asia/Shanghai")
        if "geolocation" in options:
            options.setdefault("permissions", ["geolocation"])
        context = browser.new_context(**options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture(autouse=True, scope="session")
def _patient_expectations() -> None:
    # Pages load several endpoints and a map; ten seconds is what a slow shared machine needs.
    expect.set_options(timeout=10_000)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def staff(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StaffWorld]:
    """The app behind a TestClient on each dialect, for the pages' form endpoints."""
    tmp = tmp_path_factory.mktemp("pages")
    for url in module_db_url(request, tmp):
        yield from build_staff_world(url, tmp / "var")


def session_client(app: FastAPI, username: str) -> tuple[TestClient, dict[str, str]]:
    """A client signed in as `username` (cookie session) and the CSRF header its posts need."""
    client = TestClient(app)
    answer = client.post("/api/v1/auth/sign-in", json={"username": username, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return client, {"X-CSRF-Token": answer.json()["csrf_token"]}
