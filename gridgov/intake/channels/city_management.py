"""数字城管 cases from inspectors (监督员), classed by the GB/T 30428 / CJ/T 214 部件 and 事件 codes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gridgov.core.errors import InvalidInput
from gridgov.core.geo import Crs
from gridgov.intake.channels.base import (
    MAX_NAME_CHARS,
    Payload,
    check_received_at,
    read_location,
    read_photos,
    title_from,
)
from gridgov.intake.model import IntakeReport, ReporterKind

CLASS_KINDS = {"component": ("部件", "C"), "event": ("事件", "E")}
# The 大类+小类 codes our shipped taxonomy has (categories.csv C…/E… rows). A city's own minor
# classes still arrive intact in category_hint; only these map straight to a taxonomy code.
KNOWN_CLASS_CODES = {
    "component": {
        "0101", "0102", "0103", "0104", "0105", "0106", "0201", "0202", "0203", "0204", "0205",
        "0206", "0301", "0302", "0303", "0304", "0401", "0402", "0403", "0404", "0405", "0501",
        "0502", "0601", "0602",
    },
    "event": {
        "0101", "0102", "0103", "0104", "0105", "0106", "0201", "0202", "0301", "0302", "0303",
        "0401", "0402", "0403", "0404", "0501", "0502", "0503", "0504", "0601", "0602",
    },
}  # fmt: skip
_CLASS_CODE = re.compile(r"\d{4}")
# 部件标识码: county code (6) + major class (2) + minor class (2) + serial number (6).
_OBJECT_ID = re.compile(r"\d{16}")


class CityManagement:
    name = "city_management"
    label_zh = "数字城管"

    def parse(self, payload: Mapping[str, Any], *, received_at: datetime) -> IntakeReport:
        check_received_at(received_at)
        p = Payload(payload)
        case_no = p.identifier("case_no")
        found_at = p.when("found_at", received_at=received_at)
        description = p.text("description")
        inspector = p.section("inspector")
        inspector_id = inspector.identifier("id")
        kind, code, class_name = _class(p)
        where = read_location(p, "location", default_crs=Crs.CGCS2000)
        details: dict[str, str | int | float | bool] = {
            "inspector_id": inspector_id,
            "class_kind": kind,
            "class_code": code,
        }
        object_id = p.optional_identifier("object_id")
        if object_id is not None:
            _check_object_id(p, object_id, kind, code)
            details["object_id"] = object_id
        label, prefix = CLASS_KINDS[kind]
        hint = " ".join(part for part in (label, code, class_name) if part)
        mapped = f"{prefix}{code}" if code in KNOWN_CLASS_CODES[kind] else None
        return IntakeReport(
            channel=self.name,
            external_id=case_no,
            received_at=received_at,
            reported_at=found_at,
            title=title_from(description),
            text=description,
            reporter_kind=ReporterKind.INSPECTOR,
            address=where.address,
            lon=where.lon,
            lat=where.lat,
            crs=where.crs,
            category_hint=hint,
            category_code=mapped,
            urgent=p.flag("urgent"),
            reporter_name=inspector.optional_text("name", limit=MAX_NAME_CHARS),
            photos=read_photos(p),
            details=details,
            raw=payload,
        )


def _class(p: Payload) -> tuple[str, str, str | None]:
    section = p.section("class")
    kind = section.identifier("kind")
    if kind not in CLASS_KINDS:
        raise InvalidInput(
            section.at("kind"), f"unknown class kind {kind!r}; expected component or event"
        )
    code = section.code("code", _CLASS_CODE, "4 digits: major class + minor class, e.g. 0101")
    return kind, code, section.optional_text("name", limit=MAX_NAME_CHARS)


def _check_object_id(p: Payload, object_id: str, kind: str, code: str) -> None:
    if kind != "component":
        raise InvalidInput(p.at("object_id"), "only a component (部件) case has an object id")
    if not _OBJECT_ID.fullmatch(object_id):
        raise InvalidInput(p.at("object_id"), f"not a 16-digit component code: {object_id!r}")
    if object_id[6:10] != code:
        raise InvalidInput(
            p.at("object_id"),
            f"its class {object_id[6:10]} does not match payload.class.code {code}",
        )
