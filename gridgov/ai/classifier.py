"""Text → category suggestions behind one small protocol, and the keyword baseline.

Every classifier is a `TextClassifier` registered by name, ours included; intake asks the
configured one and treats an empty answer as "send to manual classification". The keyword
baseline reads `data/keywords.csv`, which a city edits like the taxonomy itself.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Protocol

from gridgov.ai.text import normalize
from gridgov.core.errors import Conflict, InvalidInput, NotFound

KEYWORDS_RESOURCE = "keywords.csv"
KEYWORD_COLUMNS = ("keyword", "category", "weight")


class CategoryNode(Protocol):
    """What gridgov.ai needs of a category; `gridgov.workflow.categories.Category` fits."""

    @property
    def code(self) -> str: ...
    @property
    def parent_code(self) -> str | None: ...
    @property
    def source(self) -> str: ...


class CategoryTree(Protocol):
    """What gridgov.ai needs of the taxonomy; `gridgov.workflow.categories.Taxonomy` fits."""

    def get(self, code: str) -> CategoryNode | None: ...
    def is_leaf(self, code: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A proposed category; `confidence` is 0..1, `explanation` says why, for the operator."""

    category_code: str
    confidence: float
    explanation: str


class TextClassifier(Protocol):
    name: str

    def suggest(
        self, text: str, *, channel: str | None = None, hint: str | None = None, k: int = 3
    ) -> list[Suggestion]:
        """At most `k` suggestions, best first; empty when the classifier has no idea."""
        ...

    def auto_file_threshold(self, channel: str | None = None) -> float | None:
        """The confidence at which a suggestion for `channel` may be filed without a person, when
        the classifier was calibrated for it (out of fold, in training); None when it was not."""
        ...


ClassifierFactory = Callable[[CategoryTree], TextClassifier]


def _keyword_factory(taxonomy: CategoryTree) -> TextClassifier:
    return KeywordClassifier.from_file(taxonomy=taxonomy)


def _hotline_factory(taxonomy: CategoryTree) -> TextClassifier:
    # Imported here: the model module needs numpy and scipy, which keyword users never load.
    from gridgov.ai.model import hotline_factory

    return hotline_factory(taxonomy)


_registry: dict[str, ClassifierFactory] = {
    "keyword": _keyword_factory,
    "hotline-linear": _hotline_factory,
}


def register(name: str, factory: ClassifierFactory, *, replace: bool = False) -> None:
    """Make `classifier(name, taxonomy)` build with `factory`; a taken name needs `replace`."""
    if name in _registry and not replace:
        raise Conflict(f"a classifier named {name!r} is already registered")
    _registry[name] = factory


def unregister(name: str) -> None:
    """Forget a registered classifier (a plugin being unloaded, a test cleaning up)."""
    if _registry.pop(name, None) is None:
        raise NotFound("classifier", name)


def registered() -> tuple[str, ...]:
    return tuple(sorted(_registry))


def classifier(name: str, taxonomy: CategoryTree) -> TextClassifier:
    """A new instance of the classifier registered as `name`, for `taxonomy`."""
    try:
        factory = _registry[name]
    except KeyError:
        raise NotFound("classifier", f"{name} (registered: {', '.join(registered())})") from None
    return factory(taxonomy)


@dataclass(frozen=True, slots=True)
class Keyword:
    text: str
    category_code: str
    weight: float


