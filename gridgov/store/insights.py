"""Read queries for AI insights: the dispatch history smart dispatch learns from, the recent cases
early warning watches, the day's figures of the daily briefing, and a report's photo analysis.

A scope is one regular grid: its level names the projection column (`PATH_COLUMNS`) that holds
its code, so every query filters on one indexed column. The caller owns the transaction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select, update
from sqlalchemy.orm import Session

from gridgov.core.errors import InvalidInput, NotFound
from gridgov.store.cases import PATH_COLUMNS
from gridgov.store.tables import CaseEventRow, CaseRow, ReportRow

# The actions that say where a case went and whether it stayed there.
DISPATCH_ACTIONS = ("file", "dispatch", "return", "reassign")
# States in which a case is finished or folded into another: not part of the backlog.
DONE_STATES = ("rejected", "closed", "evaluated", "merged")
# States in which the handling deadline runs against the department.
HANDLING_STATES = ("dispatched", "accepted", "reopened")


@dataclass(frozen=True, slots=True)
class ScopeFilter:
    """Cases whose `level` column holds `code`; with a department, only the cases now
    dispatched to it (what a department's own staff see)."""

    level: str
    code: str
    department: str | None = None


@dataclass(frozen=True, slots=True)
class DispatchEvent:
    case_id: int
    seq: int
    action: str
    at: datetime
    payload: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """What smart dispatch needs of a case besides its events: the first report's text, the
    grid path (level → code) and the category it now has."""

    case_id: int
    text: str
    grid_path: Mapping[str, str]
    category_code: str | None
    layer_id: int | None = None
    special_codes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CasePoint:
    """A case as early warning sees it (the report that opened it, where and what)."""

    case_id: int
    created_at: datetime
    category_code: str
    street_code: str
    community_code: str
    lon: float
    lat: float


@dataclass(frozen=True, slots=True)
class ReportFacts:
    id: int
    channel: str
    reported_at: datetime
    text: str
    text_masked: str | None
    category_code: str | None
    lon: float | None
    lat: float | None
    intake: Mapping[str, Any]


class InsightsRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    # Smart dispatch

    def dispatch_events(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> list[DispatchEvent]:
        """File, dispatch, return and reassign events in [since, until), by case then order."""
        query = select(
            CaseEventRow.case_id,
            CaseEventRow.seq,
            CaseEventRow.action,
            CaseEventRow.at,
            CaseEventRow.payload,
        ).where(CaseEventRow.action.in_(DISPATCH_ACTIONS))
        if since is not None:
            query = query.where(CaseEventRow.at >= since)
        if until is not None:
            query = query.where(CaseEventRow.at < until)
        rows = self._session.execute(query.order_by(CaseEventRow.case_id, CaseEventRow.seq))
        return [DispatchEvent(c, s, a, at, p or {}) for c, s, a, at, p in rows]

    def case_facts(self, case_ids: Sequence[int]) -> dict[int, CaseFacts]:
        """Text of the first report, grid path and category of each case."""
        path_columns = [getattr(CaseRow, column) for column in PATH_COLUMNS.values()]
        first = (
            select(ReportRow.case_id, func.min(ReportRow.id).label("report_id"))
            .group_by(ReportRow.case_id)
            .subquery()
        )
        out: dict[int, CaseFacts] = {}
        wanted = sorted(set(case_ids))
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            rows = self._session.execute(
                select(
                    CaseRow.id,
                    CaseRow.category_code,
                    CaseRow.layer_id,
                    CaseRow.special_codes,
                    ReportRow.text_masked,
                    ReportRow.text,
                    *path_columns,
                )
                .join(first, first.c.case_id == CaseRow.id, isouter=True)
                .join(ReportRow, ReportRow.id == first.c.report_id, isouter=True)
                .where(CaseRow.id.in_(chunk))
            )
            for case_id, category, layer_id, specials, masked, text, *codes in rows:
                path = {
                    level: code
                    for level, code in zip(PATH_COLUMNS, codes, strict=True)
                    if code is not None
                }
                out[case_id] = CaseFacts(
                    case_id,
                    masked or text or "",
                    path,
                    category,
                    layer_id,
                    tuple(specials or ()),
                )
        return out

    # Early warning

    def case_points(self, where: ScopeFilter, since: datetime, until: datetime) -> list[CasePoint]:
        """Located, classified cases of the scope created in [since, until), oldest first."""
        rows = self._session.execute(
            select(
                CaseRow.id,
                CaseRow.created_at,
                CaseRow.category_code,
                CaseRow.street_code,
                CaseRow.community_code,
                CaseRow.lon,
                CaseRow.lat,
            )
            .where(_in_scope(where))
            .where(CaseRow.created_at >= since, CaseRow.created_at < until)
            .where(CaseRow.category_code.is_not(None), CaseRow.lon.is_not(None))
            .where(CaseRow.street_code.is_not(None), CaseRow.last_seq > 0)
            .order_by(CaseRow.created_at, CaseRow.id)
        )
        return [
            CasePoint(i, at, category, street, community or street, lon, lat)
            for i, at, category, street, community, lon, lat in rows
        ]

    def newest_case_id(self, where: ScopeFilter) -> int:
        """The newest case id in the scope (0 for none): it changes whenever a case arrives."""
        return self._session.scalar(select(func.max(CaseRow.id)).where(_in_scope(where))) or 0

    # The daily briefing

    def reports_by_channel(
        self, where: ScopeFilter, start: datetime, end: datetime
    ) -> dict[str, int]:
        """Reports received in [start, end) whose case lies in the scope, per channel."""
        rows = self._session.execute(
            select(ReportRow.channel, func.count())
            .join(CaseRow, CaseRow.id == ReportRow.case_id)
            .where(_in_scope(where))
            .where(ReportRow.received_at >= start, ReportRow.received_at < end)
            .group_by(ReportRow.channel)
        )
        return {channel: int(n) for channel, n in rows}

    def actions(self, where: ScopeFilter, start: datetime, end: datetime) -> dict[str, int]:
        """Case events in [start, end) in the scope, per action."""
        rows = self._session.execute(
            select(CaseEventRow.action, func.count())
            .join(CaseRow, CaseRow.id == CaseEventRow.case_id)
            .where(_in_scope(where))
            .where(CaseEventRow.at >= start, CaseEventRow.at < end)
            .group_by(CaseEventRow.action)
        )
        return {action: int(n) for action, n in rows}

    def handled_on_time(self, where: ScopeFilter, start: datetime, end: datetime) -> int:
        """Handling reports in [start, end) made by the case's handling deadline."""
        return int(
            self._session.scalar(
                select(func.count())
                .select_from(CaseEventRow)
                .join(CaseRow, CaseRow.id == CaseEventRow.case_id)
                .where(_in_scope(where))
                .where(CaseEventRow.action == "handle")
                .where(CaseEventRow.at >= start, CaseEventRow.at < end)
                .where(CaseRow.handle_due.is_not(None), CaseEventRow.at <= CaseRow.handle_due)
            )
            or 0
        )

    def satisfaction(self, where: ScopeFilter, start: datetime, end: datetime) -> Counter[str]:
        """Answers of the call-backs (回访) made in [start, end), per satisfaction level."""
        payloads = self._session.scalars(
            select(CaseEventRow.payload)
            .join(CaseRow, CaseRow.id == CaseEventRow.case_id)
            .where(_in_scope(where))
            .where(CaseEventRow.action == "evaluate")
            .where(CaseEventRow.at >= start, CaseEventRow.at < end)
        )
        return Counter(str((p or {}).get("satisfaction")) for p in payloads)

    def created_by(
        self, where: ScopeFilter, start: datetime, end: datetime, column: str
    ) -> list[tuple[str, int]]:
        """Cases created in [start, end) per value of `column` (category_code or a path
        column), most first; cases without a value are left out."""
        if column != "category_code" and column not in PATH_COLUMNS.values():
            raise InvalidInput("column", f"{column!r} is not a category or grid column")
        target = getattr(CaseRow, column)
        count = func.count().label("n")
        rows = self._session.execute(
            select(target, count)
            .where(_in_scope(where))
            .where(CaseRow.created_at >= start, CaseRow.created_at < end)
            .where(target.is_not(None), CaseRow.last_seq > 0)
            .group_by(target)
            .order_by(count.desc(), target)
        )
        return [(str(value), int(n)) for value, n in rows]

    def backlog(self, where: ScopeFilter, now: datetime) -> tuple[int, int]:
        """(open cases, of which past their handling deadline in a handling state) at `now`."""
        open_cases = self._session.scalar(
            select(func.count())
            .select_from(CaseRow)
            .where(_in_scope(where))
            .where(CaseRow.last_seq > 0, CaseRow.state.not_in(DONE_STATES))
        )
        overdue = self._session.scalar(
            select(func.count())
            .select_from(CaseRow)
            .where(_in_scope(where))
            .where(CaseRow.state.in_(HANDLING_STATES), CaseRow.handle_due < now)
        )
        return int(open_cases or 0), int(overdue or 0)

    # Reports of a case

    def case_reports(self, case_id: int) -> list[ReportFacts]:
        rows = self._session.scalars(
            select(ReportRow).where(ReportRow.case_id == case_id).order_by(ReportRow.id)
        )
        return [
            ReportFacts(
                r.id,
                r.channel,
                r.reported_at,
                r.text,
                r.text_masked,
                r.category_code,
                r.lon,
                r.lat,
                dict(r.intake or {}),
            )
            for r in rows
        ]

    def put_photo_analysis(self, report_id: int, analysis: Mapping[str, Any]) -> None:
        """Keep a photo analysis in the report's intake record (a model call is seconds long)."""
        row = self._session.get(ReportRow, report_id)
        if row is None:
            raise NotFound("report 上报", report_id)
        intake = dict(row.intake or {})
        intake["photo_analysis"] = dict(analysis)
        self._session.execute(
            update(ReportRow).where(ReportRow.id == report_id).values(intake=intake)
        )


def _in_scope(where: ScopeFilter) -> ColumnElement[bool]:
    column = PATH_COLUMNS.get(where.level)
    if column is None:
        raise InvalidInput("scope", f"{where.level} is not a level a scope can be")
    result: ColumnElement[bool] = getattr(CaseRow, column) == where.code
    if where.department is not None:
        result = and_(result, CaseRow.assignee_department == where.department)
    return result
