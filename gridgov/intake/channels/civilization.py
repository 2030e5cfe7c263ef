"""文明创建 inspection findings: a test batch found a place short of a standard item."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gridgov.core.geo import Crs
from gridgov.intake.channels.base import (
    MAX_NAME_CHARS,
    MAX_TEXT_CHARS,
    MAX_TITLE_CHARS,
    Payload,
    check_received_at,
    read_location,
    read_photos,
)
from gridgov.intake.model import IntakeReport, ReporterKind


class Civilization:
    name = "civilization"
    label_zh = "文明创建测评"

    def parse(self, payload: Mapping[str, Any], *, received_at: datetime) -> IntakeReport:
        check_received_at(received_at)
        p = Payload(payload)
        finding_id = p.identifier("finding_id")
        inspected_at = p.when("inspected_at", received_at=received_at)
        description = p.text("description")
        batch = p.section("batch")
        item = p.section("item")
        item_name = item.text("name", limit=MAX_TITLE_CHARS)
        details: dict[str, str | int | float | bool] = {
            "batch_id": batch.identifier("id"),
            "item_code": item.identifier("code"),
            "item_name": item_name,
            "deduction": p.number("deduction", low=0.0, high=100.0),
        }
        batch_name = batch.optional_text("name", limit=MAX_TITLE_CHARS)
        if batch_name is not None:
            details["batch_name"] = batch_name
        standard = item.optional_text("standard", limit=MAX_TEXT_CHARS)
        if standard is not None:
            details["standard"] = standard
        where = read_location(p, "location", default_crs=Crs.GCJ02)
        inspector_name = None
        inspector = p.optional_section("inspector")
        if inspector is not None:
            details["inspector_id"] = inspector.identifier("id")
            inspector_name = inspector.optional_text("name", limit=MAX_NAME_CHARS)
        return IntakeReport(
            channel=self.name,
            external_id=finding_id,
            received_at=received_at,
            reported_at=inspected_at,
            title=f"文明创建测评问题：{item_name}",
            text=description,
            reporter_kind=ReporterKind.INSPECTOR,
            address=where.address,
            lon=where.lon,
            lat=where.lat,
            crs=where.crs,
            category_hint=item_name,
            urgent=p.flag("urgent"),
            reporter_name=inspector_name,
            photos=read_photos(p),
            deadline_hint=p.optional_deadline("rectify_by", after=inspected_at),
            details=details,
            raw=payload,
        )
