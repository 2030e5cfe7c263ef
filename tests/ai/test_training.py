"""Training is reproducible, works for any label set, and guards promotion on a fixed set."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from gridgov.ai.model import LinearTextModel
from gridgov.ai.training import (
    LabelledText,
    TrainConfig,
    accuracy_on,
    candidate,
    expected_calibration_error,
    promote_if_better,
    train,
)
from gridgov.core.errors import InvalidInput
from tests.ai.synthetic import corpus

FAST = TrainConfig(folds=3, repeats=1)
UNLABELLED = [("工资拖了三个月", "公司一直拖欠工资"), ("学校收补课费", "老师补课收钱")]


def test_training_twice_on_the_same_data_writes_identical_model_files(tmp_path: Path) -> None:
    first = train(corpus(), unlabelled=UNLABELLED, config=FAST).model
    second = train(corpus(), unlabelled=UNLABELLED, config=FAST).model
    paths_a = first.save(tmp_path / "a")
    paths_b = second.save(tmp_path / "b")
    for a, b in zip(paths_a, paths_b, strict=True):
        assert a.read_bytes() == b.read_bytes()


def test_a_trained_model_learns_the_made_up_classes_and_survives_a_round_trip(
    tmp_path: Path,
) -> None:
    result = train(corpus(), config=FAST)
    result.model.save(tmp_path)
    loaded = LinearTextModel.load(tmp_path)
    texts = [("拖欠工资", "公司拖欠工资半年"), ("幼儿园", "幼儿园学位不够")]
    assert loaded.predict(texts) == ["H15", "H14"]
    assert np.allclose(loaded.probabilities(texts), result.model.probabilities(texts))
    summary = result.cv.summary()
    assert summary["accuracy_mean"] >= 0.9
    assert summary["folds"] == 3


def test_any_label_set_can_be_learned_such_as_urban_management_codes() -> None:
    relabel = {"H01": "E0101", "H14": "E0102", "H15": "E0502"}
    examples = [replace(e, label=relabel[e.label]) for e in corpus()]
    model = train(examples, config=FAST).model
    assert model.labels == ("E0101", "E0102", "E0502")


def test_too_few_examples_of_a_label_for_cross_validation_are_refused() -> None:
    examples = [*corpus(), LabelledText("井盖丢了", "井盖丢了", "C0101")]
    with pytest.raises(InvalidInput, match="at least 3 examples"):
        train(examples, config=FAST)


def test_a_candidate_is_promoted_only_when_it_beats_the_current_model_on_the_fixed_set() -> None:
    eval_set = corpus(per_class=4, seed=99)
    weak = train(corpus(per_class=3, seed=1), config=FAST).model
    strong, score = candidate(corpus(per_class=6, seed=2), corpus(), eval_set, config=FAST)
    assert score == accuracy_on(strong, eval_set)
    assert promote_if_better(strong, weak, eval_set) == (score > accuracy_on(weak, eval_set))
    assert not promote_if_better(strong, strong, eval_set)


def test_calibration_error_is_zero_when_confidence_matches_accuracy() -> None:
    confidence = np.array([0.75] * 4)
    assert expected_calibration_error(confidence, np.array([True, True, True, False])) == 0
    assert expected_calibration_error(confidence, np.array([True] * 4)) == pytest.approx(0.25)


WEAK = [
    LabelledText("校车安全", "学生服务 校车安全", "H14"),
    LabelledText("校车接送", "学生服务 校车接送", "H14"),
    LabelledText("网约车", "出租车管理 网约车", "H06"),
]


def test_taxonomy_documents_teach_words_no_message_used_and_are_never_tested_on() -> None:
    plain = train(corpus(), config=FAST)
    taught = train(corpus(), taxonomy_docs=WEAK, config=FAST)
    text = [("校车", "校车")]
    assert "校车" not in plain.model.vectorizer.vocabularies[2]
    assert "校车" in taught.model.vectorizer.vocabularies[2]
    assert taught.model.predict(text) == ["H14"]
    # H06 has no message: its document is left out rather than adding a class nobody labelled.
    assert taught.model.labels == ("H01", "H14", "H15")
    assert taught.model.metadata["taxonomy_docs"] == 2
    supports = [s["support"] for s in taught.cv.summary()["per_class"].values()]
    assert sum(supports) == len(corpus())


def test_a_zero_taxonomy_weight_leaves_the_documents_out() -> None:
    model = train(corpus(), taxonomy_docs=WEAK, config=replace(FAST, taxonomy_weight=0.0)).model
    assert model.metadata["taxonomy_docs"] == 0
    assert "校车" not in model.vectorizer.vocabularies[2]


def test_the_word_vocabulary_holds_jieba_words_found_again_as_stretches_of_any_text() -> None:
    model = train(corpus(), unlabelled=UNLABELLED, config=FAST).model
    words = model.vectorizer.vocabularies[2]
    assert model.vectorizer.features.words == "lexicon"
    assert {"拖欠工资", "补课"} <= set(words)
    # jieba would read 老板拖欠工资款 differently; the lexicon finds the known word inside it.
    row = model.vectorizer.transform([("欠薪", "老板拖欠工资款")])
    assert "拖欠工资" in {model.vectorizer.token(int(j)) for j in row.indices}
