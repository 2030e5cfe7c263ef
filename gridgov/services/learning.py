"""Learning from operators: every filed case becomes a labelled example, and retraining promotes a
new model only when it beats the current one on a fixed evaluation set.

The evaluation set is every `eval_every`-th label by id, of every outcome, and is never trained on.
A label's membership never changes, so successive retrains are judged on a set that only grows.
Taking only the confirmed labels would favour the current model, whose proposal they agree with.

Promoted models are written to `DATA_DIR/models/` (never into the package); `current_model`
prefers them over the shipped hotline model. There is no shipped urban-management model: the
first one is trained once enough classes have enough labels, and promoted without a comparison.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session, sessionmaker

from gridgov.ai.classifier import CategoryTree, Suggestion, TextClassifier
from gridgov.ai.model import SHIPPED, LinearTextModel, TrainedClassifier, split_text
from gridgov.core.clock import Clock
from gridgov.core.errors import InvalidInput
from gridgov.intake.privacy import mask
from gridgov.store.labels import CategoryLabel, LabelRepository
from gridgov.workflow.categories import CategorySource, Taxonomy
from gridgov.workflow.model import Actor

if TYPE_CHECKING:
    from gridgov.ai.training import LabelledText, TrainConfig

TAXONOMIES = ("hotline", "urban")
MODEL_NAMES = {"hotline": SHIPPED, "urban": "urban_model"}
# Channels whose reports speak the urban-management taxonomy (components and events).
URBAN_CHANNELS = frozenset({"city_management", "grid_patrol", "citizen_app"})
_SOURCES = {
    CategorySource.HOTLINE: "hotline",
    CategorySource.URBAN_COMPONENT: "urban",
    CategorySource.URBAN_EVENT: "urban",
}


@dataclass(frozen=True, slots=True)
class LearningOptions:
    """When a candidate is promoted; the defaults are the documented ones."""

    margin: float = 0.005
    max_recall_drop: float = 0.05
    min_eval_examples: int = 50
    min_per_class: int = 20
    min_classes: int = 2
    eval_every: int = 5
    config: TrainConfig | None = None


@dataclass(frozen=True, slots=True)
class RetrainResult:
    """Both models' accuracy on the evaluation set, whether the candidate won, and why."""

    taxonomy: str
    candidate_score: float | None
    current_score: float | None
    promoted: bool
    path: Path | None
    reason: str
    trained_on: int = 0
    evaluated_on: int = 0
    classes: tuple[str, ...] = ()
    recall: dict[str, dict[str, float | None]] = field(default_factory=dict)
    # Weak examples (taxonomy leaves) the candidate was trained with, beside `trained_on`.
    taxonomy_docs: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "taxonomy": self.taxonomy,
            "candidate_score": self.candidate_score,
            "current_score": self.current_score,
            "promoted": self.promoted,
            "path": None if self.path is None else str(self.path),
            "reason": self.reason,
            "trained_on": self.trained_on,
            "evaluated_on": self.evaluated_on,
            "classes": list(self.classes),
            "recall": self.recall,
            "taxonomy_docs": self.taxonomy_docs,
        }


