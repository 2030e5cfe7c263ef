"""What intake answers about a stored report: the channel's receipt, and the report as a role
may see it (masked text and reporter without the right to personal data)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, cast

from gridgov.intake.model import IntakeReport, ReporterKind
from gridgov.intake.privacy import mask, mask_name, mask_phone
from gridgov.store.cases import StoredReport

LocatedBy = Literal["coordinates", "address", "manual"]


@dataclass(frozen=True)
class IntakeReceipt:
    """What a channel is told once its report is durably stored."""

    report_id: int
    case_id: int | None
    created: bool  # False when a retry returned the stored report
    located_by: LocatedBy
    location_confidence: float | None
    category_code: str | None
    category_confidence: float | None
    duplicate_of: int | None  # the case this report joined
    warnings: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "report_id": self.report_id,
            "case_id": self.case_id,
            "created": self.created,
            "located_by": self.located_by,
            "location_confidence": self.location_confidence,
            "category_code": self.category_code,
            "category_confidence": self.category_confidence,
            "duplicate_of": self.duplicate_of,
            "warnings": list(self.warnings),
        }


def stored_receipt(record: StoredReport, *, created: bool) -> IntakeReceipt:
    """The receipt of a stored report, from what the pipeline kept on it."""
    decided = record.intake
    return IntakeReceipt(
        report_id=record.id,
        case_id=record.case_id,
        created=created,
        located_by=cast(LocatedBy, decided.get("located_by", "coordinates")),
        location_confidence=decided.get("location_confidence"),
        category_code=decided.get("category_code", record.category_code),
        category_confidence=decided.get("category_confidence"),
        duplicate_of=decided.get("duplicate_of"),
        warnings=tuple(decided.get("warnings", ())),
    )


def parsed_again(record: StoredReport) -> IntakeReport:
    """The parsed report again, from what was stored (for manual location)."""
    decided = record.intake
    return IntakeReport(
        channel=record.channel,
        external_id=record.external_id,
        received_at=record.received_at,
        reported_at=record.reported_at,
        title=decided.get("title") or record.text[:30],
        text=record.text,
        reporter_kind=ReporterKind(decided.get("reporter_kind", "citizen")),
        address=record.address,
        category_code=record.category_code,
        urgent=bool(decided.get("urgent", False)),
        reporter_name=record.reporter_name,
        reporter_phone=record.reporter_phone,
        details=dict(decided.get("details") or {}),
    )


def visible_report(record: StoredReport, may_see_personal_data: bool) -> dict[str, Any]:
    """A stored report as a role may see it: without the right, masked text and reporter."""
    decided = dict(record.intake)
    out: dict[str, Any] = {
        "id": record.id,
        "channel": record.channel,
        "external_id": record.external_id,
        "received_at": record.received_at.isoformat(),
        "reported_at": record.reported_at.isoformat(),
        "case_id": record.case_id,
        "location_status": record.location_status,
        "lon": record.lon,
        "lat": record.lat,
        "category_code": record.category_code,
        "intake": decided,
    }
    if may_see_personal_data:
        out.update(
            title=decided.get("title"),
            text=record.text,
            address=record.address,
            reporter_name=record.reporter_name,
            reporter_phone=record.reporter_phone,
            payload=dict(record.payload),
        )
        return out
    decided.pop("title", None)
    out.update(
        title=decided.get("title_masked"),
        text=record.text_masked
        if record.text_masked is not None
        else mask(record.text).text_masked,
        address=None if record.address is None else mask(record.address).text_masked,
        reporter_name=None if record.reporter_name is None else mask_name(record.reporter_name),
        reporter_phone=None if record.reporter_phone is None else mask_phone(record.reporter_phone),
    )
    return out
