"""The locate stage of intake: coordinates through the grid index, addresses through a gazetteer.

Coordinates are converted from the channel's declared CRS and located many at a time
(`GridIndex.locate_many`). A report without usable coordinates is located by its address text
through a gazetteer of the active layer's grid names plus the city's roads and POIs, built once
per layer on first use. Whatever cannot be placed with enough confidence waits for a person: a
placement with `location is None` is stored in the manual location queue, never dropped.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gridgov.core.geo import Crs
from gridgov.grids import crs as crs_convert
from gridgov.grids.locator import MATCH_NAMES, BatchLocation, GridIndex, Location
from gridgov.grids.model import Grid, GridLayer
from gridgov.intake.gazetteer import Gazetteer, GazetteerEntry, entries_from_grids
from gridgov.intake.model import IntakeReport
from gridgov.services.locating import GridLocating

PlacesProvider = Callable[[Sequence[Grid]], list[GazetteerEntry]]

# How sure a coordinate fix is: inside a grid it is exact; near the city edge it was snapped.
COORDINATE_CONFIDENCE = {"inside": 1.0, "near_edge": 0.8}
# The radius of a geocoded address for duplicate detection (docs/ai.md: 50–150 m off).
ADDRESS_ACCURACY_M = 100.0
LOCATED_BY_COORDINATES = "coordinates"
LOCATED_BY_ADDRESS = "address"
LOCATED_BY_MANUAL = "manual"


@dataclass(slots=True)
class Placement:
    """Where a report is, or why it waits for manual location (`location` None)."""

    located_by: str
    lon: float | None = None
    lat: float | None = None
    location: Location | None = None
    layer_id: int | None = None
    confidence: float | None = None
    explanation: str | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list)
    accuracy_m: float = 0.0
    warnings: list[str] = field(default_factory=list)


class Placer:
    """Places reports in the active layer; the gazetteer of each layer is built once."""

    def __init__(
        self,
        locating: GridLocating,
        *,
        threshold: float,
        places: PlacesProvider | None,
    ) -> None:
        self._locating = locating
        self._threshold = threshold
        self._places = places
        self._gazetteers: dict[int, Gazetteer] = {}
        self._lock = threading.Lock()

    def place(self, reports: Sequence[IntakeReport]) -> list[Placement]:
        """One placement per report, in order."""
        layer = self._locating.layer()
        index = self._locating.index(layer)
        placements: list[Placement | None] = [None] * len(reports)
        by_crs: dict[Crs, list[int]] = defaultdict(list)
        for i, report in enumerate(reports):
            if report.crs is not None:
                by_crs[report.crs].append(i)
        for crs, rows in by_crs.items():
            lon = np.array([reports[i].lon for i in rows], dtype=np.float64)
            lat = np.array([reports[i].lat for i in rows], dtype=np.float64)
            wgs_lon, wgs_lat = crs_convert.to_wgs84(lon, lat, crs)
            batch = index.locate_many(wgs_lon, wgs_lat)
            for k, i in enumerate(rows):
                placements[i] = self._by_coordinates(
                    reports[i], layer, index, batch, k, float(wgs_lon[k]), float(wgs_lat[k])
                )
        for i, report in enumerate(reports):
            if placements[i] is None:
                placements[i] = self.by_address(report, layer, index)
        return [p for p in placements if p is not None]

    def warm_up(self) -> None:
        """Build the active layer's locate index and gazetteer now, not on the first report."""
        layer = self._locating.layer()
        self.gazetteer(layer, self._locating.index(layer))

    def at_point(self, lon: float, lat: float, crs: Crs) -> Placement:
        """A placement for a point an operator gave (manual location)."""
        answer = self._locating.locate(lon, lat, crs=crs)
        loc = answer.location
        return Placement(
            LOCATED_BY_MANUAL,
            loc.lon,
            loc.lat,
            loc,
            answer.layer.id,
            1.0,
            "人工定位 / located by hand",
        )

    def _by_coordinates(
        self,
        report: IntakeReport,
        layer: GridLayer,
        index: GridIndex,
        batch: BatchLocation,
        k: int,
        lon: float,
        lat: float,
    ) -> Placement:
        match = MATCH_NAMES[int(batch.match[k])]
        if match == "outside":
            # Coordinates outside the city are usually a device or SDK fault; the address may
            # still say where the problem is.
            placement = self.by_address(report, layer, index)
            placement.warnings.insert(
                0,
                f"coordinates_outside: 坐标 ({report.lon}, {report.lat}) 不在任何网格内 / the "
                f"coordinates lie outside every grid of layer {layer.id}",
            )
            return placement
        grids = {
            batch.levels[li]: index.grid(g)
            for li, g in enumerate(batch.level_index[k].tolist())
            if g >= 0
        }
        start, end = int(batch.special_offsets[k]), int(batch.special_offsets[k + 1])
        specials = tuple(index.grid(g) for g in batch.special_index[start:end].tolist())
        distance = float(batch.distance_m[k])
        location = Location(lon, lat, grids, specials, match, distance)
        accuracy = report.details.get("gps_accuracy_m", 0.0)
        explanation = "坐标落在网格内 / inside a grid"
        if match == "near_edge":
            explanation = (
                f"坐标在城市边缘外 {distance:.0f} 米，取最近网格 / {distance:.0f} m outside the "
                "city edge, nearest grid taken"
            )
        return Placement(
            LOCATED_BY_COORDINATES,
            lon,
            lat,
            location,
            layer.id,
            COORDINATE_CONFIDENCE[match],
            explanation,
            accuracy_m=float(accuracy) if isinstance(accuracy, int | float) else 0.0,
        )

    def by_address(self, report: IntakeReport, layer: GridLayer, index: GridIndex) -> Placement:
        """Locate by the address text, or a placement waiting for manual location."""
        if not report.address:
            return Placement(
                LOCATED_BY_MANUAL,
                explanation="没有可用的坐标或地址 / no usable coordinates or address",
            )
        match = self.gazetteer(layer, index).locate(report.address)
        if match is None:
            return Placement(
                LOCATED_BY_MANUAL,
                explanation="地址未匹配到任何地名 / the address matches no known place",
            )
        candidates = [
            {
                "name": c.matched_name,
                "kind": c.kind.value,
                "grid_code": c.grid_code,
                "lon": round(c.lon, 6),
                "lat": round(c.lat, 6),
                "confidence": round(c.confidence, 3),
            }
            for c in match.candidates
        ]
        explanation = f"{match.explanation_zh} / {match.explanation_en}"
        confidence = round(match.confidence, 3)
        if confidence < self._threshold:
            return Placement(
                LOCATED_BY_MANUAL,
                confidence=confidence,
                explanation=explanation,
                candidates=candidates,
            )
        location = index.locate(match.lon, match.lat)
        if location.match == "outside":
            return Placement(
                LOCATED_BY_MANUAL,
                confidence=confidence,
                explanation=explanation,
                candidates=candidates,
            )
        return Placement(
            LOCATED_BY_ADDRESS,
            location.lon,
            location.lat,
            location,
            layer.id,
            confidence,
            explanation,
            candidates,
            accuracy_m=ADDRESS_ACCURACY_M,
        )

    def gazetteer(self, layer: GridLayer, index: GridIndex) -> Gazetteer:
        """The layer's gazetteer, built on first use from the grids the locate index holds."""
        with self._lock:
            found = self._gazetteers.get(layer.id)
            if found is None:
                grids = [index.grid(i) for i in range(len(index))]
                entries = entries_from_grids(grids)
                if self._places is not None:
                    entries += self._places(grids)
                found = Gazetteer.build(entries, threshold=self._threshold)
                self._gazetteers[layer.id] = found
            return found
