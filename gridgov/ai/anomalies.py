"""Early warning of spikes (预警): more reports of one category in one grid than its hours allow.

Each cell is a grid at the watched level (community by default, or street) × a category (the
leaf, or its parent class: the default, so one burst pipe filed as 管道破裂, 道路积水 and 路面塌陷
counts once as 突发事件). Its expected rate for an hour of the week comes from a baseline
learned on the last weeks of history, shrunk toward the level above where the cell has little
history of its own (Poisson–gamma, `prior_weeks` of pseudo-history):

    city      λ(k, h)  = (N(k, h) + β · mix(k) · all(h))           / (e(h) + β)
    street    λ(k, h)  = (N(k, h) + β · share(k) · λ_city(k, h))   / (e(h) + β)
    community λ(k, h)  = (N(k, h) + β · share(k) · λ_street(k, h)) / (e(h) + β)

where N counts the history of that grid, category and hour-of-week, e(h) is how many times that
hour-of-week occurs in the history, and share(k) is the grid's share of its parent's reports of
the category, itself shrunk toward the grid's share of all categories. A quiet community so
inherits its street's daily and weekly shape at its own volume, and a weekly market morning in
one community is learned as that community's own peak.

A scan counts every cell's reports in each sliding window, tests the counts against a negative
binomial upper tail (its variance widened for reports that come in bunches, `clumping`, and for
whole-day swings, `dispersion`), and keeps the cells that reach `min_count` and pass
Benjamini–Hochberg at `fdr` over every cell and window that could have been tested. A cell raises
one warning per episode: it stays alarmed until `cooldown` (the longest window) after it was last
significant, unless its p-value drops a further `ESCALATION`-fold (a burst pipe during a storm).

Cost: `update` appends to lists (about 2 µs). `scan` reads only the last 24 h of reports (about
20,000 at Zhengzhou scale), counts them per cell with numpy and tests only cells at or above the
minimum count: measured at a median of 34 ms (p95 150 ms) for 3,530 communities. The baseline is
refitted at most every `refit_every` (default 6 h) over the whole history: about 5 s for the
1 M reports of 7 weeks, so every 6 h it adds under 0.03% of a core.
docs/ai.md and docs/benchmarks.md give measured figures.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from gridgov.ai.classifier import CategoryTree
from gridgov.grids.model import GridLevel

CategoryLevel = Literal["leaf", "parent"]
HOURS_PER_WEEK = 168
_EPOCH = datetime(1970, 1, 5, tzinfo=UTC)  # a Monday, so hour 0 of the week is Monday 00:00
CHINA_OFFSET = timedelta(hours=8)  # no daylight saving in China: a fixed offset is exact
Ints = NDArray[np.int64]
Floats = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ReportPoint:
    """One located, classified report as early warning sees it (WGS84, the finest category)."""

    id: str
    at: datetime
    category_code: str
    community_code: str
    street_code: str
    lon: float
    lat: float


@dataclass(frozen=True, slots=True)
class EarlyWarning:
    """A raised warning with its evidence; `kind` is "spike" here ("hotspot" in hotspots.py)."""

    kind: str
    grid_code: str
    grid_level: GridLevel
    category_code: str
    window: timedelta
    observed: int
    expected: float
    p_value: float
    started_at: datetime  # the first report of the window
    raised_at: datetime
    evidence: tuple[str, ...]  # report ids, in time order
    explanation_zh: str
    explanation_en: str


def hour_index(at: datetime) -> int:
    """Whole hours since the epoch Monday (UTC); `at` must be time-zone aware."""
    return int((at - _EPOCH).total_seconds() // 3600)


def hours_of_week(hours: Ints | int, utc_offset: timedelta) -> Ints:
    """The local hour of the week (0 = Monday 00:00) of absolute hour indices."""
    shift = int(utc_offset.total_seconds() // 3600)
    return np.asarray((np.asarray(hours, dtype=np.int64) + shift) % HOURS_PER_WEEK)


def exposure(first_hour: int, end_hour: int, utc_offset: timedelta) -> Floats:
    """How many times each hour of the week occurs in [first_hour, end_hour)."""
    if end_hour <= first_hour:
        return np.zeros(HOURS_PER_WEEK)
    span = np.arange(first_hour, end_hour, dtype=np.int64)
    counts = np.bincount(hours_of_week(span, utc_offset), minlength=HOURS_PER_WEEK)
    return counts.astype(np.float64)


class _Sparse:
    """Counts keyed by int64, sorted for vectorised lookup (the baseline's cells are sparse)."""

    def __init__(self, keys: Ints) -> None:
        self.keys, counts = np.unique(keys, return_counts=True)
        self.counts = counts.astype(np.float64)

    def get(self, keys: Ints) -> Floats:
        if self.keys.size == 0:
            return np.zeros(keys.shape)
        at = np.minimum(np.searchsorted(self.keys, keys), self.keys.size - 1)
        return np.where(self.keys[at] == keys, self.counts[at], 0.0)


def _key(*parts: tuple[Ints, int]) -> Ints:
    """Mixed-radix key of integer columns, each with its radix."""
    key = np.zeros_like(parts[0][0])
    for column, radix in parts:
        key = key * radix + column
    return key


@dataclass(frozen=True, slots=True)
class _Level:
    """One level's counts: per (grid, category, hour of week), per (grid, category), per grid."""

    hourly: _Sparse
    by_category: _Sparse
    total: _Sparse
    children: _Sparse  # how many grids of this level each parent has


class _Baseline:
    """Hour-of-week rates for every cell, fitted once on the history arrays."""

    def __init__(
        self,
        levels: Sequence[
            tuple[Ints, Ints]
        ],  # (parent, grid) per level below the city, coarse first
        category: Ints,
        how: Ints,
        weights: Floats,  # how many times each hour of the week occurs in the history
        n_categories: int,
        prior_weeks: float,
        share_prior: float,
    ) -> None:
        self.e = weights
        self.beta = prior_weeks
        self.alpha = share_prior
        self.k = n_categories
        n = len(category)
        self.city_total = float(n)
        self.city_category = np.bincount(category, minlength=n_categories).astype(np.float64)
        city_hourly = np.zeros((n_categories, HOURS_PER_WEEK))
        np.add.at(city_hourly, (category, how), 1.0)
        all_hours = np.bincount(how, minlength=HOURS_PER_WEEK).astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            all_rate = np.where(weights > 0, all_hours / weights, 0.0)
        # No hour may look impossible: half a report spread over the history is the floor.
        floor = 0.5 / max(float(weights.sum()), 1.0)
        mix = (self.city_category + 0.5) / (n + 0.5 * n_categories)
        prior = mix[:, None] * np.maximum(all_rate, floor)[None, :]
        self.city = (city_hourly + self.beta * prior) / (weights[None, :] + self.beta)
        self.levels = [
            _Level(
                _Sparse(_key((g, 1 << 31), (category, n_categories), (how, HOURS_PER_WEEK))),
                _Sparse(_key((g, 1 << 31), (category, n_categories))),
                _Sparse(g),
                _Sparse(np.unique(_key((parent, 1 << 31), (g, 1 << 31))) >> 31),
            )
            for parent, g in levels
        ]

    def rates(self, levels: Sequence[tuple[Ints, Ints]], category: Ints, how: Ints) -> Floats:
        """λ per hour for cells (a row per cell) at hours of the week (a column per hour)."""
        rate = self.city[category[:, None], how]
        parent_by_category = self.city_category[category]
        parent_total = np.full(category.shape, self.city_total)
        e = self.e[how]
        for level, (parent, g) in zip(self.levels, levels, strict=True):
            children = np.maximum(level.children.get(parent), 1.0)
            by_category = level.by_category.get(_key((g, 1 << 31), (category, self.k)))
            total = level.total.get(g)
            overall = (total + 1.0) / (parent_total + children)
            share = (by_category + self.alpha * overall) / (parent_by_category + self.alpha)
            hourly = level.hourly.get(
                _key((g[:, None], 1 << 31), (category[:, None], self.k), (how, HOURS_PER_WEEK))
            )
            rate = (hourly + self.beta * share[:, None] * rate) / (e + self.beta)
            parent_by_category, parent_total = by_category, total
        return np.asarray(rate)


@dataclass(frozen=True, slots=True)
class _Test:
    window: int  # index into the detector's windows
    cell: int
    observed: int
    expected: float
    p_value: float


_CATEGORY_RADIX = 1 << 20
ESCALATION = 1e-4  # an alarmed cell warns again when its p-value falls this far below the last


class SpikeDetector:
    """Sliding-window counts per grid × category against their hour-of-week baseline."""

    def __init__(
        self,
        *,
        level: GridLevel = GridLevel.COMMUNITY,
        category_level: CategoryLevel = "parent",
        taxonomy: CategoryTree | None = None,
        windows: Sequence[timedelta] = (
            timedelta(hours=1),
            timedelta(hours=3),
            timedelta(hours=24),
        ),
        history: timedelta = timedelta(weeks=6),
        min_history: timedelta = timedelta(weeks=2),
        prior_weeks: float = 2.0,
        share_prior: float = 10.0,
        clumping: float = 0.3,
        dispersion: float = 20.0,
        fdr: float = 0.01,
        min_count: int = 4,
        refit_every: timedelta = timedelta(hours=6),
        cooldown: timedelta | None = None,
        utc_offset: timedelta = CHINA_OFFSET,
    ) -> None:
        if level not in (GridLevel.COMMUNITY, GridLevel.STREET):
            raise ValueError(f"spikes are watched per community or street, not per {level}")
        if category_level == "parent" and taxonomy is None:
            raise ValueError("the parent category level needs the taxonomy")
        if not windows or min(windows) <= timedelta(0):
            raise ValueError("windows must be positive durations")
        self.level = level
        self.category_level = category_level
        self.taxonomy = taxonomy
        self.windows = tuple(sorted(windows))
        self.history = history
        self.min_history = min_history
        self.prior_weeks = prior_weeks
        self.share_prior = share_prior
        self.clumping = clumping
        self.dispersion = dispersion
        self.fdr = fdr
        self.min_count = min_count
        self.refit_every = refit_every
        self.cooldown = self.windows[-1] if cooldown is None else cooldown
        self.utc_offset = utc_offset
        self._codes: dict[str, dict[str, int]] = {"grid": {}, "street": {}, "category": {}}
        self._names: dict[str, list[str]] = {"grid": [], "street": [], "category": []}
        self._category_of: dict[str, str] = {}
        self._street_of: dict[int, int] = {}
        # Every report, as columns; pruned to `history` + the longest window at each refit.
        self._at: list[float] = []
        self._hour: list[int] = []
        self._grid: list[int] = []
        self._category: list[int] = []
        self._ids: list[str] = []
        self._first_hour: int | None = None
        self._baseline: _Baseline | None = None
        self._fitted_at: datetime | None = None
        self._known_cells = 0
        # cell → (last scan it was significant, p-value of its last warning)
        self._alarmed: dict[int, tuple[datetime, float]] = {}
        # The reports of the longest window, apart from the history, so a scan reads only them.
        self._recent_at: list[float] = []
        self._recent_cell: list[int] = []
        self._recent_ids: list[str] = []

    def update(self, report: ReportPoint) -> None:
        """Add one report (in any order; a late report counts for its own time)."""
        street = self._code("street", report.street_code)
        if self.level is GridLevel.COMMUNITY:
            grid = self._code("grid", report.community_code)
            self._street_of.setdefault(grid, street)
        else:
            grid = self._code("grid", report.street_code)
            self._street_of.setdefault(grid, street)
        hour = hour_index(report.at)
        self._at.append(report.at.timestamp())
        self._hour.append(hour)
        self._grid.append(grid)
        self._category.append(self._code("category", self._watched_category(report.category_code)))
        self._ids.append(report.id)
        self._recent_at.append(self._at[-1])
        self._recent_cell.append(self._grid[-1] * _CATEGORY_RADIX + self._category[-1])
        self._recent_ids.append(report.id)
        if self._first_hour is None or hour < self._first_hour:
            self._first_hour = hour

    def extend(self, reports: Iterable[ReportPoint]) -> None:
        for report in reports:
            self.update(report)

    def scan(self, now: datetime) -> list[EarlyWarning]:
        """New warnings at `now`: cells that turned significant since their last episode ended."""
        if self._fitted_at is None or now - self._fitted_at >= self.refit_every:
            self._fit(now)
        if self._baseline is None or self._first_hour is None:
            return []
        if hour_index(now) - self._first_hour < self.min_history / timedelta(hours=1):
            return []
        at, cell, ids = self._recent(now)
        tests: list[_Test] = []
        for w, window in enumerate(self.windows):
            inside = at >= (now - window).timestamp()
            cells, counts = np.unique(cell[inside], return_counts=True)
            keep = counts >= self.min_count
            if keep.any():
                tests.extend(self._test(now, w, cells[keep], counts[keep]))
        m = len(self.windows) * max(self._known_cells + int(np.unique(cell).size), 1)
        passed = _benjamini_hochberg(np.array([t.p_value for t in tests]), self.fdr, m)
        best: dict[int, _Test] = {}
        for test, ok in zip(tests, passed, strict=True):
            if ok and (test.cell not in best or test.p_value < best[test.cell].p_value):
                best[test.cell] = test
        # One warning per episode: a cell stays alarmed until `cooldown` after it was last
        # significant, so a count hovering at the threshold does not raise it again and again;
        # a far stronger count inside an episode (a burst pipe during a rainstorm) is news.
        fresh = [
            test
            for c, test in best.items()
            if c not in self._alarmed
            or now - self._alarmed[c][0] > self.cooldown
            or test.p_value < self._alarmed[c][1] * ESCALATION
        ]
        self._alarmed = {c: a for c, a in self._alarmed.items() if now - a[0] <= self.cooldown}
        for c in best:
            self._alarmed[c] = (now, self._alarmed[c][1] if c in self._alarmed else 1.0)
        for test in fresh:
            self._alarmed[test.cell] = (now, test.p_value)
        warnings = [self._warning(now, test, at, cell, ids) for test in fresh]
        return sorted(warnings, key=lambda w: (w.p_value, w.grid_code, w.category_code))

    def expected(self, grid_code: str, category_code: str, start: datetime, end: datetime) -> float:
        """The baseline's expected count for a cell over [start, end) (0 before the first fit)."""
        grid = self._codes["grid"].get(grid_code)
        category = self._codes["category"].get(self._watched_category(category_code))
        if self._baseline is None or grid is None or category is None:
            return 0.0
        return float(self._counts(np.array([grid]), np.array([category]), start, end)[0])

    def _code(self, kind: str, value: str) -> int:
        codes = self._codes[kind]
        code = codes.get(value)
        if code is None:
            code = codes[value] = len(codes)
            self._names[kind].append(value)
        return code

    def _watched_category(self, code: str) -> str:
        if self.category_level == "leaf" or self.taxonomy is None:
            return code
        watched = self._category_of.get(code)
        if watched is None:
            node = self.taxonomy.get(code)
            watched = node.parent_code if node is not None and node.parent_code else code
            self._category_of[code] = watched
        return watched

    def _fit(self, now: datetime) -> None:
        """Refit the baseline on [now − longest window − history, now − longest window)."""
        self._fitted_at = now
        if not self._at:
            return
        end = now - self.windows[-1]
        at = np.asarray(self._at)
        keep = at >= (end - self.history).timestamp()
        if not keep.all():
            index = np.flatnonzero(keep).tolist()
            for name in ("_at", "_hour", "_grid", "_category", "_ids"):
                column = getattr(self, name)
                setattr(self, name, [column[i] for i in index])
            at = at[keep]
        past = at < end.timestamp()
        hour = np.asarray(self._hour, dtype=np.int64)[past]
        grid = np.asarray(self._grid, dtype=np.int64)[past]
        category = np.asarray(self._category, dtype=np.int64)[past]
        first = max(self._first_hour or 0, hour_index(end - self.history))
        weights = exposure(first, hour_index(end), self.utc_offset)
        self._baseline = _Baseline(
            self._levels(grid), category, hours_of_week(hour, self.utc_offset), weights,
            len(self._codes["category"]), self.prior_weeks, self.share_prior,
        )  # fmt: skip
        self._known_cells = int(np.unique(_key((grid, 1 << 31), (category, _CATEGORY_RADIX))).size)

    def _levels(self, grid: Ints) -> list[tuple[Ints, Ints]]:
        """(parent, grid) per level below the city for grids of the watched level."""
        street = np.array([self._street_of[g] for g in grid.tolist()], dtype=np.int64)
        city = np.zeros_like(street)
        if self.level is GridLevel.STREET:
            return [(city, street)]
        return [(city, street), (street, grid)]

    def _recent(self, now: datetime) -> tuple[Floats, Ints, NDArray[np.object_]]:
        """Times, cells and ids of the reports in the longest window before `now`."""
        at = np.asarray(self._recent_at)
        since = (now - self.windows[-1]).timestamp()
        stale = at < since
        if stale.sum() > 0.2 * at.size:
            # Rebuilding the lists costs a pass; doing it only when a fifth has gone stale keeps
            # a scan every few minutes near the cost of reading the window once.
            keep = np.flatnonzero(~stale).tolist()
            self._recent_at = [self._recent_at[i] for i in keep]
            self._recent_cell = [self._recent_cell[i] for i in keep]
            self._recent_ids = [self._recent_ids[i] for i in keep]
            at = np.asarray(self._recent_at)
        inside = np.flatnonzero((at >= since) & (at < now.timestamp()))
        cell = np.asarray(self._recent_cell, dtype=np.int64)[inside]
        ids = np.array([self._recent_ids[i] for i in inside.tolist()], dtype=object)
        return at[inside], cell, ids

    def _test(self, now: datetime, w: int, cells: Ints, counts: Ints) -> list[_Test]:
        grid, category = cells // _CATEGORY_RADIX, cells % _CATEGORY_RADIX
        expected = self._counts(grid, category, now - self.windows[w], now)
        p = _upper_tail(counts, expected, self.clumping, self.dispersion)
        return [
            _Test(w, c, n, e, pv)
            for c, n, e, pv in zip(
                cells.tolist(), counts.tolist(), expected.tolist(), p.tolist(), strict=True
            )
        ]

    def _counts(self, grid: Ints, category: Ints, start: datetime, end: datetime) -> Floats:
        """Expected counts over [start, end): each hour's rate times its overlap with the span."""
        assert self._baseline is not None
        first, last = hour_index(start), hour_index(end - timedelta(microseconds=1))
        hours = np.arange(first, last + 1, dtype=np.int64)
        begins = _EPOCH.timestamp() + 3600.0 * hours
        overlap = (
            np.minimum(end.timestamp(), begins + 3600.0) - np.maximum(start.timestamp(), begins)
        ) / 3600.0
        how = hours_of_week(hours, self.utc_offset)
        rates = self._baseline.rates(self._levels(grid), category, how)
        return np.asarray(rates @ np.clip(overlap, 0.0, 1.0))

    def _warning(
        self, now: datetime, test: _Test, at: Floats, cell: Ints, ids: NDArray[np.object_]
    ) -> EarlyWarning:
        window = self.windows[test.window]
        mine = np.flatnonzero((cell == test.cell) & (at >= (now - window).timestamp()))
        mine = mine[np.argsort(at[mine], kind="stable")]
        grid = self._names["grid"][test.cell // _CATEGORY_RADIX]
        category = self._names["category"][test.cell % _CATEGORY_RADIX]
        hours = window / timedelta(hours=1)
        level_zh = "社区" if self.level is GridLevel.COMMUNITY else "街道"
        n, e, p = test.observed, test.expected, test.p_value
        return EarlyWarning(
            kind="spike",
            grid_code=grid,
            grid_level=self.level,
            category_code=category,
            window=window,
            observed=n,
            expected=round(e, 3),
            p_value=p,
            started_at=datetime.fromtimestamp(float(at[mine[0]]), UTC),
            raised_at=now,
            evidence=tuple(str(i) for i in ids[mine]),
            explanation_zh=(
                f"{level_zh} {grid} 近{hours:g}小时 {category} 类上报 {n} 件，"
                f"往常同时段约 {e:.2f} 件（p={p:.1e}）"
            ),
            explanation_en=(
                f"{n} reports of {category} in {self.level.value} {grid} in the last {hours:g} h, "
                f"where the same hours usually bring {e:.2f} (p={p:.1e})"
            ),
        )


def _upper_tail(observed: Ints, expected: Floats, clumping: float, dispersion: float) -> Floats:
    """P(X ≥ observed) under a negative binomial of mean E, variance (1 + clumping)·E + E²/dispersion.

    The clumping term is for reports that come in bunches (one problem reported again on another
    channel, 重复诉求), which fattens the tail most where E is small; the E² term is the swing of
    whole days (weather, news). Both 0 (dispersion ≤ 0) is plain Poisson.
    """
    mean = np.maximum(expected, 1e-9)
    inverse_shape = clumping / mean + (1.0 / dispersion if dispersion > 0 else 0.0)
    if not inverse_shape.any():
        return np.asarray(stats.poisson.sf(observed - 1, mean))
    shape = 1.0 / np.maximum(inverse_shape, 1e-12)
    return np.asarray(stats.nbinom.sf(observed - 1, shape, shape / (shape + mean)))


def _benjamini_hochberg(p: Floats, q: float, m: int) -> NDArray[np.bool_]:
    """Which p-values pass Benjamini–Hochberg at `q` among `m` hypotheses (untested ones p = 1)."""
    if p.size == 0:
        return np.zeros(0, dtype=bool)
    order = np.argsort(p, kind="stable")
    ranks = np.arange(1, p.size + 1)
    below = p[order] <= q * ranks / max(m, p.size)
    passed = np.zeros(p.size, dtype=bool)
    if below.any():
        passed[order[: int(np.flatnonzero(below)[-1]) + 1]] = True
    return passed
