"""Decoding untrusted photos safely and reading their EXIF time and position.

Shared by intake (photo checks) and the AI assistant (image analysis, verification), which may not
import each other.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

from PIL import ExifTags, Image, UnidentifiedImageError

from gridgov.core.errors import InvalidInput

FORMATS = ("JPEG", "PNG", "WEBP")
_DATETIME_ORIGINAL = 0x9003
_OFFSET_TIME_ORIGINAL = 0x9011
_DATETIME = 0x0132


def open_image(
    data: bytes, *, max_bytes: int, max_pixels: int, field: str = "photo"
) -> Image.Image:
    """A fully decoded JPEG, PNG or WebP, or InvalidInput(field, why not); cheapest check first."""
    if not data:
        raise InvalidInput(field, "is empty")
    if len(data) > max_bytes:
        raise InvalidInput(field, f"{len(data)} bytes is over the limit of {max_bytes} bytes")
    try:
        image = Image.open(io.BytesIO(data), formats=list(FORMATS))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own guard raises above ~179 MP and warns above ~89 MP; the warning is only an
        # exception where warnings are errors (the tests), elsewhere the lower limit below refuses
        # the image. Changing the warning filters here would not be thread-safe.
        raise InvalidInput(field, f"too many pixels to decode safely ({exc})") from exc
    except UnidentifiedImageError as exc:
        raise InvalidInput(field, "is not a JPEG, PNG or WebP image (checked by content)") from exc
    if image.width * image.height > max_pixels:
        raise InvalidInput(
            field, f"{image.width}×{image.height} pixels is over the limit of {max_pixels} pixels"
        )
    try:
        image.load()
    except (OSError, SyntaxError, ValueError) as exc:
        raise InvalidInput(field, f"the image is truncated or corrupt ({exc})") from exc
    return image


def exif_gps(exif: Image.Exif) -> tuple[float, float] | None:
    """(lon, lat) from EXIF, or None when absent or meaningless."""
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    try:
        lat = _degrees(gps[ExifTags.GPS.GPSLatitude], gps.get(ExifTags.GPS.GPSLatitudeRef, "N"))
        lon = _degrees(gps[ExifTags.GPS.GPSLongitude], gps.get(ExifTags.GPS.GPSLongitudeRef, "E"))
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    # (0, 0) is what some phones write when they had no fix.
    if not (-180 <= lon <= 180 and -90 <= lat <= 90) or (lon == 0 and lat == 0):
        return None
    return lon, lat


def _degrees(dms: tuple[Any, ...], ref: object) -> float:
    degrees, minutes, seconds = (float(v) for v in dms)
    value = degrees + minutes / 60 + seconds / 3600
    reference = ref.decode() if isinstance(ref, bytes) else str(ref)
    return -value if reference.strip().upper() in ("S", "W") else value


def exif_time(exif: Image.Exif) -> datetime | None:
    """When the photo was taken: aware when the camera wrote an offset, naive otherwise."""
    detail = exif.get_ifd(ExifTags.IFD.Exif)
    text = detail.get(_DATETIME_ORIGINAL) or exif.get(_DATETIME)
    if not isinstance(text, str):
        return None
    try:
        taken = datetime.strptime(text.strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    offset = detail.get(_OFFSET_TIME_ORIGINAL)
    if isinstance(offset, str):
        try:
            return taken.replace(tzinfo=datetime.strptime(offset.strip("\x00 "), "%z").tzinfo)
        except ValueError:
            return taken
    return taken
