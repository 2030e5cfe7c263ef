"""Scopes: the grid a figure is asked for, its place in the hierarchy, and who may ask for it.

Figures are asked for one regular grid (city, district, street, community, compound, micro) and
cover every case whose grid path names it. An actor may ask for its own grid and anything below
it; anything else is answered as if the grid did not exist.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gridgov.grids.model import REGULAR_LEVELS, Grid, GridLevel


@dataclass(frozen=True, slots=True)
class GridEntry:
    """What analytics needs of a grid: no geometry."""

    code: str
    name: str
    level: GridLevel
    parent_code: str | None = None


@dataclass(frozen=True, slots=True)
class Scope:
    """A regular grid with its path: level → code, from the city down to the grid itself."""

    code: str
    name: str
    level: GridLevel
    path: Mapping[str, str]

    @property
    def child_level(self) -> GridLevel | None:
        """The next regular level down, or None for a micro-grid."""
        rank = REGULAR_LEVELS.index(self.level)
        return REGULAR_LEVELS[rank + 1] if rank + 1 < len(REGULAR_LEVELS) else None


class GridCatalogue:
    """The grids of one layer by code, with parents and children, for naming and scoping."""

    def __init__(self, entries: Iterable[GridEntry]) -> None:
        self._by_code: dict[str, GridEntry] = {}
        children: dict[str, list[GridEntry]] = defaultdict(list)
        for entry in entries:
            self._by_code[entry.code] = entry
        for entry in self._by_code.values():
            if entry.parent_code is not None and entry.level is not GridLevel.SPECIAL:
                children[entry.parent_code].append(entry)
        self._children = {k: sorted(v, key=lambda e: e.code) for k, v in children.items()}

    @classmethod
    def from_grids(cls, grids: Iterable[Grid]) -> GridCatalogue:
        return cls(GridEntry(g.code, g.name, g.level, g.parent_code) for g in grids)

    def __len__(self) -> int:
        return len(self._by_code)

    def get(self, code: str) -> GridEntry | None:
        return self._by_code.get(code)

    def cities(self) -> list[GridEntry]:
        return sorted(
            (e for e in self._by_code.values() if e.level is GridLevel.CITY), key=lambda e: e.code
        )

    def lineage(self, code: str) -> list[GridEntry]:
        """The grid and its ancestors, the grid first; stops at a parent the layer lacks."""
        found: list[GridEntry] = []
        seen: set[str] = set()
        current = self._by_code.get(code)
        while current is not None and current.code not in seen:
            found.append(current)
            seen.add(current.code)
            current = self._by_code.get(current.parent_code) if current.parent_code else None
        return found

    def within(self, code: str, ancestor: str) -> bool:
        """Whether grid `code` is `ancestor` or lies below it."""
        return any(e.code == ancestor for e in self.lineage(code))

    def children(self, code: str) -> list[GridEntry]:
        """The regular grids directly below `code`, by code."""
        return list(self._children.get(code, ()))

    def scope(self, code: str) -> Scope | None:
        """The scope of a regular grid, or None for an unknown code or a special grid."""
        entry = self._by_code.get(code)
        if entry is None or entry.level is GridLevel.SPECIAL:
            return None
        path = {e.level.value: e.code for e in reversed(self.lineage(code))}
        return Scope(entry.code, entry.name, entry.level, path)

    def child_under(self, code: str, scope_code: str) -> str | None:
        """The child of `scope_code` on the way down to `code`; `scope_code` for itself; else None."""
        previous: str | None = None
        for entry in self.lineage(code):
            if entry.code == scope_code:
                return previous if previous is not None else scope_code
            previous = entry.code
        return None
