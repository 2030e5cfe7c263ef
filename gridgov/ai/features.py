"""How a message becomes the token lists of the hotline model's three TF-IDF blocks.

Blocks: character n-grams of the title, character n-grams of the body's opening, and words. Words
are read without a segmenter at run time: the model's word vocabulary is a *lexicon* (jieba words
of the training texts, including the unlabelled ones), and every 2–4-character stretch of the text
that is in it counts as a word, overlaps included. That reads the whole message (jieba could
afford only its first 60 characters at 1,000 texts/s) and scored better in cross-validation than
jieba's own segmentation (gridgov/ai/MODEL_CARD.md). Training segments with jieba once, to build
the lexicon; inference needs only the vocabulary, which the model file already holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gridgov.ai.text import normalize, words

BLOCKS = ("title", "body", "words")
# "lexicon": stretches of the text found in the word vocabulary (current models); "jieba": jieba
# segmentation of the title and the body's first `word_chars` characters (models until 2026-11).
WORD_MODES = ("lexicon", "jieba")

Tokens = tuple[list[str], list[str], list[str]]


@dataclass(frozen=True, slots=True)
class Features:
    """How a text becomes tokens; stored with the model so training and inference agree."""

    char_ngrams: tuple[int, int] = (1, 3)
    # Messages run to thousands of characters; the first ones name the problem.
    body_chars: int = 300
    # Characters of the body read for words: bounds the cost of the longest messages.
    word_chars: int = 1000
    word_sizes: tuple[int, int] = (2, 4)
    words: str = "lexicon"
    block_weights: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def __post_init__(self) -> None:
        if self.words not in WORD_MODES:
            raise ValueError(f"words is {self.words!r}, expected one of {', '.join(WORD_MODES)}")

    def tokens(self, title: str, body: str, lexicon: Lexicon | None = None) -> Tokens:
        """The three token lists of one message: title characters, body characters, words.

        `lexicon` holds the words to look for (the model's word vocabulary at run time; none
        means no word is found); the jieba mode ignores it.
        """
        opening = f"{title} {body[: self.word_chars]}"
        if self.words == "jieba":
            found = words(opening)
        else:
            found = lexicon.find(opening) if lexicon is not None else []
        return (
            char_ngrams(title, self.char_ngrams),
            char_ngrams(body[: self.body_chars], self.char_ngrams),
            found,
        )

    def segment(self, title: str, body: str) -> frozenset[str]:
        """The jieba words of a message that may enter a lexicon (training only: jieba is slow)."""
        low, high = self.word_sizes
        opening = f"{title} {body[: self.word_chars]}"
        return frozenset(w for w in words(opening) if low <= len(w) <= high)

    def to_json(self) -> dict[str, Any]:
        return {
            "char_ngrams": list(self.char_ngrams),
            "body_chars": self.body_chars,
            "word_chars": self.word_chars,
            "word_sizes": list(self.word_sizes),
            "words": self.words,
            "block_weights": list(self.block_weights),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Features:
        low, high = data["char_ngrams"]
        weights = tuple(float(w) for w in data["block_weights"])
        if len(weights) != len(BLOCKS):
            raise ValueError(f"block_weights has {len(weights)} values, expected {len(BLOCKS)}")
        # Files written before the lexicon existed segmented with jieba.
        word_low, word_high = data.get("word_sizes", (1, 100))
        return cls(
            (int(low), int(high)),
            int(data["body_chars"]),
            int(data["word_chars"]),
            (int(word_low), int(word_high)),
            str(data.get("words", "jieba")),
            weights,  # type: ignore[arg-type]
        )


def char_ngrams(text: str, sizes: tuple[int, int] = (1, 3)) -> list[str]:
    """Character n-grams of the normalized text, never across a punctuation or space break."""
    out: list[str] = []
    low, high = sizes
    for run in normalize(text).split():
        for n in range(low, high + 1):
            out.extend(run[i : i + n] for i in range(len(run) - n + 1))
    return out


class Lexicon:
    """Words to find in a text, with the openings they start with so that most positions are
    passed over after one lookup (the scan is about half of the model's time)."""

    __slots__ = ("_openings", "sizes", "words")

    def __init__(self, words: Iterable[str], sizes: tuple[int, int] = (2, 4)) -> None:
        low, high = sizes
        self.sizes = sizes
        self.words = frozenset(w for w in words if low <= len(w) <= high)
        self._openings = frozenset(w[:low] for w in self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.words

    def __len__(self) -> int:
        return len(self.words)

    def find(self, text: str) -> list[str]:
        """Every stretch of the normalized text that is a word, overlaps included, by position."""
        out: list[str] = []
        low, high = self.sizes
        words, openings = self.words, self._openings
        for run in normalize(text).split():
            end = len(run)
            for i in range(end - low + 1):
                if run[i : i + low] not in openings:
                    continue
                for j in range(i + low, min(i + high, end) + 1):
                    if run[i:j] in words:
                        out.append(run[i:j])
        return out


def lexicon_words(
    text: str, lexicon: Lexicon | Iterable[str], sizes: tuple[int, int] = (2, 4)
) -> list[str]:
    """Every stretch of `sizes` characters of the normalized text that is in `lexicon`.

    Overlaps count: 劳动仲裁 gives 劳动, 劳动仲裁 and 仲裁 when all three are words, so no choice
    between segmentations is made, and dropping a word from the lexicon only drops its tokens.
    """
    found = lexicon if isinstance(lexicon, Lexicon) else Lexicon(lexicon, sizes)
    return found.find(text)
