"""Finding reports: by the grid path and department of their case, status and channel, a page and
the total. A report that waits for manual location has no case, so no grid condition finds it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from gridgov.store.case_queries import path_columns
from gridgov.store.cases import StoredReport, stored_report
from gridgov.store.intake import AWAITING_MANUAL
from gridgov.store.tables import CaseRow, ReportRow


@dataclass(frozen=True, slots=True)
class ReportQuery:
    """Empty and None mean no condition."""

    scope_codes: tuple[str, ...] = ()  # grid codes on the case's path (each must hold)
    departments: tuple[str, ...] = ()  # the case is dispatched now to this department
    location_status: str | None = None
    channel: str | None = None
    case_id: int | None = None


class ReportQueries:
    """Read-only; the caller owns the session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def search(
        self, query: ReportQuery, *, limit: int, offset: int
    ) -> tuple[list[StoredReport], int]:
        """One page of matching reports, newest first, and how many match in all."""
        conditions = _conditions(query)
        base = select(ReportRow).outerjoin(CaseRow, CaseRow.id == ReportRow.case_id)
        total = self._session.scalar(
            select(func.count()).select_from(base.where(*conditions).subquery())
        )
        rows = self._session.scalars(
            base.where(*conditions).order_by(ReportRow.id.desc()).limit(limit).offset(offset)
        )
        return [stored_report(r) for r in rows], total or 0

    def report(self, report_id: int) -> StoredReport | None:
        row = self._session.get(ReportRow, report_id)
        return None if row is None else stored_report(row)


def _conditions(query: ReportQuery) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    for scope in query.scope_codes:
        found.append(or_(*(column == scope for column in path_columns())))
    for department in query.departments:
        found.append(CaseRow.assignee_department == department)
    if query.location_status == AWAITING_MANUAL:
        found.append(ReportRow.location_status == AWAITING_MANUAL)
    elif query.location_status is not None:
        # Reports stored straight through the case service carry no status; they have a point.
        found.append(
            or_(ReportRow.location_status.is_(None), ReportRow.location_status != AWAITING_MANUAL)
        )
    if query.channel is not None:
        found.append(ReportRow.channel == query.channel)
    if query.case_id is not None:
        found.append(ReportRow.case_id == query.case_id)
    return found
