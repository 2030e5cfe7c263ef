"""IoT readings through a real mosquitto broker into the intake pipeline, on both dialects."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select

from devtools.mqtt_broker import TempBroker
from gridgov.api.mqtt import SensorBridge
from gridgov.bootstrap import Runtime, build_runtime
from gridgov.config import load_settings
from gridgov.store.migrate import upgrade
from gridgov.store.tables import ReportRow
from tests.case_world import PLAIN_POINT, demo_coded_grids


@pytest.fixture(scope="module")
def broker() -> Iterator[TempBroker]:
    started = TempBroker.start()
    yield started
    started.stop()


@pytest.fixture
def runtime(db_url: str, tmp_path: Path) -> Iterator[Runtime]:
    upgrade(db_url)
    built = build_runtime(load_settings(database_url=db_url, data_dir=tmp_path / "var"))
    layer = built.grids.import_grids(demo_coded_grids(), name="t", source="t", commit=True).layer
    assert layer is not None
    built.grids.activate(layer.id, commit=True)
    yield built
    built.close()


def _reading(device: str, tilt: float, at: datetime) -> bytes:
    lon, lat = PLAIN_POINT
    return json.dumps(
        {
            "device_id": device,
            "kind": "manhole_tilt",
            "reading": {"value": tilt, "unit": "deg"},
            "measured_at": at.isoformat(),
            "location": {"lon": lon, "lat": lat, "crs": "wgs84"},
        }
    ).encode()


def _publish(broker: TempBroker, messages: list[tuple[str, bytes]]) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-device-gateway")
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        for topic, body in messages:
            client.publish(topic, body, qos=1).wait_for_publish(timeout=5)
    finally:
        client.loop_stop()
        client.disconnect()


def _wait_for(bridge: SensorBridge, messages: int) -> None:
    deadline = time.monotonic() + 15
    while bridge.counts.messages < messages and time.monotonic() < deadline:
        time.sleep(0.05)
    assert bridge.counts.messages == messages


def _reports(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(ReportRow)) or 0


def test_a_tilted_manhole_cover_raises_one_case_and_a_flapping_sensor_does_not_flood(
    broker: TempBroker, runtime: Runtime
) -> None:
    bridge = SensorBridge(runtime.intake, host="127.0.0.1", port=broker.port)
    bridge.start()
    try:
        start = datetime.now(UTC) - timedelta(minutes=50)
        steady = [
            (
                "gridgov/sensors/MH-1/readings",
                _reading("MH-1", 23.6, start + timedelta(seconds=20 * i)),
            )
            for i in range(10)
        ]
        flapping = [
            (
                "gridgov/sensors/MH-2/readings",
                _reading("MH-2", 30.0 if i % 2 else 2.0, start + timedelta(seconds=5 * i)),
            )
            for i in range(200)
        ]
        broken = [
            ("gridgov/sensors/MH-3/readings", b"{not json"),
            ("gridgov/sensors/MH-3/readings", _reading("MH-4", 20.0, start)),
        ]
        _publish(broker, steady + flapping + broken)
        _wait_for(bridge, len(steady) + len(flapping) + len(broken))
    finally:
        bridge.stop()
    assert bridge.counts.reports == 1
    assert bridge.counts.rejected == 2
    assert _reports(runtime) == 1
