"""The shipped text model: vectorizer, file format, and fast inference with numpy alone.

A model is three TF-IDF blocks (`gridgov.ai.features`) — character 1–3-grams of the title, of the
body's opening, and the lexicon words of the message — each L2-normalised and weighted, followed by one linear layer and a softmax whose
temperature was fitted on cross-validated scores, so the top probability is a calibrated
confidence. It is stored as `NAME.npz` (idf vectors, weights) beside `NAME.json` (labels,
vocabularies, settings, provenance); neither format can execute code when loaded, unlike pickle.

scikit-learn is only needed to train (`gridgov.ai.training`); this module must stay light, since
intake imports it on every worker.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse

from gridgov.ai.classifier import CategoryTree, Suggestion
from gridgov.ai.features import BLOCKS, Features, Lexicon, Tokens
from gridgov.ai.text import normalize
from gridgov.core.errors import InvalidInput

FORMAT = "gridgov-linear-text-model/1"
SHIPPED = "hotline_model"

FloatArray = npt.NDArray[np.float32]


def split_text(text: str) -> tuple[str, str]:
    """(title, body) of a free text: the first line is the title when there are several lines.

    A one-line text (an app report, an SMS) is both: the model weighs titles and bodies as
    separate evidence, and a short report reads like a title while still being the whole body.
    """
    title, newline, body = text.strip().partition("\n")
    return (title.strip(), body.strip()) if newline else (title, title)


class Vectorizer:
    """Token lists → TF-IDF rows: sublinear tf, each block L2-normalised and weighted."""

    def __init__(
        self,
        vocabularies: tuple[tuple[str, ...], ...],
        idf: tuple[FloatArray, ...],
        features: Features,
    ) -> None:
        if len(vocabularies) != len(BLOCKS) or len(idf) != len(BLOCKS):
            raise InvalidInput("model", f"needs {len(BLOCKS)} blocks ({', '.join(BLOCKS)})")
        for name, vocabulary, weights in zip(BLOCKS, vocabularies, idf, strict=True):
            if weights.shape != (len(vocabulary),):
                raise InvalidInput(
                    f"model idf_{name}",
                    f"has shape {weights.shape}, the {name} vocabulary has {len(vocabulary)} "
                    "entries",
                )
        self.vocabularies = vocabularies
        self.idf = idf
        self.features = features
        self._index = [{t: i for i, t in enumerate(v)} for v in vocabularies]
        # The word vocabulary is the lexicon: a stretch of text outside it would be dropped anyway.
        self._lexicon = Lexicon(vocabularies[BLOCKS.index("words")], features.word_sizes)
        self._offsets = [0]
        for vocabulary in vocabularies:
            self._offsets.append(self._offsets[-1] + len(vocabulary))

    @property
    def size(self) -> int:
        return self._offsets[-1]

    def token(self, column: int) -> str:
        """The token behind a feature column."""
        for block in range(len(BLOCKS)):
            if column < self._offsets[block + 1]:
                return self.vocabularies[block][column - self._offsets[block]]
        raise IndexError(column)

    def transform(self, messages: Sequence[tuple[str, str]]) -> sparse.csr_matrix:
        """TF-IDF rows of (title, body) pairs."""
        lexicon = self._lexicon
        return self.transform_tokens([self.features.tokens(t, b, lexicon) for t, b in messages])

    def transform_tokens(self, docs: Sequence[Tokens]) -> sparse.csr_matrix:
        """TF-IDF rows of already tokenized messages (training tokenizes once for every fold)."""
        indptr, indices, values, filled = [0], [], [], 0
        for doc in docs:
            for block, tokens in enumerate(doc):
                index = self._index[block]
                counts: dict[int, int] = {}
                for token in tokens:
                    j = index.get(token)
                    if j is not None:
                        counts[j] = counts.get(j, 0) + 1
                if not counts:
                    continue
                cols = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
                tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
                weights = (1.0 + np.log(tf)) * self.idf[block][cols]
                weights *= self.features.block_weights[block] / np.linalg.norm(weights)
                indices.append(cols + self._offsets[block])
                values.append(weights)
                filled += len(cols)
            indptr.append(filled)
        if not indices:
            return sparse.csr_matrix((len(docs), self.size))
        return sparse.csr_matrix(
            (np.concatenate(values), np.concatenate(indices), np.array(indptr)),
            shape=(len(docs), self.size),
        )


@dataclass(slots=True)
class LinearTextModel:
    """A vectorizer, one linear layer, a softmax temperature, an auto-filing threshold."""

    labels: tuple[str, ...]
    vectorizer: Vectorizer
    coef: FloatArray  # (features, labels)
    intercept: FloatArray  # (labels,)
    temperature: float
    threshold: float
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n_features = self.vectorizer.size
        if self.coef.shape != (n_features, len(self.labels)):
            raise InvalidInput(
                "model coef",
                f"has shape {self.coef.shape}; the vocabularies and labels need "
                f"({n_features}, {len(self.labels)})",
            )
        if self.intercept.shape != (len(self.labels),):
            raise InvalidInput(
                "model intercept",
                f"has shape {self.intercept.shape}, expected ({len(self.labels)},)",
            )
        if not self.temperature > 0 or not 0 <= self.threshold <= 1:
            raise InvalidInput("model", "temperature must be > 0 and threshold in 0..1")

    # --- inference ------------------------------------------------------------------------------

    def scores_tokens(self, docs: Sequence[Tokens]) -> npt.NDArray[np.float64]:
        """Raw linear scores of already tokenized messages."""
        matrix = self.vectorizer.transform_tokens(docs)
        return np.asarray(matrix @ self.coef, dtype=np.float64) + self.intercept

    def scores(self, messages: Sequence[tuple[str, str]]) -> npt.NDArray[np.float64]:
        """Raw linear scores, one row per message, one column per label."""
        matrix = self.vectorizer.transform(messages)
        return np.asarray(matrix @ self.coef, dtype=np.float64) + self.intercept

    def probabilities(self, messages: Sequence[tuple[str, str]]) -> npt.NDArray[np.float64]:
        """Calibrated probabilities per label (temperature-scaled softmax of the scores)."""
        return softmax(self.scores(messages) / self.temperature)

    def predict(self, messages: Sequence[tuple[str, str]]) -> list[str]:
        """The most likely label of each message."""
        best = self.scores(messages).argmax(axis=1)
        return [self.labels[i] for i in best]

    def explain(self, title: str, body: str) -> tuple[npt.NDArray[np.float64], sparse.csr_matrix]:
        """Calibrated probabilities of one message and its feature row (for `evidence`)."""
        row = self.vectorizer.transform([(title, body)])
        scores = np.asarray(row @ self.coef, dtype=np.float64) + self.intercept
        return softmax(scores / self.temperature)[0], row

    def evidence(self, row: sparse.csr_matrix, label: str, top: int = 3) -> list[str]:
        """The tokens of a feature row that pushed it most towards `label`, for the operator."""
        column = self.coef[row.indices, self.labels.index(label)] * row.data
        order = np.argsort(-column, kind="stable")[:top]
        return [self.vectorizer.token(int(row.indices[i])) for i in order if column[i] > 0]

    # --- files ----------------------------------------------------------------------------------

    def save(self, directory: Path, name: str = SHIPPED) -> tuple[Path, Path]:
        """Write NAME.npz and NAME.json; the same model always gives the same bytes."""
        directory.mkdir(parents=True, exist_ok=True)
        v = self.vectorizer
        arrays = {f"idf_{b}": idf for b, idf in zip(BLOCKS, v.idf, strict=True)}
        arrays |= {"coef": self.coef, "intercept": self.intercept}
        npz = directory / f"{name}.npz"
        # savez_compressed writes fixed zip timestamps, so identical arrays are identical bytes.
        with npz.open("wb") as out:
            np.savez_compressed(out, **arrays)  # type: ignore[arg-type]
        meta = {
            "format": FORMAT,
            "labels": list(self.labels),
            "temperature": self.temperature,
            "threshold": self.threshold,
            "features": v.features.to_json(),
            "metadata": self.metadata,
            "vocabularies": {b: list(w) for b, w in zip(BLOCKS, v.vocabularies, strict=True)},
        }
        path = directory / f"{name}.json"
        path.write_text(json.dumps(meta, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
        return npz, path

    @classmethod
    def load(cls, directory: Path | None = None, name: str = SHIPPED) -> LinearTextModel:
        """The model NAME in `directory`, or the one shipped in the package."""
        if directory is None:
            data = resources.files("gridgov.ai").joinpath("data")
            meta_text = data.joinpath(f"{name}.json").read_text(encoding="utf-8")
            npz_bytes = data.joinpath(f"{name}.npz").read_bytes()
        else:
            meta_text = (directory / f"{name}.json").read_text(encoding="utf-8")
            npz_bytes = (directory / f"{name}.npz").read_bytes()
        return cls.from_bytes(meta_text, npz_bytes, source=name)

    @classmethod
    def from_bytes(cls, meta_text: str, npz_bytes: bytes, *, source: str) -> LinearTextModel:
        """Parse a model; anything inconsistent is refused, naming the part that is wrong."""
        try:
            meta = json.loads(meta_text)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{source}.json", f"is not JSON: {exc}") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise InvalidInput(f"{source}.json", f"format is not {FORMAT!r}")
        # allow_pickle=False: an .npz may hold pickled objects, which would run code on load.
        with np.load(io.BytesIO(npz_bytes), allow_pickle=False) as arrays:
            try:
                idf = tuple(np.asarray(arrays[f"idf_{b}"], dtype=np.float32) for b in BLOCKS)
                coef = np.asarray(arrays["coef"], dtype=np.float32)
                intercept = np.asarray(arrays["intercept"], dtype=np.float32)
            except KeyError as exc:
                raise InvalidInput(f"{source}.npz", f"has no array {exc}") from None
        try:
            vocabularies = tuple(tuple(meta["vocabularies"][b]) for b in BLOCKS)
            vectorizer = Vectorizer(vocabularies, idf, Features.from_json(meta["features"]))
            return cls(
                labels=tuple(meta["labels"]),
                vectorizer=vectorizer,
                coef=coef,
                intercept=intercept,
                temperature=float(meta["temperature"]),
                threshold=float(meta["threshold"]),
                metadata=dict(meta.get("metadata", {})),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"{source}.json", f"is incomplete or malformed: {exc!r}") from None


def softmax(scores: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Row-wise softmax, stable for large scores."""
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    out: npt.NDArray[np.float64] = shifted / shifted.sum(axis=1, keepdims=True)
    return out


