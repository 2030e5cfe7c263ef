"""Party-building figures (党建引领) of a scope: organisations, members, volunteer tasks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gridgov.analytics.scope import GridCatalogue, Scope


@dataclass(frozen=True, slots=True)
class PartyCounts:
    organisations: int = 0
    members: int = 0
    tasks_done: int = 0
    tasks_open: int = 0

    def __add__(self, other: PartyCounts) -> PartyCounts:
        return PartyCounts(
            self.organisations + other.organisations,
            self.members + other.members,
            self.tasks_done + other.tasks_done,
            self.tasks_open + other.tasks_open,
        )


def roll_up(
    by_grid: Mapping[str, PartyCounts], catalogue: GridCatalogue, scope: Scope
) -> tuple[PartyCounts, dict[str, PartyCounts]]:
    """The scope's totals, and per child grid the counts of everything registered below it.

    Counts registered on the scope's own grid are in the totals but in no child's row.
    """
    total = PartyCounts()
    children = {child.code: PartyCounts() for child in catalogue.children(scope.code)}
    for code, counts in by_grid.items():
        child = catalogue.child_under(code, scope.code)
        if child is None:
            continue
        total += counts
        if child in children:
            children[child] += counts
    return total, children
