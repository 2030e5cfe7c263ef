"""Operators' filings become labelled examples; retraining promotes a model only when it is better."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from gridgov.ai.classifier import KeywordClassifier
from gridgov.ai.training import LabelledText, TrainConfig
from gridgov.services.cases import NewReport
from gridgov.services.learning import (
    LearningOptions,
    LearningService,
    current_model,
    learned_classifier,
)
from gridgov.store.intake import IntakeRepository
from tests.case_world import INTAKE, SHIFT, CaseWorld, build_world

FAST = TrainConfig(folds=3, repeats=1)

# Made-up phrases per urban class; none comes from a real message.
PHRASES = {
    "E0101": ("楼顶私自加盖彩钢房", "院子里违章搭建棚子", "占用公共通道搭建小屋", "阳台外扩违建"),
    "E0102": (
        "路边垃圾堆成小山",
        "垃圾桶满了没人清运",
        "小区门口暴露垃圾发臭",
        "绿化带里扔满垃圾袋",
    ),
    "C0105": ("路灯晚上不亮", "路灯杆歪了快倒了", "一排路灯全坏了", "路灯一闪一闪的"),
}
PLACES = ("幸福路口", "三号楼下", "菜市场旁", "学校门口", "公园东门", "十字街")
FILLERS = ("请尽快处理", "已经好几天了", "影响居民出行", "希望有人来看看")


def texts(code: str, n: int, seed: int) -> list[str]:
    rng = random.Random(f"{code}-{seed}")
    return [
        f"{rng.choice(PLACES)}{rng.choice(PHRASES[code])}，{rng.choice(FILLERS)}{i}"
        for i in range(n)
    ]


def eval_set(codes: tuple[str, ...], per_class: int = 20) -> list[LabelledText]:
    return [LabelledText(t, t, c) for c in codes for t in texts(c, per_class, seed=999)]


@pytest.fixture
def world(sessions: sessionmaker[Session], tmp_path: Path) -> CaseWorld:
    return build_world(sessions, tmp_path)


def learning(world: CaseWorld, tmp_path: Path) -> LearningService:
    return LearningService(
        world.sessions,
        world.clock,
        taxonomy=world.service.taxonomy,
        models_dir=tmp_path / "var" / "models",
        options=LearningOptions(config=FAST),
    )


def file_case(
    world: CaseWorld,
    service: LearningService,
    text: str,
    final: str,
    proposed: tuple[str, float] | None = None,
) -> int:
    """A report with what intake proposed, filed by the shift leader under `final`, recorded."""
    world.serial += 1
    report = NewReport(
        channel="grid_patrol",
        external_id=f"learn-{world.serial}",
        text=text,
        reported_at=world.clock.now(),
        lon=113.61,
        lat=34.71,
        category_code=proposed[0] if proposed else final,
    )
    report_id, case = world.service.submit_report(report, INTAKE)
    if proposed is not None:
        with world.sessions() as session, session.begin():
            IntakeRepository(session).set_intake(
                report_id, {"category_code": proposed[0], "category_confidence": proposed[1]}
            )
    world.service.file(int(case.id), SHIFT, category_code=final)
    service.record(int(case.id), final, SHIFT)
    return int(case.id)


def label_many(world: CaseWorld, service: LearningService, code: str, n: int, seed: int) -> None:
    for text in texts(code, n, seed):
        file_case(world, service, text, code, proposed=(code, 0.9))


def test_filing_records_confirmed_corrected_and_manual_labels_with_the_masked_text(
    world: CaseWorld, tmp_path: Path
) -> None:
    service = learning(world, tmp_path)
    file_case(world, service, "路边垃圾没人清运，电话13812345678", "E0102", ("E0102", 0.91))
    file_case(world, service, "楼顶加盖彩钢房", "E0101", ("E0102", 0.55))
    file_case(world, service, "路灯不亮", "C0105")
    labels = service.labels("urban")
    assert [(lb.outcome, lb.proposed_code, lb.final_code) for lb in labels] == [
        ("confirmed", "E0102", "E0102"),
        ("corrected", "E0102", "E0101"),
        ("manual", None, "C0105"),
    ]
    assert labels[0].proposed_confidence == pytest.approx(0.91)
    assert "13812345678" not in labels[0].text and "138****5678" in labels[0].text
    assert labels[1].actor_id == SHIFT.id
    assert service.labels("hotline") == []


def test_the_first_urban_model_is_promoted_once_two_classes_have_twenty_labels_and_is_loaded(
    world: CaseWorld, tmp_path: Path
) -> None:
    service = learning(world, tmp_path)
    label_many(world, service, "E0101", 25, seed=1)
    label_many(world, service, "E0102", 22, seed=1)
    early = service.retrain("urban")
    assert not early.promoted and "not enough labels" in early.reason
    assert current_model(service.models_dir, "urban") is None
    label_many(world, service, "E0102", 5, seed=2)
    first = service.retrain("urban")
    assert first.promoted and first.path is not None and first.path.parent == service.models_dir
    assert first.classes == ("E0101", "E0102")
    loaded = current_model(service.models_dir, "urban")
    assert loaded is not None and loaded.labels == ("E0101", "E0102")
    fallback = KeywordClassifier.from_file(taxonomy=world.service.taxonomy)
    chosen = learned_classifier(fallback, service.models_dir, world.service.taxonomy)
    top = chosen.suggest("三号楼下垃圾桶满了没人清运", channel="city_management")[0]
    assert top.category_code == "E0102" and top.explanation.startswith("模型")
    # Each channel's reports are auto-filed at the threshold of the model that answers them.
    assert chosen.auto_file_threshold("city_management") == loaded.threshold
    # No hotline model was promoted: the keyword list answers the hotline, uncalibrated.
    assert chosen.auto_file_threshold("hotline_12345") is None
    # The held-out slice (every 5th label) is far below 50: the next retrain may not promote.
    again = service.retrain("urban")
    assert not again.promoted and "too few evaluation examples: 10" in again.reason


def test_a_better_candidate_is_promoted_and_a_worse_one_leaves_the_current_model(
    world: CaseWorld, tmp_path: Path
) -> None:
    service = learning(world, tmp_path)
    label_many(world, service, "E0101", 25, seed=1)
    label_many(world, service, "E0102", 25, seed=1)
    assert service.retrain("urban").promoted
    label_many(world, service, "C0105", 25, seed=1)
    fixed = eval_set(("E0101", "E0102", "C0105"))
    better = service.retrain("urban", eval_set=fixed)
    assert better.promoted, better.reason
    assert better.current_score is not None and better.current_score <= 0.67
    assert better.candidate_score is not None and better.candidate_score >= 0.9
    promoted = current_model(service.models_dir, "urban")
    assert promoted is not None and "C0105" in promoted.labels
    before = better.path.read_bytes() if better.path else b""
    # Operators mislabel streetlight reports as garbage, many times over.
    for text in texts("C0105", 60, seed=3):
        file_case(world, service, text, "E0102", proposed=("C0105", 0.9))
    worse = service.retrain("urban", eval_set=fixed)
    assert not worse.promoted and "did not improve" in worse.reason
    assert worse.candidate_score is not None and worse.current_score is not None
    assert worse.candidate_score < worse.current_score
    assert better.path is not None and better.path.read_bytes() == before


def test_taxonomy_leaves_join_the_candidate_as_weak_examples_of_the_classes_it_learns(
    world: CaseWorld, tmp_path: Path
) -> None:
    service = learning(world, tmp_path)
    label_many(world, service, "E0101", 25, seed=1)
    label_many(world, service, "E0102", 25, seed=1)
    # 彩钢瓦 and 渣土 occur in no label: only the leaves can teach them.
    leaves = [
        LabelledText("彩钢瓦顶棚", "违法建设 彩钢瓦顶棚", "E0101"),
        LabelledText("渣土撒漏", "市容环境 渣土撒漏", "E0102"),
        LabelledText("路灯不亮", "市政设施 路灯不亮", "C0105"),  # too few labels: left out
    ]
    without = service.retrain("urban", commit=False)
    assert without.taxonomy_docs == 0 and without.as_dict()["taxonomy_docs"] == 0
    result = service.retrain("urban", taxonomy_docs=leaves)
    assert result.promoted and result.taxonomy_docs == 2
    assert result.classes == ("E0101", "E0102")
    model = current_model(service.models_dir, "urban")
    assert model is not None and model.metadata["taxonomy_docs"] == 2
    assert model.predict([("彩钢瓦", "彩钢瓦"), ("渣土", "渣土")]) == ["E0101", "E0102"]
    # The evaluation set is labels only, never a leaf.
    assert result.evaluated_on == 10


def test_a_preview_reports_the_decision_without_writing_a_model(
    world: CaseWorld, tmp_path: Path
) -> None:
    service = learning(world, tmp_path)
    label_many(world, service, "E0101", 25, seed=1)
    label_many(world, service, "E0102", 25, seed=1)
    result = service.retrain("urban", commit=False)
    assert result.promoted and result.path is None
    assert not service.models_dir.exists()


def test_filing_through_the_runtime_records_the_label_without_a_separate_call(
    db_url: str, tmp_path: Path
) -> None:
    from gridgov.bootstrap import build_runtime
    from gridgov.config import load_settings
    from gridgov.core.clock import FixedClock
    from gridgov.store.migrate import upgrade
    from tests.case_world import FRIDAY_AFTERNOON, PLAIN_POINT, demo_coded_grids

    upgrade(db_url)
    runtime = build_runtime(
        load_settings(database_url=db_url, data_dir=tmp_path / "var"),
        clock=FixedClock(FRIDAY_AFTERNOON),
    )
    try:
        layer = runtime.grids.import_grids(demo_coded_grids(), name="t", source="t", commit=True)
        assert layer.layer is not None
        runtime.grids.activate(layer.layer.id, commit=True)
        _, case = runtime.cases.submit_report(
            NewReport(
                channel="city_management",
                external_id="cm-1",
                text="路边暴露垃圾无人清理，电话13812345678",
                reported_at=FRIDAY_AFTERNOON,
                lon=PLAIN_POINT[0],
                lat=PLAIN_POINT[1],
            ),
            INTAKE,
        )
        runtime.cases.file(int(case.id), SHIFT, category_code="E0102")
        (label,) = runtime.learning.labels("urban")
        assert label.final_code == "E0102" and label.case_id == int(case.id)
        assert "13812345678" not in label.text
    finally:
        runtime.close()


def test_a_more_accurate_candidate_that_loses_a_class_is_refused_by_the_recall_rule(
    world: CaseWorld, tmp_path: Path
) -> None:
    service = learning(world, tmp_path)
    label_many(world, service, "E0101", 25, seed=1)
    label_many(world, service, "E0102", 25, seed=1)
    first = service.retrain("urban")
    assert first.promoted and first.path is not None
    before = first.path.read_bytes()
    # Streetlights are learned, but operators also file rooftop sheds as streetlights: the
    # candidate gains a class and half-forgets another.
    label_many(world, service, "C0105", 25, seed=1)
    for text in texts("E0101", 25, seed=5):
        file_case(world, service, text, "C0105", proposed=("E0101", 0.9))
    result = service.retrain("urban", eval_set=eval_set(("E0101", "E0102", "C0105")))
    assert result.candidate_score is not None and result.current_score is not None
    assert result.candidate_score >= result.current_score + service.options.margin
    drop = result.recall["E0101"]
    assert drop["current"] is not None and drop["candidate"] is not None
    assert drop["current"] - drop["candidate"] > service.options.max_recall_drop
    assert not result.promoted and "recall of E0101 drops" in result.reason
    assert first.path.read_bytes() == before


def test_the_recall_rule_admits_a_candidate_whose_recall_drops_within_the_allowance(
    world: CaseWorld, tmp_path: Path
) -> None:
    lenient = LearningOptions(config=FAST, max_recall_drop=1.0)
    service = learning(world, tmp_path)
    label_many(world, service, "E0101", 25, seed=1)
    label_many(world, service, "E0102", 25, seed=1)
    assert service.retrain("urban").promoted
    label_many(world, service, "C0105", 25, seed=1)
    for text in texts("E0101", 25, seed=5):
        file_case(world, service, text, "C0105", proposed=("E0101", 0.9))
    relaxed = LearningService(
        world.sessions,
        world.clock,
        taxonomy=world.service.taxonomy,
        models_dir=service.models_dir,
        options=lenient,
    )
    result = relaxed.retrain("urban", eval_set=eval_set(("E0101", "E0102", "C0105")))
    assert result.promoted, result.reason
    promoted = current_model(service.models_dir, "urban")
    assert promoted is not None and "C0105" in promoted.labels
