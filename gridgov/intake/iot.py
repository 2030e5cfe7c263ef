"""IoT readings to reports: per-device thresholds and a debounce that keeps flapping sensors quiet.

A device (per kind) is in one of two states:

    normal ──N consecutive readings over the limit, or over it for T──▶ raised  (one report)
    raised ──every reading back within the limit for the hold-off────▶ normal  (no report)

Time comes only from the readings, so a replay of the same readings gives the same reports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, timezone
from enum import StrEnum
from typing import Any

from gridgov.core.geo import Crs
from gridgov.intake.model import IntakeReport, ReporterKind

CHANNEL = "iot_sensor"
_CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")
# GB 3096 counts 22:00–06:00 as night for environmental noise limits.
NIGHT_STARTS, NIGHT_ENDS = time(22, 0), time(6, 0)


class SensorKind(StrEnum):
    MANHOLE_TILT = "manhole_tilt"
    WATER_LEVEL = "water_level"
    SMOKE = "smoke"
    NOISE = "noise"

    @property
    def label_zh(self) -> str:
        return _KIND_FACTS[self][0]

    @property
    def unit(self) -> str:
        """The unit every reading of this kind is converted to."""
        return _KIND_FACTS[self][1]

    @property
    def category_code(self) -> str:
        return _KIND_FACTS[self][2]

    @property
    def urgent(self) -> bool:
        return _KIND_FACTS[self][3]


# label, unit, taxonomy code (categories.csv I01), urgent as in the taxonomy
_KIND_FACTS: dict[SensorKind, tuple[str, str, str, bool]] = {
    SensorKind.MANHOLE_TILT: ("井盖倾斜", "°", "I0101", True),
    SensorKind.WATER_LEVEL: ("水位超限", "m", "I0102", True),
    SensorKind.SMOKE: ("烟感报警", "", "I0103", True),
    SensorKind.NOISE: ("噪声超标", "dB(A)", "I0104", False),
}


@dataclass(frozen=True)
class SensorReading:
    """One reading in its kind's unit; a smoke alarm reads 1.0 and all clear 0.0."""

    device_id: str
    kind: SensorKind
    value: float
    measured_at: datetime
    received_at: datetime
    lon: float | None = None
    lat: float | None = None
    crs: Crs | None = None
    address: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class Threshold:
    """A reading is over when its value exceeds `limit` (`night_limit` from 22:00 to 06:00)."""

    limit: float
    night_limit: float | None = None
    consecutive: int = 3
    sustain: timedelta = timedelta(seconds=60)
    hold_off: timedelta = timedelta(minutes=30)

    def __post_init__(self) -> None:
        if self.consecutive < 1 or self.sustain <= timedelta(0) or self.hold_off < timedelta(0):
            raise ValueError("a threshold needs consecutive >= 1, sustain > 0 and hold_off >= 0")

    def limit_at(self, at: datetime) -> float:
        if self.night_limit is None:
            return self.limit
        clock = at.astimezone(_CHINA_TZ).time()
        night = clock >= NIGHT_STARTS or clock < NIGHT_ENDS
        return self.night_limit if night else self.limit

    def exceeded_by(self, reading: SensorReading) -> bool:
        return reading.value > self.limit_at(reading.measured_at)


DEFAULT_THRESHOLDS: Mapping[SensorKind, Threshold] = {
    SensorKind.MANHOLE_TILT: Threshold(15.0, consecutive=3, sustain=timedelta(seconds=30)),
    SensorKind.WATER_LEVEL: Threshold(0.3, consecutive=3, sustain=timedelta(minutes=2)),
    # A smoke alarm is raised on the first alarm reading: a fire does not wait for a second one.
    SensorKind.SMOKE: Threshold(0.5, consecutive=1),
    SensorKind.NOISE: Threshold(
        80.0, night_limit=70.0, consecutive=5, sustain=timedelta(minutes=5)
    ),
}


