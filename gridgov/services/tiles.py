"""Vector tiles of the active grid layer (or a named one), prepared on first use and cached.

Preparing a Zhengzhou-scale layer (reading 75,000 grids, projecting them, building the search
trees) takes a couple of seconds, so it happens when the first tile or TileJSON of a layer is
asked for, not when the app starts. Encoded tiles are kept in an LRU keyed by (layer id, z, x, y):
a stored layer never changes, so a cached tile is never stale; switching the active layer only
changes which keys are asked for, and drops what the old layer held in memory.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from gridgov.grids.model import GridLayer
from gridgov.grids.tiles import LEVEL_ZOOMS, MAX_ZOOM, LayerTiles, TileId
from gridgov.services.locating import GridLocating
from gridgov.store.layers import LayerRepository

# Tiles past this zoom are overzoomed by the map from this zoom's tiles (TileJSON maxzoom).
SOURCE_MAXZOOM = 18
# Bump when the encoding of tiles changes, so browsers drop tiles they cached before.
TILE_FORMAT = 1
# Layers kept prepared at once: the active one and, say, a draft an administrator is previewing.
_PREPARED_LAYERS = 2

_LEVEL_TEXT = {
    "district": "区县 district",
    "street": "一级网格(街道/乡镇) street grid",
    "community": "二级网格(社区/村) community grid",
    "compound": "三级网格(小区/楼院) compound grid",
    "micro": "微网格 micro-grid",
    "special": "专属网格(学校、医院、市场、工地…) special grid",
}
_FIELDS = {
    "code": "String 网格编码 grid code",
    "name": "String 网格名称 grid name",
    "level": "String 层级 level",
    "kind": "String 专属网格类型，常规网格为 regular / special grid kind, regular otherwise",
}


@dataclass(frozen=True, slots=True)
class VectorTile:
    """One encoded tile of a layer; `data` is empty when no grid reaches into the tile."""

    layer: GridLayer
    tile: TileId
    data: bytes

    @property
    def etag(self) -> str:
        return layer_etag(self.layer)


def layer_etag(layer: GridLayer) -> str:
    """The HTTP entity tag of everything tiled from a layer (its tiles and TileJSON)."""
    return f'"grids-{layer.id}-{TILE_FORMAT}"'


class TileService:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        locating: GridLocating,
        *,
        cache_tiles: int,
    ) -> None:
        self._session_factory = session_factory
        self._locating = locating
        self._cache_tiles = cache_tiles
        self._tiles: OrderedDict[tuple[int, int, int, int], bytes] = OrderedDict()
        self._prepared: OrderedDict[int, tuple[GridLayer, LayerTiles]] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._prepare_lock = threading.Lock()

    def tile(self, z: int, x: int, y: int, *, layer_id: int | None = None) -> VectorTile:
        """The tile z/x/y of a layer (default: the active one); `InvalidInput` naming z, x or y."""
        tile = TileId.checked(z, x, y)
        layer, tiles = self.prepared(layer_id)
        key = (layer.id, tile.z, tile.x, tile.y)
        with self._cache_lock:
            data = self._tiles.get(key)
            if data is not None:
                self._tiles.move_to_end(key)
                return VectorTile(layer, tile, data)
        data = tiles.tile(tile)
        if self._cache_tiles > 0:
            with self._cache_lock:
                self._tiles[key] = data
                while len(self._tiles) > self._cache_tiles:
                    self._tiles.popitem(last=False)
        return VectorTile(layer, tile, data)

    def tilejson(self, tiles_url: str, *, layer_id: int | None = None) -> dict[str, Any]:
        """TileJSON 3.0.0 of a layer's grid tiles; `tiles_url` is the z/x/y template to hand out."""
        layer, tiles = self.prepared(layer_id)
        bounds = tiles.bounds_lonlat() or (-180.0, -85.0511, 180.0, 85.0511)
        west, south, east, north = bounds
        return {
            "tilejson": "3.0.0",
            "name": f"网格 grids: {layer.name}",
            "description": "网格图层各层级的边界 / boundaries of every level of the grid layer",
            "version": f"{layer.id}.{TILE_FORMAT}.0",
            "scheme": "xyz",
            "tiles": [tiles_url],
            "minzoom": 0,
            "maxzoom": SOURCE_MAXZOOM,
            "bounds": [round(v, 6) for v in bounds],
            "center": [round((west + east) / 2, 6), round((south + north) / 2, 6), 10],
            "vector_layers": [
                {
                    "id": spec.source_layer,
                    "description": _LEVEL_TEXT[spec.source_layer],
                    "minzoom": spec.minzoom,
                    "maxzoom": min(spec.maxzoom, MAX_ZOOM),
                    "fields": dict(_FIELDS),
                }
                for spec in LEVEL_ZOOMS
            ],
            "grid_layer": {
                "id": layer.id,
                "name": layer.name,
                "status": layer.status.value,
                "grid_counts": {level.value: n for level, n in tiles.counts.items()},
            },
        }

    def layer(self, layer_id: int | None = None) -> GridLayer:
        """The layer tiles are cut from; `NotFound` for an unknown id or when none is active."""
        if layer_id is not None:
            with self._cache_lock:
                held = self._prepared.get(layer_id)
            if held is not None:
                return held[0]
        return self._locating.layer(layer_id)

    def prepared(self, layer_id: int | None = None) -> tuple[GridLayer, LayerTiles]:
        """The layer and its grids ready for tiling, preparing them on first use."""
        layer = self.layer(layer_id)
        with self._cache_lock:
            held = self._prepared.get(layer.id)
            if held is not None:
                self._prepared.move_to_end(layer.id)
                return held
        with self._prepare_lock:
            with self._cache_lock:
                held = self._prepared.get(layer.id)
            if held is not None:
                return held
            with self._session_factory() as session:
                grids = LayerRepository(session).grids(layer.id)
            tiles = LayerTiles(grids)
            with self._cache_lock:
                self._prepared[layer.id] = (layer, tiles)
                while len(self._prepared) > _PREPARED_LAYERS:
                    dropped, _ = self._prepared.popitem(last=False)
                    self._forget_tiles(dropped)
            return layer, tiles

    def active_layer_changed(self) -> None:
        """Forget prepared layers and cached tiles (called after an activation in this process)."""
        with self._cache_lock:
            self._prepared.clear()
            self._tiles.clear()

    def cached_tiles(self) -> int:
        with self._cache_lock:
            return len(self._tiles)

    def _forget_tiles(self, layer_id: int) -> None:
        for key in [k for k in self._tiles if k[0] == layer_id]:
            del self._tiles[key]
