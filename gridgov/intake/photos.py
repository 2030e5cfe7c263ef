"""Photos attached to reports: checked by content, EXIF GPS and time read and compared with the
report's claims, metadata stripped from the copies shown publicly, thumbnails. Pure: bytes in,
values and bytes out; storing them is `gridgov.store.files`.

What is refused (`InvalidInput("photo", …)`), cheapest check first:
- more than `max_bytes` — before anything is decoded;
- anything that is not JPEG, PNG or WebP by its content, whatever its name or declared type;
- more than `max_pixels` — a decompression bomb is a small file that decodes to gigabytes;
- an image that does not decode to the end (truncated or corrupt).
"""

from __future__ import annotations

import hashlib
import io
import math
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from PIL import Image, ImageOps

from gridgov.core.errors import InvalidInput
from gridgov.core.images import exif_gps, exif_time, open_image

MAX_BYTES = 10 * 1024 * 1024
# 50 megapixels: above every phone camera's default mode, far below a bomb's billions.
MAX_PIXELS = 50_000_000
THUMBNAIL_SIZE = 320
FAR_M = 500.0
FAR_TIME = timedelta(hours=24)
DEFAULT_TIMEZONE = "Asia/Shanghai"

_MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
_FIELD = "photo"
_EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True, slots=True)
class PhotoInfo:
    """What the content of an accepted photo says about itself.

    `exif_time` is naive when the camera recorded no UTC offset (most do not): it is then the
    camera's local time. `exif_gps` is (lon, lat) in WGS84, as phone cameras write it.
    """

    sha256: str
    mime: str
    width: int
    height: int
    size_bytes: int
    exif_gps: tuple[float, float] | None
    exif_time: datetime | None


@dataclass(frozen=True, slots=True)
class PhotoWarning:
    """A mismatch between a photo and the report's claims, for the operator to weigh."""

    code: str
    message_zh: str
    message_en: str


def inspect_photo(
    data: bytes, *, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS
) -> PhotoInfo:
    """Check a photo by its content and read its EXIF GPS and time; refuse anything else."""
    image = _open(data, max_bytes, max_pixels)
    exif = image.getexif()
    return PhotoInfo(
        sha256=hashlib.sha256(data).hexdigest(),
        mime=_MIME[str(image.format)],
        width=image.width,
        height=image.height,
        size_bytes=len(data),
        exif_gps=exif_gps(exif),
        exif_time=exif_time(exif),
    )


def check_claims(
    info: PhotoInfo,
    claimed_lon: float | None,
    claimed_lat: float | None,
    claimed_time: datetime | None,
    *,
    local_tz: tzinfo | None = None,
) -> list[PhotoWarning]:
    """Warnings when the photo was taken far (> 500 m) from or long (> 24 h) before/after the claim.

    A naive EXIF time is read in `local_tz` (the city's zone by default).
    """
    warnings_: list[PhotoWarning] = []
    if info.exif_gps is not None and claimed_lon is not None and claimed_lat is not None:
        distance = _distance_m(info.exif_gps, (claimed_lon, claimed_lat))
        if distance > FAR_M:
            warnings_.append(
                PhotoWarning(
                    "photo_far_from_report",
                    f"照片拍摄位置距上报位置约{_human_m(distance)}",
                    f"the photo was taken about {_human_m(distance, en=True)} from the reported place",
                )
            )
    if info.exif_time is not None and claimed_time is not None:
        taken = info.exif_time
        if taken.tzinfo is None:
            taken = taken.replace(tzinfo=local_tz or ZoneInfo(DEFAULT_TIMEZONE))
        if claimed_time.tzinfo is None:
            raise InvalidInput("claimed_time", "needs a time zone")
        gap = abs(taken - claimed_time)
        if gap > FAR_TIME:
            hours = gap.total_seconds() / 3600
            warnings_.append(
                PhotoWarning(
                    "photo_time_far_from_report",
                    f"照片拍摄时间与上报时间相差约{hours:.0f}小时",
                    f"the photo was taken about {hours:.0f} h from the reported time",
                )
            )
    return warnings_


def public_copy(data: bytes, *, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS) -> bytes:
    """The photo without any EXIF or other metadata, turned upright, in its own format."""
    image = _open(data, max_bytes, max_pixels)
    kind = str(image.format)
    upright = _bare(ImageOps.exif_transpose(image))
    out = io.BytesIO()
    if kind == "JPEG":
        upright.save(out, "JPEG", quality=92)
    elif kind == "WEBP":
        upright.save(out, "WEBP", quality=90)
    else:
        upright.save(out, "PNG", optimize=True)
    return out.getvalue()


def thumbnail(
    data: bytes,
    size: int = THUMBNAIL_SIZE,
    *,
    max_bytes: int = MAX_BYTES,
    max_pixels: int = MAX_PIXELS,
) -> bytes:
    """A JPEG at most `size` pixels on its longer side, upright, without metadata."""
    if size < 1:
        raise InvalidInput("size", f"must be positive, not {size}")
    image = ImageOps.exif_transpose(_open(data, max_bytes, max_pixels))
    image.thumbnail((size, size))
    if image.mode in ("RGBA", "LA", "P"):
        # JPEG has no transparency: flatten onto white, as a viewer would show it.
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        image = flat
    out = io.BytesIO()
    _bare(image.convert("RGB")).save(out, "JPEG", quality=85)
    return out.getvalue()


def _open(data: bytes, max_bytes: int, max_pixels: int) -> Image.Image:
    return open_image(data, max_bytes=max_bytes, max_pixels=max_pixels, field=_FIELD)


def _bare(image: Image.Image) -> Image.Image:
    """A copy carrying pixels (and palette transparency) only: no EXIF, ICC, XMP or comments."""
    copy = image.copy()
    keep = {k: v for k, v in image.info.items() if k == "transparency"}
    copy.info.clear()
    copy.info.update(keep)
    return copy


def _distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (lon, lat) points."""
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * _EARTH_RADIUS_M * math.asin(math.sqrt(h))


def _human_m(metres: float, *, en: bool = False) -> str:
    if metres >= 1000:
        return f"{metres / 1000:.1f} km" if en else f"{metres / 1000:.1f}公里"
    return f"{metres:.0f} m" if en else f"{metres:.0f}米"
