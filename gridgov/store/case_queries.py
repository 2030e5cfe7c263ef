"""Finding cases on the `cases` projection: scope, filters, newest first, a page and the total.

Read only. Every value reaches SQL as a bound parameter; text search escapes LIKE's wildcards.
The projection answers which cases match; the services replay the page's cases from their
events, which stay the truth, and check the scope again on what they replayed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import and_, exists, false, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from gridgov.store.tables import CaseRow, ReportRow

# The grid levels a case's path may name, each with its own projection column.
_PATH = (
    CaseRow.city_code,
    CaseRow.district_code,
    CaseRow.street_code,
    CaseRow.community_code,
    CaseRow.compound_code,
    CaseRow.micro_code,
)
# Where the accept and handle clocks run (gridgov/services/sweeper.py `running_deadlines`).
_ACCEPT_CLOCK = ("dispatched",)
_HANDLE_CLOCK = ("dispatched", "accepted", "reopened")

_MAX_ID = 2**31 - 1  # INTEGER on PostgreSQL
SearchIn = Literal["text", "text_masked"]


@dataclass(frozen=True, slots=True)
class CaseQuery:
    """What to look for; empty tuples and None mean no condition."""

    scope_codes: tuple[str, ...] = ()  # grid codes on the case's path (each must hold)
    departments: tuple[str, ...] = ()  # dispatched now to this department (each must hold)
    ids: tuple[int, ...] = ()
    states: tuple[str, ...] = ()
    category_codes: tuple[str, ...] = ()
    channel: str | None = None
    overdue_at: datetime | None = None  # only cases past a running deadline at this instant
    created_from: datetime | None = None
    created_to: datetime | None = None
    text: str | None = None
    search_in: SearchIn = "text_masked"


class CaseQueries:
    """Read-only case searches; the caller owns the session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def search(self, query: CaseQuery, *, limit: int, offset: int) -> tuple[list[int], int]:
        """Ids of one page of matching cases, newest first, and how many match in all."""
        conditions = _conditions(query)
        total = self._session.scalar(select(func.count()).select_from(CaseRow).where(*conditions))
        ids = self._session.scalars(
            select(CaseRow.id)
            .where(*conditions)
            .order_by(CaseRow.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return list(ids), total or 0


def _conditions(query: CaseQuery) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = [CaseRow.last_seq > 0]
    for scope in query.scope_codes:
        found.append(or_(*(column == scope for column in _PATH)))
    for department in query.departments:
        found.append(CaseRow.assignee_department == department)
    if query.ids:
        found.append(CaseRow.id.in_(query.ids))
    if query.states:
        found.append(CaseRow.state.in_(query.states))
    if query.category_codes:
        found.append(CaseRow.category_code.in_(query.category_codes))
    if query.channel is not None:
        found.append(
            exists().where(ReportRow.case_id == CaseRow.id, ReportRow.channel == query.channel)
        )
    if query.overdue_at is not None:
        found.append(_overdue(query.overdue_at))
    if query.created_from is not None:
        found.append(CaseRow.created_at >= query.created_from)
    if query.created_to is not None:
        found.append(CaseRow.created_at < query.created_to)
    if query.text:
        found.append(_text(query.text, query.search_in))
    return found


def _overdue(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(CaseRow.state.in_(_ACCEPT_CLOCK), CaseRow.accept_due < now),
        and_(CaseRow.state.in_(_HANDLE_CLOCK), CaseRow.handle_due < now),
    )


def _text(text: str, search_in: SearchIn) -> ColumnElement[bool]:
    """The case number, a category code, or words of one of its reports."""
    if search_in == "text":
        column: Any = ReportRow.text
    elif _has_digit(text):
        # Phone, ID and card numbers are masked digits: a search with digits by someone who may
        # not see them must not learn which report holds them, so it looks at the masked text.
        column = ReportRow.text_masked
    else:
        # Masking changes only digit runs, so digit-free words match the original text as they
        # match the masked one; reports stored without a masked copy stay findable.
        column = func.coalesce(ReportRow.text_masked, ReportRow.text)
    words = exists().where(ReportRow.case_id == CaseRow.id, column.icontains(text, autoescape=True))
    by_number: ColumnElement[bool] = false()
    if text.isascii() and text.isdigit() and len(text) <= 10 and int(text) <= _MAX_ID:
        by_number = CaseRow.id == int(text)
    return or_(by_number, CaseRow.category_code == text, words)


def _has_digit(text: str) -> bool:
    return any(ch.isdigit() for ch in text)


def path_columns() -> Sequence[Any]:
    """The projection's grid path columns, coarse to fine."""
    return _PATH
