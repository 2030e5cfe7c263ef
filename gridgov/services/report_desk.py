"""Reports for staff: lists within the scope, one report, and placing a report by hand.

A located report belongs to its case, so it is visible exactly when its case is (scope, and for
a department the cases dispatched to it). A report that could not be located has no case and no
grid: it belongs to the whole city, and only city-wide accounts see and place it (the city
operation centre's intake desk, where the 12345 hotline's unplaceable orders arrive). Lists are
always masked; one report is shown unmasked to whoever may see its personal data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from gridgov.core.errors import InvalidInput, NotFound
from gridgov.core.geo import Crs
from gridgov.intake.channels import adapter
from gridgov.intake.privacy import mask, mask_name, mask_phone
from gridgov.services.case_scope import department_of
from gridgov.services.cases import CaseService, OutOfScope
from gridgov.services.grid_browse import GridBrowse
from gridgov.services.intake import AlreadyLocated, IntakeReceipt, IntakeService
from gridgov.store.cases import StoredReport
from gridgov.store.intake import AWAITING_MANUAL, LOCATION_STATUSES
from gridgov.store.report_queries import ReportQueries, ReportQuery
from gridgov.workflow.model import Actor, Case

MAX_PAGE = 500
REPORT = "report 上报"
# What intake decided that an operator needs to place or judge a report; none of it is personal.
_DECISIONS = (
    "located_by",
    "location_confidence",
    "location_explanation",
    "candidates",
    "category_confidence",
    "category_source",
    "suggestions",
    "duplicate_of",
    "warnings",
)


@dataclass(frozen=True, slots=True)
class ReportPage:
    rows: list[dict[str, Any]]  # masked
    total: int
    limit: int
    offset: int


class ReportDesk:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        cases: CaseService,
        intake: IntakeService,
        grids: GridBrowse,
    ) -> None:
        self._sessions = session_factory
        self._cases = cases
        self._intake = intake
        self._grids = grids

    def reports(
        self,
        actor: Actor,
        scope: str | None = None,
        *,
        location_status: str | None = None,
        channel: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> ReportPage:
        """A page of the reports the actor may see, newest first, masked."""
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput("limit", f"须为 1–{MAX_PAGE} / must be 1–{MAX_PAGE}")
        if offset < 0:
            raise InvalidInput("offset", "不能为负 / must not be negative")
        if location_status is not None and location_status not in LOCATION_STATUSES:
            allowed = ", ".join(LOCATION_STATUSES)
            raise InvalidInput("location_status", f"须为 {allowed} 之一 / must be one of {allowed}")
        if channel is not None:
            adapter(channel)
        asked = self._grids.scope(actor, scope) if scope is not None else None
        scopes = tuple(c for c in (actor.scope_code, asked) if c is not None)
        department = department_of(actor)
        query = ReportQuery(
            scope_codes=scopes,
            departments=(department,) if department is not None else (),
            location_status=location_status,
            channel=channel,
        )
        with self._sessions() as session:
            records, total = ReportQueries(session).search(query, limit=limit, offset=offset)
        return ReportPage([masked(r) for r in records], total, limit, offset)

    def report(self, actor: Actor, report_id: int) -> tuple[StoredReport, Case | None]:
        """One report the actor may see, with its case (None while it waits to be located)."""
        with self._sessions() as session:
            record = ReportQueries(session).report(report_id)
        if record is None:
            raise NotFound(REPORT, report_id)
        if record.case_id is None:
            if not _city_wide(actor):
                raise NotFound(REPORT, report_id)
            return record, None
        try:
            return record, self._cases.case(record.case_id, actor)
        except OutOfScope:
            # The same answer as a report that does not exist.
            raise NotFound(REPORT, report_id) from None

    def view(self, report_id: int, *, personal_data: bool) -> dict[str, Any]:
        """The full stored report as a role may see it (check `report` first)."""
        return self._intake.report(report_id, may_see_personal_data=personal_data)

    def place(
        self, actor: Actor, report_id: int, lon: float, lat: float, *, crs: Crs = Crs.WGS84
    ) -> IntakeReceipt:
        """人工定位: put a report that waits for manual location at a point; its case opens."""
        record, _ = self.report(actor, report_id)
        if record.location_status != AWAITING_MANUAL or record.case_id is not None:
            raise AlreadyLocated(report_id, record.case_id)
        return self._intake.locate_manually(report_id, lon, lat, actor, crs=crs)


def _city_wide(actor: Actor) -> bool:
    return actor.scope_code is None and department_of(actor) is None


def masked(record: StoredReport) -> dict[str, Any]:
    """A report for a list: no unmasked number, name or address, whoever asks."""
    decided = record.intake
    return {
        "id": record.id,
        "channel": record.channel,
        "external_id": record.external_id,
        "received_at": record.received_at.isoformat(),
        "reported_at": record.reported_at.isoformat(),
        "case_id": record.case_id,
        "location_status": record.location_status or "located",
        "lon": record.lon,
        "lat": record.lat,
        "category_code": record.category_code,
        "title": decided.get("title_masked"),
        "text": record.text_masked
        if record.text_masked is not None
        else mask(record.text).text_masked,
        "address": None if record.address is None else mask(record.address).text_masked,
        "reporter_name": None if record.reporter_name is None else mask_name(record.reporter_name),
        "reporter_phone": None
        if record.reporter_phone is None
        else mask_phone(record.reporter_phone),
        "intake": {key: decided.get(key) for key in _DECISIONS if key in decided},
    }
