"""The normalized report every channel adapter returns, whatever the channel sent."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from gridgov.core.geo import Crs

DetailValue = str | int | float | bool


class ReporterKind(StrEnum):
    """Who stands behind a report; the pipeline weighs a device alarm differently from a citizen."""

    CITIZEN = "citizen"
    INSPECTOR = "inspector"
    GRID_WORKER = "grid_worker"
    POLICE = "police"
    DEVICE = "device"


class PhotoSource(StrEnum):
    """How a channel hands over a photo: an id in its own store, a URL, or the bytes in base64."""

    ID = "id"
    URL = "url"
    BASE64 = "base64"


@dataclass(frozen=True)
class PhotoRef:
    """A reference to one attachment; the photo store fetches, checks and keeps the content."""

    source: PhotoSource
    value: str
    media_type: str | None = None

    def __repr__(self) -> str:
        # A base64 photo is megabytes; a repr in a log line or a failed assertion must stay short.
        shown = self.value if len(self.value) <= 80 else f"{self.value[:40]}…({len(self.value)})"
        return f"PhotoRef({self.source.value}, {shown!r}, {self.media_type!r})"


@dataclass(frozen=True)
class Callback:
    """Where status goes back to for a 12345 order; `url` is informational (see hotline_callback)."""

    order_id: str
    url: str | None = None


@dataclass(frozen=True)
class IntakeReport:
    """One message from one channel, validated and normalized; `raw` keeps the payload verbatim.

    Times are aware. Coordinates are in the CRS the channel declared (conversion to WGS84 is the
    locating step's job); `crs` is None exactly when there are no coordinates. `category_hint` is
    the channel's own class, `category_code` our taxonomy code when the channel's class maps to one.
    `details` holds the channel-specific facts listed in docs/channels.md.
    """

    channel: str
    external_id: str
    received_at: datetime
    reported_at: datetime
    title: str
    text: str
    reporter_kind: ReporterKind
    address: str | None = None
    lon: float | None = None
    lat: float | None = None
    crs: Crs | None = None
    category_hint: str | None = None
    category_code: str | None = None
    urgent: bool = False
    reporter_name: str | None = None
    reporter_phone: str | None = None
    worker_id: str | None = None
    grid_code: str | None = None
    device_id: str | None = None
    photos: tuple[PhotoRef, ...] = ()
    deadline_hint: datetime | None = None
    callback: Callback | None = None
    details: Mapping[str, DetailValue] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        # Adapters validate payloads and name the field; these checks only catch adapter bugs.
        for name in ("received_at", "reported_at", "deadline_hint"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"IntakeReport.{name} must be an aware datetime")
        has_lon, has_lat = self.lon is not None, self.lat is not None
        if has_lon != has_lat or has_lon != (self.crs is not None):
            raise ValueError("IntakeReport needs lon, lat and crs together, or none of them")
        if has_lon and not (math.isfinite(self.lon or 0.0) and math.isfinite(self.lat or 0.0)):
            raise ValueError("IntakeReport coordinates must be finite")
        if not self.text.strip() or not self.external_id:
            raise ValueError("IntakeReport needs an external id and a text")

    @property
    def has_coordinates(self) -> bool:
        return self.lon is not None
