"""A street operator's pages show nothing of another street: not on the dashboard, its map, the
queue or a case page, and asking for the other street's dashboard is refused."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.web.conftest import PageFactory
from tests.web.web_world import STREET_2, WebWorld, shot, sign_in

pytestmark = pytest.mark.browser


def test_a_street_operator_sees_nothing_of_another_street(
    web_world: WebWorld, new_page: PageFactory
) -> None:
    url = web_world.url
    page = new_page()
    with page.expect_response(lambda r: "/api/v1/analytics/cases-map" in r.url) as answer:
        sign_in(page, url, "street.operator")
    mapped = {f["properties"]["id"] for f in answer.value.json()["features"]}
    assert web_world.inside in mapped
    assert not mapped & {web_world.next_door, web_world.far}

    expect(page.locator("#dashboard")).to_have_attribute("data-loaded", "true")
    latest = page.get_by_test_id("latest-cases")
    expect(latest.locator(f"li[data-case-id='{web_world.inside}']")).to_be_visible()
    for other in (web_world.next_door, web_world.far):
        expect(latest.locator(f"li[data-case-id='{other}']")).to_have_count(0)
    expect(page.locator("#rank-children")).not_to_contain_text("第2街道")

    page.goto(f"{url}/console")
    expect(page.locator(f"#queue tr[data-case-id='{web_world.inside}']")).to_be_visible()
    for other in (web_world.next_door, web_world.far):
        expect(page.locator(f"#queue tr[data-case-id='{other}']")).to_have_count(0)

    page.goto(f"{url}/dashboard?scope={STREET_2}")
    expect(page.get_by_test_id("scope-refused")).to_be_visible()
    expect(page.locator("#dashboard")).to_be_hidden()
    expect(page.locator("[data-kpi=open] .kpi-value")).to_have_text("–")
    shot(page, "dashboard-refused")

    page.goto(f"{url}/console/cases/{web_world.next_door}")
    expect(page.get_by_test_id("case-missing")).to_be_visible()
    expect(page.locator("#case")).to_be_hidden()
