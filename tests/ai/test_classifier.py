"""The classifier protocol, its registry, and the keyword baseline."""

from __future__ import annotations

from pathlib import Path

import pytest

from gridgov.ai.classifier import (
    CategoryTree,
    KeywordClassifier,
    Suggestion,
    TextClassifier,
    classifier,
    register,
    registered,
    unregister,
)
from gridgov.core.errors import Conflict, InvalidInput, NotFound
from gridgov.workflow.categories import Taxonomy, load_taxonomy

COVERS = {"C0101", "C0102", "C0103", "C0104"}


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return load_taxonomy()


@pytest.fixture(scope="module")
def keywords(taxonomy: Taxonomy) -> KeywordClassifier:
    return KeywordClassifier.from_file(taxonomy=taxonomy)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("小区门口井盖没了，晚上很危险", "C0102"),
        ("雨水井盖堵了，下雨就积水", "C0103"),
        ("路边垃圾堆了好几天没人清", "E0102"),
        ("人行道上好多摆摊的，走不过去", "E0502"),
        ("工地半夜还在施工，噪音扰民", "E0301"),
        ("楼下广场舞噪音太大", "E0601"),
        ("下雨后路口积水很深", "E0403"),
        ("家里暖气不热，室温只有十几度", "H1601"),
        ("公司拖欠工资三个月，也不交社保", "H15"),
    ],
)
def test_keywords_suggest_their_category_first(
    keywords: KeywordClassifier, text: str, code: str
) -> None:
    assert keywords.suggest(text)[0].category_code == code


def test_a_manhole_cover_report_suggests_only_cover_classes(keywords: KeywordClassifier) -> None:
    suggestions = keywords.suggest("井盖丢了")
    assert {s.category_code for s in suggestions} <= COVERS
    assert len(suggestions) == 3


def test_suggestions_are_ranked_with_confidence_between_zero_and_one(
    keywords: KeywordClassifier,
) -> None:
    suggestions = keywords.suggest("工地夜间施工噪音扰民，扬尘也很大", k=5)
    confidences = [s.confidence for s in suggestions]
    assert confidences == sorted(confidences, reverse=True)
    assert all(0 < c <= 1 for c in confidences)
    assert "施工噪音" in suggestions[0].explanation


def test_text_without_a_keyword_gets_no_suggestion(keywords: KeywordClassifier) -> None:
    assert keywords.suggest("今天天气不错，谢谢你们") == []


def test_the_channels_own_category_wins_over_keywords(keywords: KeywordClassifier) -> None:
    suggestions = keywords.suggest("井盖丢了", channel="city_management", hint="E0502")
    assert suggestions[0] == Suggestion("E0502", 1.0, "渠道自带分类 / the channel's own category")
    assert [s.category_code for s in suggestions[1:]] == ["C0102", "C0101"]


@pytest.mark.parametrize("hint", ["C01", "Z9999"])
def test_a_hint_that_is_not_a_leaf_is_ignored(keywords: KeywordClassifier, hint: str) -> None:
    assert keywords.suggest("路边垃圾", hint=hint)[0].category_code == "E0102"


def test_k_limits_the_number_of_suggestions(keywords: KeywordClassifier) -> None:
    assert len(keywords.suggest("井盖丢了", k=1)) == 1


def _write(tmp_path: Path, rows: str, header: str = "keyword,category,weight") -> Path:
    path = tmp_path / "keywords.csv"
    path.write_text(f"# a comment line\n{header}\n{rows}", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("rows", "where", "problem"),
    [
        ("井盖,C0102,1\n井盖,X0101,1\n", "keywords.csv line 4, column category", "not a category"),
        ("井盖,C01,1\n", "keywords.csv line 3, column category", "not a leaf"),
        ("井盖,C0102,heavy\n", "keywords.csv line 3, column weight", "not a number"),
        ("井盖,C0102,0\n", "keywords.csv line 3, column weight", "outside"),
        ("，,C0102,1\n", "keywords.csv line 3, column keyword", "empty"),
        ("井盖,C0102\n", "keywords.csv line 3, column (row)", "has 2 fields"),
    ],
)
def test_a_bad_keyword_file_names_the_line_and_column(
    tmp_path: Path, taxonomy: Taxonomy, rows: str, where: str, problem: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        KeywordClassifier.from_file(_write(tmp_path, rows), taxonomy=taxonomy)
    assert caught.value.field == where
    assert problem in caught.value.problem


def test_a_keyword_file_missing_a_column_is_refused(tmp_path: Path, taxonomy: Taxonomy) -> None:
    with pytest.raises(InvalidInput, match="line 2, column weight"):
        KeywordClassifier.from_file(
            _write(tmp_path, "井盖,C0102\n", "keyword,category"), taxonomy=taxonomy
        )


def test_an_edited_keyword_file_changes_the_suggestions(tmp_path: Path, taxonomy: Taxonomy) -> None:
    edited = KeywordClassifier.from_file(_write(tmp_path, "井盖,C0104,1\n"), taxonomy=taxonomy)
    assert [s.category_code for s in edited.suggest("井盖冒汽")] == ["C0104"]


class FixedClassifier:
    """A classifier of our own that always proposes one category."""

    name = "fixed"

    def __init__(self, taxonomy: CategoryTree) -> None:
        self.taxonomy = taxonomy

    def suggest(
        self, text: str, *, channel: str | None = None, hint: str | None = None, k: int = 3
    ) -> list[Suggestion]:
        return [Suggestion("E0102", 0.5, "always")][:k]

    def auto_file_threshold(self, channel: str | None = None) -> float | None:
        return None


def test_the_keyword_classifier_is_registered_by_name(taxonomy: Taxonomy) -> None:
    built: TextClassifier = classifier("keyword", taxonomy)
    assert isinstance(built, KeywordClassifier)
    assert "keyword" in registered()


def test_a_registered_classifier_is_built_by_name_and_names_are_unique(
    taxonomy: Taxonomy,
) -> None:
    register("fixed", FixedClassifier)
    try:
        assert classifier("fixed", taxonomy).suggest("任何内容")[0].category_code == "E0102"
        with pytest.raises(Conflict):
            register("fixed", FixedClassifier)
    finally:
        unregister("fixed")
    assert "fixed" not in registered()


def test_an_unknown_classifier_name_lists_the_registered_ones(taxonomy: Taxonomy) -> None:
    with pytest.raises(NotFound, match=r"registered: .*keyword"):
        classifier("bert", taxonomy)
