"""What every channel adapter is, and the field readers that make their refusals name the field."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Protocol, runtime_checkable

from gridgov.core.errors import InvalidCoordinate, InvalidInput
from gridgov.core.geo import Crs
from gridgov.intake.model import IntakeReport, PhotoRef, PhotoSource

# China has kept UTC+8 without daylight saving since 1991, so a fixed offset is exact for every
# date a report can carry and needs no tz database on the server.
CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")

MAX_TEXT_CHARS = 5_000
MAX_TITLE_CHARS = 200
MAX_ADDRESS_CHARS = 500
MAX_NAME_CHARS = 50
MAX_ID_CHARS = 64
MAX_PHOTOS = 20
MAX_CLOCK_SKEW = timedelta(hours=1)
EARLIEST = datetime(2000, 1, 1, tzinfo=CHINA_TZ)

_DATETIME = re.compile(
    r"^\d{4}[-/]\d{2}[-/]\d{2}[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})?$"
)
_PHONE = re.compile(r"^\+?[0-9*()\- ]{3,24}$")
_URL = re.compile(r"^https?://[^\s/]+(?:/\S*)?$")
_BASE64 = re.compile(r"^[A-Za-z0-9+/\s]*={0,2}\s*$")
_MEDIA_TYPE = re.compile(r"^[a-z]+/[a-z0-9.+-]+$")
# PostgreSQL refuses NUL in text and the other C0 controls are never meant in a report.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@runtime_checkable
class ChannelAdapter(Protocol):
    """Turns one channel's raw payload into an IntakeReport, or refuses it with InvalidInput."""

    name: str
    label_zh: str

    def parse(self, payload: Mapping[str, Any], *, received_at: datetime) -> IntakeReport: ...