class KeywordClassifier:
    """Adds up the weights of the keywords found in the text, per category."""

    name = "keyword"

    def __init__(self, keywords: Iterable[Keyword], taxonomy: CategoryTree) -> None:
        self._taxonomy = taxonomy
        self._by_text: dict[str, list[Keyword]] = {}
        for keyword in keywords:
            self._by_text.setdefault(normalize(keyword.text), []).append(keyword)

    @classmethod
    def from_file(
        cls, path: Path | str | None = None, *, taxonomy: CategoryTree
    ) -> KeywordClassifier:
        """The keywords at `path`, or the shipped list; a bad cell names its line and column."""
        if path is None:
            data = resources.files("gridgov.ai").joinpath("data", KEYWORDS_RESOURCE)
            text, source = data.read_text(encoding="utf-8"), KEYWORDS_RESOURCE
        else:
            text, source = Path(path).read_text(encoding="utf-8"), Path(path).name
        return cls(read_keywords(text, source, taxonomy), taxonomy)

    def suggest(
        self, text: str, *, channel: str | None = None, hint: str | None = None, k: int = 3
    ) -> list[Suggestion]:
        """Keyword evidence per category; a known leaf `hint` from the channel comes first."""
        # `channel` is part of the protocol for trained models; keywords read the same anywhere.
        scores, matched = self._score(normalize(text).replace(" ", ""))
        out: list[Suggestion] = []
        if hint is not None and self._is_leaf(hint):
            out.append(Suggestion(hint, 1.0, "渠道自带分类 / the channel's own category"))
            scores.pop(hint, None)
        total = sum(scores.values())
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
        for code, score in ranked:
            # One keyword of weight 1 alone gives 2/3; agreement and no rivals push it towards 1.
            confidence = round(score / (total + 0.5), 3)
            words = "、".join(matched[code])
            out.append(Suggestion(code, confidence, f"关键词 / keywords: {words}"))
        return out[:k]

    def auto_file_threshold(self, channel: str | None = None) -> float | None:
        """None: keyword weights are hand-set, their confidence was never measured."""
        return None

    def _score(self, text: str) -> tuple[dict[str, float], dict[str, list[str]]]:
        hits = [word for word in self._by_text if word in text]
        # "雨水井盖" found means "井盖" is not separate evidence.
        hits = [w for w in hits if not any(w != other and w in other for other in hits)]
        scores: dict[str, float] = {}
        matched: dict[str, list[str]] = {}
        for word in sorted(hits):
            for keyword in self._by_text[word]:
                code = keyword.category_code
                scores[code] = scores.get(code, 0.0) + keyword.weight
                matched.setdefault(code, []).append(keyword.text)
        return scores, matched

    def _is_leaf(self, code: str) -> bool:
        return self._taxonomy.get(code) is not None and self._taxonomy.is_leaf(code)


def read_keywords(text: str, source: str, taxonomy: CategoryTree) -> list[Keyword]:
    """Rows of a keyword file; every category must be a leaf of `taxonomy`."""
    header: list[str] | None = None
    keywords: list[Keyword] = []
    for line, raw in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        fields = [f.strip() for f in next(csv.reader([raw]))]
        if header is None:
            header = fields
            _check_header(header, source, line)
            continue
        if len(fields) != len(header):
            raise _error(
                source, line, "(row)", f"has {len(fields)} fields, the header has {len(header)}"
            )
        keywords.append(_keyword(dict(zip(header, fields, strict=True)), source, line, taxonomy))
    if header is None:
        raise _error(
            source, 1, "(header)", f"no header line; expected {', '.join(KEYWORD_COLUMNS)}"
        )
    return keywords


def _check_header(header: list[str], source: str, line: int) -> None:
    for name in header:
        if name not in KEYWORD_COLUMNS:
            raise _error(
                source, line, name, f"unknown column; expected {', '.join(KEYWORD_COLUMNS)}"
            )
    for name in KEYWORD_COLUMNS:
        if header.count(name) != 1:
            raise _error(source, line, name, "must appear exactly once in the header")


def _keyword(row: Mapping[str, str], source: str, line: int, taxonomy: CategoryTree) -> Keyword:
    word = row["keyword"]
    if not normalize(word):
        raise _error(source, line, "keyword", "is empty once punctuation and spaces are removed")
    code = row["category"]
    if taxonomy.get(code) is None:
        raise _error(source, line, "category", f"{code!r} is not a category of the taxonomy")
    if not taxonomy.is_leaf(code):
        raise _error(source, line, "category", f"{code} is not a leaf class; name one below it")
    try:
        weight = float(row["weight"]) if row["weight"] else 1.0
    except ValueError:
        raise _error(source, line, "weight", f"{row['weight']!r} is not a number") from None
    if not 0 < weight <= 10:
        raise _error(source, line, "weight", f"{weight} is outside 0 < weight ≤ 10")
    return Keyword(word, code, weight)


def _error(source: str, line: int, column: str, problem: str) -> InvalidInput:
    return InvalidInput(f"{source} line {line}, column {column}", problem)
