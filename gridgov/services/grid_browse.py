"""Browsing the active grid layer within an actor's scope: the tree, one grid, its geometry, exports.

An actor's scope is a grid code; it sees that grid and everything below it (special grids hang
under their street). A grid outside the scope is answered exactly as a grid that does not exist,
so nobody learns another street's grid codes by asking. The hierarchy is read from the locate
index the process already holds for the active layer: layers never change once stored, so it
cannot be stale, and walking it costs no queries.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict, deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import shapely
from sqlalchemy.orm import Session, sessionmaker

from gridgov.core.errors import InvalidInput, NotFound
from gridgov.grids.model import Grid, GridLayer, GridLevel
from gridgov.services.locating import GridLocating
from gridgov.store.grid_queries import GridQueries
from gridgov.workflow.model import Actor

MAX_DEPTH = 3
GRID = "grid 网格"


class GridHierarchy:
    """Parent and children links of one layer's grids; a grid whose parent is absent is a root."""

    def __init__(self, layer: GridLayer, grids: Sequence[Grid]) -> None:
        self.layer = layer
        self._by_code = {g.code: g for g in grids}
        children: dict[str | None, list[Grid]] = defaultdict(list)
        for grid in grids:
            parent = grid.parent_code if grid.parent_code in self._by_code else None
            children[parent].append(grid)
        # Regular grids coarse to fine by code, then the special grids.
        self._children = {
            parent: sorted(found, key=lambda g: (g.level.rank, g.code))
            for parent, found in children.items()
        }

    def __len__(self) -> int:
        return len(self._by_code)

    def get(self, code: str) -> Grid | None:
        return self._by_code.get(code)

    def roots(self) -> list[Grid]:
        return list(self._children.get(None, ()))

    def children(self, code: str | None) -> list[Grid]:
        return list(self._children.get(code, ()))

    def child_count(self, code: str) -> int:
        return len(self._children.get(code, ()))

    def path(self, code: str) -> list[Grid]:
        """From the root down to the grid itself; empty when the code is not in the layer."""
        chain: list[Grid] = []
        seen: set[str] = set()
        current = self._by_code.get(code)
        while current is not None and current.code not in seen:
            chain.append(current)
            seen.add(current.code)
            current = self._by_code.get(current.parent_code) if current.parent_code else None
        return list(reversed(chain))

    def contains(self, ancestor: str | None, code: str) -> bool:
        """Whether `code` is in the layer and is `ancestor` or below it (None: the whole city)."""
        path = self.path(code)
        if ancestor is None:
            return bool(path)
        return any(g.code == ancestor for g in path)

    def subtree(self, code: str | None, level: GridLevel | None = None) -> Iterator[Grid]:
        """The grid and everything below it, breadth first (None: the whole layer)."""
        queue: deque[Grid] = deque()
        if code is None:
            queue.extend(self.roots())
        else:
            top = self._by_code.get(code)
            if top is not None:
                queue.append(top)
        while queue:
            grid = queue.popleft()
            if level is None or grid.level is level:
                yield grid
            queue.extend(self._children.get(grid.code, ()))


@dataclass(frozen=True, slots=True)
class GridSummary:
    code: str
    name: str
    level: GridLevel
    child_count: int
    special_kind: str | None = None


@dataclass(frozen=True, slots=True)
class TreeNode:
    """A grid with its children down to the asked depth (`children` None beyond it)."""

    grid: GridSummary
    parent_code: str | None
    children: tuple[TreeNode, ...] | None


@dataclass(frozen=True, slots=True)
class GridDetail:
    grid: GridSummary
    parent_code: str | None
    path: tuple[GridSummary, ...]  # root first, the grid itself last
    bbox: tuple[float, float, float, float]  # min lon, min lat, max lon, max lat (WGS84)
    label_point: tuple[float, float]  # a point inside the grid, for a map label or pin
    area_m2: float | None
    responsible_unit: str | None
    layer_id: int


