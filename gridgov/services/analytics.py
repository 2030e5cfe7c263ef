"""Dashboard figures and evaluations for an actor's part of the city (一屏观全域).

An actor asks for a scope — a regular grid — at or below its own; any other grid is answered
exactly as a grid that does not exist. A department's staff see only the cases dispatched to
their department (`gridgov.services.case_scope`), as in the case services. Grid names and the
hierarchy come from the active layer's locate index, which the process already holds.

Rates count the cases created in a period as they stand now (gridgov/analytics/indicators.py):
the overview's rates the 30 local days ending with the day asked for, the evaluations a month.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from gridgov.analytics import periods
from gridgov.analytics.evaluation import (
    DEPARTMENT_FORMULA,
    REGION_FORMULA,
    Evaluation,
    department_evaluation,
    filed_score,
    region_evaluation,
)
from gridgov.analytics.indicators import CohortFigures
from gridgov.analytics.party import PartyCounts, roll_up
from gridgov.analytics.scope import GridCatalogue, GridEntry, Scope
from gridgov.analytics.trend import TrendDay, fold_days
from gridgov.core.clock import Clock
from gridgov.core.errors import InvalidInput, NotFound
from gridgov.grids.model import GridLevel
from gridgov.intake.channels import adapters
from gridgov.services.case_scope import department_of
from gridgov.services.locating import GridLocating
from gridgov.store.analytics import (
    CHILD,
    DEPARTMENT,
    CaseChange,
    CaseFilter,
    CasePoint,
)
from gridgov.store.rollup_analytics import RolledAnalyticsRepository
from gridgov.workflow.model import Actor

GRID = "grid 网格"
RATE_WINDOW_DAYS = 30
MAX_MAP_POINTS = 20_000
LIVE_BATCH = 500


@dataclass(frozen=True, slots=True)
class Overview:
    scope: Scope
    day: date
    window: periods.Period
    reports_by_channel: Mapping[str, int]
    created: int
    closed: int
    open: int
    overdue: int
    figures: CohortFigures
    by_state: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class Trend:
    scope: Scope
    days: list[TrendDay]


@dataclass(frozen=True, slots=True)
class RegionRow:
    """区域评价 of one child grid over a month."""

    grid: GridEntry
    figures: CohortFigures
    evaluation: Evaluation | None


@dataclass(frozen=True, slots=True)
class RegionReport:
    scope: Scope
    month: periods.Period
    level: GridLevel | None
    rows: list[RegionRow]
    formula: str = REGION_FORMULA


@dataclass(frozen=True, slots=True)
class DepartmentRow:
    """专业部门评价 of one department over a month."""

    code: str
    name: str
    figures: CohortFigures
    filed_score: int
    evaluation: Evaluation | None


@dataclass(frozen=True, slots=True)
class DepartmentReport:
    scope: Scope
    month: periods.Period
    rows: list[DepartmentRow]
    formula: str = DEPARTMENT_FORMULA


@dataclass(frozen=True, slots=True)
class CaseMap:
    scope: Scope
    now: datetime
    points: list[CasePoint]


@dataclass(frozen=True, slots=True)
class PartyRow:
    grid: GridEntry
    counts: PartyCounts


@dataclass(frozen=True, slots=True)
class PartyReport:
    scope: Scope
    totals: PartyCounts
    rows: list[PartyRow]


@dataclass(frozen=True, slots=True)
class LiveFeed:
    """What a live stream polls for: the actor's cases in one scope, from one position on."""

    scope: Scope
    filter: CaseFilter
    start: int


