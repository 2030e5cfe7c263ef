"""Residents' photo reports from the city app (随手拍): photos, text and the phone's position."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gridgov.intake.channels.base import (
    MAX_NAME_CHARS,
    Payload,
    check_received_at,
    read_location,
    read_phone,
    read_photos,
    title_from,
)
from gridgov.intake.model import IntakeReport, ReporterKind


class CitizenApp:
    name = "citizen_app"
    label_zh = "市民随手拍"

    def parse(self, payload: Mapping[str, Any], *, received_at: datetime) -> IntakeReport:
        check_received_at(received_at)
        p = Payload(payload)
        submission_id = p.identifier("submission_id")
        submitted_at = p.when("submitted_at", received_at=received_at)
        text = p.text("text")
        # Phone map SDKs answer in GCJ-02 or BD-09, hundreds of metres off WGS84; a guessed
        # default would misplace the report, so the app must say which one it used.
        where = read_location(p, "gps", default_crs=None)
        user = p.optional_section("user")
        name = phone = None
        details: dict[str, str | int | float | bool] = {}
        if user is not None:
            details["user_id"] = user.identifier("id")
            name = user.optional_text("nickname", limit=MAX_NAME_CHARS)
            phone = read_phone(user, "phone")
        gps = p.optional_section("gps")
        if gps is not None:
            accuracy = gps.optional_number("accuracy_m", low=0.0, high=100_000.0)
            if accuracy is not None:
                details["gps_accuracy_m"] = accuracy
        return IntakeReport(
            channel=self.name,
            external_id=submission_id,
            received_at=received_at,
            reported_at=submitted_at,
            title=title_from(text),
            text=text,
            reporter_kind=ReporterKind.CITIZEN,
            address=where.address,
            lon=where.lon,
            lat=where.lat,
            crs=where.crs,
            category_hint=p.optional_text("category", limit=MAX_NAME_CHARS),
            reporter_name=name,
            reporter_phone=phone,
            photos=read_photos(p),
            details=details,
            raw=payload,
        )