class GridBrowse:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        locating: GridLocating,
        *,
        max_export_features: int = 50_000,
    ) -> None:
        self._sessions = session_factory
        self._locating = locating
        self.max_export_features = max_export_features
        self._hierarchies: dict[int, GridHierarchy] = {}
        self._lock = threading.Lock()

    def hierarchy(self) -> GridHierarchy:
        """The active layer's hierarchy, built once per layer from its locate index."""
        layer = self._locating.layer()
        with self._lock:
            found = self._hierarchies.get(layer.id)
            if found is None:
                index = self._locating.index(layer)
                found = GridHierarchy(layer, [index.grid(i) for i in range(len(index))])
                # Only the active layer is browsed; an older one is dropped when it is replaced.
                self._hierarchies = {layer.id: found}
            return found

    def scope(self, actor: Actor, requested: str | None) -> str | None:
        """The grid a request is about: the asked one, if it lies in the actor's scope (else
        NotFound, as for a grid that does not exist), or the actor's own scope."""
        if requested is None:
            return actor.scope_code
        if not self.hierarchy().contains(actor.scope_code, requested):
            raise NotFound(GRID, requested)
        return requested

    def visible(self, actor: Actor, code: str) -> Grid:
        """One grid of the active layer inside the actor's scope."""
        hierarchy = self.hierarchy()
        grid = hierarchy.get(code)
        if grid is None or not hierarchy.contains(actor.scope_code, code):
            raise NotFound(GRID, code)
        return grid

    def tree(self, actor: Actor, requested: str | None = None, *, depth: int = 1) -> TreeNode:
        """The scope's grid and its children, `depth` levels down (1–3)."""
        if not 1 <= depth <= MAX_DEPTH:
            raise InvalidInput("depth", f"须为 1–{MAX_DEPTH} / must be 1–{MAX_DEPTH}")
        hierarchy = self.hierarchy()
        code = self.scope(actor, requested)
        if code is None:
            roots = hierarchy.roots()
            if len(roots) == 1:
                return self._node(hierarchy, roots[0], depth)
            # A layer without a city grid: the city is the roots' common parent.
            city = GridSummary("", "全市 / the whole city", GridLevel.CITY, len(roots))
            children = tuple(self._node(hierarchy, g, depth - 1) for g in roots)
            return TreeNode(city, None, children)
        return self._node(hierarchy, self.visible(actor, code), depth)

    def _node(self, hierarchy: GridHierarchy, grid: Grid, depth: int) -> TreeNode:
        children = None
        if depth > 0:
            children = tuple(
                self._node(hierarchy, child, depth - 1) for child in hierarchy.children(grid.code)
            )
        return TreeNode(_summary(hierarchy, grid), grid.parent_code, children)

    def grid(self, actor: Actor, code: str) -> GridDetail:
        """One grid with its path from the root, bounding box and area."""
        hierarchy = self.hierarchy()
        grid = self.visible(actor, code)
        with self._sessions() as session:
            area = GridQueries(session).areas_m2(hierarchy.layer.id, [code]).get(code)
        minx, miny, maxx, maxy = (float(v) for v in grid.geometry.bounds)
        point = grid.geometry.representative_point()
        return GridDetail(
            grid=_summary(hierarchy, grid),
            parent_code=grid.parent_code,
            path=tuple(_summary(hierarchy, g) for g in hierarchy.path(code)),
            bbox=(minx, miny, maxx, maxy),
            label_point=(float(point.x), float(point.y)),
            area_m2=area,
            responsible_unit=grid.responsible_unit,
            layer_id=hierarchy.layer.id,
        )

    def feature(self, actor: Actor, code: str) -> dict[str, Any]:
        """One grid as a GeoJSON Feature in WGS84."""
        grid = self.visible(actor, code)
        return json.loads(_features_json([grid])[0])  # type: ignore[no-any-return]

    def export(
        self, actor: Actor, requested: str | None = None, *, level: GridLevel | None = None
    ) -> str:
        """The scope's grids (of one level, or all) as GeoJSON FeatureCollection text."""
        hierarchy = self.hierarchy()
        code = self.scope(actor, requested)
        if code is not None:
            self.visible(actor, code)
        grids = []
        for grid in hierarchy.subtree(code, level):
            grids.append(grid)
            if len(grids) > self.max_export_features:
                raise InvalidInput(
                    "level",
                    f"超过 {self.max_export_features} 个网格，请选择层级或更小的范围 / more than "
                    f"{self.max_export_features} grids; choose a level or a smaller scope",
                )
        return '{"type":"FeatureCollection","features":[' + ",".join(_features_json(grids)) + "]}"


def _summary(hierarchy: GridHierarchy, grid: Grid) -> GridSummary:
    kind = grid.special_kind.value if grid.special_kind is not None else None
    return GridSummary(grid.code, grid.name, grid.level, hierarchy.child_count(grid.code), kind)


def _features_json(grids: Sequence[Grid]) -> list[str]:
    """GeoJSON Feature texts; the geometries are written by shapely in one vectorised call."""
    if not grids:
        return []
    geometries = shapely.to_geojson([g.geometry for g in grids])
    features = []
    for grid, geometry in zip(grids, geometries, strict=True):
        properties = {
            "code": grid.code,
            "name": grid.name,
            "level": grid.level.value,
            "parent_code": grid.parent_code,
            "kind": grid.special_kind.value if grid.special_kind is not None else None,
        }
        features.append(
            '{"type":"Feature","id":'
            + json.dumps(grid.code, ensure_ascii=False)
            + ',"geometry":'
            + str(geometry)
            + ',"properties":'
            + json.dumps(properties, ensure_ascii=False)
            + "}"
        )
    return features
