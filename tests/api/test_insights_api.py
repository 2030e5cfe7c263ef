"""AI insights over real HTTP through the ASGI stack, with the briefing's language model configured
by settings and played by a hand-written chat-completions service on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.staff_world import DEPARTMENT, StaffWorld, build_staff_world
from tests.case_world import COMMUNITY_1, ERQI, STREET_1
from tests.databases import module_db_url
from tests.fake_chat import MODEL, FakeChatService, Reply
from tests.insights_world import API_KEY, model_service

DAY = "2026-11-27"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeChatService]:
    with model_service() as service:
        yield service


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    fake: FakeChatService,
) -> Iterator[StaffWorld]:
    tmp = tmp_path_factory.mktemp("insights-api")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("GRIDGOV_AI_WRITER_URL", fake.url)
        env.setenv("GRIDGOV_AI_WRITER_MODEL", MODEL)
        env.setenv("GRIDGOV_AI_WRITER_API_KEY", API_KEY)
        for url in module_db_url(request, tmp):
            yield from build_staff_world(url, tmp / "var")


def test_suggestions_propose_a_description_and_the_rules_department_for_a_case(
    world: StaffWorld,
) -> None:
    response = world.client.get(
        f"/api/v1/cases/{world.inside}/suggestions", headers=world.headers("street_operator")
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["case_id"] == world.inside
    assert body["description"].startswith("【12345热线】小区门口有暴露垃圾")
    assert body["department"]["code"] == DEPARTMENT
    assert body["department"]["source"] == "rule"
    assert body["verification"] is None and body["photo"] is None


def test_suggestions_for_a_case_in_another_district_are_a_404_like_a_missing_case(
    world: StaffWorld,
) -> None:
    headers = world.headers("street_operator")
    outside = world.client.get(f"/api/v1/cases/{world.outside}/suggestions", headers=headers)
    missing = world.client.get("/api/v1/cases/999999/suggestions", headers=headers)
    assert outside.status_code == missing.status_code == 404
    assert outside.json()["error"]["problem"] == missing.json()["error"]["problem"].replace(
        "999999", str(world.outside)
    )
    assert world.client.get(f"/api/v1/cases/{world.inside}/suggestions").status_code == 401


def test_early_warning_answers_for_the_accounts_scope_and_refuses_a_malformed_one(
    world: StaffWorld,
) -> None:
    headers = world.headers("street_operator")
    own = world.client.get("/api/v1/analytics/early-warning", headers=headers)
    assert own.status_code == 200, own.text
    assert own.json()["scope"]["code"] == STREET_1 and own.json()["alerts"] == []
    inner = world.client.get(
        "/api/v1/analytics/early-warning", params={"scope": COMMUNITY_1}, headers=headers
    )
    assert inner.json()["scope"]["level"] == "community"
    bad = world.client.get(
        "/api/v1/analytics/early-warning", params={"scope": "无效 code"}, headers=headers
    )
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "scope"
    assert (
        world.client.get(
            "/api/v1/analytics/early-warning", params={"scope": ERQI}, headers=headers
        ).status_code
        == 404
    )


@pytest.mark.parametrize(
    ("day", "field"),
    [("2026-02-30", "day"), ("27/11/2026", "day"), ("2026-11-28", "day"), ("0001-01-01", "day")],
)
def test_a_day_that_is_not_a_date_or_not_yet_over_is_refused_naming_the_field(
    world: StaffWorld, day: str, field: str
) -> None:
    response = world.client.get(
        "/api/v1/briefing/daily", params={"day": day}, headers=world.headers("city_admin")
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == field


def test_the_briefing_is_reworded_by_the_configured_model_when_every_figure_checks_out(
    world: StaffWorld, fake: FakeChatService
) -> None:
    headers = world.headers("district_operator")
    plain = world.client.get("/api/v1/briefing/daily", params={"day": DAY}, headers=headers)
    template = plain.json()["template"]
    fake.answer("经汇总，" + template.replace("一、受理：当日", "受理方面，当天"))
    response = world.client.get("/api/v1/briefing/daily", params={"day": DAY}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["rewritten_by"] == "model"
    assert body["text"].startswith("经汇总，中原区城市运行日报（2026年11月27日）")
    assert body["facts"]["reports"] == 1 and body["scope"]["code"] == "410102000000"
    assert fake.requests[-1]["model"] == MODEL


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        ("中原区今日共受理上报12件，全部办结。" * 8, "figures not in the data (12)"),
        ('```json\n{"text": 1}', "does not name 中原区"),
    ],
)
def test_a_rewrite_with_a_figure_not_in_the_data_or_no_briefing_at_all_is_refused_and_named(
    world: StaffWorld, fake: FakeChatService, reply: str, why: str
) -> None:
    fake.answer(reply)
    response = world.client.get(
        "/api/v1/briefing/daily", params={"day": DAY}, headers=world.headers("district_operator")
    )
    body = response.json()
    assert body["rewritten_by"] is None
    assert body["text"] == body["template"]
    assert why in body["rewrite_refused"]


def test_a_model_service_answering_garbage_leaves_the_template(
    world: StaffWorld, fake: FakeChatService
) -> None:
    fake.replies.append(Reply(200, b"<html>bad gateway</html>"))
    response = world.client.get(
        "/api/v1/briefing/daily", params={"day": DAY}, headers=world.headers("district_operator")
    )
    body = response.json()
    assert response.status_code == 200
    assert body["rewritten_by"] is None and body["text"] == body["template"]
    assert "not JSON" in body["rewrite_refused"]