def describe(value: object) -> str:
    """The JSON name of a value's type, for error messages a channel's developer understands."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def check_received_at(received_at: datetime) -> datetime:
    if received_at.tzinfo is None:
        raise InvalidInput("received_at", "must be an aware datetime (with a timezone)")
    return received_at


def parse_datetime(value: object, path: str) -> datetime:
    """ISO 8601 or 'YYYY-MM-DD HH:MM:SS' (local time when no offset), or Unix seconds/milliseconds."""
    if isinstance(value, bool) or value is None:
        raise InvalidInput(path, f"wrong type: expected a date and time, got {describe(value)}")
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            raise InvalidInput(path, f"date not parseable: {value!r} is not a Unix time")
        # Devices send seconds or milliseconds; no report is dated before 2001 in seconds-as-ms.
        seconds = value / 1000 if value > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, UTC).astimezone(CHINA_TZ)
        except (OverflowError, OSError, ValueError):
            raise InvalidInput(path, f"date not parseable: {value!r}") from None
    if not isinstance(value, str):
        raise InvalidInput(path, f"wrong type: expected a date and time, got {describe(value)}")
    text = value.strip()
    if not _DATETIME.match(text):
        raise InvalidInput(
            path, f"date not parseable: {value!r}; expected e.g. 2026-11-27T09:12:33+08:00"
        )
    text = text[:10].replace("/", "-") + text[10:]
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(path, f"date not parseable: {value!r} is not a calendar date") from None
    return parsed.replace(tzinfo=CHINA_TZ) if parsed.tzinfo is None else parsed


def title_from(text: str, limit: int = 30) -> str:
    """A title from the first sentence of a text, for channels that send none."""
    first = re.split(r"[。！？!?\n；;]", text.strip(), maxsplit=1)[0].strip() or text.strip()
    return first if len(first) <= limit else first[: limit - 1] + "…"


@dataclass(frozen=True)
class Location:
    lon: float | None
    lat: float | None
    crs: Crs | None
    address: str | None


class Payload:
    """A read-only view of a payload object that names the path of every field it refuses."""

    def __init__(self, data: object, path: str = "payload") -> None:
        if not isinstance(data, Mapping):
            raise InvalidInput(path, f"wrong type: expected an object, got {describe(data)}")
        self.data: Mapping[str, Any] = data
        self.path = path

    def at(self, key: str) -> str:
        return f"{self.path}.{key}"

    def _present(self, key: str) -> object | None:
        # As in Open311, an empty value is the same as an absent one.
        value: object = self.data.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return value

    def has(self, key: str) -> bool:
        return self._present(key) is not None

    def _missing(self, key: str) -> InvalidInput:
        if key in self.data and self.data[key] is not None:
            return InvalidInput(self.at(key), "empty")
        return InvalidInput(self.at(key), "missing")

    def text(self, key: str, *, limit: int = MAX_TEXT_CHARS) -> str:
        """A required free text, kept verbatim."""
        value = self.optional_text(key, limit=limit)
        if value is None:
            raise self._missing(key)
        return value

    def optional_text(self, key: str, *, limit: int = MAX_TEXT_CHARS) -> str | None:
        value = self._present(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise InvalidInput(
                self.at(key), f"wrong type: expected a string, got {describe(value)}"
            )
        if len(value) > limit:
            raise InvalidInput(self.at(key), f"too long: {len(value)} characters, at most {limit}")
        if _CONTROL.search(value):
            raise InvalidInput(self.at(key), "contains control characters")
        return value

    def identifier(self, key: str) -> str:
        """A required id: a string or an integer, no spaces, at most 64 characters."""
        value = self.optional_identifier(key)
        if value is None:
            raise self._missing(key)
        return value

    def optional_identifier(self, key: str) -> str | None:
        value = self._present(key)
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return str(value)
        if not isinstance(value, str):
            raise InvalidInput(self.at(key), f"wrong type: expected an id, got {describe(value)}")
        text = value.strip()
        if len(text) > MAX_ID_CHARS:
            raise InvalidInput(self.at(key), f"too long: at most {MAX_ID_CHARS} characters")
        if any(c.isspace() for c in text) or _CONTROL.search(text):
            raise InvalidInput(self.at(key), "an id may not contain spaces or control characters")
        return text

    def code(self, key: str, pattern: re.Pattern[str], expected: str) -> str:
        value = self.identifier(key)
        if not pattern.fullmatch(value):
            raise InvalidInput(self.at(key), f"not a valid code: {value!r}; expected {expected}")
        return value

    def number(self, key: str, *, low: float, high: float) -> float:
        value = self.optional_number(key, low=low, high=high)
        if value is None:
            raise InvalidInput(self.at(key), "missing")
        return value

    def optional_number(self, key: str, *, low: float, high: float) -> float | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput(
                self.at(key), f"wrong type: expected a number, got {describe(value)}"
            )
        number = float(value)
        if not math.isfinite(number):
            raise InvalidInput(self.at(key), f"not a number: {value!r}")
        if not low <= number <= high:
            raise InvalidInput(self.at(key), f"out of range: {value!r} is not in [{low}, {high}]")
        return number

    def flag(self, key: str, *, default: bool = False) -> bool:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise InvalidInput(
                self.at(key), f"wrong type: expected true or false, got {describe(value)}"
            )
        return value

    def when(self, key: str, *, received_at: datetime) -> datetime:
        """A required event time: not before 2000, not later than the receipt plus clock skew."""
        value = self._present(key)
        if value is None:
            raise self._missing(key)
        at = parse_datetime(value, self.at(key))
        if at < EARLIEST:
            raise InvalidInput(self.at(key), f"out of range: {at.isoformat()} is before 2000")
        if at > received_at + MAX_CLOCK_SKEW:
            raise InvalidInput(
                self.at(key),
                f"out of range: {at.isoformat()} is after the receipt {received_at.isoformat()}",
            )
        return at

    def optional_deadline(self, key: str, *, after: datetime) -> datetime | None:
        value = self._present(key)
        if value is None:
            return None
        at = parse_datetime(value, self.at(key))
        if at < after:
            raise InvalidInput(
                self.at(key), f"out of range: the deadline {at.isoformat()} is before the report"
            )
        return at

    def section(self, key: str) -> Payload:
        value = self._present(key)
        if value is None:
            raise self._missing(key)
        return Payload(value, self.at(key))

    def optional_section(self, key: str) -> Payload | None:
        value = self._present(key)
        return None if value is None else Payload(value, self.at(key))

    def items(self, key: str, *, limit: int) -> list[tuple[object, str]]:
        """The elements of an optional list with their paths; an absent list is empty."""
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise InvalidInput(self.at(key), f"wrong type: expected a list, got {describe(value)}")
        if len(value) > limit:
            raise InvalidInput(self.at(key), f"too many: {len(value)}, at most {limit}")
        return [(item, f"{self.at(key)}[{i}]") for i, item in enumerate(value)]


def read_coordinates(
    section: Payload, *, default_crs: Crs | None
) -> tuple[float, float, Crs] | None:
    """lon/lat/crs of a location object; None when it has neither lon nor lat."""
    if not section.has("lon") and not section.has("lat"):
        return None
    for key in ("lon", "lat"):
        if not section.has(key):
            raise InvalidCoordinate(section.at(key), "missing: lon and lat come together")
        value = section.data[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidCoordinate(
                section.at(key), f"wrong type: expected a number, got {describe(value)}"
            )
        if not math.isfinite(value):
            raise InvalidCoordinate(section.at(key), f"not a number: {value!r}")
    lon, lat = float(section.data["lon"]), float(section.data["lat"])
    if not -90.0 <= lat <= 90.0:
        swapped = -90.0 <= lon <= 90.0 and -180.0 <= lat <= 180.0
        hint = "; lon and lat look swapped" if swapped else ""
        raise InvalidCoordinate(section.at("lat"), f"out of range: {lat} is not in [-90, 90]{hint}")
    if not -180.0 <= lon <= 180.0:
        raise InvalidCoordinate(section.at("lon"), f"out of range: {lon} is not in [-180, 180]")
    return lon, lat, read_crs(section, default=default_crs)


def read_crs(section: Payload, *, default: Crs | None) -> Crs:
    value = section.data.get("crs")
    if value is None:
        if default is None:
            raise InvalidCoordinate(
                section.at("crs"), "missing: this channel must declare wgs84, gcj02 or bd09"
            )
        return default
    if not isinstance(value, str):
        raise InvalidCoordinate(
            section.at("crs"), f"wrong type: expected a string, got {describe(value)}"
        )
    try:
        return Crs.parse(value)
    except ValueError:
        known = ", ".join(c.value for c in Crs)
        raise InvalidCoordinate(
            section.at("crs"), f"unknown coordinate system {value!r}; expected one of {known}"
        ) from None


def read_location(
    payload: Payload, key: str, *, default_crs: Crs | None, address_key: str = "address"
) -> Location:
    """Coordinates from payload[key] and an address from payload[key].address or payload.address."""
    section = payload.optional_section(key)
    coordinates = None if section is None else read_coordinates(section, default_crs=default_crs)
    address = None
    if section is not None:
        address = section.optional_text(address_key, limit=MAX_ADDRESS_CHARS)
    if address is None:
        address = payload.optional_text(address_key, limit=MAX_ADDRESS_CHARS)
    if coordinates is None:
        if address is None:
            raise InvalidInput(payload.at(key), "missing: neither coordinates nor an address")
        return Location(None, None, None, address)
    lon, lat, crs = coordinates
    return Location(lon, lat, crs, address)


def read_person(payload: Payload, key: str) -> tuple[str | None, str | None]:
    """(name, phone) of an optional person object such as a caller."""
    section = payload.optional_section(key)
    if section is None:
        return None, None
    name = section.optional_text("name", limit=MAX_NAME_CHARS)
    return name, read_phone(section, "phone")


def read_phone(section: Payload, key: str) -> str | None:
    value = section.data.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise InvalidInput(section.at(key), f"wrong type: expected a string, got {describe(value)}")
    if not _PHONE.fullmatch(value.strip()):
        raise InvalidInput(section.at(key), f"not a phone number: {value!r}")
    return value.strip()


def read_photos(payload: Payload, key: str = "photos") -> tuple[PhotoRef, ...]:
    """Attachment references: a bare id string, or an object with one of id, url or base64."""
    photos = []
    for item, path in payload.items(key, limit=MAX_PHOTOS):
        if isinstance(item, str):
            photos.append(PhotoRef(PhotoSource.ID, Payload({"id": item}, path).identifier("id")))
            continue
        section = Payload(item, path)
        given = [source for source in PhotoSource if section.has(source.value)]
        if len(given) != 1:
            raise InvalidInput(path, "needs exactly one of id, url or base64")
        source = given[0]
        if source is PhotoSource.BASE64:
            value = section.data["base64"]
            if not isinstance(value, str) or not _BASE64.fullmatch(value):
                raise InvalidInput(section.at("base64"), "not base64 data")
        elif source is PhotoSource.URL:
            value = section.text("url", limit=2_000)
            if not _URL.fullmatch(value):
                raise InvalidInput(section.at("url"), f"not an http(s) URL: {value!r}")
        else:
            value = section.identifier("id")
        media_type = section.optional_text("media_type", limit=100)
        if media_type is not None and not _MEDIA_TYPE.fullmatch(media_type):
            raise InvalidInput(section.at("media_type"), f"not a media type: {media_type!r}")
        photos.append(PhotoRef(source, value, media_type))
    return tuple(photos)


def read_url(section: Payload, key: str) -> str | None:
    value = section.optional_text(key, limit=2_000)
    if value is not None and not _URL.fullmatch(value.strip()):
        raise InvalidInput(section.at(key), f"not an http(s) URL: {value!r}")
    return None if value is None else value.strip()
