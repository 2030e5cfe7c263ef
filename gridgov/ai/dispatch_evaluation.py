"""Smart dispatch measured on a time split: train on the first weeks, test on the next, beside
the baseline "most frequent department for the category" and, when given, the responsibility
list's own decisions (docs/ai.md, "Dispatch", has the figures of the simulated month)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from gridgov.ai.classifier import CategoryTree
from gridgov.ai.dispatch import (
    DepartmentDirectory,
    DepartmentRecommender,
    DispatchOutcome,
    RecommenderConfig,
)
from gridgov.core.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class SplitEvaluation:
    """Top-1/top-3 accuracy on the test window, for the model, the baseline and the rules."""

    train_from: datetime
    test_from: datetime
    test_until: datetime
    trained_on: int
    tested_on: int
    top1: float | None
    top3: float | None
    baseline_top1: float | None
    baseline_top3: float | None
    expected_calibration_error: float | None
    temperature: float
    rules: dict[str, float | int | None] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "train_from": self.train_from.isoformat(),
            "test_from": self.test_from.isoformat(),
            "test_until": self.test_until.isoformat(),
            "trained_on": self.trained_on,
            "tested_on": self.tested_on,
            "learned": {"top1": self.top1, "top3": self.top3},
            "baseline_most_frequent_for_category": {
                "top1": self.baseline_top1,
                "top3": self.baseline_top3,
            },
            "expected_calibration_error": self.expected_calibration_error,
            "temperature": self.temperature,
            "rules": self.rules,
        }


RuleDecision = Callable[[DispatchOutcome], str | None]


def evaluate_time_split(
    outcomes: Sequence[DispatchOutcome],
    *,
    start: datetime,
    train_days: int = 21,
    test_days: int = 7,
    taxonomy: CategoryTree | None = None,
    directory: DepartmentDirectory | None = None,
    config: RecommenderConfig | None = None,
    rule: RuleDecision | None = None,
) -> SplitEvaluation:
    """Train on the outcomes in [start, start + train_days), test on the next `test_days`.

    A test case is scored once, from its first dispatch in the test window; the right answer is
    the department that finally kept it (its last dispatch not returned). `rule`, when given,
    is what the responsibility list decides for a case (None: manual dispatch), scored on the
    same cases, alone and combined with the model where the rule does not decide.
    """
    if train_days < 1 or test_days < 1:
        raise InvalidInput("days", "train_days and test_days must be at least 1")
    test_from = start + timedelta(days=train_days)
    test_until = test_from + timedelta(days=test_days)
    training = [o for o in outcomes if start <= o.at < test_from]
    model = DepartmentRecommender.train(
        training, taxonomy=taxonomy, directory=directory, config=config
    )
    baseline = _most_frequent_by_category(training)
    cases = _test_cases(outcomes, test_from, test_until)
    top1 = top3 = base1 = base3 = 0
    confidence_hits: list[tuple[float, bool]] = []
    rules: Counter[str] = Counter()
    for first, truth in cases:
        proposals = model.propose(first.text, first.category_code, first.grid_path, k=3)
        ranked = [p.department for p in proposals]
        top1 += ranked[:1] == [truth]
        top3 += truth in ranked
        if proposals:
            confidence_hits.append((proposals[0].confidence, ranked[0] == truth))
        common = baseline.get(first.category_code, [])
        base1 += common[:1] == [truth]
        base3 += truth in common[:3]
        if rule is not None:
            decided = rule(first)
            learned_right = ranked[:1] == [truth]
            if decided is None:
                rules["manual"] += 1
                rules["manual_learned_top1"] += learned_right
                rules["manual_learned_top3"] += truth in ranked
                rules["manual_baseline_top1"] += common[:1] == [truth]
                rules["combined_top1"] += learned_right
            else:
                rules["decided"] += 1
                rules["decided_right"] += decided == truth
                rules["combined_top1"] += decided == truth
    n = len(cases)
    return SplitEvaluation(
        train_from=start,
        test_from=test_from,
        test_until=test_until,
        trained_on=len(training),
        tested_on=n,
        top1=_share(top1, n),
        top3=_share(top3, n),
        baseline_top1=_share(base1, n),
        baseline_top3=_share(base3, n),
        expected_calibration_error=_ece(confidence_hits),
        temperature=model.temperature,
        rules={} if rule is None else _rule_figures(rules, n),
    )


def _test_cases(
    outcomes: Sequence[DispatchOutcome], test_from: datetime, test_until: datetime
) -> list[tuple[DispatchOutcome, str]]:
    by_case: dict[str, list[DispatchOutcome]] = defaultdict(list)
    for outcome in outcomes:
        by_case[outcome.case_id].append(outcome)
    cases = []
    for history in by_case.values():
        history.sort(key=lambda o: o.at)
        first = history[0]
        if not test_from <= first.at < test_until:
            continue
        kept = [o for o in history if not o.returned]
        if kept:
            cases.append((first, kept[-1].department))
    cases.sort(key=lambda item: (item[0].at, item[0].case_id))
    return cases


def _most_frequent_by_category(outcomes: Iterable[DispatchOutcome]) -> dict[str, list[str]]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for outcome in outcomes:
        if not outcome.returned:
            counts[outcome.category_code][outcome.department] += 1
    return {
        code: [d for d, _ in sorted(c.items(), key=lambda item: (-item[1], item[0]))]
        for code, c in counts.items()
    }


def _rule_figures(counts: Counter[str], n: int) -> dict[str, float | int | None]:
    decided, manual = counts["decided"], counts["manual"]
    return {
        "decided": decided,
        "decided_top1": _share(counts["decided_right"], decided),
        "manual": manual,
        "manual_learned_top1": _share(counts["manual_learned_top1"], manual),
        "manual_learned_top3": _share(counts["manual_learned_top3"], manual),
        "manual_baseline_top1": _share(counts["manual_baseline_top1"], manual),
        "combined_top1": _share(counts["combined_top1"], n),
    }


def _share(hits: int, n: int) -> float | None:
    return round(hits / n, 4) if n else None


def _ece(pairs: Sequence[tuple[float, bool]], bins: int = 10) -> float | None:
    """Expected calibration error of the top proposal: |confidence − accuracy| per bin, weighted."""
    if not pairs:
        return None
    total = 0.0
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        inside = [(c, h) for c, h in pairs if low <= c < high or (b == bins - 1 and c == 1.0)]
        if inside:
            confidence = sum(c for c, _ in inside) / len(inside)
            accuracy = sum(h for _, h in inside) / len(inside)
            total += len(inside) / len(pairs) * abs(confidence - accuracy)
    return round(total, 4)