class TrainedClassifier:
    """A `TextClassifier` over a `LinearTextModel`; labels are taxonomy codes (H01–H15)."""

    name = "hotline-linear"

    def __init__(self, model: LinearTextModel, taxonomy: CategoryTree | None = None) -> None:
        self.model = model
        self._taxonomy = taxonomy

    @property
    def threshold(self) -> float:
        """Confidence at or above which a case may be filed without an operator (智能立案)."""
        return self.model.threshold

    def suggest(
        self, text: str, *, channel: str | None = None, hint: str | None = None, k: int = 3
    ) -> list[Suggestion]:
        """The `k` most likely classes with calibrated confidence; a known `hint` comes first."""
        # `channel` is accepted for the protocol; this model was trained on hotline text only.
        out: list[Suggestion] = []
        if hint is not None and self._is_leaf(hint):
            out.append(Suggestion(hint, 1.0, "渠道自带分类 / the channel's own category"))
        title, body = split_text(text)
        if k <= len(out) or not normalize(text):
            return out[:k]
        probabilities, row = self.model.explain(title, body)
        # Stable sort: equal probabilities keep label order, so answers never flicker.
        for i in np.argsort(-probabilities, kind="stable"):
            code = self.model.labels[i]
            if code == hint or len(out) >= k:
                continue
            words_ = "、".join(self.model.evidence(row, code))
            out.append(
                Suggestion(code, round(float(probabilities[i]), 4), f"模型 / model: {words_}")
            )
        return out[:k]

    def auto_file_threshold(self, channel: str | None = None) -> float | None:
        """The model's own threshold, whatever the channel (it was trained on one kind of text)."""
        return self.threshold

    def auto_file(self, suggestions: Sequence[Suggestion]) -> bool:
        """Whether the top suggestion is confident enough to file without confirmation."""
        return bool(suggestions) and suggestions[0].confidence >= self.threshold

    def _is_leaf(self, code: str) -> bool:
        taxonomy = self._taxonomy
        return taxonomy is not None and taxonomy.get(code) is not None and taxonomy.is_leaf(code)


