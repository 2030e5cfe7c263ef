"""People in grids: persons, their time-bounded grid assignments, party organisation and volunteering."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy import func, insert, or_, select
from sqlalchemy.orm import Session

from gridgov.core.clock import Clock, SystemClock
from gridgov.core.errors import Conflict, InvalidInput, NotFound
from gridgov.grids.people import (
    Assignment,
    AssignmentRole,
    PartyOrganisation,
    PartyOrgKind,
    PartyRegistration,
    Person,
    RosterEntry,
    VolunteerTask,
    VolunteerTaskStatus,
    check_period,
)
from gridgov.store.tables import (
    AssignmentRow,
    PartyOrganisationRow,
    PartyRegistrationRow,
    PersonRow,
    VolunteerTaskRow,
)

_ROLE_ORDER = list(AssignmentRole)

R = TypeVar("R")


class PeopleRepository:
    """People and what they do in which grid; the caller owns the transaction."""

    def __init__(self, session: Session, clock: Clock | None = None) -> None:
        self._session = session
        self._clock = clock or SystemClock()

    def add_person(
        self,
        name: str,
        *,
        phone: str | None = None,
        role_title: str | None = None,
        organisation: str | None = None,
        party_member: bool = False,
        note: str | None = None,
    ) -> Person:
        if not name.strip():
            raise InvalidInput("name", "a person needs a name")
        row = PersonRow(
            name=name.strip(),
            phone=phone,
            role_title=role_title,
            organisation=organisation,
            party_member=party_member,
            note=note,
        )
        self._session.add(row)
        self._session.flush()
        return _person(row)

    def person(self, person_id: int) -> Person:
        return _person(_get(self._session, PersonRow, person_id, "person"))

    def assign(
        self,
        person_id: int,
        grid_code: str,
        role: AssignmentRole,
        valid_from: datetime,
        valid_to: datetime | None = None,
    ) -> Assignment:
        """Give a person a role in a grid (by code, so it outlives grid layer versions)."""
        check_period(valid_from, valid_to)
        _check_code(grid_code)
        _get(self._session, PersonRow, person_id, "person")
        row = AssignmentRow(
            person_id=person_id,
            grid_code=grid_code,
            role=AssignmentRole(role).value,
            valid_from=valid_from,
            valid_to=valid_to,
        )
        self._session.add(row)
        self._session.flush()
        return _assignment(row)

    def end_assignment(self, assignment_id: int, at: datetime) -> Assignment:
        """Close an assignment at `at`; it must have started before and still be open then."""
        row = _get(self._session, AssignmentRow, assignment_id, "assignment")
        check_period(row.valid_from, at)
        if row.valid_to is not None and row.valid_to <= at:
            raise Conflict(f"assignment {assignment_id} already ended at {row.valid_to}")
        row.valid_to = at
        self._session.flush()
        return _assignment(row)

    def assignments(self, person_id: int) -> list[Assignment]:
        """Every assignment of a person, past and present, oldest first."""
        rows = self._session.scalars(
            select(AssignmentRow)
            .where(AssignmentRow.person_id == person_id)
            .order_by(AssignmentRow.valid_from, AssignmentRow.id)
        ).all()
        return [_assignment(r) for r in rows]

    def responsible_for(self, grid_codes: Sequence[str], at: datetime) -> list[Assignment]:
        """Assignments active at `at` in those grids, in the order the codes were given.

        Callers pass a point's grids finest first (or coarsest first) and get people in that order;
        within one grid, leaders come after workers in `AssignmentRole` order.
        """
        if at.tzinfo is None:
            raise InvalidInput("at", "needs a time zone")
        codes = list(dict.fromkeys(grid_codes))
        if not codes:
            return []
        rows = self._session.scalars(
            select(AssignmentRow).where(
                AssignmentRow.grid_code.in_(codes),
                AssignmentRow.valid_from <= at,
                or_(AssignmentRow.valid_to.is_(None), AssignmentRow.valid_to > at),
            )
        ).all()
        found = [_assignment(r) for r in rows]
        position = {code: i for i, code in enumerate(codes)}
        return sorted(found, key=lambda a: (position[a.grid_code], _ROLE_ORDER.index(a.role), a.id))

    def count(self) -> int:
        return self._session.scalar(select(func.count()).select_from(PersonRow)) or 0

    def add_roster(self, entries: Sequence[RosterEntry], at: datetime) -> dict[str, int]:
        """Load many people with their roles at once (a whole city's roster); returns counts.

        Row-by-row `add_person` costs a round trip per person; a city has tens of thousands, so
        this inserts each table in one multi-row statement per batch.
        """
        check_period(at, None)
        if not entries:
            return {"people": 0, "assignments": 0, "organisations": 0, "registrations": 0}
        for n, entry in enumerate(entries):
            if not entry.name.strip():
                raise InvalidInput(f"roster[{n}].name", "a person needs a name")
        person_ids = list(
            self._session.scalars(
                insert(PersonRow).returning(PersonRow.id, sort_by_parameter_order=True),
                [
                    {
                        "name": e.name.strip(),
                        "phone": e.phone,
                        "organisation": e.organisation,
                        "party_member": e.party_member,
                        "role_title": None,
                        "note": None,
                    }
                    for e in entries
                ],
            )
        )
        assignments = [
            {
                "person_id": pid,
                "grid_code": code,
                "role": role.value,
                "valid_from": at,
                "valid_to": None,
            }
            for pid, e in zip(person_ids, entries, strict=True)
            for code, role in e.assignments
        ]
        if assignments:
            self._session.execute(insert(AssignmentRow), assignments)
        branches = [(pid, e) for pid, e in zip(person_ids, entries, strict=True) if e.secretary_of]
        branch_ids: dict[str, int] = {}
        if branches:
            ids = self._session.scalars(
                insert(PartyOrganisationRow).returning(
                    PartyOrganisationRow.id, sort_by_parameter_order=True
                ),
                [
                    {
                        "grid_code": e.secretary_of,
                        "name": e.branch_name or f"{e.secretary_of}网格党支部",
                        "kind": PartyOrgKind.BRANCH.value,
                        "secretary_id": pid,
                    }
                    for pid, e in branches
                ],
            )
            branch_ids = {
                e.secretary_of or "": oid for (_, e), oid in zip(branches, ids, strict=True)
            }
        registrations = [
            {
                "person_id": pid,
                "grid_code": e.registered_in,
                "organisation_id": branch_ids.get(e.registered_in),
                "registered_at": at,
            }
            for pid, e in zip(person_ids, entries, strict=True)
            if e.registered_in and e.party_member
        ]
        if registrations:
            self._session.execute(insert(PartyRegistrationRow), registrations)
        return {
            "people": len(person_ids),
            "assignments": len(assignments),
            "organisations": len(branch_ids),
            "registrations": len(registrations),
        }

    def add_organisation(
        self, grid_code: str, name: str, kind: PartyOrgKind, secretary_id: int | None = None
    ) -> PartyOrganisation:
        """Set up a grid party branch (网格党支部) or party group (党小组)."""
        _check_code(grid_code)
        if not name.strip():
            raise InvalidInput("name", "a party organisation needs a name")
        if secretary_id is not None:
            _get(self._session, PersonRow, secretary_id, "person")
        row = PartyOrganisationRow(
            grid_code=grid_code,
            name=name.strip(),
            kind=PartyOrgKind(kind).value,
            secretary_id=secretary_id,
        )
        self._session.add(row)
        self._session.flush()
        return _organisation(row)

    def organisations(self, grid_code: str) -> list[PartyOrganisation]:
        rows = self._session.scalars(
            select(PartyOrganisationRow)
            .where(PartyOrganisationRow.grid_code == grid_code)
            .order_by(PartyOrganisationRow.id)
        ).all()
        return [_organisation(r) for r in rows]

    def register_party_member(
        self,
        person_id: int,
        grid_code: str,
        registered_at: datetime,
        organisation_id: int | None = None,
    ) -> PartyRegistration:
        """Record an in-service party member reporting to a community (在职党员到社区报到)."""
        _check_code(grid_code)
        if registered_at.tzinfo is None:
            raise InvalidInput("registered_at", "needs a time zone")
        person = _get(self._session, PersonRow, person_id, "person")
        if not person.party_member:
            raise InvalidInput("person_id", f"person {person_id} is not a party member")
        if organisation_id is not None:
            _get(self._session, PartyOrganisationRow, organisation_id, "party organisation")
        already = self._session.scalar(
            select(PartyRegistrationRow.id).where(
                PartyRegistrationRow.person_id == person_id,
                PartyRegistrationRow.grid_code == grid_code,
            )
        )
        if already is not None:
            raise Conflict(f"person {person_id} is already registered in grid {grid_code}")
        row = PartyRegistrationRow(
            person_id=person_id,
            grid_code=grid_code,
            organisation_id=organisation_id,
            registered_at=registered_at,
        )
        self._session.add(row)
        self._session.flush()
        return _registration(row)

    def registrations(self, grid_code: str) -> list[PartyRegistration]:
        rows = self._session.scalars(
            select(PartyRegistrationRow)
            .where(PartyRegistrationRow.grid_code == grid_code)
            .order_by(PartyRegistrationRow.registered_at, PartyRegistrationRow.id)
        ).all()
        return [_registration(r) for r in rows]

    def add_task(
        self,
        grid_code: str,
        title: str,
        description: str = "",
        due_at: datetime | None = None,
    ) -> VolunteerTask:
        """Post an open volunteer task in a grid."""
        _check_code(grid_code)
        if not title.strip():
            raise InvalidInput("title", "a volunteer task needs a title")
        created_at = self._clock.now()
        if due_at is not None and due_at <= created_at:
            raise InvalidInput("due_at", f"{due_at.isoformat()} is not in the future")
        row = VolunteerTaskRow(
            grid_code=grid_code,
            title=title.strip(),
            description=description,
            status=VolunteerTaskStatus.OPEN.value,
            created_at=created_at,
            due_at=due_at,
        )
        self._session.add(row)
        self._session.flush()
        return _task(row)

    def task(self, task_id: int) -> VolunteerTask:
        return _task(_get(self._session, VolunteerTaskRow, task_id, "volunteer task"))

    def assign_task(self, task_id: int, person_id: int) -> VolunteerTask:
        row = _get(self._session, VolunteerTaskRow, task_id, "volunteer task", lock=True)
        _get(self._session, PersonRow, person_id, "person")
        if row.status != VolunteerTaskStatus.OPEN.value:
            raise Conflict(f"volunteer task {task_id} is {row.status}, not open")
        row.assignee_id = person_id
        row.status = VolunteerTaskStatus.ASSIGNED.value
        self._session.flush()
        return _task(row)

    def complete_task(self, task_id: int) -> VolunteerTask:
        row = _get(self._session, VolunteerTaskRow, task_id, "volunteer task", lock=True)
        if row.status != VolunteerTaskStatus.ASSIGNED.value:
            raise Conflict(f"volunteer task {task_id} is {row.status}; only assigned tasks end")
        row.status = VolunteerTaskStatus.DONE.value
        self._session.flush()
        return _task(row)

    def tasks(
        self, grid_code: str, status: VolunteerTaskStatus | None = None
    ) -> list[VolunteerTask]:
        query = select(VolunteerTaskRow).where(VolunteerTaskRow.grid_code == grid_code)
        if status is not None:
            query = query.where(VolunteerTaskRow.status == status.value)
        rows = self._session.scalars(query.order_by(VolunteerTaskRow.id)).all()
        return [_task(r) for r in rows]


def _get(session: Session, model: type[R], key: int, kind: str, *, lock: bool = False) -> R:
    row = session.get(model, key, with_for_update=lock)
    if row is None:
        raise NotFound(kind, key)
    return row


def _check_code(grid_code: str) -> None:
    if not grid_code.strip():
        raise InvalidInput("grid_code", "must not be empty")


def _person(row: PersonRow) -> Person:
    return Person(
        id=row.id,
        name=row.name,
        phone=row.phone,
        role_title=row.role_title,
        organisation=row.organisation,
        party_member=row.party_member,
        note=row.note,
    )


def _assignment(row: AssignmentRow) -> Assignment:
    return Assignment(
        id=row.id,
        person_id=row.person_id,
        grid_code=row.grid_code,
        role=AssignmentRole(row.role),
        valid_from=row.valid_from,
        valid_to=row.valid_to,
    )


def _organisation(row: PartyOrganisationRow) -> PartyOrganisation:
    return PartyOrganisation(
        id=row.id,
        grid_code=row.grid_code,
        name=row.name,
        kind=PartyOrgKind(row.kind),
        secretary_id=row.secretary_id,
    )


def _registration(row: PartyRegistrationRow) -> PartyRegistration:
    return PartyRegistration(
        id=row.id,
        person_id=row.person_id,
        grid_code=row.grid_code,
        registered_at=row.registered_at,
        organisation_id=row.organisation_id,
    )


def _task(row: VolunteerTaskRow) -> VolunteerTask:
    return VolunteerTask(
        id=row.id,
        grid_code=row.grid_code,
        title=row.title,
        status=VolunteerTaskStatus(row.status),
        created_at=row.created_at,
        description=row.description,
        assignee_id=row.assignee_id,
        due_at=row.due_at,
    )
