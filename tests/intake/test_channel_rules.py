"""Channel-specific rules: class mappings, consistency checks, photos, units."""

from __future__ import annotations

import math

import pytest

from gridgov.core.errors import InvalidInput
from gridgov.intake.model import PhotoRef, PhotoSource
from tests.intake.channel_samples import DELETE, broken, parse, sample


def test_a_hotline_deadline_before_the_order_is_refused() -> None:
    payload, path = broken("hotline_12345", "deadline", "2026-11-01 18:00:00")
    with pytest.raises(InvalidInput) as err:
        parse("hotline_12345", payload)
    assert err.value.field == path and "before the report" in err.value.problem


@pytest.mark.parametrize(
    ("name", "code"),
    [("城乡建设", "H01"), ("供热/室温", "H16"), ("劳动和社会保障", "H15"), ("其他", None)],
)
def test_hotline_classes_map_to_the_hotline_taxonomy_by_first_level_name(
    name: str, code: str | None
) -> None:
    payload, _ = broken("hotline_12345", "category", {"name": name})
    report = parse("hotline_12345", payload)
    assert (report.category_hint, report.category_code) == (name, code)


def test_hotline_callback_url_must_be_http() -> None:
    payload, path = broken("hotline_12345", "callback.url", "ftp://12345.example/x")
    with pytest.raises(InvalidInput) as err:
        parse("hotline_12345", payload)
    assert err.value.field == path


def test_an_unknown_hotline_appeal_type_is_refused() -> None:
    payload, path = broken("hotline_12345", "appeal_type", "闲聊")
    with pytest.raises(InvalidInput) as err:
        parse("hotline_12345", payload)
    assert err.value.field == path


@pytest.mark.parametrize(
    ("kind", "code", "hint", "mapped"),
    [
        ("event", "0102", "事件 0102", "E0102"),
        ("component", "0105", "部件 0105", "C0105"),
        ("component", "0999", "部件 0999", None),
        ("event", "1301", "事件 1301", None),
    ],
)
def test_city_management_codes_map_to_the_taxonomy_and_unknown_ones_stay_as_hint(
    kind: str, code: str, hint: str, mapped: str | None
) -> None:
    payload = sample("city_management")
    payload["class"] = {"kind": kind, "code": code}
    payload.pop("object_id")
    report = parse("city_management", payload)
    assert (report.category_hint, report.category_code) == (hint, mapped)


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("class.kind", "facility", "unknown class kind"),
        ("class.code", "01A1", "not a valid code"),
        ("class.code", DELETE, "missing"),
        ("object_id", "41010501010001", "not a 16-digit component code"),
        ("object_id", "4101050102000128", "does not match payload.class.code 0101"),
        ("inspector.id", DELETE, "missing"),
        ("photos", "CG-IMG-1", "wrong type"),
    ],
)
def test_city_management_refuses_inconsistent_classes_and_objects(
    key: str, value: object, problem: str
) -> None:
    payload, path = broken("city_management", key, value)
    with pytest.raises(InvalidInput) as err:
        parse("city_management", payload)
    assert err.value.field == path and problem in err.value.problem


def test_an_event_case_cannot_carry_a_component_object_id() -> None:
    payload, _ = broken("city_management", "class.kind", "event")
    with pytest.raises(InvalidInput) as err:
        parse("city_management", payload)
    assert err.value.field == "payload.object_id"


@pytest.mark.parametrize(
    ("photo", "problem"),
    [
        ({"id": "a", "url": "https://x.example/a.jpg"}, "exactly one of id, url or base64"),
        ({}, "exactly one of id, url or base64"),
        ({"base64": "这不是图片"}, "not base64"),
        ({"url": "file:///etc/passwd"}, "not an http(s) URL"),
        ({"id": "a", "media_type": "jpeg"}, "not a media type"),
        (42, "wrong type"),
    ],
)
def test_a_malformed_photo_reference_is_refused_naming_its_index(
    photo: object, problem: str
) -> None:
    payload = sample("city_management")
    payload["photos"] = [{"id": "ok"}, photo]
    with pytest.raises(InvalidInput) as err:
        parse("city_management", payload)
    assert err.value.field.startswith("payload.photos[1]")
    assert problem in err.value.problem