class LearningService:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        clock: Clock,
        *,
        taxonomy: Taxonomy,
        models_dir: Path,
        options: LearningOptions | None = None,
    ) -> None:
        self._sessions = session_factory
        self._clock = clock
        self.taxonomy = taxonomy
        self.models_dir = models_dir
        self.options = options or LearningOptions()

    # Recording

    def record(self, case_id: int, final_code: str, actor: Actor) -> CategoryLabel | None:
        """Store the category a case was filed under against intake's proposal (masked text).

        None when there is nothing to learn: an IoT alarm category, or a case with no report.
        """
        category = self.taxonomy.get(final_code)
        if category is None:
            raise InvalidInput(
                "category_code", f"未知的事件分类 {final_code!r} / unknown category {final_code!r}"
            )
        taxonomy = _SOURCES.get(category.source)
        if taxonomy is None:
            return None
        with self._sessions() as session, session.begin():
            repo = LabelRepository(session)
            source = repo.source_of(case_id)
            if source is None:
                return None
            proposed = source.intake.get("category_code")
            confidence = source.intake.get("category_confidence")
            text = source.text_masked
            if text is None:
                text = mask(source.text).text_masked
            return repo.put(
                report_id=source.report_id,
                case_id=case_id,
                taxonomy=taxonomy,
                text=text,
                proposed_code=proposed,
                proposed_confidence=None if confidence is None else float(confidence),
                final_code=final_code,
                outcome=self._outcome(proposed, final_code),
                actor_id=actor.id,
                at=self._clock.now(),
            )

    def _outcome(self, proposed: str | None, final: str) -> str:
        if proposed is None:
            return "manual"
        # Filing a subclass of the proposed class agrees with it (a model proposes H16, the
        # operator picks its leaf).
        if proposed == final or (
            proposed in self.taxonomy and self.taxonomy.is_within(final, proposed)
        ):
            return "confirmed"
        return "corrected"

    # Reading

    def labels(self, taxonomy: str, since: datetime | None = None) -> list[CategoryLabel]:
        """The stored labels of a taxonomy, oldest first."""
        _check(taxonomy)
        with self._sessions() as session:
            return LabelRepository(session).labels(taxonomy, since)

    def examples(self, taxonomy: str, since: datetime | None = None) -> list[LabelledText]:
        """The labels as training examples, each with the class the taxonomy's model predicts."""
        return [self._example(label) for label in self.labels(taxonomy, since)]

    def _example(self, label: CategoryLabel) -> LabelledText:
        from gridgov.ai.training import LabelledText

        title, body = split_text(label.text)
        return LabelledText(title, body, self._model_class(label.taxonomy, label.final_code))

    def _model_class(self, taxonomy: str, code: str) -> str:
        # The hotline model knows first-level classes (H01 …); urban models learn the leaves.
        if taxonomy == "hotline" and code in self.taxonomy:
            return self.taxonomy.path(code)[0].code
        return code

    def split(self, taxonomy: str) -> tuple[list[LabelledText], list[LabelledText]]:
        """(training, evaluation) examples: every `eval_every`-th label by id is held out."""
        train: list[LabelledText] = []
        held: list[LabelledText] = []
        for label in self.labels(taxonomy):
            every = self.options.eval_every
            (held if label.id % every == 0 else train).append(self._example(label))
        return train, held

    # Retraining

    def retrain(
        self,
        taxonomy: str,
        *,
        shipped: Sequence[LabelledText] = (),
        unlabelled: Sequence[tuple[str, str]] = (),
        taxonomy_docs: Sequence[LabelledText] = (),
        eval_set: Sequence[LabelledText] | None = None,
        commit: bool = True,
    ) -> RetrainResult:
        """Train a candidate on the labels (plus `shipped`), compare it with the current model on
        the evaluation set (the held-out labels unless `eval_set` is given), and promote it into
        `models_dir` when it wins and `commit` is set. `taxonomy_docs` are weak examples (one per
        taxonomy leaf, as the shipped model had); those of a class without enough labels are left
        out, and none is ever in the evaluation set."""
        from gridgov.ai.training import train

        _check(taxonomy)
        options = self.options
        learned, held = self.split(taxonomy)
        evaluation = list(held if eval_set is None else eval_set)
        excluded = {(e.title, e.body) for e in evaluation}
        pool = [e for e in [*shipped, *learned] if (e.title, e.body) not in excluded]
        counts = Counter(e.label for e in pool)
        classes = tuple(sorted(c for c, n in counts.items() if n >= options.min_per_class))
        result = RetrainResult(
            taxonomy, None, None, False, None, "", len(pool), len(evaluation), classes
        )
        if len(classes) < options.min_classes:
            return replace(
                result,
                reason=f"标注不足：需至少 {options.min_classes} 类各 {options.min_per_class} 条，"
                f"现有 {len(classes)} 类 / not enough labels: need {options.min_per_class} per "
                f"class for {options.min_classes} classes, {len(classes)} have that many",
            )
        examples = [e for e in pool if e.label in classes]
        current = current_model(self.models_dir, taxonomy)
        model = train(
            examples,
            unlabelled=unlabelled,
            taxonomy_docs=taxonomy_docs,
            config=options.config,
            metadata={"taxonomy": taxonomy, "labels_from_cases": len(learned)},
        ).model
        scores = _Scores.of(model, current, evaluation)
        promoted, reason = self._decide(scores, current is None, len(evaluation))
        path = None
        if promoted and commit:
            model.metadata |= {
                "promoted_at": self._clock.now().isoformat(),
                "evaluation": {
                    "n": len(evaluation),
                    "candidate_accuracy": scores.candidate,
                    "current_accuracy": scores.current,
                },
            }
            path = _save(model, self.models_dir, MODEL_NAMES[taxonomy])
        return RetrainResult(
            taxonomy,
            scores.candidate,
            scores.current,
            promoted,
            path,
            reason,
            len(examples),
            len(evaluation),
            classes,
            scores.recall,
            int(model.metadata.get("taxonomy_docs", 0)),
        )

    def _decide(self, scores: _Scores, first: bool, n_eval: int) -> tuple[bool, str]:
        o = self.options
        if first:
            return True, "首个模型 / first model: nothing to compare with"
        if n_eval < o.min_eval_examples:
            return False, (
                f"评估样本不足：{n_eval} 条，至少需要 {o.min_eval_examples} 条 / too few "
                f"evaluation examples: {n_eval}, need at least {o.min_eval_examples}"
            )
        assert scores.candidate is not None and scores.current is not None
        if scores.candidate < scores.current + o.margin:
            return False, (
                f"准确率未提升 {o.margin}：{scores.candidate:.4f} 对 {scores.current:.4f} / "
                f"accuracy did not improve by {o.margin}: {scores.candidate:.4f} against "
                f"{scores.current:.4f}"
            )
        for code, r in scores.recall.items():
            old, new = r["current"], r["candidate"]
            if old is not None and new is not None and new < old - o.max_recall_drop:
                return False, (
                    f"{code} 召回率下降 {old - new:.4f}，超过 {o.max_recall_drop} / recall of "
                    f"{code} drops by {old - new:.4f}, more than {o.max_recall_drop}"
                )
        return True, (
            f"准确率 {scores.current:.4f} → {scores.candidate:.4f} / accuracy "
            f"{scores.current:.4f} → {scores.candidate:.4f}"
        )