def evaluate(
    model: LinearTextModel, messages: Sequence[tuple[str, str]], truth: Sequence[str]
) -> dict[str, Any]:
    """accuracy, macro_f1, per_class (precision/recall/f1/support), n, texts_per_s."""
    start = time.perf_counter()
    predicted = model.predict(messages)
    elapsed = time.perf_counter() - start
    per_class: dict[str, dict[str, float]] = {}
    for label in sorted(set(truth) | set(predicted)):
        support = sum(t == label for t in truth)
        guessed = sum(p == label for p in predicted)
        hits = sum(t == p == label for t, p in zip(truth, predicted, strict=True))
        precision = hits / guessed if guessed else 0.0
        recall = hits / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "support": support,
        }
    present = [s["f1"] for s in per_class.values() if s["support"]]
    correct = sum(t == p for t, p in zip(truth, predicted, strict=True))
    return {
        "accuracy": round(correct / len(truth), 4),
        "macro_f1": round(sum(present) / len(present), 4),
        "per_class": per_class,
        "n": len(truth),
        "texts_per_s": round(len(truth) / elapsed, 1) if elapsed > 0 else None,
    }


def hotline_factory(taxonomy: CategoryTree) -> TrainedClassifier:
    """The shipped hotline model as a registered classifier (`hotline-linear`)."""
    return TrainedClassifier(LinearTextModel.load(), taxonomy)
