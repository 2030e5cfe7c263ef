"""Smart dispatch on a time split: better than the most frequent department for the category,
scored beside the rules, and with confidences that match how often the first proposal is right."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from gridgov.ai.dispatch import (
    DepartmentRecommender,
    DispatchOutcome,
    LiteralDirectory,
    RecommenderConfig,
)
from gridgov.ai.dispatch_evaluation import evaluate_time_split
from gridgov.core.errors import InvalidInput
from tests.ai.test_dispatch import START, STREETS, TEXTS, StreetOffices, outcome


def _noisy_month(seed: int) -> list[DispatchOutcome]:
    """Four weeks: each category goes to the office of its street, except C0101 (water company)
    and 15 % of cases a dispatcher sends to the wrong unit, which returns them."""
    rng = random.Random(seed)
    out: list[DispatchOutcome] = []
    n = 0
    for day in range(28):
        for _ in range(40):
            n += 1
            at = START + timedelta(days=day, minutes=rng.randrange(1440))
            street = rng.choice(list(STREETS))
            category = rng.choice(list(TEXTS))
            right = "water" if category == "C0101" else f"{street}.office"
            if rng.random() < 0.15:
                out.append(outcome(n, category, street, "planning", returned=True, at=at))
                at += timedelta(hours=1)
            out.append(outcome(n, category, street, right, at=at))
    return out


def test_the_time_split_beats_the_most_frequent_department_for_the_category() -> None:
    outcomes = _noisy_month(seed=3)
    result = evaluate_time_split(outcomes, start=START, directory=StreetOffices())
    assert result.trained_on > 0 and result.tested_on > 200
    assert result.top1 is not None and result.baseline_top1 is not None
    # The baseline names one street's office for the whole city; the model the case's own.
    assert result.top1 > 0.95
    assert result.baseline_top1 < 0.6
    assert result.top3 is not None and result.top3 >= result.top1
    assert result.expected_calibration_error is not None
    assert result.expected_calibration_error < 0.1


def test_the_evaluation_scores_the_rules_alone_and_with_the_model_where_they_do_not_decide() -> (
    None
):
    outcomes = _noisy_month(seed=4)

    def rule(o: DispatchOutcome) -> str | None:
        # A responsibility list that knows the water company and nothing else.
        return "water" if o.category_code == "C0101" else None

    result = evaluate_time_split(outcomes, start=START, directory=StreetOffices(), rule=rule)
    rules = result.rules
    assert rules["decided_top1"] == 1.0
    assert isinstance(rules["manual"], int) and rules["manual"] > 0
    assert rules["manual_learned_top1"] is not None and rules["manual_baseline_top1"] is not None
    assert rules["manual_learned_top1"] > rules["manual_baseline_top1"]
    assert rules["combined_top1"] is not None and rules["combined_top1"] > 0.95


def test_confidence_matches_how_often_the_first_proposal_is_right() -> None:
    # Illegal building goes to the urban management bureau 70 % of the time, planning 30 %.
    rng = random.Random(8)
    outcomes = [
        outcome(
            n,
            "E0101",
            rng.choice(list(STREETS)),
            "urban" if rng.random() < 0.7 else "planning",
            at=START + timedelta(days=n % 28, minutes=n),
        )
        for n in range(1200)
    ]
    result = evaluate_time_split(outcomes, start=START)
    model = DepartmentRecommender.train(outcomes)
    first = model.propose(TEXTS["E0101"], "E0101", {"street": "S1", "district": "D1"})[0]
    assert first.department == "urban"
    assert 0.6 < first.confidence < 0.8
    assert result.top1 is not None and 0.6 < result.top1 < 0.8
    assert result.expected_calibration_error is not None
    assert result.expected_calibration_error < 0.08
    with pytest.raises(InvalidInput):
        DepartmentRecommender.train(outcomes, config=RecommenderConfig(calibration_share=1.0))


def test_a_split_needs_positive_days() -> None:
    with pytest.raises(InvalidInput):
        evaluate_time_split([], start=START, train_days=0)
    empty = evaluate_time_split([], start=START, directory=LiteralDirectory())
    assert empty.tested_on == 0 and empty.top1 is None
