"""Finding people by their grid assignments: a page of (person, assignment) rows and the total."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from gridgov.core.errors import NotFound
from gridgov.store.tables import AssignmentRow, PersonRow

# More grid codes than this are matched in Python rather than as bound parameters (SQLite
# allows 32,766 per statement, PostgreSQL 65,535).
MAX_BOUND_CODES = 20_000


@dataclass(frozen=True, slots=True)
class StaffRow:
    """One assignment of one person, with the person's own details."""

    assignment_id: int
    person_id: int
    name: str
    phone: str | None
    role_title: str | None
    organisation: str | None
    party_member: bool
    grid_code: str
    role: str
    valid_from: datetime
    valid_to: datetime | None


@dataclass(frozen=True, slots=True)
class StaffQuery:
    """Empty and None mean no condition; `grid_codes` None means every grid."""

    grid_codes: Collection[str] | None = None
    roles: tuple[str, ...] = ()
    at: datetime | None = None  # with `on_duty`: assignments in force (or not) at this instant
    on_duty: bool | None = None
    person_id: int | None = None


class PeopleQueries:
    """Read-only; the caller owns the session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def staff(self, query: StaffQuery, *, limit: int, offset: int) -> tuple[list[StaffRow], int]:
        """One page of matching assignments (by grid, role, person) and how many match in all."""
        statement = _select().where(*_conditions(query))
        order = (AssignmentRow.grid_code, AssignmentRow.role, PersonRow.name, AssignmentRow.id)
        codes = query.grid_codes
        if codes is not None and len(codes) > MAX_BOUND_CODES:
            wanted = set(codes)
            rows = [r for r in self._session.execute(statement.order_by(*order)) if r[7] in wanted]
            return [_row(r) for r in rows[offset : offset + limit]], len(rows)
        if codes is not None:
            statement = statement.where(AssignmentRow.grid_code.in_(list(codes)))
        total = self._session.scalar(select(func.count()).select_from(statement.subquery()))
        page = self._session.execute(statement.order_by(*order).limit(limit).offset(offset))
        return [_row(r) for r in page], total or 0

    def person(self, person_id: int) -> list[StaffRow]:
        """Every assignment of a person, oldest first; NotFound when there is no such person."""
        if self._session.get(PersonRow, person_id) is None:
            raise NotFound("person 人员", person_id)
        rows = self._session.execute(
            _select()
            .where(AssignmentRow.person_id == person_id)
            .order_by(AssignmentRow.valid_from, AssignmentRow.id)
        )
        return [_row(r) for r in rows]


def _select() -> Select[Any]:
    return select(
        AssignmentRow.id,
        PersonRow.id,
        PersonRow.name,
        PersonRow.phone,
        PersonRow.role_title,
        PersonRow.organisation,
        PersonRow.party_member,
        AssignmentRow.grid_code,
        AssignmentRow.role,
        AssignmentRow.valid_from,
        AssignmentRow.valid_to,
    ).join(PersonRow, PersonRow.id == AssignmentRow.person_id)


def _conditions(query: StaffQuery) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if query.roles:
        found.append(AssignmentRow.role.in_(query.roles))
    if query.person_id is not None:
        found.append(AssignmentRow.person_id == query.person_id)
    if query.on_duty is not None and query.at is not None:
        in_force = and_(
            AssignmentRow.valid_from <= query.at,
            or_(AssignmentRow.valid_to.is_(None), AssignmentRow.valid_to > query.at),
        )
        found.append(in_force if query.on_duty else ~in_force)
    return found


def _row(row: Any) -> StaffRow:
    return StaffRow(*row)
