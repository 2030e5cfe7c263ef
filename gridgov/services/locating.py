"""Locating points in the active grid layer (or a named old one), with built indexes cached.

Building the index for a Zhengzhou-scale layer takes seconds, so a built index is kept in memory per
layer and pickled to disk; a CLI call or a new worker process loads it instead of rebuilding. The
cache key includes the layer id and the index parameters, and layers never change once stored, so
a cached index can never be stale.
"""

from __future__ import annotations

import pickle
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from gridgov.core.errors import InvalidCoordinate, NotFound, OutsideCoverage
from gridgov.core.geo import Crs
from gridgov.grids import crs as crs_convert
from gridgov.grids.locator import BatchLocation, GridIndex, Location
from gridgov.grids.model import GridLayer
from gridgov.store.layers import LayerRepository


@dataclass(frozen=True, slots=True)
class LocateAnswer:
    """A located point together with the layer version that answered it."""

    layer: GridLayer
    location: Location

    def as_dict(self) -> dict[str, Any]:
        """The answer as JSON-ready values, shared by the CLI and the HTTP API."""
        loc = self.location
        return {
            "layer": {"id": self.layer.id, "name": self.layer.name},
            "lon": loc.lon,
            "lat": loc.lat,
            "match": loc.match,
            "distance_m": round(loc.distance_m, 1),
            "grids": {
                level.value: {"code": g.code, "name": g.name} for level, g in loc.grids.items()
            },
            "specials": [
                {
                    "code": g.code,
                    "name": g.name,
                    "kind": g.special_kind.value if g.special_kind else None,
                    "responsible_unit": g.responsible_unit,
                }
                for g in loc.specials
            ],
        }


@dataclass(frozen=True, slots=True)
class IndexParameters:
    cell_size_deg: float = 0.0002
    edge_tolerance_m: float = 100.0
    # How long a process trusts its idea of which layer is active before asking the store again.
    # A lookup must cost microseconds, a store round trip costs far more; a layer switch made by
    # another process is therefore seen within this many seconds (one made here, at once).
    active_layer_ttl_s: float = 1.0


class GridLocating:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        parameters: IndexParameters,
        cache_dir: Path | None,
    ) -> None:
        self._session_factory = session_factory
        self._parameters = parameters
        self._cache_dir = cache_dir
        self._indexes: dict[int, GridIndex] = {}
        self._lock = threading.Lock()
        self._active: tuple[float, GridLayer] | None = None

    def layer(self, layer_id: int | None = None) -> GridLayer:
        if layer_id is None and self._active is not None:
            checked_at, active = self._active
            if time.monotonic() - checked_at < self._parameters.active_layer_ttl_s:
                return active
        with self._session_factory() as session:
            repo = LayerRepository(session)
            layer = repo.active() if layer_id is None else repo.get(layer_id)
        if layer is None:  # only when no layer is active
            raise NotFound("active grid layer 生效的网格图层", "none; import and activate one")
        if layer_id is None:
            self._active = (time.monotonic(), layer)
        return layer

    def index(self, layer: GridLayer) -> GridIndex:
        with self._lock:
            index = self._indexes.get(layer.id)
            if index is None:
                index = self._load_or_build(layer)
                self._indexes[layer.id] = index
            return index

    def locate(
        self, lon: float, lat: float, *, crs: Crs = Crs.WGS84, layer_id: int | None = None
    ) -> LocateAnswer:
        """Locate one point; `OutsideCoverage` when it is beyond the edge tolerance of every grid."""
        wgs_lon, wgs_lat = _to_wgs84(lon, lat, crs)
        layer = self.layer(layer_id)
        location = self.index(layer).locate(wgs_lon, wgs_lat)
        if location.match == "outside":
            raise OutsideCoverage(
                "lon,lat",
                f"({lon}, {lat}) 不在任何网格内，也不在边缘容差 "
                f"{self._parameters.edge_tolerance_m:g} m 内 / lies outside every grid of layer "
                f"{layer.id} and beyond the {self._parameters.edge_tolerance_m:g} m edge tolerance",
            )
        return LocateAnswer(layer=layer, location=location)

    def locate_many(
        self,
        lon: np.ndarray,
        lat: np.ndarray,
        *,
        crs: Crs = Crs.WGS84,
        layer_id: int | None = None,
    ) -> tuple[GridLayer, GridIndex, BatchLocation]:
        wgs_lon, wgs_lat = crs_convert.to_wgs84(lon, lat, crs)
        layer = self.layer(layer_id)
        index = self.index(layer)
        return layer, index, index.locate_many(wgs_lon, wgs_lat)

    def active_layer_changed(self) -> None:
        """Ask the store again on the next lookup (called after an activation in this process)."""
        self._active = None

    def _cache_path(self, layer: GridLayer) -> Path | None:
        if self._cache_dir is None:
            return None
        p = self._parameters
        return (
            self._cache_dir / f"layer-{layer.id}-{p.cell_size_deg:g}-{p.edge_tolerance_m:g}.pickle"
        )

    def _load_or_build(self, layer: GridLayer) -> GridIndex:
        path = self._cache_path(layer)
        if path is not None and path.exists():
            with path.open("rb") as f:
                cached = pickle.load(f)
            if isinstance(cached, GridIndex):
                return cached
        with self._session_factory() as session:
            grids = LayerRepository(session).grids(layer.id)
        index = GridIndex.build(
            grids,
            cell_size_deg=self._parameters.cell_size_deg,
            edge_tolerance_m=self._parameters.edge_tolerance_m,
        )
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Several server processes may build the same layer at once: each writes its own
            # temporary file, so the atomic rename never publishes another writer's torn pickle.
            with tempfile.NamedTemporaryFile(
                dir=path.parent, prefix=f"{path.name}.", suffix=".partial", delete=False
            ) as out:
                pickle.dump(index, out, protocol=pickle.HIGHEST_PROTOCOL)
            Path(out.name).replace(path)
        return index


def _to_wgs84(lon: float, lat: float, crs: Crs) -> tuple[float, float]:
    for name, value in (("lon", lon), ("lat", lat)):
        if not np.isfinite(value):
            raise InvalidCoordinate(name, f"must be a finite number, got {value!r}")
    # The Chinese offsets' formulas fail on far-off numbers: refuse them before converting.
    if not -180.0 <= lon <= 180.0:
        raise InvalidCoordinate("lon", f"经度超出范围 / out of range: {lon} is not in [-180, 180]")
    if not -90.0 <= lat <= 90.0:
        raise InvalidCoordinate("lat", f"纬度超出范围 / out of range: {lat} is not in [-90, 90]")
    return crs_convert.point_to_wgs84(lon, lat, crs)
