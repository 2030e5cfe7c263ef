"""The GB/T 30428 formulas: every band edge of 立案数分值, every grade edge, both composites."""

from __future__ import annotations

import pytest

from gridgov.analytics.evaluation import (
    DEPARTMENT_WEIGHTS,
    REGION_WEIGHTS,
    Evaluation,
    department_evaluation,
    filed_score,
    grade,
    region_evaluation,
    rework_score,
)
from gridgov.core.errors import InvalidInput


@pytest.mark.parametrize(
    ("filed", "score"),
    [
        (0, 100),
        (50, 100),
        (51, 90),
        (100, 90),
        (101, 75),
        (200, 75),
        (201, 60),
        (500, 60),
        (501, 40),
        (999, 40),
        (1000, 0),
        (250_000, 0),
    ],
)
def test_the_filed_count_scores_by_its_band_with_shared_edges_in_the_lower_band(
    filed: int, score: int
) -> None:
    assert filed_score(filed) == score


def test_a_negative_filed_count_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidInput) as refused:
        filed_score(-1)
    assert refused.value.field == "filed"


@pytest.mark.parametrize(
    ("score", "letter"),
    [
        (100.0, "A"),
        (90.0, "A"),
        (89.99, "B"),
        (75.0, "B"),
        (74.99, "C"),
        (60.0, "C"),
        (59.99, "D"),
        (40.0, "D"),
        (39.99, "E"),
        (0.0, "E"),
    ],
)
def test_each_grade_starts_at_its_lower_edge(score: float, letter: str) -> None:
    assert grade(score) == letter


@pytest.mark.parametrize("score", [-0.01, 100.01, float("nan")])
def test_a_score_outside_0_to_100_has_no_grade(score: float) -> None:
    with pytest.raises(InvalidInput) as refused:
        grade(score)
    assert refused.value.field == "score"


@pytest.mark.parametrize(("rate", "score"), [(0.0, 100.0), (0.2, 80.0), (1.0, 0.0)])
def test_the_rework_score_is_one_minus_the_rate_times_100(rate: float, score: float) -> None:
    assert rework_score(rate) == pytest.approx(score)


def test_the_weights_of_each_composite_add_up_to_one() -> None:
    assert sum(DEPARTMENT_WEIGHTS.values()) == pytest.approx(1.0)
    assert sum(REGION_WEIGHTS.values()) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("filed", "close", "on_time", "rework", "expected"),
    [
        # 100×10% + 100×30% + 100×30% + 100×30%
        (10, 1.0, 1.0, 0.0, Evaluation(100.0, "A")),
        # 90×10% + 80×30% + 70×30% + (1−0.1)×100×30% = 9 + 24 + 21 + 27
        (60, 0.8, 0.7, 0.1, Evaluation(81.0, "B")),
        # the known month of tests/analytics_world.py: 10 + 25 + 20 + 24
        (6, 5 / 6, 4 / 6, 0.2, Evaluation(79.0, "B")),
        # 0×10% + 50×30% + 40×30% + 50×30% = 15 + 12 + 15
        (1000, 0.5, 0.4, 0.5, Evaluation(42.0, "D")),
        # everything at its worst: 0
        (1000, 0.0, 0.0, 1.0, Evaluation(0.0, "E")),
        # exactly on a grade edge: 100×10% + 100×30% + 100×30% + (1 − 2/3)×100×30% = 80 → B
        (0, 1.0, 1.0, 2 / 3, Evaluation(80.0, "B")),
    ],
)
def test_the_department_score_follows_the_gbt_30428_formula(
    filed: int, close: float, on_time: float, rework: float, expected: Evaluation
) -> None:
    assert department_evaluation(filed, close, on_time, rework) == expected


@pytest.mark.parametrize(
    ("close", "on_time", "supervision", "expected"),
    [
        (1.0, 1.0, 0.0, Evaluation(100.0, "A")),
        # 40 + 40 + 10: exactly the edge of A
        (1.0, 1.0, 0.5, Evaluation(90.0, "A")),
        # 5/6×40 + 4/6×40 + (1 − 4/6)×20 = 33.33 + 26.67 + 6.67
        (5 / 6, 4 / 6, 4 / 6, Evaluation(66.67, "C")),
        (0.0, 0.0, 1.0, Evaluation(0.0, "E")),
    ],
)
def test_the_region_score_combines_closing_timeliness_and_supervision(
    close: float, on_time: float, supervision: float, expected: Evaluation
) -> None:
    assert region_evaluation(close, on_time, supervision) == expected


def test_no_score_while_a_rate_has_nothing_to_count() -> None:
    assert department_evaluation(3, None, 1.0, 0.0) is None
    assert department_evaluation(3, 1.0, None, 0.0) is None
    assert department_evaluation(3, 1.0, 1.0, None) is None
    assert region_evaluation(None, 1.0, 0.0) is None
    assert region_evaluation(1.0, None, 0.0) is None
    assert region_evaluation(1.0, 1.0, None) is None


@pytest.mark.parametrize("bad", [-0.1, 1.1])
def test_a_rate_outside_0_to_1_is_refused_naming_it(bad: float) -> None:
    with pytest.raises(InvalidInput) as refused:
        department_evaluation(1, 1.0, bad, 0.0)
    assert refused.value.field == "on_time_handle_rate"
    with pytest.raises(InvalidInput) as refused:
        region_evaluation(1.0, 1.0, bad)
    assert refused.value.field == "supervision_rate"
