"""IoT sensor readings and alarms (物联感知): manhole tilt, water level, smoke, noise."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gridgov.core.errors import InvalidInput
from gridgov.core.geo import Crs
from gridgov.intake.channels.base import (
    MAX_ADDRESS_CHARS,
    Payload,
    check_received_at,
    describe,
    read_coordinates,
)
from gridgov.intake.iot import SensorKind, SensorReading, Thresholds, report_for
from gridgov.intake.model import IntakeReport

# Units a device may send, with the factor to its kind's unit (SensorKind.unit).
UNITS: Mapping[SensorKind, Mapping[str, float]] = {
    SensorKind.MANHOLE_TILT: {"deg": 1.0, "°": 1.0, "degree": 1.0},
    SensorKind.WATER_LEVEL: {"m": 1.0, "cm": 0.01, "mm": 0.001},
    SensorKind.NOISE: {"db": 1.0, "dba": 1.0, "db(a)": 1.0},
}
RANGES: Mapping[SensorKind, tuple[float, float]] = {
    SensorKind.MANHOLE_TILT: (0.0, 180.0),
    SensorKind.WATER_LEVEL: (-20.0, 100.0),
    SensorKind.NOISE: (0.0, 200.0),
}


def parse_reading(payload: Mapping[str, Any], *, received_at: datetime) -> SensorReading:
    """Validate one device message into a reading; the path for streams of readings."""
    check_received_at(received_at)
    p = Payload(payload)
    device_id = p.identifier("device_id")
    kind_name = p.identifier("kind")
    try:
        kind = SensorKind(kind_name)
    except ValueError:
        known = ", ".join(k.value for k in SensorKind)
        raise InvalidInput(
            p.at("kind"), f"unknown sensor kind {kind_name!r}; expected one of {known}"
        ) from None
    measured_at = p.when("measured_at", received_at=received_at)
    value = _value(p.section("reading"), kind)
    lon = lat = None
    crs = None
    address = None
    # Devices are surveyed when installed, so the pipeline may place one by its id instead.
    location = p.optional_section("location")
    if location is not None:
        coordinates = read_coordinates(location, default_crs=Crs.WGS84)
        if coordinates is not None:
            lon, lat, crs = coordinates
        address = location.optional_text("address", limit=MAX_ADDRESS_CHARS)
    return SensorReading(
        device_id, kind, value, measured_at, received_at, lon, lat, crs, address, raw=payload
    )


def _value(reading: Payload, kind: SensorKind) -> float:
    if kind is SensorKind.SMOKE:
        raw = reading.data.get("value")
        if isinstance(raw, bool):
            return 1.0 if raw else 0.0
        if raw in (0, 1) and not isinstance(raw, bool):
            return float(raw)
        raise InvalidInput(
            reading.at("value"), f"wrong type: a smoke alarm is true or false, got {describe(raw)}"
        )
    unit = reading.identifier("unit")
    factor = UNITS[kind].get(unit.lower())
    if factor is None:
        known = ", ".join(UNITS[kind])
        raise InvalidInput(
            reading.at("unit"), f"unknown unit {unit!r} for {kind.value}; expected one of {known}"
        )
    low, high = RANGES[kind]
    return reading.number("value", low=low / factor, high=high / factor) * factor


class IotSensor:
    """One message as one report: for gateways that push alarms they have already confirmed.

    Streams of readings go through `parse_reading` and `gridgov.intake.iot.SensorDebouncer`
    instead; `parse` refuses a reading within its limit, since it is not a report.
    """

    name = "iot_sensor"
    label_zh = "物联感知"

    def __init__(self, thresholds: Thresholds | None = None) -> None:
        self._thresholds = thresholds or Thresholds()

    def parse(self, payload: Mapping[str, Any], *, received_at: datetime) -> IntakeReport:
        reading = parse_reading(payload, received_at=received_at)
        threshold = self._thresholds.for_reading(reading)
        if not threshold.exceeded_by(reading):
            raise InvalidInput(
                "payload.reading.value",
                f"within the limit {threshold.limit_at(reading.measured_at):g}: a reading, not an "
                "alarm (send readings to the debouncer)",
            )
        return report_for(reading, threshold, readings_over=1)