class Thresholds:
    """The threshold of each kind, overridden for single devices (a deeper well, a quieter zone)."""

    def __init__(
        self,
        defaults: Mapping[SensorKind, Threshold] = DEFAULT_THRESHOLDS,
        per_device: Mapping[str, Threshold] | None = None,
    ) -> None:
        missing = [kind.value for kind in SensorKind if kind not in defaults]
        if missing:
            raise ValueError(f"no default threshold for {', '.join(missing)}")
        self._defaults = dict(defaults)
        self._per_device = dict(per_device or {})

    def for_reading(self, reading: SensorReading) -> Threshold:
        return self._per_device.get(reading.device_id) or self._defaults[reading.kind]


@dataclass
class _DeviceState:
    raised: bool = False
    run: int = 0
    run_since: datetime | None = None
    normal_since: datetime | None = None
    last_at: datetime | None = None


class SensorDebouncer:
    """Feeds readings in; returns a report when a device (per kind) is raised, else None."""

    def __init__(self, thresholds: Thresholds | None = None) -> None:
        self._thresholds = thresholds or Thresholds()
        self._states: dict[tuple[str, SensorKind], _DeviceState] = {}

    def is_raised(self, device_id: str, kind: SensorKind) -> bool:
        state = self._states.get((device_id, kind))
        return state is not None and state.raised

    def feed(self, reading: SensorReading) -> IntakeReport | None:
        state = self._states.setdefault((reading.device_id, reading.kind), _DeviceState())
        at = reading.measured_at
        # A resent or late reading must not count twice or move the clock backwards.
        if state.last_at is not None and at <= state.last_at:
            return None
        state.last_at = at
        threshold = self._thresholds.for_reading(reading)
        over = threshold.exceeded_by(reading)
        if state.raised:
            if over:
                state.normal_since = None
            else:
                state.normal_since = state.normal_since or at
                if at - state.normal_since >= threshold.hold_off:
                    state.raised, state.normal_since = False, None
            return None
        if not over:
            state.run, state.run_since = 0, None
            return None
        state.run += 1
        state.run_since = state.run_since or at
        if state.run < threshold.consecutive and at - state.run_since < threshold.sustain:
            return None
        readings_over = state.run
        state.raised, state.run, state.run_since, state.normal_since = True, 0, None, None
        return report_for(reading, threshold, readings_over=readings_over)


def report_for(reading: SensorReading, threshold: Threshold, *, readings_over: int) -> IntakeReport:
    """The report a raised reading becomes; its external id is stable for the same reading."""
    kind = reading.kind
    local = reading.measured_at.astimezone(_CHINA_TZ)
    limit = threshold.limit_at(reading.measured_at)
    if kind is SensorKind.SMOKE:
        text = f"烟感探测器 {reading.device_id} 于 {local:%Y-%m-%d %H:%M:%S} 报警"
    else:
        text = (
            f"{kind.label_zh}：传感器 {reading.device_id} 于 {local:%Y-%m-%d %H:%M:%S} 读数 "
            f"{reading.value:g}{kind.unit}，超过阈值 {limit:g}{kind.unit}"
        )
    if readings_over > 1:
        text += f"（连续 {readings_over} 次超限）"
    utc = reading.measured_at.astimezone(UTC)
    fraction = f".{utc.microsecond:06d}" if utc.microsecond else ""
    stamp = f"{utc:%Y%m%dT%H%M%S}{fraction}Z"
    return IntakeReport(
        channel=CHANNEL,
        external_id=f"{reading.device_id}/{kind.value}/{stamp}",
        received_at=reading.received_at,
        reported_at=reading.measured_at,
        title=f"物联感知告警：{kind.label_zh}",
        text=text,
        reporter_kind=ReporterKind.DEVICE,
        address=reading.address,
        lon=reading.lon,
        lat=reading.lat,
        crs=reading.crs,
        category_hint=kind.value,
        category_code=kind.category_code,
        urgent=kind.urgent,
        device_id=reading.device_id,
        details={
            "sensor_kind": kind.value,
            "value": reading.value,
            "unit": kind.unit,
            "limit": limit,
            "readings_over": readings_over,
        },
        raw=reading.raw,
    )
