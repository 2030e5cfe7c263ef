"""People in grids: who is responsible at a point, assignments, party organisations, volunteers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from gridgov.core.clock import Clock
from gridgov.core.errors import Conflict, InvalidInput
from gridgov.core.geo import Crs
from gridgov.grids.model import Grid, GridLevel
from gridgov.grids.people import (
    Assignment,
    AssignmentRole,
    PartyOrganisation,
    Person,
    RosterEntry,
    VolunteerTask,
    VolunteerTaskStatus,
)
from gridgov.services.locating import GridLocating, LocateAnswer
from gridgov.store.layers import LayerRepository
from gridgov.store.people import PeopleRepository


@dataclass(frozen=True, slots=True)
class Responsible:
    """One person answering for one of the grids at a point."""

    grid: Grid
    person: Person
    assignment: Assignment


@dataclass(frozen=True, slots=True)
class PartyView:
    grid_code: str
    organisations: tuple[PartyOrganisation, ...]
    members: tuple[Person, ...]


@dataclass(frozen=True, slots=True)
class ResponsibleAnswer:
    """Who answers for a point, finest grid first, plus the party organisations of those grids."""

    located: LocateAnswer
    people: tuple[Responsible, ...]
    organisations: tuple[PartyOrganisation, ...]


class PeopleService:
    def __init__(
        self, session_factory: sessionmaker[Session], locating: GridLocating, clock: Clock
    ) -> None:
        self._session_factory = session_factory
        self._locating = locating
        self._clock = clock

    def responsible_at(
        self,
        lon: float,
        lat: float,
        *,
        crs: Crs = Crs.WGS84,
        at: datetime | None = None,
    ) -> ResponsibleAnswer:
        """谁负责这里: the people assigned to every grid containing the point, finest first."""
        located = self._locating.locate(lon, lat, crs=crs)
        when = at or self._clock.now()
        grids = _finest_first(located)
        by_code = {g.code: g for g in grids}
        with self._session_factory() as session:
            repo = PeopleRepository(session)
            assignments = repo.responsible_for([g.code for g in grids], when)
            people = tuple(
                Responsible(by_code[a.grid_code], repo.person(a.person_id), a) for a in assignments
            )
            organisations = tuple(o for g in grids for o in repo.organisations(g.code))
        return ResponsibleAnswer(located=located, people=people, organisations=organisations)

    def add_person(
        self,
        name: str,
        *,
        phone: str | None = None,
        party_member: bool = False,
        organisation: str | None = None,
        role_title: str | None = None,
    ) -> Person:
        with self._session_factory.begin() as session:
            return PeopleRepository(session).add_person(
                name,
                phone=phone,
                party_member=party_member,
                organisation=organisation,
                role_title=role_title,
            )

    def assign(
        self,
        person_id: int,
        grid_code: str,
        role: AssignmentRole,
        *,
        valid_from: datetime | None = None,
        valid_to: datetime | None = None,
    ) -> Assignment:
        """Assign a person to a grid of the active layer (the code must exist there)."""
        layer = self._locating.layer()
        with self._session_factory.begin() as session:
            LayerRepository(session).grid(layer.id, grid_code)
            return PeopleRepository(session).assign(
                person_id, grid_code, role, valid_from or self._clock.now(), valid_to
            )

    def party(self, grid_code: str) -> PartyView:
        """党建引领: a grid's party organisations and the party members registered with it."""
        with self._session_factory() as session:
            repo = PeopleRepository(session)
            registrations = repo.registrations(grid_code)
            return PartyView(
                grid_code=grid_code,
                organisations=tuple(repo.organisations(grid_code)),
                members=tuple(repo.person(r.person_id) for r in registrations),
            )

    def add_task(
        self,
        grid_code: str,
        title: str,
        *,
        description: str = "",
        due_at: datetime | None = None,
    ) -> VolunteerTask:
        """Post a volunteer task in a grid of the active layer."""
        layer = self._locating.layer()
        with self._session_factory.begin() as session:
            LayerRepository(session).grid(layer.id, grid_code)
            return PeopleRepository(session, self._clock).add_task(
                grid_code, title, description, due_at
            )

    def assign_task(self, task_id: int, person_id: int) -> VolunteerTask:
        """Give a task to a party member registered with the task's grid (在职党员到社区报到)."""
        with self._session_factory.begin() as session:
            repo = PeopleRepository(session, self._clock)
            task = repo.task(task_id)
            registered = {r.person_id for r in repo.registrations(task.grid_code)}
            if person_id not in registered:
                raise InvalidInput(
                    "person_id",
                    f"person {person_id} is not a party member registered with grid "
                    f"{task.grid_code} / 该人员未在此网格报到",
                )
            return repo.assign_task(task_id, person_id)

    def complete_task(self, task_id: int) -> VolunteerTask:
        with self._session_factory.begin() as session:
            return PeopleRepository(session, self._clock).complete_task(task_id)

    def tasks(
        self, grid_code: str, status: VolunteerTaskStatus | None = None
    ) -> list[VolunteerTask]:
        with self._session_factory() as session:
            return PeopleRepository(session).tasks(grid_code, status)

    def count(self) -> int:
        with self._session_factory() as session:
            return PeopleRepository(session).count()

    def load_roster(self, entries: Sequence[RosterEntry]) -> dict[str, int]:
        """Store a whole roster (the demo city's people) into a store that has no people yet.

        Refused when people exist: a roster is a first load, and loading it twice would give every
        grid two leaders.
        """
        with self._session_factory.begin() as session:
            repo = PeopleRepository(session)
            if repo.count():
                raise Conflict(
                    "the store already has people; a roster is loaded only once "
                    "/ 已有人员数据，花名册只能导入一次"
                )
            return repo.add_roster(entries, self._clock.now())


def _finest_first(located: LocateAnswer) -> list[Grid]:
    loc = located.location
    regular = sorted(loc.grids.items(), key=lambda item: item[0].rank, reverse=True)
    return list(loc.specials) + [g for level, g in regular if level is not GridLevel.CITY]
