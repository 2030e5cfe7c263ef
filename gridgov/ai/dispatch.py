"""Smart dispatch (智能派单): which department a case should go to, learned from past dispatches.

The responsibility list stays authoritative where it decides; this model proposes a department
where it does not (the manual dispatch queue) and is shown beside the rule's choice otherwise.
Plain values in (`DispatchOutcome`: text, category, grid path, department, whether the department
sent it back), proposals out; no store, no settings.

Departments are learned under a *key*. A `DepartmentDirectory` turns a department into something
that travels across grids — "the street office, at street level" rather than one street's office
— and back into the unit serving a given case. Without one, keys are the department codes.

    score(key)  = P(key | case) × acceptance(key | case)

    P           where dispatches of this kind stayed (were not returned), backed off from the
                most specific context to the broadest, Witten–Bell style: at each step
                P(k) = (n(k) + t · P_broader(k)) / (n + t), with n the context's accepted
                dispatches and t the number of distinct keys among them, so a context that always
                chose one department trusts itself, a mixed or thin one leans on the broader one.
                Contexts: (category, street) → (category, district) → category → its ancestor
                classes → the text model (naive Bayes over character bigrams) → uniform.
    acceptance  the share of dispatches to the key that were not returned (退单), Beta-smoothed
                along the same contexts: a department that sends a category back is proposed less.

Confidence is the score normalised over every key, then sharpened or flattened by one temperature
fitted on the latest `calibration_share` of the training outcomes (by time), so that among
proposals given confidence 0.8 about 80 % were right there.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from gridgov.ai.classifier import CategoryTree
from gridgov.ai.text import tokens
from gridgov.core.errors import InvalidInput

GRID_CONTEXTS = ("street", "district")
SPECIAL_PREFIX = "special."
# Temperatures tried when calibrating; 1 keeps the back-off's own probabilities.
TEMPERATURES = (0.25, 0.35, 0.5, 0.7, 0.85, 1.0, 1.2, 1.5, 2.0, 3.0)
# Mixed into every calibrated distribution so a key never seen in a context keeps a finite
# log-loss while the temperature is fitted.
_FLOOR = 1e-4
_BETA_PRIOR = 2.0


@dataclass(frozen=True, slots=True)
class DispatchOutcome:
    """One dispatch and how it ended; `returned` when the department sent it back (退单) or the
    centre took it away (改派). `grid_path` maps a level ("street", "district" …) to a grid code."""

    case_id: str
    at: datetime
    text: str
    category_code: str
    grid_path: Mapping[str, str]
    department: str
    returned: bool


@dataclass(frozen=True, slots=True)
class Proposal:
    """A department for the dispatcher to consider, with a calibrated confidence and why."""

    department: str
    confidence: float
    explanation_zh: str
    explanation_en: str


class DepartmentDirectory(Protocol):
    """How departments generalize across grids; `gridgov.services.dispatch_learning` has one
    built from the responsibility list."""

    def key_of(self, department: str, grid_path: Mapping[str, str]) -> str:
        """A key shared by the same kind of unit elsewhere (the case's own grid path tells a
        special grid's unit from others), or the code itself."""
        ...

    def department_for(self, key: str, grid_path: Mapping[str, str]) -> str | None:
        """The unit of `key` serving a case on `grid_path`; None when none serves it."""
        ...


class LiteralDirectory:
    """Every department is its own key: nothing generalizes across grids."""

    def key_of(self, department: str, grid_path: Mapping[str, str]) -> str:
        return department

    def department_for(self, key: str, grid_path: Mapping[str, str]) -> str | None:
        return key


@dataclass(frozen=True, slots=True)
class RecommenderConfig:
    grid_contexts: tuple[str, ...] = GRID_CONTEXTS
    max_text_examples: int = 50_000  # the newest; the text model is only the last back-off
    calibration_share: float = 0.2
    max_calibration_examples: int = 5_000


@dataclass
class _Context:
    """Counts of one context: accepted dispatches per key, and returns per key."""

    accepted: Counter[str] = field(default_factory=Counter)
    returned: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.accepted.values())


class _TextModel:
    """Multinomial naive Bayes over character bigrams: log-linear in the bigram counts."""

    def __init__(self, examples: Iterable[tuple[str, str]]) -> None:
        self._counts: dict[str, Counter[str]] = defaultdict(Counter)
        self._docs: Counter[str] = Counter()
        for text, key in examples:
            self._docs[key] += 1
            self._counts[key].update(tokens(text))
        self._totals = {k: sum(c.values()) for k, c in self._counts.items()}
        self._vocabulary = len({b for c in self._counts.values() for b in c}) or 1
        self._n = sum(self._docs.values())

    def probabilities(self, text: str, keys: Sequence[str]) -> dict[str, float]:
        """P(key | text) over `keys`; the class prior alone when the text has no known bigram."""
        grams = tokens(text)
        scores = {}
        for key in keys:
            prior = math.log((self._docs[key] + 1) / (self._n + len(keys)))
            counts, total = self._counts.get(key, Counter()), self._totals.get(key, 0)
            if grams:
                # The mean, not the sum, of the bigram log-likelihoods: naive Bayes treats the
                # overlapping bigrams of one sentence as independent evidence and would otherwise
                # be near-certain about every long text.
                evidence = sum(
                    math.log((counts[g] + 1) / (total + self._vocabulary)) for g in grams
                ) / len(grams)
            else:
                evidence = 0.0
            scores[key] = prior + evidence
        return _softmax(scores)