class AnalyticsService:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        locating: GridLocating,
        clock: Clock,
        *,
        time_zone: ZoneInfo,
        departments: Mapping[str, str],
    ) -> None:
        self._sessions = session_factory
        self._locating = locating
        self._clock = clock
        self.time_zone = time_zone
        self._departments = dict(departments)  # code → Chinese name
        self._catalogues: dict[int, GridCatalogue] = {}
        self._lock = threading.Lock()

    # Scope

    def catalogue(self) -> GridCatalogue:
        """The active layer's grids without geometry, built once per layer."""
        layer = self._locating.layer()
        with self._lock:
            found = self._catalogues.get(layer.id)
            if found is None:
                index = self._locating.index(layer)
                found = GridCatalogue.from_grids(index.grid(i) for i in range(len(index)))
                # Only the active layer is asked about; the replaced one's catalogue goes.
                self._catalogues = {layer.id: found}
            return found

    def scope(self, actor: Actor, code: str | None = None) -> Scope:
        """The scope asked for (default: the actor's own), if the actor may see it."""
        catalogue = self.catalogue()
        if code is None:
            code = actor.scope_code
        if code is None:
            cities = catalogue.cities()
            if len(cities) != 1:
                raise InvalidInput("scope", "须指定网格编码 / give a grid code as the scope")
            code = cities[0].code
        entry = catalogue.get(code)
        visible = actor.scope_code is None or catalogue.within(code, actor.scope_code)
        if entry is None or not visible:
            raise NotFound(GRID, code)
        scope = catalogue.scope(code)
        if scope is None:
            raise InvalidInput(
                "scope",
                f"{code} 是专属网格，请按所在街道或社区统计 / {code} is a special grid; ask for "
                "the street or community it lies in",
            )
        return scope

    def _filter(self, actor: Actor, code: str | None) -> CaseFilter:
        return CaseFilter(self.scope(actor, code), department_of(actor))

    def _today(self) -> date:
        return periods.local_day(self._clock.now(), self.time_zone)

    # Figures

    def overview(self, actor: Actor, scope: str | None = None, day: date | None = None) -> Overview:
        """One day's intake and closings, the open cases now, and the rates of the last 30 days."""
        where = self._filter(actor, scope)
        now = self._clock.now()
        day = day or self._today()
        today = periods.one_day(day, self.time_zone)
        window = periods.days_ending(day, RATE_WINDOW_DAYS, self.time_zone, field="day")
        with self._sessions() as session:
            repo = RolledAnalyticsRepository(session)
            counts = repo.day(where, today.start, today.end)
            open_, overdue = repo.open_now(where, now)
            figures = repo.cohort(where, window.start, window.end, now).get(None, CohortFigures())
            by_state = repo.states(where, window.start, window.end)
        by_channel = {a.name: 0 for a in adapters()} | dict(counts.reports_by_channel)
        return Overview(
            scope=where.scope,
            day=day,
            window=window,
            reports_by_channel=by_channel,
            created=counts.created,
            closed=counts.closed,
            open=open_,
            overdue=overdue,
            figures=figures,
            by_state=by_state,
        )

    def trend(
        self, actor: Actor, scope: str | None = None, *, days: int = 30, last: date | None = None
    ) -> Trend:
        """Per local day: cases created, closed, closed on time, and overdue at the day's end."""
        where = self._filter(actor, scope)
        period = periods.days_ending(last or self._today(), days, self.time_zone)
        with self._sessions() as session:
            hours = RolledAnalyticsRepository(session).trend(where, period.start, period.end)
        return Trend(where.scope, fold_days(period, self.time_zone, hours))

    def children(
        self, actor: Actor, scope: str | None = None, month: str | None = None
    ) -> RegionReport:
        """区域评价 of each child grid of the scope over a month (default: this month)."""
        where = self._filter(actor, scope)
        period = periods.month(month or periods.month_of(self._today()), self.time_zone)
        now = self._clock.now()
        with self._sessions() as session:
            found = RolledAnalyticsRepository(session).cohort(
                where, period.start, period.end, now, group=CHILD, public=True
            )
        children = self.catalogue().children(where.scope.code)
        rows = []
        for child in children:
            figures = found.get(child.code, CohortFigures())
            evaluation = region_evaluation(
                figures.close_rate, figures.on_time_close_rate, figures.supervision_rate
            )
            rows.append(RegionRow(child, figures, evaluation))
        level = children[0].level if children else where.scope.child_level
        return RegionReport(where.scope, period, level, rows)

    def departments(
        self, actor: Actor, scope: str | None = None, month: str | None = None
    ) -> DepartmentReport:
        """专业部门评价 of every department with cases of the scope in a month, best first."""
        where = self._filter(actor, scope)
        period = periods.month(month or periods.month_of(self._today()), self.time_zone)
        now = self._clock.now()
        with self._sessions() as session:
            found = RolledAnalyticsRepository(session).cohort(
                where, period.start, period.end, now, group=DEPARTMENT, handling=True
            )
        rows = []
        for code, figures in found.items():
            assert code is not None
            evaluation = department_evaluation(
                figures.created,
                figures.close_rate,
                figures.on_time_handle_rate,
                figures.rework_rate,
            )
            rows.append(
                DepartmentRow(
                    code,
                    self._departments.get(code, code),
                    figures,
                    filed_score(figures.created),
                    evaluation,
                )
            )
        rows.sort(
            key=lambda r: (
                r.evaluation is None,
                -(r.evaluation.score if r.evaluation else 0),
                r.code,
            )
        )
        return DepartmentReport(where.scope, period, rows)

    def case_map(
        self,
        actor: Actor,
        scope: str | None = None,
        *,
        bbox: tuple[float, float, float, float],
        limit: int = 5000,
        days: int | None = None,
    ) -> CaseMap:
        """Open cases in a box, and with `days` every case created in the last `days` days."""
        check_bbox(bbox)
        if not 1 <= limit <= MAX_MAP_POINTS:
            raise InvalidInput(
                "limit", f"须在 1–{MAX_MAP_POINTS} 之间 / must lie in 1–{MAX_MAP_POINTS}"
            )
        where = self._filter(actor, scope)
        now = self._clock.now()
        since = None
        if days is not None:
            since = periods.days_ending(self._today(), days, self.time_zone).start
        with self._sessions() as session:
            points = RolledAnalyticsRepository(session).case_points(where, bbox, since, limit)
        return CaseMap(where.scope, now, points)

    def party(self, actor: Actor, scope: str | None = None) -> PartyReport:
        """党建引领 in the scope: organisations, members and volunteer tasks, per child grid."""
        where = self._filter(actor, scope)
        with self._sessions() as session:
            by_grid = RolledAnalyticsRepository(session).party_counts()
        catalogue = self.catalogue()
        totals, children = roll_up(by_grid, catalogue, where.scope)
        rows = [PartyRow(c, children[c.code]) for c in catalogue.children(where.scope.code)]
        return PartyReport(where.scope, totals, rows)

    # The live stream

    def live(self, actor: Actor, scope: str | None = None, after: int | None = None) -> LiveFeed:
        """Where a live stream starts: after `after`, or after the newest event now."""
        where = self._filter(actor, scope)
        if after is not None and after < 0:
            raise InvalidInput("after", "须为非负整数 / must not be negative")
        if after is None:
            with self._sessions() as session:
                after = RolledAnalyticsRepository(session).head()
        return LiveFeed(where.scope, where, after)

    def changes(self, feed: LiveFeed, after: int) -> tuple[list[CaseChange], int]:
        """The feed's cases changed after position `after`, and the position to go on from.

        Each call opens and closes its own session, so a waiting stream holds no connection.
        """
        with self._sessions() as session:
            return RolledAnalyticsRepository(session).changes(feed.filter, after, LIVE_BATCH)


def check_bbox(bbox: tuple[float, float, float, float]) -> None:
    """A WGS84 box min lon, min lat, max lon, max lat, each finite and in range, min below max."""
    min_lon, min_lat, max_lon, max_lat = bbox
    if not all(math.isfinite(v) for v in bbox):
        raise InvalidInput("bbox", "须为有限数值 / must be finite numbers")
    if not (-180 <= min_lon < max_lon <= 180 and -90 <= min_lat < max_lat <= 90):
        raise InvalidInput(
            "bbox",
            "须为 最小经度,最小纬度,最大经度,最大纬度，且最小值小于最大值 / must be min lon, min lat, "
            "max lon, max lat within ±180/±90, each minimum below its maximum",
        )
