"""Non-police incidents handed over by the 110 desk (110 非警务警情转办)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gridgov.core.geo import Crs
from gridgov.intake.channels.base import (
    MAX_NAME_CHARS,
    Payload,
    check_received_at,
    read_location,
    read_person,
    title_from,
)
from gridgov.intake.model import IntakeReport, ReporterKind


class Police110:
    name = "police_110"
    label_zh = "110非警务转办"

    def parse(self, payload: Mapping[str, Any], *, received_at: datetime) -> IntakeReport:
        check_received_at(received_at)
        p = Payload(payload)
        incident_no = p.identifier("incident_no")
        reported_at = p.when("reported_at", received_at=received_at)
        summary = p.text("summary")
        # The public-security GIS works in CGCS2000, which gridgov stores as WGS84 (see Crs).
        where = read_location(p, "location", default_crs=Crs.CGCS2000)
        name, phone = read_person(p, "caller")
        incident_type = p.optional_text("incident_type", limit=MAX_NAME_CHARS)
        details: dict[str, str | int | float | bool] = {}
        station = p.optional_text("police_station", limit=MAX_NAME_CHARS)
        if station is not None:
            details["police_station"] = station
        if p.has("transferred_at"):
            details["transferred_at"] = p.when(
                "transferred_at", received_at=received_at
            ).isoformat()
        return IntakeReport(
            channel=self.name,
            external_id=incident_no,
            received_at=received_at,
            reported_at=reported_at,
            title=title_from(summary),
            text=summary,
            reporter_kind=ReporterKind.POLICE,
            address=where.address,
            lon=where.lon,
            lat=where.lat,
            crs=where.crs,
            category_hint=incident_type,
            urgent=p.flag("urgent"),
            reporter_name=name,
            reporter_phone=phone,
            details=details,
            raw=payload,
        )
