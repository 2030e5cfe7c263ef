"""Rates over a cohort: a count over a count, None with nothing to count."""

from __future__ import annotations

import pytest

from gridgov.analytics.indicators import (
    DONE_STATES,
    HANDLED_STATES,
    INDICATORS,
    OPEN_STATES,
    CohortFigures,
    rate,
)
from gridgov.workflow.model import CLOSED_STATES, CaseState


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [(3, 4, 0.75), (0, 5, 0.0), (5, 5, 1.0), (0, 0, None)],
)
def test_a_rate_is_the_share_or_none_without_a_denominator(
    numerator: int, denominator: int, expected: float | None
) -> None:
    assert rate(numerator, denominator) == expected


@pytest.mark.parametrize(("numerator", "denominator"), [(5, 4), (-1, 4), (1, -1)])
def test_a_rate_above_one_or_below_zero_is_a_bug_and_raises(
    numerator: int, denominator: int
) -> None:
    with pytest.raises(ValueError):
        rate(numerator, denominator)


def test_three_closed_on_time_and_one_late_is_an_on_time_close_rate_of_three_quarters() -> None:
    figures = CohortFigures(created=4, filed=4, due=4, closed=4, closed_on_time=3)
    assert figures.on_time_close_rate == 0.75
    assert figures.close_rate == 1.0


def test_each_rate_reads_its_own_counts() -> None:
    figures = CohortFigures(
        filed=10,
        due=8,
        closed=6,
        closed_on_time=4,
        public_filed=5,
        dispatched=9,
        returned=3,
        handled=6,
        reworked=2,
        evaluated=4,
        satisfied=3,
        handle_due=8,
        handled_on_time=2,
    )
    assert figures.close_rate == 6 / 8
    assert figures.on_time_close_rate == 4 / 8
    assert figures.supervision_rate == 5 / 10
    assert figures.return_rate == 3 / 9
    assert figures.rework_rate == 2 / 6
    assert figures.satisfaction_rate == 3 / 4
    assert figures.on_time_handle_rate == 2 / 8
    assert CohortFigures().close_rate is None


def test_every_rate_of_the_figures_is_defined_in_both_languages() -> None:
    rates = {name for name in dir(CohortFigures) if name.endswith("_rate")}
    assert rates == set(INDICATORS)
    for indicator in INDICATORS.values():
        assert indicator.name_zh and indicator.name_en
        assert indicator.name_zh in indicator.formula and indicator.name_en in indicator.formula


def test_the_open_and_done_states_are_the_workflows() -> None:
    # analytics may not import the workflow (sibling domains); this keeps the two in step.
    assert tuple(s.value for s in CaseState if s not in CLOSED_STATES) == OPEN_STATES
    assert set(DONE_STATES) == {CaseState.CLOSED.value, CaseState.EVALUATED.value}
    assert set(HANDLED_STATES) <= {s.value for s in CaseState}
