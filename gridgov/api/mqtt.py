"""IoT sensors over MQTT: readings from a broker → debounce → the intake pipeline.

Devices publish one JSON reading per message (the `iot_sensor` reading format in
docs/channels.md) to `gridgov/sensors/<device_id>/readings`. A reading that crosses its threshold
long enough raises one report; a flapping sensor raises at most one until it has been back to
normal for the hold-off (`gridgov.intake.iot`). MQTT has no way to answer a publisher, so a bad
message is counted and logged, never allowed to stop the bridge.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gridgov.core.errors import GridGovError
from gridgov.intake.channels.iot_sensor import parse_reading
from gridgov.intake.iot import SensorDebouncer, Thresholds
from gridgov.intake.model import IntakeReport

TOPIC = "gridgov/sensors/+/readings"
log = logging.getLogger(__name__)


class ReportSink(Protocol):
    """Where raised reports go: `IntakeService.submit` in the running system."""

    def submit(self, report: IntakeReport) -> Any: ...


@dataclass
class BridgeCounts:
    messages: int = 0
    reports: int = 0
    rejected: int = 0


class SensorBridge:
    """Subscribes to sensor readings and submits the reports the debouncer raises."""

    def __init__(
        self,
        sink: ReportSink,
        *,
        host: str,
        port: int,
        topic: str = TOPIC,
        thresholds: Thresholds | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._sink = sink
        self._host = host
        self._port = port
        self._topic = topic
        self._debouncer = SensorDebouncer(thresholds)
        self._clock = clock
        # paho calls back on its network thread; the debouncer's state is not thread-safe.
        self._lock = threading.Lock()
        self.counts = BridgeCounts()
        self.problems: Counter[str] = Counter()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="gridgov-sensors")
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._subscribed = threading.Event()
        self._client.on_subscribe = lambda *_: self._subscribed.set()

    def handle(self, topic: str, body: bytes) -> IntakeReport | None:
        """One message: the report it raised (already submitted), or None."""
        with self._lock:
            self.counts.messages += 1
            try:
                payload = json.loads(body.decode("utf-8"))
                if not isinstance(payload, dict):
                    raise ValueError("a reading is a JSON object")
                device = topic.split("/")[2] if topic.count("/") >= 3 else None
                if device and payload.get("device_id", device) != device:
                    raise ValueError(f"device_id differs from the topic's device {device}")
                payload.setdefault("device_id", device)
                reading = parse_reading(payload, received_at=self._clock())
                report = self._debouncer.feed(reading)
                if report is not None:
                    self._sink.submit(report)
                    self.counts.reports += 1
                return report
            except (GridGovError, ValueError, UnicodeDecodeError) as exc:
                self.counts.rejected += 1
                self.problems[type(exc).__name__] += 1
                log.warning("rejected sensor message on %s: %s", topic, exc)
                return None

    def start(self, *, timeout: float = 10.0) -> None:
        """Connect and subscribe, returning once the broker has confirmed the subscription."""
        self._client.connect(self._host, self._port)
        self._client.loop_start()
        if not self._subscribed.wait(timeout):
            self.stop()
            raise ConnectionError(f"no subscription on {self._host}:{self._port} in {timeout} s")

    def stop(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()

    def run_forever(self) -> None:
        self._client.connect(self._host, self._port)
        self._client.loop_forever()

    def _on_connect(self, client: mqtt.Client, *_: Any) -> None:
        # Subscribing here, not once at start, re-subscribes after every reconnect.
        client.subscribe(self._topic, qos=1)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        self.handle(message.topic, bytes(message.payload))
