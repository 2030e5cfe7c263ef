"""Smart dispatch, pure: the recommender learns where dispatches stayed, backs off from a street to
the category and to the text, reads returns as evidence against a department, and is evaluated on
a time split against the most-frequent-department baseline."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest

from gridgov.ai.dispatch import (
    DepartmentRecommender,
    DispatchOutcome,
    RecommenderConfig,
)
from gridgov.core.errors import InvalidInput
from gridgov.workflow.categories import load_taxonomy

START = datetime(2026, 10, 1, tzinfo=UTC)
STREETS = {"S1": "D1", "S2": "D1", "S3": "D2", "S4": "D2"}
TEXTS = {
    "E0102": "小区门口有暴露垃圾，气味很大",
    "C0101": "路边上水井盖破损，行人容易踩空",
    "E0101": "楼顶私搭乱建一间板房",
}


class StreetOffices:
    """A directory where every street has its own office, coded "S1.office"."""

    def key_of(self, department: str, grid_path: Mapping[str, str]) -> str:
        return "office@street" if department.endswith(".office") else department

    def department_for(self, key: str, grid_path: Mapping[str, str]) -> str | None:
        if key == "office@street":
            street = grid_path.get("street")
            return f"{street}.office" if street else None
        return key


def outcome(
    n: int,
    category: str,
    street: str,
    department: str,
    *,
    returned: bool = False,
    at: datetime | None = None,
    text: str | None = None,
) -> DispatchOutcome:
    return DispatchOutcome(
        case_id=str(n),
        at=at or START + timedelta(minutes=n),
        text=text if text is not None else TEXTS.get(category, "市民反映问题"),
        category_code=category,
        grid_path={"city": "C", "district": STREETS[street], "street": street},
        department=department,
        returned=returned,
    )


def test_a_category_always_sent_to_one_department_proposes_it_first_with_high_confidence() -> None:
    outcomes = [outcome(i, "C0101", "S1", "water") for i in range(40)]
    outcomes += [outcome(100 + i, "E0101", "S1", "urban") for i in range(40)]
    model = DepartmentRecommender.train(outcomes, config=RecommenderConfig(calibration_share=0))
    proposals = model.propose(TEXTS["C0101"], "C0101", {"street": "S1", "district": "D1"})
    assert [p.department for p in proposals][:2] == ["water", "urban"]
    assert proposals[0].confidence > 0.9
    assert "40" in proposals[0].explanation_zh and "0" in proposals[0].explanation_en


def test_a_street_of_its_own_wins_over_the_category_elsewhere() -> None:
    # Everywhere else exposed garbage goes to sanitation; in S2 the street office keeps it.
    outcomes = [outcome(i, "E0102", "S1", "sanitation") for i in range(30)]
    outcomes += [outcome(100 + i, "E0102", "S3", "sanitation") for i in range(30)]
    outcomes += [outcome(200 + i, "E0102", "S2", "S2.office") for i in range(12)]
    model = DepartmentRecommender.train(outcomes, config=RecommenderConfig(calibration_share=0))
    in_s2 = model.propose("", "E0102", {"street": "S2", "district": "D1"})
    in_s4 = model.propose("", "E0102", {"street": "S4", "district": "D2"})
    assert in_s2[0].department == "S2.office"
    assert in_s4[0].department == "sanitation"


def test_a_directory_carries_a_kind_of_unit_to_a_street_never_seen() -> None:
    outcomes = [outcome(i, "E0102", s, f"{s}.office") for i, s in enumerate(["S1", "S2", "S3"] * 8)]
    model = DepartmentRecommender.train(
        outcomes, directory=StreetOffices(), config=RecommenderConfig(calibration_share=0)
    )
    proposals = model.propose("", "E0102", {"street": "S4", "district": "D2"})
    assert proposals[0].department == "S4.office"
    literal = DepartmentRecommender.train(outcomes, config=RecommenderConfig(calibration_share=0))
    assert literal.propose("", "E0102", {"street": "S4"})[0].department != "S4.office"


def test_returns_count_against_the_department_that_sent_the_case_back() -> None:
    kept = [outcome(i, "E0101", "S1", "urban") for i in range(10)]
    kept += [outcome(100 + i, "E0101", "S1", "planning") for i in range(10)]
    returns = [outcome(200 + i, "E0101", "S1", "urban", returned=True) for i in range(10)]
    config = RecommenderConfig(calibration_share=0)
    balanced = DepartmentRecommender.train(kept, config=config)
    with_returns = DepartmentRecommender.train(kept + returns, config=config)
    before = {p.department: p.confidence for p in balanced.propose("", "E0101", {"street": "S1"})}
    after = {
        p.department: p.confidence for p in with_returns.propose("", "E0101", {"street": "S1"})
    }
    assert before["urban"] == pytest.approx(before["planning"], abs=0.02)
    assert after["planning"] > after["urban"]


def test_the_department_that_just_returned_the_case_is_never_proposed_again() -> None:
    outcomes = [outcome(i, "C0101", "S1", "water") for i in range(20)]
    outcomes += [outcome(100 + i, "C0101", "S1", "municipal") for i in range(5)]
    model = DepartmentRecommender.train(outcomes, config=RecommenderConfig(calibration_share=0))
    proposals = model.propose("", "C0101", {"street": "S1"}, exclude=["water"])
    assert "water" not in [p.department for p in proposals]
    assert proposals[0].department == "municipal"


def test_an_unseen_category_falls_back_to_its_class_and_then_to_the_text() -> None:
    taxonomy = load_taxonomy()
    # E0101 私搭乱建 and E0102 暴露垃圾 share the class E01; C0101 is in another class.
    outcomes = [outcome(i, "E0101", "S1", "urban") for i in range(20)]
    outcomes += [outcome(100 + i, "C0101", "S1", "water") for i in range(20)]
    config = RecommenderConfig(calibration_share=0)
    model = DepartmentRecommender.train(outcomes, taxonomy=taxonomy, config=config)
    by_class = model.propose("", "E0102", {"street": "S1"})
    assert by_class[0].department == "urban"
    assert "E01" in by_class[0].explanation_zh
    untaught = DepartmentRecommender.train(outcomes, config=config)
    by_text = untaught.propose("井盖破损，行人踩空", "X9999", {"street": "S1"})
    assert by_text[0].department == "water"


def test_nothing_learned_proposes_nothing_and_k_must_be_positive() -> None:
    model = DepartmentRecommender.train([])
    assert model.propose("垃圾", "E0102", {"street": "S1"}) == []
    with pytest.raises(InvalidInput) as refused:
        model.propose("垃圾", "E0102", {}, k=0)
    assert refused.value.field == "k"


def test_a_key_the_directory_cannot_place_on_this_path_is_not_proposed() -> None:
    outcomes = [outcome(i, "E0102", "S1", "S1.office") for i in range(10)]
    model = DepartmentRecommender.train(
        outcomes, directory=StreetOffices(), config=RecommenderConfig(calibration_share=0)
    )
    # A case located only to its district has no street whose office could take it.
    assert model.propose("", "E0102", {"district": "D1"}) == []
