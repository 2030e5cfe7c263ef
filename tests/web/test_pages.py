"""Every page renders in the browser without a console error, in Chinese by default and in English
after the switch; staff pages send a visitor without a session to sign in and back."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from gridgov.workflow.model import AcceptCase, HandleCase
from tests.case_world import HANDLER, PLAIN_POINT
from tests.web.conftest import PageFactory
from tests.web.web_world import (
    PHONE_VIEW,
    ConsoleErrors,
    WebWorld,
    shot,
    sign_in,
)

pytestmark = pytest.mark.browser


def _no_errors(errors: ConsoleErrors) -> None:
    assert errors.messages == [], "\n".join(errors.messages)


def test_the_home_page_offers_the_resident_page_and_sign_in_to_a_visitor(
    web_world: WebWorld, new_page: PageFactory
) -> None:
    page = new_page()
    errors = ConsoleErrors(page)
    page.goto(web_world.url)
    expect(page).to_have_title("首页 · gridgov 网格化治理")
    expect(page.get_by_test_id("home-resident")).to_be_visible()
    expect(page.locator("main a[href='/signin']")).to_be_visible()
    expect(page.get_by_test_id("home-dashboard")).to_have_count(0)
    shot(page, "home")
    _no_errors(errors)


def test_a_staff_page_sends_a_visitor_to_sign_in_and_back(
    web_world: WebWorld, new_page: PageFactory
) -> None:
    page = new_page()
    errors = ConsoleErrors(page)
    page.goto(f"{web_world.url}/console")
    expect(page).to_have_url(f"{web_world.url}/signin?next=%2Fconsole")
    expect(page.locator("h1")).to_have_text("工作人员登录")
    shot(page, "signin")
    page.fill("#username", "street.operator")
    page.fill("#password", "green-tea-at-dawn")
    page.click("#signin-form button[type=submit]")
    expect(page).to_have_url(f"{web_world.url}/console")
    expect(page.locator(f"#queue tr[data-case-id='{web_world.inside}']")).to_be_visible()
    _no_errors(errors)


def test_the_dashboard_renders_every_panel_for_a_district(
    web_world: WebWorld, new_page: PageFactory
) -> None:
    page = new_page()
    errors = ConsoleErrors(page)
    sign_in(page, web_world.url, "district.operator")
    expect(page.locator("#dashboard")).to_have_attribute("data-loaded", "true")
    expect(page.locator("#scope-title")).to_contain_text("中原区")
    expect(page.locator("[data-kpi=open] .kpi-value")).not_to_have_text("–")
    for panel in (
        "channels",
        "trend",
        "states",
        "children",
        "departments",
        "warnings",
        "party",
        "briefing",
    ):
        expect(page.locator(f"[data-panel={panel}]")).not_to_have_attribute(
            "data-state", "unavailable"
        )
    expect(page.locator("#rank-children tbody tr")).to_have_count(2)
    expect(page.locator("#chart-trend")).to_have_attribute("data-drawn", "true")
    expect(page.locator("#dashboard-map")).to_have_attribute("data-idle", "true")
    shot(page, "dashboard-district")
    _no_errors(errors)


def test_clicking_a_street_in_the_ranking_drills_down_to_its_dashboard(
    web_world: WebWorld, new_page: PageFactory
) -> None:
    page = new_page()
    sign_in(page, web_world.url, "district.operator")
    page.locator("#rank-children a", has_text="第1街道").click()
    expect(page).to_have_url(f"{web_world.url}/dashboard?scope=410102001000")
    expect(page.locator("#breadcrumb")).to_contain_text("中原区")
    expect(page.locator("#scope-title")).to_contain_text("第1街道")


def test_the_resident_page_shows_open_reports_nearby_before_a_new_one(
    web_world: WebWorld, new_page: PageFactory
) -> None:
    lon, lat = PLAIN_POINT
    page = new_page(
        viewport=PHONE_VIEW, is_mobile=True, geolocation={"longitude": lon, "latitude": lat}
    )
    errors = ConsoleErrors(page)
    page.goto(f"{web_world.url}/resident")
    expect(page.locator("#resident-map")).to_have_attribute("data-ready", "true")
    page.click("#use-location")
    nearby = page.get_by_test_id("nearby")
    expect(nearby.locator(f"li[data-case-id='{web_world.inside}']")).to_be_visible()
    expect(nearby.locator(f"li[data-case-id='{web_world.far}']")).to_have_count(0)
    expect(page.locator("#resident-map")).to_have_attribute("data-idle", "true")
    shot(page, "resident")
    nearby.locator(f"li[data-case-id='{web_world.inside}'] button").click()
    expect(page.get_by_test_id("reported")).to_contain_text(f"工单 {web_world.inside}")
    _no_errors(errors)


def test_the_worker_page_shows_a_grid_worker_their_grid_and_the_patrol_form(
    web_world: WebWorld, new_page: PageFactory
) -> None:
    page = new_page(viewport=PHONE_VIEW, is_mobile=True)
    errors = ConsoleErrors(page)
    sign_in(page, web_world.url, "grid.worker")
    expect(page).to_have_url(f"{web_world.url}/worker")
    expect(page.locator("#grid-name")).to_contain_text("第1街道第1社区")
    expect(page.locator("#patrol-form")).to_be_visible()
    expect(page.locator("body")).to_have_attribute("data-loaded", "true")
    shot(page, "worker-grid")
    _no_errors(errors)


def test_a_grid_worker_reports_from_patrol_with_a_photo_and_gps(
    web_world: WebWorld, new_page: PageFactory
) -> None:
    lon, lat = 113.615, 34.72
    page = new_page(
        viewport=PHONE_VIEW, is_mobile=True, geolocation={"longitude": lon, "latitude": lat}
    )
    errors = ConsoleErrors(page)
    sign_in(page, web_world.url, "grid.worker")
    page.fill("#patrol-text", "巡查发现人行道井盖缺失，已设置警示")
    page.select_option("#patrol-category", "C0101")
    page.set_input_files("#patrol-photo", str(web_world.photo))
    page.click("#patrol-locate")
    expect(page.locator("#patrol-where")).to_contain_text("113.61500")
    page.click("#patrol-form button[type=submit]")
    expect(page.locator("#patrol-done")).to_contain_text("已上报，工单")
    _no_errors(errors)


def test_the_english_switch_translates_the_page_and_is_remembered(
    web_world: WebWorld, new_page: PageFactory
) -> None:
    page = new_page()
    errors = ConsoleErrors(page)
    sign_in(page, web_world.url, "street.operator")
    page.get_by_test_id("lang-switch").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#dashboard")).to_have_attribute("data-loaded", "true")
    expect(page.locator("[data-kpi=open] .kpi-label")).to_have_text("Open")
    expect(page.locator("#breadcrumb")).to_contain_text("郑州市")  # grid names stay as named
    shot(page, "dashboard-en")
    page.goto(f"{web_world.url}/console")
    expect(page.locator("h1")).to_have_text("Operator console")
    _no_errors(errors)


def test_the_case_page_shows_an_operator_what_they_may_do(
    web_world: WebWorld, new_page: PageFactory
) -> None:
    page: Page = new_page()
    errors = ConsoleErrors(page)
    sign_in(page, web_world.url, "street.operator", next_path=f"/console/cases/{web_world.inside}")
    expect(page.locator("#case")).to_have_attribute("data-loaded", "dispatched")
    expect(page.get_by_test_id("action-supervise")).to_be_visible()
    # Conditions the case plainly fails are not offered: no extension is pending.
    expect(page.get_by_test_id("action-approve_extension")).to_have_count(0)
    expect(page.get_by_test_id("ai-panel")).to_contain_text("中原区城市管理局")
    expect(page.locator("#case-map")).to_have_attribute("data-idle", "true")
    _no_errors(errors)


def test_a_grid_worker_verifies_a_handled_case_from_the_phone_page(
    web_world: WebWorld, new_page: PageFactory
) -> None:
    cases = web_world.runtime.cases
    case_id = web_world.cases.dispatched_case((113.618, 34.702))
    cases.perform(case_id, AcceptCase(), HANDLER)
    cases.perform(case_id, HandleCase(evidence=("photo-1.jpg",), reason="已清运"), HANDLER)
    page = new_page(viewport=PHONE_VIEW, is_mobile=True)
    errors = ConsoleErrors(page)
    sign_in(page, web_world.url, "grid.worker")
    page.locator(f"#tasks li[data-case-id='{case_id}'] button").click()
    expect(page.locator("#task-state")).to_have_attribute("data-state", "handled")
    page.get_by_test_id("action-verify_pass").click()
    page.get_by_test_id("submit-verify_pass").click()
    expect(page.locator("#task-state")).to_have_attribute("data-state", "verified")
    expect(page.locator(f"#tasks li[data-case-id='{case_id}']")).to_have_count(0)
    _no_errors(errors)
