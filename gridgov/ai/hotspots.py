"""Hotspots (热点): tight spatial-temporal clusters of recent reports of one category family.

Reports are placed in a local metric frame (metres east and north of the first report seen) with
time as a third axis, `metres_per_hour` metres to the hour, and clustered DBSCAN-style: a report
with at least `core_neighbours` others within `eps_m` (space and scaled time together) is a core,
cores within `eps_m` of each other join, and other reports join the cluster of a core near them.
A family is the top class of the category (E04 突发事件 holds 管道破裂, 道路积水, 路面塌陷).

A cluster of at least `min_size` reports is raised only if it is unusual for its place: the
history gives how many reports of the family fell within the cluster's radius (at least `eps_m`)
of its centroid in the same hours of the week, per week; the cluster must beat that with a
Poisson upper-tail p-value below `alpha`. A market that is busy every Saturday morning is so
never a hotspot on Saturday mornings. Each scan returns only clusters that share no report with
one raised before.

Cost: a scan clusters the last `window` of reports with a k-d tree (scipy), family by family;
the history's trees are rebuilt at most every `refit_every`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from numpy.typing import NDArray
from scipy import sparse, stats
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from gridgov.ai.anomalies import (
    CHINA_OFFSET,
    HOURS_PER_WEEK,
    ReportPoint,
    hour_index,
    hours_of_week,
)
from gridgov.ai.classifier import CategoryTree

_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LON_EQUATOR = 111_320.0
Floats = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Hotspot:
    """A raised cluster: where, how wide, which reports, when, and against what baseline."""

    family: str
    lon: float
    lat: float
    radius_m: float  # the farthest member from the centroid
    member_ids: tuple[str, ...]  # in time order
    first_at: datetime
    last_at: datetime
    expected: float  # reports of the family usually seen there in those hours
    p_value: float
    raised_at: datetime
    explanation_zh: str
    explanation_en: str


class HotspotFinder:
    """Recent reports clustered in space and time, kept only where they are unusual."""

    def __init__(
        self,
        *,
        taxonomy: CategoryTree | None = None,
        eps_m: float = 250.0,
        metres_per_hour: float = 250.0,
        core_neighbours: int = 3,
        min_size: int = 5,
        window: timedelta = timedelta(hours=6),
        history: timedelta = timedelta(weeks=6),
        alpha: float = 1e-4,
        refit_every: timedelta = timedelta(hours=6),
        utc_offset: timedelta = CHINA_OFFSET,
    ) -> None:
        self.taxonomy = taxonomy
        self.eps_m = eps_m
        self.metres_per_hour = metres_per_hour
        self.core_neighbours = core_neighbours
        self.min_size = min_size
        self.window = window
        self.history = history
        self.alpha = alpha
        self.refit_every = refit_every
        self.utc_offset = utc_offset
        self._origin: tuple[float, float] | None = None
        self._family_of: dict[str, str] = {}
        self._reports: list[tuple[float, float, float, str, str]] = []  # t, x, y, family, id
        self._fitted_at: datetime | None = None
        self._weeks = 0.0
        self._past: dict[str, tuple[cKDTree, NDArray[np.int64]]] = {}
        self._raised: set[str] = set()
        self._first: float | None = None
        # The reports of the window, apart from the history, so a scan reads only them.
        self._recent: list[tuple[float, float, float, str, str]] = []

    def update(self, report: ReportPoint) -> None:
        """Add one report."""
        x, y = self._xy(report.lon, report.lat)
        t = report.at.timestamp()
        row = (t, x, y, self._family(report.category_code), report.id)
        self._reports.append(row)
        self._recent.append(row)
        self._first = t if self._first is None else min(self._first, t)

    def extend(self, reports: Iterable[ReportPoint]) -> None:
        for report in reports:
            self.update(report)

    def scan(self, now: datetime) -> list[Hotspot]:
        """Clusters in the last `window` before `now` that are unusual and not raised before."""
        if self._fitted_at is None or now - self._fitted_at >= self.refit_every:
            self._fit(now)
        since = (now - self.window).timestamp()
        self._recent = [r for r in self._recent if r[0] >= since]
        recent = [r for r in self._recent if r[0] < now.timestamp()]
        found: list[Hotspot] = []
        for family in sorted({r[3] for r in recent}):
            rows = [r for r in recent if r[3] == family]
            if len(rows) < self.min_size:
                continue
            for members in self._clusters(rows):
                if any(rows[i][4] in self._raised for i in members):
                    continue
                hotspot = self._judge(now, family, [rows[i] for i in members])
                if hotspot is not None:
                    found.append(hotspot)
                    self._raised.update(hotspot.member_ids)
        return found

    def _family(self, code: str) -> str:
        family = self._family_of.get(code)
        if family is None:
            family = code
            node = self.taxonomy.get(code) if self.taxonomy is not None else None
            while node is not None and node.parent_code:
                family = node.parent_code
                node = self.taxonomy.get(family) if self.taxonomy is not None else None
            self._family_of[code] = family
        return family

    def _xy(self, lon: float, lat: float) -> tuple[float, float]:
        if self._origin is None:
            self._origin = (lon, lat)
        lon0, lat0 = self._origin
        scale = math.cos(math.radians(lat0)) * _M_PER_DEG_LON_EQUATOR
        return (lon - lon0) * scale, (lat - lat0) * _M_PER_DEG_LAT

    def _lonlat(self, x: float, y: float) -> tuple[float, float]:
        assert self._origin is not None
        lon0, lat0 = self._origin
        scale = math.cos(math.radians(lat0)) * _M_PER_DEG_LON_EQUATOR
        return lon0 + x / scale, lat0 + y / _M_PER_DEG_LAT

    def _fit(self, now: datetime) -> None:
        """Per family, a tree of the history's points (before the window) and their hour of week."""
        self._fitted_at = now
        horizon = (now - self.window - self.history).timestamp()
        self._reports = [r for r in self._reports if r[0] >= horizon]
        end = (now - self.window).timestamp()
        if self._first is None:
            return
        self._weeks = max(0.0, (end - max(self._first, horizon)) / (HOURS_PER_WEEK * 3600.0))
        past: dict[str, list[tuple[float, float, float]]] = {}
        for t, x, y, family, _ in self._reports:
            if t < end:
                past.setdefault(family, []).append((t, x, y))
        self._past = {}
        for family, rows in past.items():
            table = np.array(rows)
            hours = np.array(
                [hour_index(datetime.fromtimestamp(t, UTC)) for t in table[:, 0]], dtype=np.int64
            )
            self._past[family] = (cKDTree(table[:, 1:]), hours_of_week(hours, self.utc_offset))
        self._raised = {r[4] for r in self._reports if r[4] in self._raised}

    def _clusters(self, rows: list[tuple[float, float, float, str, str]]) -> list[list[int]]:
        """DBSCAN over (x, y, scaled time): indices of each cluster of at least `min_size`."""
        points = np.array([(x, y, t / 3600.0 * self.metres_per_hour) for t, x, y, _, _ in rows])
        pairs = cKDTree(points).query_pairs(self.eps_m, output_type="ndarray")
        n = len(rows)
        degree = np.bincount(pairs.ravel(), minlength=n) if pairs.size else np.zeros(n, int)
        core = degree >= self.core_neighbours
        if not core.any():
            return []
        both = core[pairs[:, 0]] & core[pairs[:, 1]] if pairs.size else np.zeros(0, bool)
        links = pairs[both]
        graph = sparse.coo_matrix((np.ones(len(links)), (links[:, 0], links[:, 1])), shape=(n, n))
        _, label = csgraph.connected_components(graph, directed=False)
        cluster = np.where(core, label, -1)
        # A border report joins the cluster of a core within reach (the first one, as DBSCAN does).
        for a, b in pairs.tolist() if pairs.size else []:
            if cluster[a] < 0 and core[b]:
                cluster[a] = label[b]
            elif cluster[b] < 0 and core[a]:
                cluster[b] = label[a]
        out = []
        for c in np.unique(cluster[cluster >= 0]).tolist():
            members = np.flatnonzero(cluster == c).tolist()
            if len(members) >= self.min_size:
                out.append(members)
        return out

    def _judge(
        self, now: datetime, family: str, rows: list[tuple[float, float, float, str, str]]
    ) -> Hotspot | None:
        xy = np.array([(x, y) for _, x, y, _, _ in rows])
        centre = xy.mean(axis=0)
        radius = float(np.sqrt(((xy - centre) ** 2).sum(axis=1)).max())
        times = sorted(r[0] for r in rows)
        first = datetime.fromtimestamp(times[0], UTC)
        last = datetime.fromtimestamp(times[-1], UTC)
        expected = self._expected(family, centre, max(radius, self.eps_m), first, last)
        n = len(rows)
        p = float(stats.poisson.sf(n - 1, max(expected, 0.05)))
        if p >= self.alpha:
            return None
        lon, lat = self._lonlat(float(centre[0]), float(centre[1]))
        ids = tuple(r[4] for r in sorted(rows))
        minutes = (last - first) / timedelta(minutes=1)
        return Hotspot(
            family=family, lon=round(lon, 6), lat=round(lat, 6), radius_m=round(radius, 1),
            member_ids=ids, first_at=first, last_at=last, expected=round(expected, 3),
            p_value=p, raised_at=now,
            explanation_zh=(
                f"{family} 类 {n} 件上报集中在半径 {radius:.0f} 米、{minutes:.0f} 分钟内，"
                f"此处同时段往常约 {expected:.2f} 件（p={p:.1e}）"
            ),
            explanation_en=(
                f"{n} reports of {family} within {radius:.0f} m and {minutes:.0f} min, where the "
                f"same hours usually bring {expected:.2f} (p={p:.1e})"
            ),
        )  # fmt: skip

    def _expected(
        self, family: str, centre: Floats, radius: float, first: datetime, last: datetime
    ) -> float:
        """Reports of the family per week within `radius` of `centre` in the same hours of week."""
        if family not in self._past or self._weeks < 1.0:
            return 0.0
        tree, how = self._past[family]
        near = np.asarray(tree.query_ball_point(centre, radius), dtype=np.int64)
        if near.size == 0:
            return 0.0
        span = np.arange(hour_index(first), hour_index(last) + 1, dtype=np.int64)
        hours = np.unique(hours_of_week(span, self.utc_offset))
        return float(np.isin(how[near], hours).sum()) / self._weeks
