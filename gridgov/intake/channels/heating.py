"""Heating complaints (供热投诉) from the heating companies' service lines."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gridgov.intake.channels.base import (
    MAX_NAME_CHARS,
    MAX_TITLE_CHARS,
    Payload,
    check_received_at,
    read_person,
    title_from,
)
from gridgov.intake.model import IntakeReport, ReporterKind

# Complaint types to the H16 供热 classes of categories.csv; anything else stays under H16.
COMPLAINT_TYPES = {"室温不达标": "H1601", "管网漏水": "H1602", "暖气漏水": "H1602", "收费": "H1603"}
LEAK_CODE = "H1602"
# The usual municipal heating standard (Zhengzhou's among them): at least 18 °C indoors.
MIN_INDOOR_CELSIUS = 18.0
_ACCOUNT = re.compile(r"[0-9A-Za-z-]{4,32}")


class Heating:
    name = "heating"
    label_zh = "供热投诉"

    def parse(self, payload: Mapping[str, Any], *, received_at: datetime) -> IntakeReport:
        check_received_at(received_at)
        p = Payload(payload)
        complaint_no = p.identifier("complaint_no")
        complained_at = p.when("complained_at", received_at=received_at)
        description = p.text("description")
        # A heating complaint is about one flat: the address is required and is all there is.
        address = p.text("address", limit=500)
        account_no = p.code("account_no", _ACCOUNT, "4–32 letters, digits or '-'")
        company = p.text("company", limit=MAX_NAME_CHARS)
        temperature = p.optional_number("indoor_temperature", low=-30.0, high=40.0)
        complaint_type = p.optional_text("complaint_type", limit=MAX_TITLE_CHARS)
        code = _category(complaint_type, temperature)
        name, phone = read_person(p, "customer")
        details: dict[str, str | int | float | bool] = {
            "account_no": account_no,
            "company": company,
        }
        if temperature is not None:
            details["indoor_temperature"] = temperature
        return IntakeReport(
            channel=self.name,
            external_id=complaint_no,
            received_at=received_at,
            reported_at=complained_at,
            title=title_from(description),
            text=description,
            reporter_kind=ReporterKind.CITIZEN,
            address=address,
            category_hint=complaint_type,
            category_code=code,
            urgent=p.flag("urgent") or code == LEAK_CODE,
            reporter_name=name,
            reporter_phone=phone,
            details=details,
            raw=payload,
        )


def _category(complaint_type: str | None, temperature: float | None) -> str:
    if complaint_type is not None:
        for key, code in COMPLAINT_TYPES.items():
            if key in complaint_type:
                return code
    if temperature is not None and temperature < MIN_INDOOR_CELSIUS:
        return "H1601"
    return "H16"