class DepartmentRecommender:
    """Trained from outcomes with `train`; `propose` ranks the departments for one case."""

    def __init__(
        self,
        contexts: dict[tuple[str, ...], _Context],
        text_model: _TextModel,
        *,
        taxonomy: CategoryTree | None,
        directory: DepartmentDirectory,
        config: RecommenderConfig,
        temperature: float = 1.0,
        trained_on: int = 0,
    ) -> None:
        self._contexts = contexts
        self._text = text_model
        self._taxonomy = taxonomy
        self._directory = directory
        self.config = config
        self.temperature = temperature
        self.trained_on = trained_on
        everywhere = contexts.get((), _Context())
        self.keys = tuple(sorted(set(everywhere.accepted) | set(everywhere.returned)))

    @classmethod
    def train(
        cls,
        outcomes: Iterable[DispatchOutcome],
        *,
        taxonomy: CategoryTree | None = None,
        directory: DepartmentDirectory | None = None,
        config: RecommenderConfig | None = None,
    ) -> DepartmentRecommender:
        """Count the outcomes, then fit the temperature on the newest share of them."""
        config = config or RecommenderConfig()
        if not 0 <= config.calibration_share < 1:
            raise InvalidInput(
                "calibration_share", f"must be in [0, 1), not {config.calibration_share}"
            )
        directory = directory or LiteralDirectory()
        ordered = sorted(outcomes, key=lambda o: (o.at, o.case_id))
        cut = len(ordered) - int(len(ordered) * config.calibration_share)
        model = cls._count(ordered, taxonomy, directory, config)
        if 0 < cut < len(ordered):
            early = cls._count(ordered[:cut], taxonomy, directory, config)
            held = [o for o in ordered[cut:] if not o.returned]
            held = held[-config.max_calibration_examples :]
            model.temperature = early._fit_temperature(held)
        return model

    @classmethod
    def _count(
        cls,
        outcomes: Sequence[DispatchOutcome],
        taxonomy: CategoryTree | None,
        directory: DepartmentDirectory,
        config: RecommenderConfig,
    ) -> DepartmentRecommender:
        contexts: dict[tuple[str, ...], _Context] = defaultdict(_Context)
        texts: list[tuple[str, str]] = []
        for outcome in outcomes:
            key = directory.key_of(outcome.department, outcome.grid_path)
            for context in _contexts(outcome.category_code, outcome.grid_path, taxonomy, config):
                counts = contexts[context]
                (counts.returned if outcome.returned else counts.accepted)[key] += 1
            if not outcome.returned:
                texts.append((outcome.text, key))
        text_model = _TextModel(texts[-config.max_text_examples :])
        return cls(
            dict(contexts),
            text_model,
            taxonomy=taxonomy,
            directory=directory,
            config=config,
            trained_on=len(outcomes),
        )

    def propose(
        self,
        text: str,
        category_code: str,
        grid_path: Mapping[str, str],
        *,
        k: int = 3,
        exclude: Iterable[str] = (),
    ) -> list[Proposal]:
        """At most `k` departments serving this case, best first; `exclude` (e.g. the department
        that just returned it) is never proposed. Empty when nothing has been learned."""
        if k < 1:
            raise InvalidInput("k", f"must be at least 1, not {k}")
        probabilities = self.probabilities(text, category_code, grid_path)
        skipped = set(exclude)
        merged: dict[str, float] = defaultdict(float)
        keys_of: dict[str, str] = {}
        for key, p in probabilities.items():
            department = self._directory.department_for(key, grid_path)
            if department is None or department in skipped:
                continue
            merged[department] += p
            keys_of.setdefault(department, key)
        ranked = sorted(merged.items(), key=lambda item: (-item[1], item[0]))[:k]
        contexts = _contexts(category_code, grid_path, self._taxonomy, self.config)
        return [
            Proposal(department, round(p, 3), *self._why(keys_of[department], contexts))
            for department, p in ranked
        ]

    def probabilities(
        self, text: str, category_code: str, grid_path: Mapping[str, str]
    ) -> dict[str, float]:
        """Calibrated P(key) over every learned key (summing to 1); empty before any outcome."""
        if not self.keys:
            return {}
        scores = self._scores(text, category_code, grid_path)
        return _calibrated(scores, self.temperature)

    def _scores(
        self, text: str, category_code: str, grid_path: Mapping[str, str]
    ) -> dict[str, float]:
        keys = self.keys
        contexts = _contexts(category_code, grid_path, self._taxonomy, self.config)
        broad = self._text.probabilities(text, keys) if text.strip() else None
        p = {key: 1 / len(keys) for key in keys} if broad is None else broad
        # No evidence of returns is a clean record: returns only ever lower a key.
        acceptance = dict.fromkeys(keys, 1.0)
        # From the broadest context to the most specific, each refining the one before.
        for context in reversed(contexts):
            counts = self._contexts.get(context)
            if counts is None:
                continue
            n, distinct = counts.total, len(counts.accepted)
            if n:
                p = {k: (counts.accepted[k] + distinct * p[k]) / (n + distinct) for k in keys}
            acceptance = {
                k: (counts.accepted[k] + _BETA_PRIOR * acceptance[k])
                / (counts.accepted[k] + counts.returned[k] + _BETA_PRIOR)
                for k in keys
            }
        return {k: p[k] * acceptance[k] for k in keys}

    def _fit_temperature(self, held: Sequence[DispatchOutcome]) -> float:
        """The temperature whose first proposals' confidence best matches whether they were
        right on `held` (least Brier score; 1.0 when there is nothing to fit)."""
        rows = []
        for outcome in held:
            truth = self._directory.key_of(outcome.department, outcome.grid_path)
            scores = self._scores(outcome.text, outcome.category_code, outcome.grid_path)
            if scores:
                rows.append((scores, max(scores, key=lambda k: scores[k]) == truth))
        if not rows:
            return 1.0

        # The Brier score of the first proposal, not the log-loss of the truth: a case that ends
        # with a department nobody would have named (a redispatch after a return) would make
        # the log-loss flatten every confidence to cover it.
        def loss(temperature: float) -> float:
            total = 0.0
            for scores, hit in rows:
                top = max(_calibrated(scores, temperature).values())
                total += (top - hit) ** 2
            return total / len(rows)

        return min(TEMPERATURES, key=loss)

    def _why(self, key: str, contexts: Sequence[tuple[str, ...]]) -> tuple[str, str]:
        for context in contexts:
            counts = self._contexts.get(context)
            if counts is None or not (counts.accepted[key] or counts.returned[key]):
                continue
            zh, en = _describe(context)
            accepted, returned = counts.accepted[key], counts.returned[key]
            return (
                f"{zh}派往该部门 {accepted + returned} 次，退单 {returned} 次",
                f"{en}: {accepted + returned} dispatches went there, {returned} returned",
            )
        return ("依据上报文字与该部门办理过的案件相似", "by the text's likeness to its past cases")


