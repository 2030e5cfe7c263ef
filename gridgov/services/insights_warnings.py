"""Early warning (预警) for a scope: the spike and hotspot watchers of gridgov.ai over its cases.

Each question replays the scope's cases of the last weeks into fresh watchers and scans every
`scan_every` across the last `lookback`, so the answer is the episodes raised in that span, the
same a watcher running all along would have raised. The answer is kept for a few minutes per scope
and newest case, so a dashboard polling it costs one small query.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from gridgov.ai.anomalies import EarlyWarning, ReportPoint, SpikeDetector
from gridgov.ai.hotspots import Hotspot, HotspotFinder
from gridgov.core.clock import Clock
from gridgov.core.errors import NotFound
from gridgov.services.insights_scope import Scope, resolve_scope
from gridgov.store.insights import CasePoint, InsightsRepository, ScopeFilter
from gridgov.store.layers import LayerRepository
from gridgov.workflow.categories import Taxonomy
from gridgov.workflow.model import Actor


@dataclass(frozen=True, slots=True)
class EarlyWarningOptions:
    history: timedelta = timedelta(weeks=6)
    lookback: timedelta = timedelta(hours=24)
    scan_every: timedelta = timedelta(hours=1)
    cache_for: timedelta = timedelta(minutes=5)
    cache_entries: int = 64


class EarlyWarningService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        *,
        taxonomy: Taxonomy,
        options: EarlyWarningOptions | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self.taxonomy = taxonomy
        self.options = options or EarlyWarningOptions()
        self._cache: OrderedDict[tuple[ScopeFilter, int, int], dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def alerts(self, scope_code: str | None, actor: Actor) -> dict[str, Any]:
        """Warnings raised in the scope over the last `lookback`, newest first."""
        scope = resolve_scope(self._sessions, scope_code, actor)
        now = self._clock.now()
        where = scope.cases_for(actor)
        with self._sessions() as session:
            newest = InsightsRepository(session).newest_case_id(where)
        slot = int(now.timestamp() // self.options.cache_for.total_seconds())
        key = (where, slot, newest)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        answer = self._compute(scope, where, now)
        with self._lock:
            self._cache[key] = answer
            while len(self._cache) > self.options.cache_entries:
                self._cache.popitem(last=False)
        return answer

    def _compute(self, scope: Scope, where: ScopeFilter, now: datetime) -> dict[str, Any]:
        o = self.options
        spikes = SpikeDetector(taxonomy=self.taxonomy, history=o.history)
        hotspots = HotspotFinder(taxonomy=self.taxonomy, history=o.history)
        # Enough before the first scan for the longest window and the whole history behind it.
        since = now - o.lookback - o.history - timedelta(days=1)
        with self._sessions() as session:
            points = InsightsRepository(session).case_points(
                where, since, now + timedelta(seconds=1)
            )
        by_id = {str(p.case_id): p for p in points}
        for point in points:
            report = ReportPoint(
                str(point.case_id),
                point.created_at,
                point.category_code,
                point.community_code,
                point.street_code,
                point.lon,
                point.lat,
            )
            spikes.update(report)
            hotspots.update(report)
        warnings: list[EarlyWarning] = []
        clusters: list[Hotspot] = []
        at = now - o.lookback
        while True:
            warnings.extend(spikes.scan(at))
            clusters.extend(hotspots.scan(at))
            if at >= now:
                break
            at = min(at + o.scan_every, now)
        alerts = [self._spike(w) for w in warnings] + [self._hotspot(h, by_id) for h in clusters]
        self._name_grids(alerts, scope.layer_id)
        alerts.sort(key=lambda a: (a["raised_at"], a["started_at"]), reverse=True)
        return {"scope": scope.as_dict(), "as_of": now, "alerts": alerts}

    def _category_name(self, code: str) -> str:
        category = self.taxonomy.get(code)
        return category.name_zh if category is not None else code

    def _spike(self, w: EarlyWarning) -> dict[str, Any]:
        name = self._category_name(w.category_code)
        return {
            "kind": "spike",
            "title": f"「{name}」类上报异常增多 / unusual rise in {w.category_code} reports",
            "grid_code": w.grid_code,
            "grid_level": w.grid_level.value,
            "grid_name": None,
            "category_code": w.category_code,
            "category_name": name,
            "started_at": w.started_at,
            "raised_at": w.raised_at,
            "count": w.observed,
            "expected": w.expected,
            "p_value": w.p_value,
            "detail": f"{w.explanation_zh} / {w.explanation_en}",
            "case_ids": [int(i) for i in w.evidence],
            "lon": None,
            "lat": None,
        }

    def _hotspot(self, h: Hotspot, points: dict[str, CasePoint]) -> dict[str, Any]:
        name = self._category_name(h.family)
        members = [points[i] for i in h.member_ids if i in points]
        # A cluster may straddle a boundary: it is shown in the community most of it lies in.
        grid = Counter(p.community_code for p in members).most_common(1)
        return {
            "kind": "hotspot",
            "title": f"「{name}」类上报聚集 / cluster of {h.family} reports",
            "grid_code": grid[0][0] if grid else "",
            "grid_level": "community",
            "grid_name": None,
            "category_code": h.family,
            "category_name": name,
            "started_at": h.first_at,
            "raised_at": h.raised_at,
            "count": len(h.member_ids),
            "expected": h.expected,
            "p_value": h.p_value,
            "detail": f"{h.explanation_zh} / {h.explanation_en}",
            "case_ids": [int(i) for i in h.member_ids],
            "lon": h.lon,
            "lat": h.lat,
        }

    def _name_grids(self, alerts: list[dict[str, Any]], layer_id: int) -> None:
        codes = {a["grid_code"] for a in alerts if a["grid_code"]}
        if not codes:
            return
        names: dict[str, str] = {}
        with self._sessions() as session:
            layers = LayerRepository(session)
            for code in codes:
                try:
                    names[code] = layers.grid(layer_id, code).name
                except NotFound:
                    continue
        for alert in alerts:
            alert["grid_name"] = names.get(alert["grid_code"])
