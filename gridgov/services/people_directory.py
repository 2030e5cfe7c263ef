"""Who works where, within an actor's scope: grid workers, leaders, police officers, volunteers.

A person is seen through their assignments to grids in the actor's subtree; a person with none
there is answered as one that does not exist. Phone numbers are personal data: shown only when the
caller says the account may see them (the front door records that read), masked otherwise.
People have no live position in the store, so each row is pinned at a point inside its grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import shapely
from sqlalchemy.orm import Session, sessionmaker

from gridgov.core.clock import Clock
from gridgov.core.errors import InvalidInput, NotFound
from gridgov.grids.model import Grid
from gridgov.grids.people import AssignmentRole
from gridgov.intake.privacy import mask_phone
from gridgov.services.grid_browse import GridBrowse, GridHierarchy
from gridgov.store.people_queries import PeopleQueries, StaffQuery, StaffRow
from gridgov.workflow.model import Actor

MAX_PAGE = 1000
PERSON = "person 人员"


@dataclass(frozen=True, slots=True)
class StaffEntry:
    """One person in one grid role; `lon`, `lat` is a point inside the grid (WGS84)."""

    person_id: int
    assignment_id: int
    name: str
    role: AssignmentRole
    grid_code: str
    grid_name: str | None
    grid_level: str | None
    phone: str | None
    on_duty: bool
    valid_from: datetime
    valid_to: datetime | None
    lon: float | None
    lat: float | None


@dataclass(frozen=True, slots=True)
class StaffPage:
    rows: list[StaffEntry]
    total: int
    limit: int
    offset: int
    phones_visible: bool


@dataclass(frozen=True, slots=True)
class PersonView:
    """A person and their assignments inside the actor's scope."""

    id: int
    name: str
    phone: str | None
    role_title: str | None
    organisation: str | None
    party_member: bool
    phones_visible: bool
    assignments: list[StaffEntry]


class PeopleDirectory:
    def __init__(
        self, session_factory: sessionmaker[Session], grids: GridBrowse, clock: Clock
    ) -> None:
        self._sessions = session_factory
        self._grids = grids
        self._clock = clock

    def staff(
        self,
        actor: Actor,
        scope: str | None = None,
        *,
        role: AssignmentRole | None = None,
        on_duty: bool | None = None,
        limit: int = 100,
        offset: int = 0,
        phones_visible: bool = False,
    ) -> StaffPage:
        """A page of the assignments in the scope (the actor's, or a grid inside it)."""
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput("limit", f"须为 1–{MAX_PAGE} / must be 1–{MAX_PAGE}")
        if offset < 0:
            raise InvalidInput("offset", "不能为负 / must not be negative")
        code = self._grids.scope(actor, scope)
        hierarchy = self._grids.hierarchy()
        codes = None if code is None else [g.code for g in hierarchy.subtree(code)]
        now = self._clock.now()
        query = StaffQuery(
            grid_codes=codes,
            roles=(role.value,) if role is not None else (),
            at=now,
            on_duty=on_duty,
        )
        with self._sessions() as session:
            rows, total = PeopleQueries(session).staff(query, limit=limit, offset=offset)
        entries = _entries(rows, hierarchy, now, phones_visible)
        return StaffPage(entries, total, limit, offset, phones_visible)

    def person(self, actor: Actor, person_id: int, *, phones_visible: bool = False) -> PersonView:
        """One person, if one of their assignments lies in the actor's scope."""
        hierarchy = self._grids.hierarchy()
        with self._sessions() as session:
            rows = PeopleQueries(session).person(person_id)
        mine = [r for r in rows if hierarchy.contains(actor.scope_code, r.grid_code)]
        if not mine:
            raise NotFound(PERSON, person_id)
        first = mine[0]
        return PersonView(
            id=first.person_id,
            name=first.name,
            phone=_phone(first.phone, phones_visible),
            role_title=first.role_title,
            organisation=first.organisation,
            party_member=first.party_member,
            phones_visible=phones_visible,
            assignments=_entries(mine, hierarchy, self._clock.now(), phones_visible),
        )


def _entries(
    rows: list[StaffRow], hierarchy: GridHierarchy, now: datetime, phones_visible: bool
) -> list[StaffEntry]:
    grids = [hierarchy.get(r.grid_code) for r in rows]
    points = _points(grids)
    entries = []
    for row, grid, point in zip(rows, grids, points, strict=True):
        entries.append(
            StaffEntry(
                person_id=row.person_id,
                assignment_id=row.assignment_id,
                name=row.name,
                role=AssignmentRole(row.role),
                grid_code=row.grid_code,
                grid_name=grid.name if grid is not None else None,
                grid_level=grid.level.value if grid is not None else None,
                phone=_phone(row.phone, phones_visible),
                on_duty=row.valid_from <= now and (row.valid_to is None or now < row.valid_to),
                valid_from=row.valid_from,
                valid_to=row.valid_to,
                lon=point[0] if point else None,
                lat=point[1] if point else None,
            )
        )
    return entries


def _points(grids: list[Grid | None]) -> list[tuple[float, float] | None]:
    """A point inside each grid (one vectorised call), None for a grid not in the layer."""
    present = [g.geometry for g in grids if g is not None]
    inside = iter(shapely.point_on_surface(present)) if present else iter(())
    found: list[tuple[float, float] | None] = []
    for grid in grids:
        if grid is None:
            found.append(None)
            continue
        point = next(inside)
        found.append((round(float(point.x), 6), round(float(point.y), 6)))
    return found


def _phone(phone: str | None, visible: bool) -> str | None:
    if phone is None or visible:
        return phone
    return mask_phone(phone)