def _contexts(
    category_code: str,
    grid_path: Mapping[str, str],
    taxonomy: CategoryTree | None,
    config: RecommenderConfig,
) -> list[tuple[str, ...]]:
    """The contexts of a case, most specific first; () is "every case".

    A case inside a special grid (专属网格: a school, a market …; path keys "special.N") has its
    own contexts first and last: such grids' units take most of the problems inside them.
    """
    special = any(key.startswith(SPECIAL_PREFIX) for key in grid_path)
    out: list[tuple[str, ...]] = [("category", category_code, "special")] if special else []
    out.extend(
        ("category", category_code, level, grid_path[level])
        for level in config.grid_contexts
        if grid_path.get(level)
    )
    out.append(("category", category_code))
    out.extend(("class", code) for code in _ancestors(category_code, taxonomy))
    if special:
        out.append(("special",))
    out.append(())
    return out


def _ancestors(code: str, taxonomy: CategoryTree | None) -> list[str]:
    if taxonomy is None:
        return []
    found = []
    node = taxonomy.get(code)
    while node is not None and node.parent_code:
        found.append(node.parent_code)
        node = taxonomy.get(node.parent_code)
    return found


def _describe(context: tuple[str, ...]) -> tuple[str, str]:
    if not context:
        return "全部案件中", "all cases"
    if context == ("special",):
        return "专属网格内的案件", "cases inside special grids"
    if context[-1] == "special":
        return "专属网格内的同类案件", "cases of this category inside special grids"
    if context[0] == "class":
        return f"{context[1]} 大类案件", f"cases of class {context[1]}"
    if len(context) == 2:
        return "同类案件", "cases of this category"
    level_zh = {"street": "街道", "district": "区县", "community": "社区"}.get(context[2], "网格")
    return (
        f"同类案件在本{level_zh}（{context[3]}）",
        f"cases of this category in {context[2]} {context[3]}",
    )


def _softmax(scores: Mapping[str, float]) -> dict[str, float]:
    top = max(scores.values())
    weights = {k: math.exp(v - top) for k, v in scores.items()}
    total = sum(weights.values())
    return {k: w / total for k, w in weights.items()}


def _calibrated(scores: Mapping[str, float], temperature: float) -> dict[str, float]:
    powered = {k: max(s, 0.0) ** (1 / temperature) for k, s in scores.items()}
    total = sum(powered.values())
    if total <= 0:
        return {k: 1 / len(scores) for k in scores}
    n = len(scores)
    return {k: (1 - _FLOOR) * v / total + _FLOOR / n for k, v in powered.items()}
