"""The scope of a dashboard question: one regular grid of the active layer inside the actor's own.

A grid outside the actor's subtree is answered exactly like a grid that does not exist (NotFound),
so that nobody learns which codes exist in another street.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from gridgov.core.errors import InvalidInput, NotFound
from gridgov.grids.model import REGULAR_LEVELS, GridLevel
from gridgov.services.case_scope import department_of
from gridgov.store.insights import ScopeFilter
from gridgov.store.layers import LayerRepository
from gridgov.workflow.model import Actor

_CODE = re.compile(r"[A-Za-z0-9._-]{1,64}")
_MISSING = "grid 网格"


@dataclass(frozen=True, slots=True)
class Scope:
    """A grid and its ancestors (`path`, city first, the grid itself last)."""

    code: str
    name: str
    level: GridLevel
    path: tuple[str, ...]
    layer_id: int

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "name": self.name, "level": self.level.value}

    def cases_for(self, actor: Actor) -> ScopeFilter:
        """The cases of this scope the actor sees: a department's staff only its own."""
        return ScopeFilter(self.level.value, self.code, department_of(actor))


def resolve_scope(sessions: sessionmaker[Session], code: str | None, actor: Actor) -> Scope:
    """The grid `code` (default: the actor's own scope, else the city) if the actor may see it."""
    wanted = code if code is not None else actor.scope_code
    if wanted is not None and not _CODE.fullmatch(wanted):
        raise InvalidInput("scope", "须为网格编码 / must be a grid code (letters, digits, . _ -)")
    with sessions() as session:
        layers = LayerRepository(session)
        layer = layers.active()
        if layer is None:
            raise NotFound("active grid layer 生效网格图层", "none")
        if wanted is None:
            cities = layers.grids(layer.id, GridLevel.CITY)
            if len(cities) != 1:
                raise InvalidInput("scope", "须指定网格 / name a grid: the layer has no one city")
            wanted = cities[0].code
        try:
            grid = layers.grid(layer.id, wanted)
        except NotFound:
            raise NotFound(_MISSING, wanted) from None
        path = [grid.code]
        parent = grid.parent_code
        while parent is not None:
            above = layers.grid(layer.id, parent)
            path.append(above.code)
            parent = above.parent_code
    if actor.scope_code is not None and actor.scope_code not in path:
        raise NotFound(_MISSING, wanted)
    if grid.level not in REGULAR_LEVELS:
        raise InvalidInput(
            "scope",
            f"{wanted} 是专属网格，请选择常规网格 / {wanted} is a special grid; choose a regular one",
        )
    return Scope(grid.code, grid.name, grid.level, tuple(reversed(path)), layer.id)


def child_level(level: GridLevel) -> GridLevel | None:
    """The regular level just below `level` (None for the finest)."""
    index = REGULAR_LEVELS.index(level)
    return REGULAR_LEVELS[index + 1] if index + 1 < len(REGULAR_LEVELS) else None
