"""Text normalization, tokens and place details for Chinese reports."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gridgov.ai.text import (
    compare_details,
    details,
    features,
    normalize,
    similarity,
    tokens,
    words,
)


def test_full_width_and_chinese_house_numbers_normalize_to_ascii_digits() -> None:
    assert normalize("绿城小区３号楼") == normalize("绿城小区三号楼") == "绿城小区3号楼"
    assert normalize("十二栋二单元") == "12栋2单元"


def test_punctuation_and_case_are_dropped_by_normalization() -> None:
    assert normalize("井盖，丢了！ABC") == "井盖 丢了 abc"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("绿城小区3号楼东侧", {"楼=3", "dir=东"}),
        ("和平新村十二栋二单元门口", {"楼=12", "单元=2"}),
        ("金水路与经三路交叉口东北角", {"road=金水路", "road=经三路", "dir=东北"}),
        ("农业东路路西有个大坑", {"road=农业东路", "dir=西"}),
        ("3月15号晚上在花园路上看到路灯不亮", {"road=花园路"}),
        ("在马路边上看到路灯坏了", set()),
    ],
)
def test_place_details_are_read_from_the_text(text: str, expected: set[str]) -> None:
    assert details(text) == expected


@pytest.mark.parametrize(
    ("left", "right", "conflicts"),
    [
        ("3号楼东侧", "7号楼东侧", ["楼: 3 ≠ 7"]),
        ("金水路东侧", "金水路西侧", ["dir: 东 ≠ 西"]),
        ("金水路东侧", "花园路东侧", ["road: 金水路 ≠ 花园路"]),
        ("交叉口东北角", "路东侧", []),
        ("三号楼", "3号楼", []),
        ("金水路与经三路交叉口", "经三路上", []),
    ],
)
def test_details_conflict_only_when_both_texts_state_different_values(
    left: str, right: str, conflicts: list[str]
) -> None:
    assert compare_details(details(left), details(right))[1] == conflicts


def test_hotline_boilerplate_does_not_make_different_problems_look_alike() -> None:
    manhole = tokens("市民来电反映：花园路有一个井盖丢失，请相关部门尽快处理。")
    light = tokens("市民来电反映：花园路路灯不亮，请相关部门尽快处理。")
    assert similarity(manhole, light) < 0.35
    assert "来电" not in words("市民来电反映井盖丢失")


def test_similarity_is_one_for_the_same_text_and_zero_for_nothing_in_common() -> None:
    text = tokens("路边垃圾堆成山了")
    assert similarity(text, text) == pytest.approx(1.0)
    assert similarity(text, tokens("暖气不热")) == 0.0
    assert similarity(text, frozenset()) == 0.0


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, check=True
    )


def test_importing_the_ai_package_loads_no_word_segmenter() -> None:
    code = (
        "import sys, gridgov.ai.text, gridgov.ai.duplicates, gridgov.ai.classifier, "
        "gridgov.ai.bursts; print('jieba' in sys.modules)"
    )
    assert _run(code).stdout.strip() == "False"


def test_the_first_segmentation_writes_nothing_to_stderr() -> None:
    result = _run("from gridgov.ai.text import words; print(words('小区门口井盖丢失了'))")
    assert "井盖" in result.stdout
    assert result.stderr == ""


def test_tokens_are_the_character_pairs_left_once_stopwords_are_cut_out() -> None:
    assert tokens("请尽快处理：井盖丢失！") == {"~井盖", "~盖丢", "~丢失"}
    assert tokens("坑") == {"坑"}
    assert tokens("请尽快处理") == frozenset()


def test_roads_are_read_around_each_mention_however_long_the_text() -> None:
    filler = "小区门口有人反映，" * 12
    text = f"{filler}农业东路路西有个大坑，{filler}另外金水路与经三路交叉口东北角井盖也丢了"
    assert {d for d in details(text) if d.startswith("road=")} == {
        "road=农业东路", "road=金水路", "road=经三路",
    }  # fmt: skip


def test_features_are_the_tokens_and_the_details_of_one_text() -> None:
    text = "市民来电反映：花园路东侧3号楼门口井盖丢失"
    assert features(text) == (tokens(text), details(text))


def test_loading_the_segmenter_ahead_loads_its_dictionary_quietly() -> None:
    code = "import gridgov.ai.text as t; t.load_segmenter(); print(t._segmenter.initialized)"
    result = _run(code)
    assert result.stdout.strip() == "True"
    assert result.stderr == ""
