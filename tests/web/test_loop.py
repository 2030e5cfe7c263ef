"""The whole loop in a real browser: a resident reports with a photo, the case shows on the street
dashboard and in the queue, the operator files it under the AI's category and dispatches it, the
department's handler accepts and handles it with a photo on the phone page, the operator verifies
and closes it, and the resident sees it closed and rates it."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import PageFactory
from tests.web.web_world import (
    PHONE,
    PHONE_VIEW,
    RESIDENT_POINT,
    ConsoleErrors,
    WebWorld,
    shot,
    sign_in,
)

pytestmark = pytest.mark.browser


def _state(page: Page, selector: str, state: str) -> None:
    expect(page.locator(selector)).to_have_attribute("data-state", state)


def test_a_resident_report_goes_round_the_whole_loop_and_is_rated(
    web_world: WebWorld, new_page: PageFactory
) -> None:
    url = web_world.url
    lon, lat = RESIDENT_POINT

    # The street's operation centre watches its dashboard.
    operator = new_page()
    operator_errors = ConsoleErrors(operator)
    sign_in(operator, url, "street.operator")
    expect(operator).to_have_url(f"{url}/dashboard")
    expect(operator.locator("#dashboard")).to_have_attribute("data-loaded", "true")
    _state(operator, "#live-state", "on")

    # A resident reports with a photo and the phone's position.
    resident = new_page(
        viewport=PHONE_VIEW,
        is_mobile=True,
        has_touch=True,
        geolocation={"longitude": lon, "latitude": lat},
    )
    resident_errors = ConsoleErrors(resident)
    resident.goto(f"{url}/resident")
    resident.select_option("#service_code", "E0102")
    resident.click("#use-location")
    expect(resident.locator("#lon")).to_have_value(f"{lon:.6f}")
    resident.set_input_files("#photo", str(web_world.photo))
    resident.fill("#description", "东门外垃圾堆了三天没人清运，暴露垃圾味道很大")
    resident.fill("#phone", PHONE)
    resident.click("#report-form button[type=submit]")
    receipt = resident.locator("#reported [data-case-id]")
    expect(receipt).to_be_visible()
    case_id = int(receipt.get_attribute("data-case-id") or 0)
    assert case_id > 0
    shot(resident, "resident-reported")

    # It arrives on the street dashboard by itself (server-sent events), then in the queue.
    expect(operator.locator(f"#latest li[data-case-id='{case_id}']")).to_be_visible()
    expect(operator.locator("#dashboard-map")).to_have_attribute("data-idle", "true")
    shot(operator, "dashboard")
    operator.goto(f"{url}/console")
    row = operator.locator(f"#queue tr[data-case-id='{case_id}']")
    expect(row).to_contain_text("暴露垃圾")
    shot(operator, "console")

    # The operator confirms the AI's first category with one click, then dispatches.
    row.locator("a").click()
    expect(operator.locator("#case")).to_have_attribute("data-loaded", "reported")
    top = operator.locator(".suggestions li").first
    expect(top).to_have_attribute("data-code", "E0102")
    # The resident chose the category: sure enough to file, had the app been a trusted channel.
    expect(top.get_by_test_id("auto-file-proposed")).to_have_text("可自动立案")
    top.locator("button").click()
    _state(operator, "#case-state", "filed")
    operator.get_by_test_id("dispatch-suggested").click()
    _state(operator, "#case-state", "dispatched")
    expect(operator.locator("#case-facts")).to_contain_text("中原区城市管理局")
    expect(operator.locator("#case-photos img")).to_have_count(1)
    expect(operator.locator("#case-map")).to_have_attribute("data-idle", "true")
    shot(operator, "case")

    # The department's handler accepts and handles it on the phone page, with a photo.
    handler = new_page(viewport=PHONE_VIEW, is_mobile=True, has_touch=True)
    handler_errors = ConsoleErrors(handler)
    sign_in(handler, url, "department.handler")
    expect(handler).to_have_url(f"{url}/worker")
    handler.locator(f"#tasks li[data-case-id='{case_id}'] button").click()
    handler.get_by_test_id("action-accept").click()
    handler.get_by_test_id("submit-accept").click()
    _state(handler, "#task-state", "accepted")
    handler.get_by_test_id("action-handle").click()
    handler.set_input_files("#f-handle-evidence", str(web_world.second_photo))
    handler.fill("#f-handle-reason", "已清运，地面已冲洗")
    shot(handler, "worker-handle")
    handler.get_by_test_id("submit-handle").click()
    _state(handler, "#task-state", "handled")
    expect(handler.locator("#task-photos img")).to_have_count(2)
    shot(handler, "worker")

    # The operator verifies and closes it; the handling photo is on the case page.
    operator.reload()
    expect(operator.locator("#case")).to_have_attribute("data-loaded", "handled")
    operator.get_by_test_id("action-verify_pass").click()
    operator.get_by_test_id("submit-verify_pass").click()
    _state(operator, "#case-state", "verified")
    operator.get_by_test_id("action-close").click()
    operator.fill("#f-close-reason", "现场核查已清运干净")
    operator.get_by_test_id("submit-close").click()
    _state(operator, "#case-state", "closed")
    expect(operator.locator("#case-photos img")).to_have_count(2)
    expect(operator.locator("#case-timeline")).to_contain_text("已清运，地面已冲洗")

    # The resident follows the case (number and digits remembered), sees it closed, rates it.
    resident.click("[data-tab=follow]")
    expect(resident.locator("#case_id")).to_have_value(str(case_id))
    resident.click("#follow-form button[type=submit]")
    _state(resident, "#followed-state", "closed")
    resident.check("#rate-form input[value=satisfied]")
    resident.click("#rate-form button[type=submit]")
    _state(resident, "#followed-state", "evaluated")
    expect(resident.locator("#rated")).to_contain_text("满意")
    shot(resident, "resident-follow")

    assert operator_errors.messages == []
    assert resident_errors.messages == []
    assert handler_errors.messages == []