def test_more_than_twenty_photos_are_refused() -> None:
    payload, path = broken("citizen_app", "photos", [f"img-{i}" for i in range(21)])
    with pytest.raises(InvalidInput) as err:
        parse("citizen_app", payload)
    assert err.value.field == path and "too many" in err.value.problem


def test_photo_urls_are_carried_as_references() -> None:
    payload, _ = broken("grid_patrol", "photos", [{"url": "https://oss.example/gp/1.jpg"}])
    assert parse("grid_patrol", payload).photos == (
        PhotoRef(PhotoSource.URL, "https://oss.example/gp/1.jpg"),
    )


@pytest.mark.parametrize(
    ("complaint_type", "temperature", "code", "urgent"),
    [
        ("室温不达标", 14.5, "H1601", False),
        (None, 16.0, "H1601", False),
        (None, 19.5, "H16", False),
        ("暖气漏水", None, "H1602", True),
        ("供热收费异议", None, "H1603", False),
    ],
)
def test_heating_complaints_map_to_the_heating_classes(
    complaint_type: str | None, temperature: float | None, code: str, urgent: bool
) -> None:
    payload = sample("heating")
    payload["complaint_type"] = complaint_type
    payload["indoor_temperature"] = temperature
    report = parse("heating", payload)
    assert (report.category_code, report.urgent) == (code, urgent)


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("indoor_temperature", "14度", "wrong type"),
        ("indoor_temperature", 85.0, "out of range"),
        ("address", DELETE, "missing"),
        ("account_no", "户号 12", "spaces"),
        ("company", DELETE, "missing"),
        ("customer.phone", "请拨打热线", "not a phone number"),
    ],
)
def test_heating_refuses_bad_account_temperature_and_address(
    key: str, value: object, problem: str
) -> None:
    payload, path = broken("heating", key, value)
    with pytest.raises(InvalidInput) as err:
        parse("heating", payload)
    assert err.value.field == path and problem in err.value.problem


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("deduction", -1, "out of range"),
        ("deduction", "0.5分", "wrong type"),
        ("item.name", DELETE, "missing"),
        ("batch", DELETE, "missing"),
    ],
)
def test_civilization_refuses_bad_deductions_and_items(
    key: str, value: object, problem: str
) -> None:
    payload, path = broken("civilization", key, value)
    with pytest.raises(InvalidInput) as err:
        parse("civilization", payload)
    assert err.value.field == path and problem in err.value.problem


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("grid_code", "金水区", "not a valid code"),
        ("worker", DELETE, "missing"),
        ("category_code", "井盖", "not a valid code"),
    ],
)
def test_grid_patrol_refuses_a_report_without_worker_or_valid_grid(
    key: str, value: object, problem: str
) -> None:
    payload, path = broken("grid_patrol", key, value)
    with pytest.raises(InvalidInput) as err:
        parse("grid_patrol", payload)
    assert err.value.field == path and problem in err.value.problem


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("kind", "earthquake", "unknown sensor kind"),
        ("reading.unit", "inch", "unknown unit"),
        ("reading.value", "23.6", "wrong type"),
        ("reading.value", math.nan, "not a number"),
        ("reading.value", 400.0, "out of range"),
        ("reading", DELETE, "missing"),
    ],
)
def test_iot_sensor_refuses_unknown_kinds_units_and_values(
    key: str, value: object, problem: str
) -> None:
    payload, path = broken("iot_sensor", key, value)
    with pytest.raises(InvalidInput) as err:
        parse("iot_sensor", payload)
    assert err.value.field == path and problem in err.value.problem


def test_iot_sensor_refuses_a_reading_within_its_limit_as_a_report() -> None:
    payload, path = broken("iot_sensor", "reading.value", 3.0)
    with pytest.raises(InvalidInput) as err:
        parse("iot_sensor", payload)
    assert err.value.field == path and "not an alarm" in err.value.problem


def test_iot_sensor_without_a_location_is_left_to_the_device_registry() -> None:
    payload, _ = broken("iot_sensor", "location", DELETE)
    report = parse("iot_sensor", payload)
    assert (report.lon, report.crs, report.address) == (None, None, None)
