from __future__ import annotations

from pathlib import Path

import pytest

from gridgov.core.errors import NotFound
from gridgov.grids.model import GridLevel
from gridgov.workflow.calendar import WorkingCalendar, WorkingTime
from gridgov.workflow.categories import CategorySource, load_taxonomy
from gridgov.workflow.datafile import DataFileError

TAXONOMY = load_taxonomy()

# The 15 first-level classes of the TipDM 2020 12345 taxonomy (fj1_label_taxonomy.csv), in order.
HOTLINE_CLASSES = (
    "城乡建设", "党务政务", "国土资源", "环境保护", "纪检监察", "交通运输", "经济管理",
    "科技与信息产业", "民政", "农村农业", "商贸旅游", "卫生计生", "政法", "教育文体", "劳动和社会保障",
)  # fmt: skip
# The 7 of them that occur in the labelled messages (fj2).
LABELLED_CLASSES = (
    "城乡建设",
    "劳动和社会保障",
    "教育文体",
    "商贸旅游",
    "环境保护",
    "卫生计生",
    "交通运输",
)


def names(source: CategorySource, *, top: bool) -> list[str]:
    return [c.name_zh for c in TAXONOMY if c.source is source and (c.parent_code is None) is top]


def test_every_leaf_of_the_shipped_taxonomy_has_limits_a_level_and_conditions() -> None:
    leaves = TAXONOMY.leaves()
    assert len(leaves) > 60
    for leaf in leaves:
        assert leaf.accept_limit and leaf.handle_limit, leaf.code
        assert leaf.owning_level is not None, leaf.code
        assert leaf.filing_condition and leaf.closing_condition, leaf.code


def test_the_shipped_taxonomy_has_the_fifteen_hotline_classes_including_the_seven_labelled() -> (
    None
):
    hotline = names(CategorySource.HOTLINE, top=True)
    assert hotline[:15] == list(HOTLINE_CLASSES)
    assert set(LABELLED_CLASSES) <= set(hotline)
    assert "供热" in hotline


def test_the_shipped_taxonomy_has_the_urban_management_major_and_minor_classes() -> None:
    majors = ["公用设施", "道路交通", "市容环境", "园林绿化", "房屋土地", "其他设施"]
    assert names(CategorySource.URBAN_COMPONENT, top=True) == majors
    events = ["市容环境", "宣传广告", "施工管理", "突发事件", "街面秩序", "其他事件"]
    assert names(CategorySource.URBAN_EVENT, top=True) == events
    minors = set(names(CategorySource.URBAN_COMPONENT, top=False))
    minors |= set(names(CategorySource.URBAN_EVENT, top=False))
    assert {
        "上水井盖", "污水井盖", "雨水井盖", "路灯", "交通标志", "护栏", "公交站亭", "公厕",
        "垃圾箱(果皮箱)", "广告牌匾", "行道树", "绿地", "私搭乱建", "暴露垃圾", "积存渣土",
        "道路不洁", "非法小广告", "施工扰民", "工地扬尘", "道路积水", "路面塌陷", "占道经营",
        "无照经营",
    } <= minors  # fmt: skip


def test_iot_alarm_classes_are_there_for_the_sensor_channel() -> None:
    assert set(names(CategorySource.IOT_ALARM, top=False)) == {
        "井盖倾斜", "水位超限", "烟感报警", "噪声超标",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("code", "limit"),
    [("E0102", "4h"), ("E0103", "2d"), ("E0104", "2h"), ("E0105", "15d"), ("E0101", "15d")],
    ids=["暴露垃圾", "积存渣土", "道路不洁", "水域不洁", "私搭乱建"],
)
def test_handling_limits_follow_the_published_local_tables(code: str, limit: str) -> None:
    assert TAXONOMY[code].handle_limit == WorkingTime.parse(limit)


def test_empty_cells_inherit_from_the_parent() -> None:
    cover = TAXONOMY["C0102"]
    assert cover.department == "municipal_engineering"
    assert cover.accept_limit == WorkingTime.hours(1)
    assert cover.owning_level is GridLevel.DISTRICT
    assert TAXONOMY["C0101"].department == "water_supply"
    assert TAXONOMY["E0403"].urgent is True


