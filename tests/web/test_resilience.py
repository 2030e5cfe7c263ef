"""Bad input is answered next to the field at fault, and a lost connection shows the banner until
the server is back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.web.conftest import PageFactory
from tests.web.web_world import PHONE_VIEW, LiveServer, WebWorld, shot, sign_in

pytestmark = pytest.mark.browser


def _error(page_or_form, field: str):  # type: ignore[no-untyped-def]
    return page_or_form.locator(f".field-error[data-for='{field}']")


def test_the_resident_form_names_each_bad_field_next_to_it(
    web_world: WebWorld, new_page: PageFactory
) -> None:
    page = new_page(viewport=PHONE_VIEW, is_mobile=True)
    page.goto(f"{web_world.url}/resident")
    form = page.locator("#report-form")
    submit = form.locator("button[type=submit]")

    submit.click()
    expect(_error(form, "service_code")).to_contain_text("必须填写")
    expect(form.locator("#service_code")).to_have_attribute("aria-invalid", "true")

    page.select_option("#service_code", "E0102")
    submit.click()
    expect(_error(form, "location")).to_contain_text("请在地图上标出位置")
    expect(_error(form, "service_code")).to_be_empty()

    page.fill("#lon", "113.62")
    page.fill("#lat", "north")
    submit.click()
    expect(_error(form, "location")).to_contain_text("须为数字")

    page.fill("#lat", "34.72")
    page.fill("#phone", "call me")
    submit.click()
    expect(_error(form, "phone")).to_contain_text("不是有效的电话号码")

    page.fill("#phone", "13912345678")
    submit.click()
    expect(_error(form, "photo")).to_contain_text("须附照片")

    page.set_input_files("#photo", str(web_world.not_a_photo))
    submit.click()
    expect(_error(form, "photo")).not_to_be_empty()
    expect(page.get_by_test_id("reported")).to_be_hidden()
    shot(page, "resident-bad-input")


def test_following_a_case_with_wrong_digits_says_so_without_telling_which(
    web_world: WebWorld, new_page: PageFactory
) -> None:
    page = new_page(viewport=PHONE_VIEW, is_mobile=True)
    page.goto(f"{web_world.url}/resident?tab=follow")
    page.fill("#case_id", str(web_world.inside))
    page.fill("#phone_last4", "12")
    page.click("#follow-form button[type=submit]")
    expect(_error(page, "phone_last4")).to_contain_text("须为4位数字")
    page.fill("#phone_last4", "9999")
    page.click("#follow-form button[type=submit]")
    expect(page.locator("#follow-form .form-error")).to_contain_text("手机号后四位不符")
    expect(page.get_by_test_id("followed")).to_be_hidden()


def test_a_wrong_password_is_shown_by_the_password_field(
    web_world: WebWorld, new_page: PageFactory
) -> None:
    page = new_page()
    page.goto(f"{web_world.url}/signin")
    page.fill("#username", "street.operator")
    page.fill("#password", "not-the-password")
    page.click("#signin-form button[type=submit]")
    expect(_error(page, "password")).to_contain_text("用户名或密码错误")
    expect(page).to_have_url(f"{web_world.url}/signin")


def test_an_action_without_its_required_reason_is_refused_next_to_the_reason(
    web_world: WebWorld, new_page: PageFactory
) -> None:
    page = new_page()
    sign_in(page, web_world.url, "street.operator", next_path=f"/console/cases/{web_world.inside}")
    page.get_by_test_id("action-escalate").click()
    page.get_by_test_id("submit-escalate").click()
    expect(_error(page.locator("#action-form"), "reason")).not_to_be_empty()
    expect(page.locator("#action-form #f-escalate-reason")).to_have_attribute(
        "aria-invalid", "true"
    )
    expect(page.locator("#case-state")).to_have_attribute("data-state", "dispatched")
    shot(page, "case-bad-input")


@pytest.fixture
def own_server(web_world: WebWorld) -> Iterator[LiveServer]:
    """The same app on a port of its own, for a test to stop and start."""
    server = LiveServer(web_world.app).start()
    yield server
    server.stop()


def test_the_dashboard_shows_the_banner_when_the_server_goes_and_hides_it_when_back(
    own_server: LiveServer, new_page: PageFactory
) -> None:
    page = new_page()
    sign_in(page, own_server.url, "street.operator")
    expect(page.locator("#dashboard")).to_have_attribute("data-loaded", "true")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "on")
    banner = page.locator("#gg-banner")
    expect(banner).to_be_hidden()

    own_server.stop()
    # Nobody clicks: the live stream's loss is enough.
    expect(banner).to_be_visible()
    expect(banner).to_have_text("连接中断，正在重试…")
    shot(page, "connection-lost")

    own_server.start()
    expect(banner).to_be_hidden()


def test_the_queue_retries_a_request_made_while_the_server_is_away(
    own_server: LiveServer, new_page: PageFactory, web_world: WebWorld
) -> None:
    page = new_page()
    sign_in(page, own_server.url, "street.operator", next_path="/console")
    expect(page.locator("#queue")).to_have_attribute("data-loaded", "true")
    own_server.stop()
    page.click("#refresh")
    expect(page.locator("#gg-banner")).to_be_visible()
    own_server.start()
    expect(page.locator("#gg-banner")).to_be_hidden()
    expect(page.locator("#queue")).to_have_attribute("data-loaded", "true")
    expect(page.locator(f"#queue tr[data-case-id='{web_world.inside}']")).to_be_visible()
