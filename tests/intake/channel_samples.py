"""Shared by the channel tests: the documented sample payloads and a way to break them."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from gridgov.intake.channels import adapter
from gridgov.intake.model import IntakeReport

DOCS = Path(__file__).resolve().parents[2] / "docs"
CST = timezone(timedelta(hours=8))
RECEIVED = datetime(2026, 11, 27, 10, 0, tzinfo=CST)
CHANNELS = (
    "hotline_12345",
    "police_110",
    "city_management",
    "civilization",
    "heating",
    "citizen_app",
    "grid_patrol",
    "iot_sensor",
)


def sample(channel: str) -> dict[str, Any]:
    data = json.loads((DOCS / "channels" / f"{channel}.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def parse(channel: str, payload: Mapping[str, Any]) -> IntakeReport:
    return adapter(channel).parse(payload, received_at=RECEIVED)


DELETE = object()


def broken(channel: str, key: str, value: object) -> tuple[dict[str, Any], str]:
    """The sample with payload[key] (dotted) set to value, or removed; and that field's path."""
    payload = copy.deepcopy(sample(channel))
    parts = key.split(".")
    target = payload
    for part in parts[:-1]:
        target = target.setdefault(part, {"lon": 113.66, "lat": 34.75, "crs": "wgs84"})
    if value is DELETE:
        target.pop(parts[-1], None)
    else:
        target[parts[-1]] = value
    return payload, f"payload.{key}"