def test_urgent_categories_count_on_the_round_the_clock_calendar() -> None:
    calendar = WorkingCalendar()
    assert TAXONOMY["E0402"].clock(calendar).is_round_the_clock
    assert not TAXONOMY["E0102"].clock(calendar).is_round_the_clock


def test_the_tree_answers_children_leaves_and_paths() -> None:
    assert [c.code for c in TAXONOMY.path("C0101")] == ["C01", "C0101"]
    assert "C0101" in [c.code for c in TAXONOMY.children("C01")]
    assert TAXONOMY.is_leaf("C0101") and not TAXONOMY.is_leaf("C01")
    assert TAXONOMY.is_within("E0403", "E04") and not TAXONOMY.is_within("E0403", "E01")
    with pytest.raises(NotFound):
        TAXONOMY["Z99"]


HEADER = (
    "code,parent,name_zh,name_en,source,accept_limit,handle_limit,urgent,owning_level,"
    "department,filing_condition,closing_condition,limit_basis\n"
)
TOP = "X1,,大类,Major,urban_event,1h,,no,district,urban_management,,,\n"


def leaf(**cells: str) -> str:
    row = {
        "code": "X101", "parent": "X1", "name_zh": "小类", "name_en": "Minor", "source": "",
        "accept_limit": "", "handle_limit": "4h", "urgent": "", "owning_level": "",
        "department": "", "filing_condition": "立案", "closing_condition": "结案",
        "limit_basis": "",
    } | cells  # fmt: skip
    return ",".join(row.values()) + "\n"


BAD_FILES = [
    ("unknown parent", HEADER + TOP + leaf(parent="X9"), 3, "parent"),
    ("parent listed below its child", HEADER + leaf() + TOP, 2, "parent"),
    ("duplicate code", HEADER + TOP + leaf() + leaf(), 4, "code"),
    ("bad time limit", HEADER + TOP + leaf(handle_limit="5x"), 3, "handle_limit"),
    ("missing name", HEADER + TOP + leaf(name_zh=""), 3, "name_zh"),
    ("missing english name", HEADER + TOP + leaf(name_en=" "), 3, "name_en"),
    ("unknown source", HEADER + TOP.replace("urban_event", "misc"), 2, "source"),
    ("source differing from the parent", HEADER + TOP + leaf(source="hotline"), 3, "source"),
    ("top class without a source", HEADER + TOP.replace("urban_event", ""), 2, "source"),
    ("unknown level", HEADER + TOP + leaf(owning_level="province"), 3, "owning_level"),
    ("urgent neither yes nor no", HEADER + TOP + leaf(urgent="maybe"), 3, "urgent"),
    ("leaf without a handling limit", HEADER + TOP + leaf(handle_limit=""), 3, "handle_limit"),
    ("leaf without a closing condition", HEADER + TOP + leaf(closing_condition=""), 3,
     "closing_condition"),
    ("code with a space", HEADER + TOP + leaf(code="X 1"), 3, "code"),
    ("a field too few", HEADER + TOP + "X101,X1\n", 3, "name_zh"),
    ("unknown column", HEADER.replace("limit_basis", "basis") + TOP, 1, "basis"),
    ("missing column", HEADER.replace(",limit_basis", ""), 1, "limit_basis"),
    ("no header at all", "# only a comment\n", 0, "(header)"),  # reported at line 1
]  # fmt: skip


@pytest.mark.parametrize(("text", "line", "column"), [r[1:] for r in BAD_FILES],
                         ids=[r[0] for r in BAD_FILES])  # fmt: skip
def test_a_bad_taxonomy_file_names_the_line_and_column(
    tmp_path: Path, text: str, line: int, column: str
) -> None:
    path = tmp_path / "categories.csv"
    path.write_text("# a city's taxonomy\n" + text, encoding="utf-8")
    with pytest.raises(DataFileError) as caught:
        load_taxonomy(path)
    assert (caught.value.line, caught.value.column) == (line + 1, column)
    assert f"categories.csv line {line + 1}, column {column}" in str(caught.value)


def test_a_good_city_file_with_a_bom_and_comments_loads(tmp_path: Path) -> None:
    path = tmp_path / "categories.csv"
    path.write_text("\ufeff# ours\n\n" + HEADER + TOP + leaf(), encoding="utf-8")
    taxonomy = load_taxonomy(path)
    assert taxonomy["X101"].handle_limit == WorkingTime.hours(4)
    assert taxonomy["X101"].department == "urban_management"
