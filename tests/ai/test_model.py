"""The shipped hotline model: loads from the package alone, suggests calibrated top-3 classes,
and refuses inconsistent model files."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from gridgov.ai.classifier import KeywordClassifier, classifier
from gridgov.ai.model import LinearTextModel, TrainedClassifier, evaluate, split_text
from gridgov.ai.training import TrainConfig, train
from gridgov.core.errors import InvalidInput
from gridgov.workflow.categories import Taxonomy, load_taxonomy
from tests.ai.synthetic import corpus

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "tipdm2020c-gov-messages"


@pytest.fixture(scope="module")
def shipped() -> TrainedClassifier:
    return TrainedClassifier(LinearTextModel.load(), load_taxonomy())


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("孩子上小学学位紧张\n学校说学区内的学生太多，入学排不上号", "H14"),
        ("公司拖欠工资半年不发\n老板一直拖欠我们的工资，也没有给我们交社保", "H15"),
        ("小区违章建筑\n有业主在小区楼顶违章搭建房屋，城管执法局一直不拆", "H01"),
        ("工厂排放废气\n附近化工厂晚上偷排废气，气味刺鼻，污染环境", "H04"),
    ],
)
def test_the_shipped_model_puts_the_obvious_class_first(
    shipped: TrainedClassifier, text: str, code: str
) -> None:
    assert shipped.suggest(text)[0].category_code == code


def test_suggestions_are_sorted_respect_k_and_are_probabilities(
    shipped: TrainedClassifier,
) -> None:
    for k in (1, 3, 5):
        suggestions = shipped.suggest("医院看病排队太久，挂号难", k=k)
        confidences = [s.confidence for s in suggestions]
        assert len(suggestions) == k
        assert confidences == sorted(confidences, reverse=True)
        assert all(0 <= c <= 1 for c in confidences)
        assert sum(confidences) <= 1 + 1e-3
        assert len({s.category_code for s in suggestions}) == k


def test_a_leaf_hint_comes_first_and_an_empty_text_gets_no_model_guess(
    shipped: TrainedClassifier,
) -> None:
    hinted = shipped.suggest("暖气不热", hint="H1601")
    assert hinted[0].category_code == "H1601"
    assert len(hinted) == 3
    assert shipped.suggest("。，！ ") == []


def test_the_registry_builds_the_shipped_model_by_name() -> None:
    taxonomy: Taxonomy = load_taxonomy()
    suggestions = classifier("hotline-linear", taxonomy).suggest("学校乱收费")
    assert suggestions[0].category_code == "H14"
    assert "模型 / model" in suggestions[0].explanation


def test_auto_filing_follows_the_shipped_threshold(shipped: TrainedClassifier) -> None:
    assert 0.5 <= shipped.threshold < 1
    sure = shipped.suggest("拖欠工资\n公司拖欠农民工工资，劳动仲裁后仍不支付工资，社保也不交")
    assert shipped.auto_file(sure) == (sure[0].confidence >= shipped.threshold)
    assert not shipped.auto_file([])
    assert shipped.auto_file_threshold("hotline_12345") == shipped.threshold
    assert KeywordClassifier.from_file(taxonomy=load_taxonomy()).auto_file_threshold() is None


def test_a_one_line_text_is_read_as_both_title_and_body() -> None:
    assert split_text("  井盖没了 ") == ("井盖没了", "井盖没了")
    assert split_text("井盖没了\n在3号楼门口\n很危险") == ("井盖没了", "在3号楼门口\n很危险")


def _saved(tmp_path: Path) -> Path:
    train(corpus(), config=TrainConfig(folds=3, repeats=1)).model.save(tmp_path)
    return tmp_path


def test_a_model_whose_weights_do_not_fit_its_vocabulary_is_refused(tmp_path: Path) -> None:
    directory = _saved(tmp_path)
    npz = directory / "hotline_model.npz"
    with np.load(npz) as stored:
        arrays = dict(stored)
    arrays["coef"] = arrays["coef"][:-1]
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    npz.write_bytes(buffer.getvalue())
    with pytest.raises(InvalidInput, match=r"coef.*vocabularies and labels need"):
        LinearTextModel.load(directory)


def test_an_idf_vector_of_the_wrong_length_is_refused(tmp_path: Path) -> None:
    directory = _saved(tmp_path)
    npz = directory / "hotline_model.npz"
    with np.load(npz) as stored:
        arrays = dict(stored)
    arrays["idf_words"] = np.concatenate([arrays["idf_words"], [1.0]])
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    npz.write_bytes(buffer.getvalue())
    with pytest.raises(InvalidInput, match="idf_words"):
        LinearTextModel.load(directory)


def test_a_model_file_of_another_format_is_refused(tmp_path: Path) -> None:
    directory = _saved(tmp_path)
    (directory / "hotline_model.json").write_text('{"format": "pickle"}', encoding="utf-8")
    with pytest.raises(InvalidInput, match="format"):
        LinearTextModel.load(directory)


@pytest.mark.skipif(
    not SHARED_DATA.is_dir(), reason=f"TipDM data not beside the checkout ({SHARED_DATA})"
)
def test_the_shipped_model_scores_the_labelled_tipdm_messages_it_was_trained_on() -> None:
    # Training data, so this checks the pipeline end to end, not generalisation (see MODEL_CARD).
    from gridgov.cli.ai import LABELLED, hotline_codes, read_labelled

    rows = read_labelled(SHARED_DATA / LABELLED, hotline_codes())
    report = evaluate(LinearTextModel.load(), [(t, b) for t, b, _ in rows], [c for *_, c in rows])
    assert report["n"] == 921
    assert report["accuracy"] >= 0.95
