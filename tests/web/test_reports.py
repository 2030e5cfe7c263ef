"""The pages' report forms over HTTP: a resident's photo report and a grid worker's patrol report,
with every bad field named and the store unchanged."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from gridgov.api.app import create_app
from gridgov.store.tables import CaseRow, ReportRow
from gridgov.workflow.model import Actor, Role
from tests.api.open311_world import jpeg
from tests.api.staff_world import StaffWorld
from tests.case_world import COMMUNITY_1
from tests.web.conftest import session_client

PHONE = "13912345678"
PHOTO = {"photo": ("garbage.jpg", jpeg(), "image/jpeg")}
CITY = Actor("tests", Role.CENTRE_LEADER)


def _form(**changes: Any) -> dict[str, str]:
    fields: dict[str, Any] = {
        "service_code": "E0102",
        "lon": "113.62",
        "lat": "34.73",
        "phone": PHONE,
        "description": "楼下垃圾桶满了好几天没人清",
        "submission_id": str(uuid.uuid4()),
    }
    fields.update(changes)
    return {k: v for k, v in fields.items() if v is not None}


def _counts(staff: StaffWorld) -> tuple[int, int]:
    with staff.runtime.sessions() as session:
        return (
            session.scalar(select(func.count()).select_from(ReportRow)) or 0,
            session.scalar(select(func.count()).select_from(CaseRow)) or 0,
        )


def test_a_residents_photo_report_becomes_a_case_in_the_class_they_chose(
    staff: StaffWorld,
) -> None:
    answer = staff.client.post("/resident/reports", data=_form(), files=PHOTO)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    case = staff.runtime.cases.case(body["case_id"], CITY)
    assert case.category_code == "E0102"
    report = staff.runtime.intake.report(body["report_id"], may_see_personal_data=True)
    assert report["channel"] == "citizen_app"
    assert report["reporter_phone"] == PHONE
    assert [p["source"] for p in report["intake"]["photos"]] == ["file"]


def test_sending_the_same_form_again_answers_the_stored_case_and_files_nothing_new(
    staff: StaffWorld,
) -> None:
    form = _form(lon="113.615", lat="34.745", description="路灯不亮了，晚上很黑")
    first = staff.client.post("/resident/reports", data=form, files=PHOTO)
    before = _counts(staff)
    again = staff.client.post("/resident/reports", data=form, files=PHOTO)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["case_id"] == first.json()["case_id"]
    assert _counts(staff) == before


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"service_code": None}, "service_code", "必须填写"),
        ({"service_code": "Z9999"}, "service_code", "未知的问题类型"),
        ({"service_code": "E01"}, "service_code", "未知的问题类型"),  # a class, not a leaf
        ({"lon": None}, "location", "标出位置"),
        ({"lat": "north"}, "location", "须为数字"),
        ({"lat": "95"}, "location", "超出范围"),
        ({"lon": "nan"}, "location", "超出范围"),
        ({"phone": None}, "phone", "必须填写"),
        ({"phone": "call me"}, "phone", "不是有效的电话号码"),
        ({"description": "很" * 4001}, "description", "过长"),
        ({"name": "名" * 51}, "name", "过长"),
        ({"submission_id": "x"}, "submission_id", "格式错误"),
    ],
)
def test_each_bad_field_is_named_and_nothing_is_stored(
    staff: StaffWorld, changes: dict[str, Any], field: str, words: str
) -> None:
    before = _counts(staff)
    answer = staff.client.post("/resident/reports", data=_form(**changes), files=PHOTO)
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["field"] == field
    assert words in error["problem"]
    assert _counts(staff) == before


def test_a_class_judged_from_a_photo_needs_one_and_a_non_photo_is_refused(
    staff: StaffWorld,
) -> None:
    before = _counts(staff)
    missing = staff.client.post("/resident/reports", data=_form())
    fake = staff.client.post(
        "/resident/reports",
        data=_form(),
        files={"photo": ("notes.jpg", "这不是照片".encode(), "image/jpeg")},
    )
    assert (missing.status_code, missing.json()["error"]["field"]) == (422, "photo")
    assert (fake.status_code, fake.json()["error"]["field"]) == (422, "photo")
    assert _counts(staff) == before
    # A hotline class is not judged from a photo: it files without one.
    hotline = staff.client.post("/resident/reports", data=_form(service_code="H01"))
    assert hotline.status_code == 201, hotline.text


def test_an_address_that_reports_too_often_is_told_when_to_retry_but_typos_do_not_count(
    staff: StaffWorld,
) -> None:
    limited = TestClient(create_app(staff.runtime))  # an app of its own: a fresh limiter
    for _ in range(15):
        assert limited.post("/resident/reports", data=_form(phone="nope")).status_code == 422
    codes = [
        limited.post(
            "/resident/reports",
            data=_form(service_code="H01", lon=f"{113.61 + i * 0.004:.3f}"),
        ).status_code
        for i in range(staff.runtime.settings.open311_posts_per_10_minutes + 1)
    ]
    assert codes[:-1] == [201] * (len(codes) - 1)
    assert codes[-1] == 429
    refused = limited.post("/resident/reports", data=_form(service_code="H01"))
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0


def test_a_grid_worker_reports_from_patrol_in_their_own_name_and_grid(staff: StaffWorld) -> None:
    client, csrf = session_client(staff.app, "grid.worker")
    answer = client.post(
        "/worker/reports",
        data={
            "text": "巡查发现井盖缺失",
            "category_code": "C0101",
            "lon": "113.612",
            "lat": "34.715",
            "urgent": "1",
            "submission_id": str(uuid.uuid4()),
        },
        files=PHOTO,
        headers=csrf,
    )
    assert answer.status_code == 201, answer.text
    report = staff.runtime.intake.report(answer.json()["report_id"], may_see_personal_data=True)
    assert report["channel"] == "grid_patrol"
    assert report["intake"]["worker_id"] == "grid.worker"
    assert report["intake"]["grid_code"] == COMMUNITY_1
    assert report["intake"]["urgent"] is True
    assert report["category_code"] == "C0101"


def test_a_patrol_report_is_refused_without_csrf_session_or_the_power_to_patrol(
    staff: StaffWorld,
) -> None:
    form = {"text": "巡查发现", "lon": "113.612", "lat": "34.715"}
    before = _counts(staff)
    worker, _ = session_client(staff.app, "grid.worker")
    assert worker.post("/worker/reports", data=form).status_code == 403
    for username in ("auditor", "department.handler", "street.operator"):
        client, csrf = session_client(staff.app, username)
        assert client.post("/worker/reports", data=form, headers=csrf).status_code == 403
    assert staff.client.post("/worker/reports", data=form).status_code == 401
    assert _counts(staff) == before


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"text": ""}, "text"),
        ({"category_code": "E01"}, "category_code"),
        ({"lon": ""}, "location"),
    ],
)
def test_a_patrol_report_names_its_bad_field(
    staff: StaffWorld, changes: dict[str, str], field: str
) -> None:
    client, csrf = session_client(staff.app, "grid.worker")
    form = {"text": "巡查发现", "lon": "113.612", "lat": "34.715", **changes}
    answer = client.post("/worker/reports", data=form, headers=csrf)
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == field