@dataclass(frozen=True, slots=True)
class _Scores:
    candidate: float | None
    current: float | None
    recall: dict[str, dict[str, float | None]]

    @classmethod
    def of(
        cls,
        candidate: LinearTextModel,
        current: LinearTextModel | None,
        evaluation: Sequence[LabelledText],
    ) -> _Scores:
        if not evaluation:
            return cls(None, None, {})
        messages = [(e.title, e.body) for e in evaluation]
        truth = [e.label for e in evaluation]
        ours = candidate.predict(messages)
        theirs = current.predict(messages) if current is not None else None
        recall: dict[str, dict[str, float | None]] = {}
        for code in sorted(set(truth)):
            recall[code] = {
                "candidate": _recall(truth, ours, code),
                "current": None if theirs is None else _recall(truth, theirs, code),
            }
        return cls(
            _accuracy(truth, ours), None if theirs is None else _accuracy(truth, theirs), recall
        )


def _accuracy(truth: Sequence[str], predicted: Sequence[str]) -> float:
    return round(sum(t == p for t, p in zip(truth, predicted, strict=True)) / len(truth), 4)


def _recall(truth: Sequence[str], predicted: Sequence[str], code: str) -> float:
    support = sum(t == code for t in truth)
    hits = sum(t == p == code for t, p in zip(truth, predicted, strict=True))
    return round(hits / support, 4)


def _check(taxonomy: str) -> None:
    if taxonomy not in TAXONOMIES:
        raise InvalidInput(
            "taxonomy", f"须为 {' / '.join(TAXONOMIES)} / must be one of {', '.join(TAXONOMIES)}"
        )


def _save(model: LinearTextModel, directory: Path, name: str) -> Path:
    """Write NAME.npz/.json beside the old pair and swap them in, so a reader never sees half."""
    directory.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=directory))
    npz, meta = model.save(staging, name)
    os.replace(npz, directory / npz.name)
    # The JSON names the vocabularies the npz must fit; it goes last so a crash in between leaves
    # a pair the loader refuses loudly rather than a silently mismatched model.
    os.replace(meta, directory / meta.name)
    staging.rmdir()
    return directory / meta.name


# Loading at run time


def current_model(models_dir: Path, taxonomy: str) -> LinearTextModel | None:
    """The promoted model in `models_dir`, else the shipped hotline model (urban: none)."""
    _check(taxonomy)
    name = MODEL_NAMES[taxonomy]
    if (models_dir / f"{name}.json").exists():
        # A broken promoted model raises: falling back silently would hide the failed promotion.
        return LinearTextModel.load(models_dir, name)
    return LinearTextModel.load() if taxonomy == "hotline" else None


class LearnedClassifier:
    """Urban channels ask the urban model, others the hotline model; each falls back to the
    configured classifier until a model of its kind has been promoted into DATA_DIR."""

    name = "learned"

    def __init__(
        self,
        fallback: TextClassifier,
        hotline: TextClassifier | None,
        urban: TextClassifier | None,
    ) -> None:
        self._fallback = fallback
        self._hotline = hotline
        self._urban = urban

    def suggest(
        self, text: str, *, channel: str | None = None, hint: str | None = None, k: int = 3
    ) -> list[Suggestion]:
        """The suggestions of the model that fits the channel."""
        return self._for(channel).suggest(text, channel=channel, hint=hint, k=k)

    def auto_file_threshold(self, channel: str | None = None) -> float | None:
        """The threshold of the model that answers `channel`."""
        return self._for(channel).auto_file_threshold(channel)

    def _for(self, channel: str | None) -> TextClassifier:
        chosen = self._urban if channel in URBAN_CHANNELS else self._hotline
        return chosen or self._fallback


def learned_classifier(
    fallback: TextClassifier, models_dir: Path, taxonomy: CategoryTree
) -> TextClassifier:
    """`fallback` with the models promoted into `models_dir` in front of it, by channel."""
    promoted = {
        kind: TrainedClassifier(LinearTextModel.load(models_dir, name), taxonomy)
        for kind, name in MODEL_NAMES.items()
        if (models_dir / f"{name}.json").exists()
    }
    if not promoted:
        return fallback
    return LearnedClassifier(fallback, promoted.get("hotline"), promoted.get("urban"))
