"""12345 hotline work orders (12345 热线工单), pushed by the municipal platform."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gridgov.core.errors import InvalidInput
from gridgov.core.geo import Crs
from gridgov.intake.channels.base import (
    MAX_ID_CHARS,
    MAX_TITLE_CHARS,
    Payload,
    check_received_at,
    read_location,
    read_person,
    read_photos,
    read_url,
    title_from,
)
from gridgov.intake.model import Callback, IntakeReport, ReporterKind

# The first-level classes of the hotline taxonomy, by the names the platform sends; the codes are
# those of gridgov/workflow/data/categories.csv (intake may not import workflow).
HOTLINE_CLASSES = {
    "城乡建设": "H01",
    "党务政务": "H02",
    "国土资源": "H03",
    "环境保护": "H04",
    "纪检监察": "H05",
    "交通运输": "H06",
    "经济管理": "H07",
    "科技与信息产业": "H08",
    "民政": "H09",
    "农村农业": "H10",
    "商贸旅游": "H11",
    "卫生计生": "H12",
    "政法": "H13",
    "教育文体": "H14",
    "劳动和社会保障": "H15",
    "供热": "H16",
}
APPEAL_TYPES = ("咨询", "求助", "投诉举报", "意见建议")


class Hotline12345:
    name = "hotline_12345"
    label_zh = "12345热线"

    def parse(self, payload: Mapping[str, Any], *, received_at: datetime) -> IntakeReport:
        check_received_at(received_at)
        p = Payload(payload)
        order_no = p.identifier("order_no")
        accepted_at = p.when("accepted_at", received_at=received_at)
        content = p.text("content")
        title = p.optional_text("title", limit=MAX_TITLE_CHARS) or title_from(content)
        # Most calls carry an address only; coordinates come when the caller used the app.
        where = read_location(p, "location", default_crs=Crs.WGS84)
        name, phone = read_person(p, "caller")
        appeal_type = p.optional_text("appeal_type", limit=20)
        if appeal_type is not None and appeal_type not in APPEAL_TYPES:
            raise InvalidInput(
                p.at("appeal_type"),
                f"unknown appeal type {appeal_type!r}; expected one of {', '.join(APPEAL_TYPES)}",
            )
        hint, code = _category(p)
        callback_section = p.optional_section("callback")
        callback = Callback(order_no)
        if callback_section is not None:
            callback = Callback(order_no, read_url(callback_section, "url"))
        details: dict[str, str | int | float | bool] = {}
        if appeal_type is not None:
            details["appeal_type"] = appeal_type
        return IntakeReport(
            channel=self.name,
            external_id=order_no,
            received_at=received_at,
            reported_at=accepted_at,
            title=title,
            text=content,
            reporter_kind=ReporterKind.CITIZEN,
            address=where.address,
            lon=where.lon,
            lat=where.lat,
            crs=where.crs,
            category_hint=hint,
            category_code=code,
            urgent=p.flag("urgent"),
            reporter_name=name,
            reporter_phone=phone,
            photos=read_photos(p, "attachments"),
            deadline_hint=p.optional_deadline("deadline", after=accepted_at),
            callback=callback,
            details=details,
            raw=payload,
        )


def _category(p: Payload) -> tuple[str | None, str | None]:
    """(the platform's class as sent, our H code when its first-level name is known)."""
    section = p.optional_section("category")
    if section is None:
        return None, None
    code = section.optional_identifier("code")
    name = section.optional_text("name", limit=MAX_ID_CHARS)
    if code is None and name is None:
        raise InvalidInput(section.path, "needs a code or a name")
    hint = " ".join(part for part in (code, name) if part)
    first_level = (name or "").split("/")[0].strip()
    return hint, HOTLINE_CLASSES.get(first_level)
