"""Photos sent inline (base64) with a report: checked, then stored as original, public copy and
thumbnail. Photos sent by id or URL stay references; fetching them is the channel's business.

Every photo of a report is checked before any is stored, so a bad one refuses the whole report.
Files are content-addressed, so storing one for a report whose transaction then fails leaves an
orphan file, never a wrong one.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from gridgov.core.errors import InvalidInput
from gridgov.intake.model import IntakeReport, PhotoSource
from gridgov.intake.photos import (
    PhotoInfo,
    check_claims,
    inspect_photo,
    public_copy,
    thumbnail,
)
from gridgov.store.files import FileStore


@dataclass(frozen=True, slots=True)
class CheckedPhoto:
    index: int
    data: bytes
    info: PhotoInfo


def check_photos(report: IntakeReport, max_bytes: int) -> list[CheckedPhoto]:
    """Decode and inspect every inline photo; `InvalidInput("payload.photos[i]", …)` on the first
    bad one."""
    checked = []
    for i, ref in enumerate(report.photos):
        if ref.source is not PhotoSource.BASE64:
            continue
        field = f"payload.photos[{i}]"
        # Refuse an oversized upload from its length, before decoding megabytes of base64.
        if len(ref.value) * 3 // 4 > max_bytes + 3:
            raise InvalidInput(
                field,
                f"照片过大 / too large: about {len(ref.value) * 3 // 4} bytes, at most {max_bytes}",
            )
        try:
            data = base64.b64decode("".join(ref.value.split()), validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput(field, "不是 base64 数据 / not base64 data") from None
        try:
            info = inspect_photo(data, max_bytes=max_bytes)
        except InvalidInput as exc:
            raise InvalidInput(field, exc.problem) from None
        checked.append(CheckedPhoto(i, data, info))
    return checked


def store_photos(
    report: IntakeReport, checked: list[CheckedPhoto], files: FileStore, max_bytes: int
) -> list[dict[str, Any]]:
    """The report's photo references, inline ones replaced by their stored files."""
    stored = {c.index: c for c in checked}
    refs: list[dict[str, Any]] = []
    for i, ref in enumerate(report.photos):
        photo = stored.get(i)
        if photo is None:
            refs.append(
                {"source": ref.source.value, "value": ref.value, "media_type": ref.media_type}
            )
            continue
        info = photo.info
        refs.append(
            {
                "source": "file",
                "original": files.put(photo.data),
                "public": files.put(public_copy(photo.data, max_bytes=max_bytes)),
                "thumbnail": files.put(thumbnail(photo.data, max_bytes=max_bytes)),
                "media_type": info.mime,
                "width": info.width,
                "height": info.height,
                "size_bytes": info.size_bytes,
                "exif_gps": list(info.exif_gps) if info.exif_gps else None,
                "exif_time": info.exif_time.isoformat() if info.exif_time else None,
            }
        )
    return refs


def photo_warnings(
    checked: list[CheckedPhoto], report: IntakeReport, lon: float | None, lat: float | None
) -> list[str]:
    """EXIF-against-claim warnings, one line each in both languages."""
    lines = []
    for photo in checked:
        for warning in check_claims(photo.info, lon, lat, report.reported_at):
            lines.append(
                f"photos[{photo.index}] {warning.code}: {warning.message_zh} / {warning.message_en}"
            )
    return lines


def without_inline_photos(raw: Any, refs: list[dict[str, Any]]) -> Any:
    """The raw payload with base64 photo data replaced by the stored file ids (kept verbatim
    otherwise): megabytes of base64 do not belong in a report row."""
    if not isinstance(raw, dict):
        return raw
    originals = [r["original"] for r in refs if r.get("source") == "file"]
    if not originals:
        return dict(raw)

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            if isinstance(value.get("base64"), str) and originals:
                kept = {k: v for k, v in value.items() if k != "base64"}
                return {**kept, "file": originals.pop(0)}
            return {k: strip(v) for k, v in value.items()}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    result: dict[str, Any] = strip(dict(raw))
    return result
