"""A grid worker's report from patrol (网格员巡查上报), attributed to the worker and the grid."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

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

_GRID_CODE = re.compile(r"\d{6,24}")
_CATEGORY_CODE = re.compile(r"[A-Za-z0-9_-]{1,16}")


class GridPatrol:
    name = "grid_patrol"
    label_zh = "网格员巡查"

    def parse(self, payload: Mapping[str, Any], *, received_at: datetime) -> IntakeReport:
        check_received_at(received_at)
        p = Payload(payload)
        report_id = p.identifier("report_id")
        patrolled_at = p.when("patrolled_at", received_at=received_at)
        text = p.text("text")
        worker = p.section("worker")
        worker_id = worker.identifier("id")
        grid_code = p.code("grid_code", _GRID_CODE, "the grid's statistical code, 6–24 digits")
        # The patrol app is ours and uses AMap, hence GCJ-02 unless it says otherwise.
        where = read_location(p, "gps", default_crs=Crs.GCJ02)
        category = None
        if p.has("category_code"):
            category = p.code("category_code", _CATEGORY_CODE, "a taxonomy code such as E0502")
        return IntakeReport(
            channel=self.name,
            external_id=report_id,
            received_at=received_at,
            reported_at=patrolled_at,
            title=title_from(text),
            text=text,
            reporter_kind=ReporterKind.GRID_WORKER,
            address=where.address,
            lon=where.lon,
            lat=where.lat,
            crs=where.crs,
            category_hint=category,
            category_code=category,
            urgent=p.flag("urgent"),
            reporter_name=worker.optional_text("name", limit=MAX_NAME_CHARS),
            worker_id=worker_id,
            grid_code=grid_code,
            photos=read_photos(p),
            details={"handled_on_site": p.flag("handled_on_site")},
            raw=payload,
        )
