"""Which cases an actor may see: its subtree of the grid hierarchy, narrowed for departments.

A grid code on the case's path puts it in an operation centre's or a worker's scope
(`gridgov.workflow.transitions.in_scope`). A department's handler works in the department's area
but only on the cases dispatched to the department: a `DepartmentActor` carries that department,
and `visible` narrows to it. Every read and write of the case services asks `visible`, so the
narrowing holds for every front door that builds its actors from accounts.
"""

from __future__ import annotations

from dataclasses import dataclass

from gridgov.workflow.model import Actor, Case
from gridgov.workflow.transitions import in_scope


@dataclass(frozen=True, slots=True)
class DepartmentActor(Actor):
    """An actor of one department: it sees only the cases now dispatched to `department`."""

    department: str = ""


def department_of(actor: Actor) -> str | None:
    """The department an actor is narrowed to, or None when it sees its whole subtree."""
    return actor.department if isinstance(actor, DepartmentActor) else None


def visible(actor: Actor, case: Case) -> bool:
    """Whether `actor` may see and act on `case` at all (the role decides what it may do)."""
    if not in_scope(actor, case):
        return False
    department = department_of(actor)
    return department is None or case.assignee_department == department
