"""Sensor thresholds and debounce: one report per real alarm, none from noise, few from flapping."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from gridgov.core.errors import InvalidInput
from gridgov.intake.channels.iot_sensor import parse_reading
from gridgov.intake.iot import (
    SensorDebouncer,
    SensorKind,
    SensorReading,
    Threshold,
    Thresholds,
)
from gridgov.intake.model import IntakeReport, ReporterKind

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 27, 14, 0, tzinfo=CST)
TILT = "ZZ-MH-0371-004512"


def reading(
    value: float,
    seconds: float,
    *,
    kind: SensorKind = SensorKind.MANHOLE_TILT,
    device: str = TILT,
    start: datetime = T0,
) -> SensorReading:
    at = start + timedelta(seconds=seconds)
    return SensorReading(device, kind, value, at, at)


def feed_all(debouncer: SensorDebouncer, readings: list[SensorReading]) -> list[IntakeReport]:
    return [r for r in map(debouncer.feed, readings) if r is not None]


@pytest.mark.parametrize(
    ("kind", "value", "at", "over"),
    [
        (SensorKind.MANHOLE_TILT, 15.0, T0, False),
        (SensorKind.MANHOLE_TILT, 15.1, T0, True),
        (SensorKind.WATER_LEVEL, 0.3, T0, False),
        (SensorKind.WATER_LEVEL, 0.31, T0, True),
        (SensorKind.SMOKE, 0.0, T0, False),
        (SensorKind.SMOKE, 1.0, T0, True),
        (SensorKind.NOISE, 75.0, T0, False),
        (SensorKind.NOISE, 75.0, T0.replace(hour=22, minute=0), True),
        (SensorKind.NOISE, 75.0, T0.replace(hour=5, minute=59), True),
        (SensorKind.NOISE, 75.0, T0.replace(hour=6, minute=0), False),
        (SensorKind.NOISE, 81.0, T0, True),
    ],
)
def test_default_thresholds_per_kind_with_a_stricter_noise_limit_at_night(
    kind: SensorKind, value: float, at: datetime, over: bool
) -> None:
    threshold = Thresholds().for_reading(SensorReading("d", kind, value, at, at))
    assert threshold.exceeded_by(SensorReading("d", kind, value, at, at)) is over


def test_night_is_judged_in_china_time_whatever_the_reading_zone() -> None:
    at = datetime(2026, 11, 27, 14, 30, tzinfo=UTC)  # 22:30 in Zhengzhou
    noise = SensorReading("n", SensorKind.NOISE, 75.0, at, at)
    assert Thresholds().for_reading(noise).exceeded_by(noise)


def test_a_device_threshold_overrides_the_kind_default() -> None:
    deep_well = Threshold(1.5, consecutive=1)
    thresholds = Thresholds(per_device={"WL-01": deep_well})
    assert (
        thresholds.for_reading(reading(1.0, 0, kind=SensorKind.WATER_LEVEL, device="WL-01"))
        is deep_well
    )
    debouncer = SensorDebouncer(thresholds)
    assert debouncer.feed(reading(1.0, 0, kind=SensorKind.WATER_LEVEL, device="WL-01")) is None
    assert debouncer.feed(reading(1.6, 10, kind=SensorKind.WATER_LEVEL, device="WL-01")) is not None


def test_a_single_spike_raises_nothing() -> None:
    debouncer = SensorDebouncer()
    assert (
        feed_all(debouncer, [reading(v, 5 * i) for i, v in enumerate([3, 40, 3, 3, 41, 2])]) == []
    )


def test_three_consecutive_readings_over_the_limit_raise_one_report() -> None:
    debouncer = SensorDebouncer()
    results = [debouncer.feed(reading(v, 5 * i)) for i, v in enumerate([20, 21, 22, 23, 24])]
    assert [r is not None for r in results] == [False, False, True, False, False]
    report = results[2]
    assert report is not None
    assert report.external_id == f"{TILT}/manhole_tilt/20261127T060010Z"
    assert (report.channel, report.category_code, report.urgent) == ("iot_sensor", "I0101", True)
    assert (report.reporter_kind, report.device_id) == (ReporterKind.DEVICE, TILT)
    assert report.reported_at == T0 + timedelta(seconds=10)
    assert report.details["readings_over"] == 3
    assert "22°" in report.text and "15°" in report.text


def test_readings_over_the_limit_for_the_sustain_time_raise_even_when_sparse() -> None:
    debouncer = SensorDebouncer()
    assert debouncer.feed(reading(20, 0)) is None
    raised = debouncer.feed(reading(20, 600))
    assert raised is not None and raised.details["readings_over"] == 2


def test_a_smoke_alarm_raises_on_the_first_alarm_reading() -> None:
    debouncer = SensorDebouncer()
    report = debouncer.feed(reading(1.0, 0, kind=SensorKind.SMOKE, device="SM-7"))
    assert report is not None
    assert (report.category_code, report.title) == ("I0103", "物联感知告警：烟感报警")


def test_a_raised_device_stays_quiet_until_normal_for_the_hold_off() -> None:
    debouncer = SensorDebouncer()
    assert len(feed_all(debouncer, [reading(30, i) for i in range(0, 30, 10)])) == 1
    # back to normal for 20 minutes, then over again: still the same alarm
    normal = [reading(2, 60 + 60 * i) for i in range(20)]
    again = [reading(30, 1_300 + 10 * i) for i in range(5)]
    assert feed_all(debouncer, normal + again) == []
    assert debouncer.is_raised(TILT, SensorKind.MANHOLE_TILT)
    # normal for the full 30 minutes clears it; the next real alarm is a new report
    cleared = [reading(2, 1_400 + 60 * i) for i in range(32)]
    assert feed_all(debouncer, cleared) == []
    assert not debouncer.is_raised(TILT, SensorKind.MANHOLE_TILT)
    assert len(feed_all(debouncer, [reading(30, 3_400 + 10 * i) for i in range(3)])) == 1


def test_resent_and_out_of_order_readings_do_not_count() -> None:
    debouncer = SensorDebouncer()
    first, second = reading(20, 0), reading(20, 10)
    assert feed_all(debouncer, [first, second, second, first, reading(20, 5)]) == []
    assert debouncer.feed(reading(20, 20)) is not None


def test_devices_and_kinds_are_debounced_separately() -> None:
    debouncer = SensorDebouncer()
    mixed = []
    for i in range(3):
        mixed += [reading(20, i, device="A"), reading(20, i, device="B")]
        mixed.append(reading(0.5, i, kind=SensorKind.WATER_LEVEL, device="A"))
    reports = feed_all(debouncer, mixed)
    assert sorted((r.device_id, r.category_code) for r in reports) == [
        ("A", "I0101"),
        ("A", "I0102"),
        ("B", "I0101"),
    ]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_flapping_sensor_does_not_flood_the_queue(seed: int) -> None:
    rng = random.Random(seed)
    debouncer = SensorDebouncer()
    flapping = [reading(rng.choice([2.0, 30.0]), 10 * i) for i in range(1_000)]
    reports = feed_all(debouncer, flapping)
    assert 1 <= len(reports) <= 3


def test_a_strictly_alternating_sensor_raises_nothing() -> None:
    debouncer = SensorDebouncer()
    alternating = [reading(30.0 if i % 2 else 2.0, 10 * i) for i in range(1_000)]
    assert feed_all(debouncer, alternating) == []


def test_the_same_readings_give_the_same_reports() -> None:
    rng = random.Random(7)
    readings = [reading(rng.choice([2.0, 30.0, 30.0]), 10 * i) for i in range(500)]
    assert feed_all(SensorDebouncer(), readings) == feed_all(SensorDebouncer(), readings)


@pytest.mark.parametrize(
    ("kind", "raw", "value"),
    [
        ("water_level", {"value": 35, "unit": "cm"}, 0.35),
        ("water_level", {"value": 120, "unit": "mm"}, 0.12),
        ("manhole_tilt", {"value": 18.5, "unit": "°"}, 18.5),
        ("noise", {"value": 72.4, "unit": "dB(A)"}, 72.4),
        ("smoke", {"value": True}, 1.0),
        ("smoke", {"value": 0}, 0.0),
    ],
)
def test_readings_are_converted_to_the_unit_of_their_kind(
    kind: str, raw: dict[str, object], value: float
) -> None:
    payload = {"device_id": "D-1", "kind": kind, "reading": raw, "measured_at": 1795742553}
    parsed = parse_reading(payload, received_at=T0.replace(hour=23))
    assert parsed.value == pytest.approx(value)
    assert parsed.kind is SensorKind(kind)


def test_a_smoke_reading_must_be_true_or_false() -> None:
    payload = {
        "device_id": "D-1",
        "kind": "smoke",
        "reading": {"value": "报警"},
        "measured_at": 1795742553,
    }
    with pytest.raises(InvalidInput) as err:
        parse_reading(payload, received_at=T0)
    assert err.value.field == "payload.reading.value"


def test_a_threshold_needs_at_least_one_reading_to_raise() -> None:
    with pytest.raises(ValueError):
        Threshold(15.0, consecutive=0)
