"""The GB/T 30428 evaluations: department (专业部门评价), region (区域评价) and the grade bands.

The department formula, the 立案数 bands and the grades are those GB/T 30428.4 (earlier CJ/T 292)
gives as quoted on the screens of an open-source 数字城管 system (docs/analytics.md names the
source). The region composite has no weights in that source; the ones here are our choice, and
docs/analytics.md says why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gridgov.core.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class FiledBand:
    """Cases `low`..`high` (inclusive; `high` None: no upper end) score `score` points."""

    low: int
    high: int | None
    score: int


# 立案数分值. The source writes "0–50, 51–100, 100–200, 200–500, 500–1000, ≥1000": its shared edges
# (100, 200, 500) are read as belonging to the lower band, as "51–100" does, and 1000 to "≥1000".
FILED_BANDS: tuple[FiledBand, ...] = (
    FiledBand(0, 50, 100),
    FiledBand(51, 100, 90),
    FiledBand(101, 200, 75),
    FiledBand(201, 500, 60),
    FiledBand(501, 999, 40),
    FiledBand(1000, None, 0),
)

# Lower bound of each grade, inclusive: A 90–100, B 75–<90, C 60–<75, D 40–<60, E <40.
GRADES: tuple[tuple[str, float], ...] = (
    ("A", 90.0),
    ("B", 75.0),
    ("C", 60.0),
    ("D", 40.0),
    ("E", 0.0),
)

DEPARTMENT_WEIGHTS: Mapping[str, float] = {
    "filed_score": 0.10,
    "close_rate": 0.30,
    "on_time_handle_rate": 0.30,
    "rework_score": 0.30,
}
# Our choice (the source gives none): the two closing indicators weigh as the department formula's
# closing and timeliness do, equally, and 监督举报率 — problems the public had to report because
# the region's own patrols missed them — takes the rest, scored as (1 − rate).
REGION_WEIGHTS: Mapping[str, float] = {
    "close_rate": 0.40,
    "on_time_close_rate": 0.40,
    "supervision_score": 0.20,
}

DEPARTMENT_FORMULA = (
    "综合指标值 = 立案数分值×10% + 结案率分值×30% + 按期处置率分值×30% + 返工率分值×30%；"
    "结案率分值 = 结案率×100，按期处置率分值 = 按期处置率×100，返工率分值 = (1−返工率)×100；"
    "立案数分值：0–50 件 100，51–100 件 90，101–200 件 75，201–500 件 60，501–999 件 40，"
    "≥1000 件 0（GB/T 30428.4）。等级：A 90–100，B 75–<90，C 60–<75，D 40–<60，E <40。"
    " / score = filed-count score × 10% + close rate × 100 × 30% + on-time handling rate × 100"
    " × 30% + (1 − rework rate) × 100 × 30%; filed-count score: 0–50 cases 100, 51–100 90,"
    " 101–200 75, 201–500 60, 501–999 40, 1000 or more 0 (GB/T 30428.4). Grades: A 90–100,"
    " B 75–<90, C 60–<75, D 40–<60, E <40."
)
REGION_FORMULA = (
    "综合指标值 = 结案率×100×40% + 按期结案率×100×40% + (1−监督举报率)×100×20%；"
    "监督举报率 = 公众举报立案数 / 立案数，结案率 = 结案数 / 应结案数，"
    "按期结案率 = 按期结案数 / 应结案数（GB/T 30428.4 区域评价指标；权重为本系统所定）。"
    "等级：A 90–100，B 75–<90，C 60–<75，D 40–<60，E <40。"
    " / score = close rate × 100 × 40% + on-time close rate × 100 × 40% + (1 − supervision"
    " rate) × 100 × 20%; supervision rate = filed cases the public reported / filed cases, close"
    " rate = closed / due to close, on-time close rate = closed on time / due to close (the"
    " indicators of GB/T 30428.4 region evaluation; the weights are gridgov's choice). Grades:"
    " A 90–100, B 75–<90, C 60–<75, D 40–<60, E <40."
)


@dataclass(frozen=True, slots=True)
class Evaluation:
    """A composite score on 0–100 (two decimals) and its grade."""

    score: float
    grade: str


def filed_score(filed: int) -> int:
    """立案数分值 for a department's number of cases in the period."""
    if filed < 0:
        raise InvalidInput("filed", f"须为非负整数 / must not be negative, got {filed}")
    for band in FILED_BANDS:
        if filed >= band.low and (band.high is None or filed <= band.high):
            return band.score
    raise AssertionError("FILED_BANDS leave a gap")  # the bands cover every count from 0 up


def grade(score: float) -> str:
    """The grade letter of a score on 0–100."""
    if not 0.0 <= score <= 100.0:
        raise InvalidInput("score", f"须在 0–100 之间 / must lie in 0–100, got {score}")
    for letter, lowest in GRADES:
        if score >= lowest:
            return letter
    raise AssertionError("GRADES end at 0")


def rework_score(rework_rate: float) -> float:
    """返工率分值 = (1 − 返工率) × 100."""
    return (1.0 - _checked_rate("rework_rate", rework_rate)) * 100.0


def department_evaluation(
    filed: int,
    close_rate: float | None,
    on_time_handle_rate: float | None,
    rework_rate: float | None,
) -> Evaluation | None:
    """专业部门评价; None while a rate has nothing to count yet (no case due or handled)."""
    if close_rate is None or on_time_handle_rate is None or rework_rate is None:
        return None
    parts = {
        "filed_score": float(filed_score(filed)),
        "close_rate": _checked_rate("close_rate", close_rate) * 100.0,
        "on_time_handle_rate": _checked_rate("on_time_handle_rate", on_time_handle_rate) * 100.0,
        "rework_score": rework_score(rework_rate),
    }
    return _weighted(parts, DEPARTMENT_WEIGHTS)


def region_evaluation(
    close_rate: float | None,
    on_time_close_rate: float | None,
    supervision_rate: float | None,
) -> Evaluation | None:
    """区域评价 composite; None while a rate has nothing to count yet."""
    if close_rate is None or on_time_close_rate is None or supervision_rate is None:
        return None
    parts = {
        "close_rate": _checked_rate("close_rate", close_rate) * 100.0,
        "on_time_close_rate": _checked_rate("on_time_close_rate", on_time_close_rate) * 100.0,
        "supervision_score": (1.0 - _checked_rate("supervision_rate", supervision_rate)) * 100.0,
    }
    return _weighted(parts, REGION_WEIGHTS)


def _weighted(parts: Mapping[str, float], weights: Mapping[str, float]) -> Evaluation:
    # Rounded before grading, so that the grade always agrees with the score people are shown.
    score = round(sum(parts[name] * weight for name, weight in weights.items()), 2)
    score = min(100.0, max(0.0, score))
    return Evaluation(score, grade(score))


def _checked_rate(name: str, value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise InvalidInput(name, f"须在 0–1 之间 / must lie in 0–1, got {value}")
    return value
