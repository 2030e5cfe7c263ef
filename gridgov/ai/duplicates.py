"""Cross-channel duplicates (并单): does a new report describe a problem an open case already has?

A report is compared with the recent reports of open cases near it. Distance and time are gates
(beyond them nothing is a duplicate); inside them a score adds closeness, recency, category
agreement and text similarity, and subtracts for conflicting details ("3号楼" vs "7号楼", "东侧"
vs "西侧", two different roads). The finder is deliberately conservative: a wrong merge hides a
real problem until someone notices, a missed merge only costs a second dispatch. `RecentIndex`
keeps the recent signatures in a spatial grid so that a lookup scores only its neighbours.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from gridgov.ai.classifier import CategoryTree
from gridgov.ai.text import compare_details, details_agree, details_by_kind, features

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LON_EQUATOR = 111_320.0

# Weights of the score; tuned on `gridgov.ai.bursts` (docs/ai.md gives the measured effect).
W_CLOSENESS = 0.35
W_RECENCY = 0.05
W_TEXT = 0.40
W_DETAIL_AGREES = 0.10  # per kind of detail both state alike (road, side, building …)
CATEGORY_SCORES = {"same": 0.25, "sibling": 0.10, "unknown": 0.0, "other_taxonomy": 0.0}
MIN_ACCURACY_M = 15.0  # no location is better than this, whatever the device claims
CATEGORY_CONFLICT = -0.40
# Two reports that name different buildings, sides or roads are two places, whatever else agrees.
DETAIL_CONFLICT = -1.0
DEFAULT_THRESHOLD = 0.80
DEFAULT_REVIEW_THRESHOLD = 0.45


@dataclass(frozen=True, slots=True)
class ReportSignature:
    """What duplicate detection knows of one report; build it with `ReportSignature.of`.

    `category_code` is the finest category known (the channel's own leaf, else the classifier's
    top suggestion); `accuracy_m` is the radius of the location's uncertainty (a GPS fix's
    accuracy, a geocoded address's match radius), which widens the distance gate.
    """

    id: str
    case_id: str
    channel: str
    lon: float
    lat: float
    at: datetime
    category_code: str | None
    text: str
    tokens: frozenset[str]
    details: frozenset[str] = frozenset()
    accuracy_m: float = 0.0
    # `at` in whole microseconds: the finder's inner loop subtracts two ints instead of two
    # datetimes, and an int difference over 10**6 is exactly what `timedelta.total_seconds` gives.
    at_us: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError(f"signature {self.id}: the report time must be timezone-aware")
        object.__setattr__(self, "at_us", (self.at - _EPOCH) // _MICROSECOND)

    @classmethod
    def of(
        cls,
        id: str,
        case_id: str,
        channel: str,
        lon: float,
        lat: float,
        at: datetime,
        category_code: str | None,
        text: str,
        accuracy_m: float = 0.0,
    ) -> ReportSignature:
        """A signature with its tokens and details computed from `text` (jieba runs here)."""
        tokens, details = features(text)
        return cls(
            id, case_id, channel, lon, lat, at, category_code, text, tokens, details, accuracy_m
        )


@dataclass(frozen=True, slots=True)
class Reason:
    """One piece of evidence shown to the operator, in both languages."""

    key: str  # distance | time | text | category | details
    value: float
    zh: str
    en: str


@dataclass(frozen=True, slots=True)
class DuplicateDecision:
    """`same_as`: the case to join automatically, or None for a new case.

    `review_case` is set when the best match scored between the review threshold and the merge
    threshold: not merged, but shown to the operator as a possible duplicate. `reasons` explain the
    best match either way.
    """

    same_as: str | None
    score: float
    matched_report_id: str | None = None
    review_case: str | None = None
    reasons: tuple[Reason, ...] = ()


@dataclass(frozen=True, slots=True)
class _Evidence:
    report: ReportSignature
    score: float
    distance_m: float
    minutes: float
    text: float
    category: str
    agrees: tuple[str, ...]
    conflicts: tuple[str, ...]


# A case's best match so far: score, report, distance (m), seconds apart, text similarity,
# category relation, the points of conflicting details (0 or DETAIL_CONFLICT).
_Top = tuple[float, ReportSignature, float, float, float, str, float]


class DuplicateFinder:
    """Scores a new report against recent ones and names the case it duplicates, if any."""

    def __init__(
        self,
        distance_m: float = 150.0,
        window: timedelta = timedelta(hours=72),
        threshold: float = DEFAULT_THRESHOLD,
        review_threshold: float = DEFAULT_REVIEW_THRESHOLD,
        taxonomy: CategoryTree | None = None,
    ) -> None:
        if distance_m <= 0 or window <= timedelta(0):
            raise ValueError("distance_m and window must be positive")
        if review_threshold > threshold:
            raise ValueError("review_threshold must not exceed threshold")
        self.distance_m = distance_m
        self.window = window
        self.threshold = threshold
        self.review_threshold = review_threshold
        self._taxonomy = taxonomy
        # Category pairs already related: a city has a few hundred categories, so this stays small.
        self._relations: dict[tuple[str | None, str | None], tuple[str, float]] = {}

    @property
    def reach_m(self) -> float:
        """The widest distance gate, reached when a location is at least `distance_m` uncertain."""
        return 2 * self.distance_m

    def find(
        self, candidate: ReportSignature, recent: Sequence[ReportSignature]
    ) -> DuplicateDecision:
        """The case `candidate` duplicates among `recent`, or a decision with `same_as=None`."""
        tops, conflicted = self._tops(candidate, recent)
        best_case, best, best_score = None, None, 0.0
        for case_id, top in tops.items():
            score = top[0]
            # A detail that contradicts any report of the case counts, not only the best-matching
            # one: the case is one problem, so every report of it describes the same place.
            if case_id in conflicted and not top[6]:
                score = score + DETAIL_CONFLICT
            if best is None or score > best_score:
                best_case, best, best_score = case_id, top, score
        if best is None or best_case is None:
            return DuplicateDecision(None, 0.0)
        _, report, distance, seconds, text, category, _ = best
        # Only the winner's details are spelled out, for the operator.
        agrees, conflicts = compare_details(candidate.details, report.details)
        if best_case in conflicted and not conflicts:
            named: dict[str, None] = {}
            for other in conflicted[best_case]:
                named.update(dict.fromkeys(compare_details(candidate.details, other.details)[1]))
            conflicts = list(named)
        evidence = _Evidence(
            report, best_score, distance, seconds / 60, text, category, tuple(agrees),
            tuple(conflicts),
        )  # fmt: skip
        score = round(best_score, 3)
        joined = best_case if score >= self.threshold else None
        review = best_case if joined is None and score >= self.review_threshold else None
        return DuplicateDecision(joined, score, report.id, review, _reasons(evidence))

    def _tops(
        self, a: ReportSignature, recent: Sequence[ReportSignature]
    ) -> tuple[dict[str, _Top], dict[str, list[ReportSignature]]]:
        """Per case (in order of first appearance): its best-scoring report's evidence (the first
        of equals); and per case with any, its reports whose details conflict, in order.

        One loop, unrolled by hand: a lookup in the dense core of a city reads ~90 neighbours, two
        thirds of them beyond the distance gate, and a function call plus an `_Evidence` per
        neighbour (~4 µs) cost more than the rest of intake together. Hence latitude and
        longitude gates before any cosine of the neighbour's own, a plain tuple per new best (a
        frozen dataclass costs ten times as much; `find` makes one `_Evidence`, for the winner),
        times as integer microseconds, and the category relation and detail comparison
        remembered across lookups (the same few values recur all day). The score keeps the
        operations and their order of `distance_m`, `similarity` and the sum below, so the
        floats, and so the decisions, do not depend on this bookkeeping (checked on the
        benchmark's 20,000-report day: every receipt the same).
        """
        tops: dict[str, _Top] = {}
        conflicted: dict[str, list[ReportSignature]] = {}
        window = self.window.total_seconds()
        gate = self.distance_m
        lat, lon, at_us, own_id = a.lat, a.lon, a.at_us, a.id
        a_accuracy = a.accuracy_m
        a_error = max(a_accuracy, MIN_ACCURACY_M)
        a_tokens = a.tokens
        a_size = len(a_tokens)
        a_details = a.details
        a_category = a.category_code
        relations: dict[str | None, tuple[str, float]] = {}
        compared: dict[frozenset[str], tuple[float, float]] = {}
        a_kinds = details_by_kind(a_details)
        cos, radians, hypot, exp, sqrt = math.cos, math.radians, math.hypot, math.exp, math.sqrt
        # Metres per degree of longitude no neighbour within reach can have less of: the cosine
        # at the latitude farthest from the equator that a neighbour's midpoint can reach.
        farthest = min(abs(lat) + self.reach_m / _M_PER_DEG_LAT, 90.0)
        least_scale = cos(radians(farthest)) * _M_PER_DEG_LON_EQUATOR * (1 - 1e-9)
        for b in recent:
            b_accuracy = b.accuracy_m
            widest = b_accuracy if b_accuracy > a_accuracy else a_accuracy
            reach = gate + (widest if widest < gate else gate)
            dy = (b.lat - lat) * _M_PER_DEG_LAT
            # hypot(dx, dy) >= |dy| and >= |dx|: most neighbours fail one of these two without a
            # cosine of their own; the margins keep the answer to the exact test below whatever
            # the last-bit rounding.
            if abs(dy) > reach * (1 + 1e-9) or b.id == own_id:
                continue
            if abs(b.lon - lon) * least_scale > reach * (1 + 1e-9):
                continue
            scale = cos(radians((lat + b.lat) / 2)) * _M_PER_DEG_LON_EQUATOR
            distance = hypot((b.lon - lon) * scale, dy)
            if distance > reach:
                continue
            seconds = abs(at_us - b.at_us) / 1_000_000
            if seconds > window:
                continue
            b_tokens = b.tokens
            text = (
                len(a_tokens & b_tokens) / sqrt(a_size * len(b_tokens))
                if a_tokens and b_tokens
                else 0.0
            )
            related = relations.get(b.category_code)
            if related is None:
                related = relations[b.category_code] = self._related(a_category, b.category_code)
            category, category_points = related
            b_details = b.details
            if not a_details or not b_details:
                agree_points = conflict_points = 0.0
            else:
                found = compared.get(b_details)
                if found is None:
                    found = compared[b_details] = _detail_points(a_kinds, b_details)
                agree_points, conflict_points = found
            # Closeness is measured against the two locations' combined error, on a Gaussian
            # curve: a nearby different problem is typically farther than the error, the same
            # problem within it.
            error = hypot(a_error, b_accuracy if b_accuracy > MIN_ACCURACY_M else MIN_ACCURACY_M)
            score = (
                W_CLOSENESS * exp(-0.5 * (distance / error) ** 2)
                + W_RECENCY * (1 - seconds / window)
                + W_TEXT * text
                + category_points
                + agree_points
                + conflict_points
            )
            case_id = b.case_id
            held = tops.get(case_id)
            if held is None or score > held[0]:
                tops[case_id] = (score, b, distance, seconds, text, category, conflict_points)
            if conflict_points:
                if case_id in conflicted:
                    conflicted[case_id].append(b)
                else:
                    conflicted[case_id] = [b]
        return tops, conflicted

    def _related(self, a: str | None, b: str | None) -> tuple[str, float]:
        """`category_relation` and the points it scores, remembered per pair."""
        related = self._relations.get((a, b))
        if related is None:
            relation = self.category_relation(a, b)
            related = self._relations[(a, b)] = (
                relation,
                CATEGORY_SCORES.get(relation, CATEGORY_CONFLICT),
            )
        return related

    def category_relation(self, a: str | None, b: str | None) -> str:
        """same | sibling | unknown | other_taxonomy | conflict; without a taxonomy, codes that
        differ conflict."""
        if a is None or b is None:
            return "unknown"
        if a == b:
            return "same"
        if self._taxonomy is None:
            return "conflict"
        left, right = self._taxonomy.get(a), self._taxonomy.get(b)
        if left is None or right is None:
            return "unknown"
        if _FAMILIES.get(left.source, left.source) != _FAMILIES.get(right.source, right.source):
            # A hotline class and a 数字城管 class describe a problem on different axes.
            return "other_taxonomy"
        if left.parent_code is not None and left.parent_code == right.parent_code:
            return "sibling"
        return "conflict"


# 数字城管 components and events are two halves of one standard (CJ/T 214): a cover and a garbage
# pile conflict, whereas a hotline class or a sensor alarm is another way of naming a problem.
_FAMILIES = {"urban_component": "urban", "urban_event": "urban"}


_CATEGORY_WORDS = {
    "same": ("分类相同", "same category"),
    "sibling": ("同属一个大类", "sibling categories"),
    "unknown": ("分类未知", "category unknown"),
    "other_taxonomy": ("分类体系不同，不比较", "different taxonomies, not compared"),
    "conflict": ("分类冲突", "conflicting categories"),
}


def _detail_points(a_kinds: Mapping[str, frozenset[str]], b: frozenset[str]) -> tuple[float, float]:
    """The points of `compare_details` (agreeing kinds, any conflict) without its words, which
    only the winning match needs."""
    b_kinds = details_by_kind(b)
    agree, conflict = 0, False
    for kind in a_kinds.keys() & b_kinds.keys():
        if details_agree(kind, a_kinds[kind], b_kinds[kind]):
            agree += 1
        else:
            conflict = True
    return W_DETAIL_AGREES * agree, DETAIL_CONFLICT if conflict else 0.0


def _reasons(e: _Evidence) -> tuple[Reason, ...]:
    zh_cat, en_cat = _CATEGORY_WORDS[e.category]
    reasons = [
        Reason("distance", round(e.distance_m, 1), f"相距 {e.distance_m:.0f} 米", f"{e.distance_m:.0f} m apart"),
        Reason("time", round(e.minutes, 1), f"相隔 {e.minutes:.0f} 分钟", f"{e.minutes:.0f} min apart"),
        Reason("text", round(e.text, 3), f"文本相似度 {e.text:.2f}", f"text similarity {e.text:.2f}"),
        Reason("category", CATEGORY_SCORES.get(e.category, CATEGORY_CONFLICT), zh_cat, en_cat),
    ]  # fmt: skip
    if e.agrees:
        shown = "、".join(_DETAIL_WORDS.get(k, k) for k in e.agrees)
        reasons.append(
            Reason("details", W_DETAIL_AGREES * len(e.agrees), f"细节一致：{shown}", f"details agree: {', '.join(e.agrees)}")
        )  # fmt: skip
    if e.conflicts:
        shown = "; ".join(e.conflicts)
        reasons.append(
            Reason("details", DETAIL_CONFLICT, f"细节不一致：{shown}", f"details differ: {shown}")
        )
    return tuple(reasons)


_DETAIL_WORDS = {"road": "道路", "dir": "方位", "楼": "楼号", "单元": "单元", "号": "门牌号"}


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Metres between two WGS84 points; equirectangular, exact to well under 1% within 10 km."""
    scale = math.cos(math.radians((lat1 + lat2) / 2)) * _M_PER_DEG_LON_EQUATOR
    return math.hypot((lon2 - lon1) * scale, (lat2 - lat1) * _M_PER_DEG_LAT)


@dataclass(slots=True)
class RecentIndex:
    """Recent signatures in square cells of `cell_m`, forgotten after `window`.

    A lookup reads the 3×3 cells around the point, so `cell_m` must be at least the finder's
    `reach_m`; `for_finder` sizes it so. Closed or rejected cases are taken out with `remove_case`.
    """

    cell_m: float
    window: timedelta
    _cells: dict[tuple[int, int], dict[str, ReportSignature]] = field(default_factory=dict)
    _by_case: dict[str, set[str]] = field(default_factory=dict)
    _where: dict[str, tuple[int, int]] = field(default_factory=dict)
    _expiry: list[tuple[datetime, str]] = field(default_factory=list)
    _lon_scale: float | None = None

    @classmethod
    def for_finder(cls, finder: DuplicateFinder) -> RecentIndex:
        return cls(cell_m=finder.reach_m, window=finder.window)

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, report_id: object) -> bool:
        return report_id in self._where

    def add(self, signature: ReportSignature) -> None:
        """Keep `signature` (replacing one with the same id) until `window` after its time."""
        self.discard(signature.id)
        cell = self._cell(signature.lon, signature.lat)
        self._cells.setdefault(cell, {})[signature.id] = signature
        self._where[signature.id] = cell
        self._by_case.setdefault(signature.case_id, set()).add(signature.id)
        heapq.heappush(self._expiry, (signature.at, signature.id))

    def near(self, lon: float, lat: float) -> list[ReportSignature]:
        """Every kept signature in the 3×3 cells around the point; the finder applies the gates."""
        cx, cy = self._cell(lon, lat)
        found: list[ReportSignature] = []
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                cell = self._cells.get((cx + dx, cy + dy))
                if cell:
                    found.extend(cell.values())
        return found

    def would_read(
        self, points: Iterable[tuple[float, float]], signatures: Iterable[ReportSignature]
    ) -> bool:
        """Whether a lookup `near` any of `points` would read any of `signatures` (were they
        kept): what decides whether adding them can change a decision taken near those points."""
        read: set[tuple[int, int]] = set()
        for lon, lat in points:
            cx, cy = self._cell(lon, lat)
            read.update((cx + dx, cy + dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1))
        return any(self._cell(s.lon, s.lat) in read for s in signatures)

    def evict(self, now: datetime) -> int:
        """Forget signatures older than `now - window`; returns how many."""
        cutoff = now - self.window
        removed = 0
        while self._expiry and self._expiry[0][0] < cutoff:
            at, report_id = heapq.heappop(self._expiry)
            kept = self._signature(report_id)
            # The heap may hold a stale entry for a signature replaced or removed since.
            if kept is not None and kept.at == at:
                self.discard(report_id)
                removed += 1
        return removed

    def remove_case(self, case_id: str) -> None:
        """Forget every report of a case that closed, was rejected or was merged away."""
        for report_id in list(self._by_case.get(case_id, ())):
            self.discard(report_id)

    def discard(self, report_id: str) -> None:
        cell = self._where.pop(report_id, None)
        if cell is None:
            return
        signature = self._cells[cell].pop(report_id)
        if not self._cells[cell]:
            del self._cells[cell]
        ids = self._by_case[signature.case_id]
        ids.discard(report_id)
        if not ids:
            del self._by_case[signature.case_id]

    def of_case(self, case_id: str) -> list[ReportSignature]:
        """The kept reports of one case, for showing the operator what a report would join."""
        found = (self._signature(report_id) for report_id in sorted(self._by_case.get(case_id, ())))
        return [signature for signature in found if signature is not None]

    def _signature(self, report_id: str) -> ReportSignature | None:
        cell = self._where.get(report_id)
        return None if cell is None else self._cells[cell][report_id]

    def _cell(self, lon: float, lat: float) -> tuple[int, int]:
        if self._lon_scale is None:
            # One scale for the whole index: a city spans well under a degree of latitude.
            self._lon_scale = math.cos(math.radians(lat)) * _M_PER_DEG_LON_EQUATOR
        return (
            math.floor(lon * self._lon_scale / self.cell_m),
            math.floor(lat * _M_PER_DEG_LAT / self.cell_m),
        )
