"""People in grids: who works in, leads, polices and volunteers for each grid.

Assignments name a grid by its code, not by a layer's row, so that they carry over when a new grid
layer with the same codes is activated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from gridgov.core.errors import InvalidInput


class AssignmentRole(StrEnum):
    GRID_WORKER = "grid_worker"
    GRID_LEADER = "grid_leader"
    POLICE_OFFICER = "police_officer"
    PARTY_MEMBER_VOLUNTEER = "party_member_volunteer"

    @property
    def label_zh(self) -> str:
        return _ROLE_LABELS_ZH[self]


_ROLE_LABELS_ZH = {
    AssignmentRole.GRID_WORKER: "网格员",
    AssignmentRole.GRID_LEADER: "网格长",
    AssignmentRole.POLICE_OFFICER: "民警(进网入格)",
    AssignmentRole.PARTY_MEMBER_VOLUNTEER: "党员志愿者",
}


class PartyOrgKind(StrEnum):
    BRANCH = "branch"
    GROUP = "group"

    @property
    def label_zh(self) -> str:
        return _ORG_KIND_LABELS_ZH[self]


_ORG_KIND_LABELS_ZH = {PartyOrgKind.BRANCH: "网格党支部", PartyOrgKind.GROUP: "党小组"}


class VolunteerTaskStatus(StrEnum):
    """open → assigned → done."""

    OPEN = "open"
    ASSIGNED = "assigned"
    DONE = "done"

    @property
    def label_zh(self) -> str:
        return _TASK_STATUS_LABELS_ZH[self]


_TASK_STATUS_LABELS_ZH = {
    VolunteerTaskStatus.OPEN: "待认领",
    VolunteerTaskStatus.ASSIGNED: "已认领",
    VolunteerTaskStatus.DONE: "已完成",
}


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    name: str
    phone: str | None = None
    role_title: str | None = None
    organisation: str | None = None
    party_member: bool = False
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Assignment:
    """A person's role in one grid from `valid_from` until `valid_to` (open-ended when None)."""

    id: int
    person_id: int
    grid_code: str
    role: AssignmentRole
    valid_from: datetime
    valid_to: datetime | None = None

    def is_active_at(self, at: datetime) -> bool:
        return self.valid_from <= at and (self.valid_to is None or at < self.valid_to)


@dataclass(frozen=True, slots=True)
class PartyOrganisation:
    id: int
    grid_code: str
    name: str
    kind: PartyOrgKind
    secretary_id: int | None = None


@dataclass(frozen=True, slots=True)
class PartyRegistration:
    """An in-service party member reporting to the community where they live (在职党员到社区报到)."""

    id: int
    person_id: int
    grid_code: str
    registered_at: datetime
    organisation_id: int | None = None


@dataclass(frozen=True, slots=True)
class VolunteerTask:
    id: int
    grid_code: str
    title: str
    status: VolunteerTaskStatus
    created_at: datetime
    description: str = ""
    assignee_id: int | None = None
    due_at: datetime | None = None


def check_period(valid_from: datetime, valid_to: datetime | None) -> None:
    """Refuse naive times and periods that end before (or when) they start."""
    if valid_from.tzinfo is None:
        raise InvalidInput("valid_from", "needs a time zone")
    if valid_to is None:
        return
    if valid_to.tzinfo is None:
        raise InvalidInput("valid_to", "needs a time zone")
    if valid_to <= valid_from:
        raise InvalidInput(
            "valid_to",
            f"{valid_to.isoformat()} is not after valid_from {valid_from.isoformat()}",
        )


@dataclass(frozen=True, slots=True)
class RosterEntry:
    """One person of a bulk roster with their grid roles, for loading a whole city at once.

    `secretary_of` names the grid whose party branch (网格党支部, called `branch_name`) this person
    leads; `registered_in` the community grid where an in-service party member reported.
    """

    name: str
    phone: str | None = None
    organisation: str | None = None
    party_member: bool = False
    assignments: tuple[tuple[str, AssignmentRole], ...] = ()
    secretary_of: str | None = None
    branch_name: str | None = None
    registered_in: str | None = None
