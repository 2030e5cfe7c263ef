"""Every channel's documented sample parses as documented; every kind of bad payload names its field."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest

from gridgov.core.errors import InvalidInput
from gridgov.core.geo import Crs
from gridgov.intake.channels import ChannelRegistry, adapter, adapters
from gridgov.intake.model import Callback, IntakeReport, PhotoRef, PhotoSource, ReporterKind
from tests.intake.channel_samples import (
    CHANNELS,
    CST,
    DELETE,
    DOCS,
    RECEIVED,
    broken,
    parse,
    sample,
)

EXPECTED: dict[str, dict[str, object]] = {
    "hotline_12345": {
        "external_id": "ZZ12345-20261127-000123",
        "reported_at": datetime(2026, 11, 27, 9, 12, 33, tzinfo=CST),
        "title": "小区门口污水井盖破损",
        "reporter_kind": ReporterKind.CITIZEN,
        "address": "郑州市金水区纬五路与经七路交叉口东北角",
        "lon": None,
        "crs": None,
        "category_hint": "0101 城乡建设/市政设施/井盖",
        "category_code": "H01",
        "urgent": False,
        "reporter_name": "王女士",
        "reporter_phone": "13812345678",
        "deadline_hint": datetime(2026, 12, 16, 18, 0, tzinfo=CST),
        "callback": Callback(
            "ZZ12345-20261127-000123",
            "https://12345.zhengzhou.example/api/orders/ZZ12345-20261127-000123/feedback",
        ),
        "details": {"appeal_type": "投诉举报"},
    },
    "police_110": {
        "external_id": "J4101052026112700087",
        "reported_at": datetime(2026, 11, 27, 8, 41, 5, tzinfo=CST),
        "reporter_kind": ReporterKind.POLICE,
        "address": "郑州市金水区文化路与农业路交叉口西南角",
        "lon": 113.6621,
        "lat": 34.7842,
        "crs": Crs.CGCS2000,
        "category_hint": "噪声扰民",
        "urgent": True,
        "reporter_phone": "0371-65432178",
        "details": {
            "police_station": "文化路派出所",
            "transferred_at": "2026-11-27T08:55:40+08:00",
        },
    },
    "city_management": {
        "external_id": "CG2026112700456",
        "reported_at": datetime(2026, 11, 27, 8, 35, 10, tzinfo=CST),
        "reporter_kind": ReporterKind.INSPECTOR,
        "reporter_name": "刘建国",
        "lon": 113.6854,
        "crs": Crs.CGCS2000,
        "category_hint": "部件 0101 上水井盖",
        "category_code": "C0101",
        "photos": (
            PhotoRef(PhotoSource.ID, "CG-IMG-20261127-0456-1", "image/jpeg"),
            PhotoRef(PhotoSource.ID, "CG-IMG-20261127-0456-2", "image/jpeg"),
        ),
        "details": {
            "inspector_id": "JDY-0371-0456",
            "class_kind": "component",
            "class_code": "0101",
            "object_id": "4101050101000128",
        },
    },
    "civilization": {
        "external_id": "WM-2026-Q4-03-0087",
        "reported_at": datetime(2026, 11, 26, 15, 20, tzinfo=CST),
        "title": "文明创建测评问题：背街小巷环境卫生",
        "reporter_kind": ReporterKind.INSPECTOR,
        "crs": Crs.GCJ02,
        "deadline_hint": datetime(2026, 11, 29, 18, 0, tzinfo=CST),
        "photos": (
            PhotoRef(PhotoSource.ID, "WM-IMG-0087-1"),
            PhotoRef(PhotoSource.ID, "WM-IMG-0087-2"),
        ),
    },
    "heating": {
        "external_id": "RL20261127-0042",
        "address": "郑州市二七区大学路某小区3号楼2单元501室",
        "lon": None,
        "category_hint": "室温不达标",
        "category_code": "H1601",
        "reporter_phone": "13903716688",
        "details": {
            "account_no": "0102345678",
            "company": "郑州热力集团有限公司",
            "indoor_temperature": 14.5,
        },
    },
    "citizen_app": {
        "external_id": "APP-7f3e2c9a-1d4b-4a7e-9c21-5b8e0f6a2d13",
        "reporter_kind": ReporterKind.CITIZEN,
        "lon": 113.6918,
        "lat": 34.8102,
        "crs": Crs.GCJ02,
        "category_hint": "占道经营",
        "reporter_phone": "+86 186-0371-2233",
        "details": {"user_id": "u_20240615_88231", "gps_accuracy_m": 12.0},
    },
    "grid_patrol": {
        "external_id": "GP-410105001002-20261127-0015",
        "reporter_kind": ReporterKind.GRID_WORKER,
        "worker_id": "W410105001002003",
        "grid_code": "410105001002",
        "category_code": "E0201",
        "crs": Crs.GCJ02,
        "address": "金水区经八路街道某社区3号楼",
        "details": {"handled_on_site": False},
    },
    "iot_sensor": {
        "external_id": "ZZ-MH-0371-004512/manhole_tilt/20261126T181405Z",
        "reported_at": datetime(2026, 11, 27, 2, 14, 5, tzinfo=CST),
        "title": "物联感知告警：井盖倾斜",
        "reporter_kind": ReporterKind.DEVICE,
        "device_id": "ZZ-MH-0371-004512",
        "category_code": "I0101",
        "urgent": True,
        "crs": Crs.WGS84,
    },
}


@pytest.mark.parametrize("channel", CHANNELS)
def test_sample_payload_parses_into_the_documented_report(channel: str) -> None:
    report = parse(channel, sample(channel))
    assert report.channel == channel
    assert report.received_at == RECEIVED
    assert {k: getattr(report, k) for k in EXPECTED[channel]} == EXPECTED[channel]


@pytest.mark.parametrize("channel", CHANNELS)
def test_report_keeps_the_payload_verbatim(channel: str) -> None:
    payload = sample(channel)
    report = parse(channel, payload)
    assert report.raw == sample(channel)
    if channel != "iot_sensor":
        text_key = {"hotline_12345": "content", "police_110": "summary"}.get(channel)
        verbatim = (
            payload[text_key] if text_key else payload.get("description", payload.get("text"))
        )
        assert report.text == verbatim


def test_every_registered_channel_has_a_sample_and_a_section_in_the_docs() -> None:
    text = (DOCS / "channels.md").read_text(encoding="utf-8")
    assert sorted(a.name for a in adapters()) == sorted(CHANNELS)
    assert [a.name for a in adapters() if f"## `{a.name}`" not in text] == []
    assert [a.name for a in adapters() if not (DOCS / "channels" / f"{a.name}.json").exists()] == []


def test_unknown_channel_is_refused_naming_the_channel() -> None:
    with pytest.raises(InvalidInput) as err:
        adapter("wechat")
    assert err.value.field == "channel"
    assert "wechat" in err.value.problem and "hotline_12345" in err.value.problem


@dataclass
class EchoAdapter:
    name: str = "street_camera"
    label_zh: str = "街面视频"

    def parse(self, payload: Mapping[str, Any], *, received_at: datetime) -> IntakeReport:
        return IntakeReport(
            channel=self.name,
            external_id=str(payload["id"]),
            received_at=received_at,
            reported_at=received_at,
            title="视频巡查",
            text=str(payload["text"]),
            reporter_kind=ReporterKind.DEVICE,
        )


def test_third_party_adapter_registers_and_parses_like_the_builtin_ones() -> None:
    registry = ChannelRegistry()
    registry.register(EchoAdapter())
    report = registry.adapter("street_camera").parse(
        {"id": 7, "text": "占道经营"}, received_at=RECEIVED
    )
    assert (report.channel, report.external_id) == ("street_camera", "7")


def test_a_second_adapter_under_a_taken_name_is_refused() -> None:
    registry = ChannelRegistry()
    registry.register(EchoAdapter())
    with pytest.raises(ValueError, match="already registered"):
        registry.register(EchoAdapter())


def test_an_object_without_parse_cannot_be_registered() -> None:
    with pytest.raises(TypeError):
        ChannelRegistry().register(object())  # type: ignore[arg-type]


# Bad payloads, table-driven: each channel's sample, broken one way at a time.


@dataclass(frozen=True)
class Shape:
    id_key: str
    time_key: str
    text_key: str | None
    coords: str | None


SHAPES = {
    "hotline_12345": Shape("order_no", "accepted_at", "content", "location"),
    "police_110": Shape("incident_no", "reported_at", "summary", "location"),
    "city_management": Shape("case_no", "found_at", "description", "location"),
    "civilization": Shape("finding_id", "inspected_at", "description", "location"),
    "heating": Shape("complaint_no", "complained_at", "description", None),
    "citizen_app": Shape("submission_id", "submitted_at", "text", "gps"),
    "grid_patrol": Shape("report_id", "patrolled_at", "text", "gps"),
    "iot_sensor": Shape("device_id", "measured_at", None, "location"),
}


def bad_cases() -> list[Any]:
    cases = []
    for channel, shape in SHAPES.items():
        table: list[tuple[str, str, object, str]] = [
            ("missing id", shape.id_key, DELETE, "missing"),
            ("id of wrong type", shape.id_key, ["x"], "wrong type"),
            ("id with spaces", shape.id_key, "A 1", "spaces"),
            ("missing time", shape.time_key, DELETE, "missing"),
            ("time of wrong type", shape.time_key, True, "wrong type"),
            ("unparseable date", shape.time_key, "2026年11月27日上午", "date not parseable"),
            ("impossible date", shape.time_key, "2026-02-30 09:00:00", "date not parseable"),
            ("date in the future", shape.time_key, "2026-11-28T10:00:00+08:00", "out of range"),
            ("date before 2000", shape.time_key, "1970-01-01 08:00:00", "out of range"),
        ]
        if shape.text_key:
            table += [
                ("missing text", shape.text_key, DELETE, "missing"),
                ("empty text", shape.text_key, "  \n ", "empty"),
                ("oversized text", shape.text_key, "井盖" * 2_501, "too long"),
                ("text of wrong type", shape.text_key, 12345, "wrong type"),
                ("text with a NUL", shape.text_key, "井盖\x00破损", "control characters"),
            ]
        if shape.coords:
            c = shape.coords
            table += [
                ("NaN latitude", f"{c}.lat", math.nan, "not a number"),
                ("infinite longitude", f"{c}.lon", math.inf, "not a number"),
                ("latitude as a string", f"{c}.lat", "34.75", "wrong type"),
                ("latitude out of range", f"{c}.lat", 95.0, "out of range"),
                ("longitude out of range", f"{c}.lon", 200.0, "out of range"),
                ("latitude without longitude", f"{c}.lon", DELETE, "missing"),
                ("unknown coordinate system", f"{c}.crs", "utm50n", "unknown coordinate system"),
                ("coordinate system of wrong type", f"{c}.crs", 4326, "wrong type"),
                ("boolean as a coordinate", f"{c}.lon", True, "wrong type"),
            ]
        # Residents and devices do not get to flag urgency; every other channel may.
        if channel not in ("iot_sensor", "citizen_app"):
            table.append(("urgent flag as text", "urgent", "是", "wrong type"))
        for label, key, value, problem in table:
            cases.append(pytest.param(channel, key, value, problem, id=f"{channel}: {label}"))
    return cases


@pytest.mark.parametrize(("channel", "key", "value", "problem"), bad_cases())
def test_bad_payload_is_refused_naming_the_field_and_the_problem(
    channel: str, key: str, value: object, problem: str
) -> None:
    payload, path = broken(channel, key, value)
    with pytest.raises(InvalidInput) as err:
        parse(channel, payload)
    assert err.value.field == path
    assert problem in err.value.problem


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_payload_that_is_not_an_object_is_refused(channel: str) -> None:
    with pytest.raises(InvalidInput) as err:
        adapter(channel).parse([sample(channel)], received_at=RECEIVED)  # type: ignore[arg-type]
    assert (err.value.field, err.value.problem) == (
        "payload",
        "wrong type: expected an object, got a list",
    )


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_naive_receipt_time_is_refused(channel: str) -> None:
    with pytest.raises(InvalidInput) as err:
        adapter(channel).parse(sample(channel), received_at=RECEIVED.replace(tzinfo=None))
    assert err.value.field == "received_at"


@pytest.mark.parametrize("channel", ["hotline_12345", "police_110", "civilization"])
def test_a_report_with_neither_coordinates_nor_address_is_refused(channel: str) -> None:
    payload = sample(channel)
    payload.pop("address", None)
    payload.pop("location", None)
    with pytest.raises(InvalidInput) as err:
        parse(channel, payload)
    assert (err.value.field, err.value.problem) == (
        "payload.location",
        "missing: neither coordinates nor an address",
    )


def test_citizen_app_must_declare_its_coordinate_system() -> None:
    payload, path = broken("citizen_app", "gps.crs", DELETE)
    with pytest.raises(InvalidInput) as err:
        parse("citizen_app", payload)
    assert err.value.field == path and err.value.problem.startswith("missing")


@pytest.mark.parametrize(
    ("declared", "crs"),
    [("wgs84", Crs.WGS84), ("GCJ-02", Crs.GCJ02), ("bd09", Crs.BD09), ("BD-09", Crs.BD09)],
)
def test_citizen_app_coordinates_keep_the_declared_system(declared: str, crs: Crs) -> None:
    payload, _ = broken("citizen_app", "gps.crs", declared)
    assert parse("citizen_app", payload).crs is crs


def test_swapped_longitude_and_latitude_are_named_as_such() -> None:
    payload, _ = broken("police_110", "location.lat", 113.66)
    payload["location"]["lon"] = 34.78
    with pytest.raises(InvalidInput, match="look swapped"):
        parse("police_110", payload)


@pytest.mark.parametrize(
    ("text", "timestamp", "expected"),
    [
        ("ISO with offset", "2026-11-27T01:12:33Z", datetime(2026, 11, 27, 9, 12, 33, tzinfo=CST)),
        (
            "local without offset",
            "2026-11-27 09:12:33",
            datetime(2026, 11, 27, 9, 12, 33, tzinfo=CST),
        ),
        ("slashes", "2026/11/27 09:12", datetime(2026, 11, 27, 9, 12, tzinfo=CST)),
        ("Unix seconds", 1795742553, datetime(2026, 11, 27, 9, 22, 33, tzinfo=CST)),
        ("Unix milliseconds", 1795742553000, datetime(2026, 11, 27, 9, 22, 33, tzinfo=CST)),
    ],
)
def test_channel_times_are_read_as_china_time_unless_they_say_otherwise(
    text: str, timestamp: object, expected: datetime
) -> None:
    payload, _ = broken("police_110", "reported_at", timestamp)
    assert parse("police_110", payload).reported_at == expected
