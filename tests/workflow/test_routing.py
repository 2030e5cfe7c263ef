from __future__ import annotations

from pathlib import Path

import pytest

from gridgov.core.errors import InvalidInput, NotFound
from gridgov.grids.model import GridLevel, SpecialKind
from gridgov.workflow.categories import Taxonomy, load_taxonomy
from gridgov.workflow.datafile import DataFileError
from gridgov.workflow.routing import (
    Assignee,
    ManualDispatch,
    ResponsibilityList,
    SpecialRemit,
    load_responsibilities,
)

L = GridLevel
CITY = "410100000000"
ZHONGYUAN = {L.CITY: CITY, L.DISTRICT: "410102000000", L.STREET: "410102001000",
             L.COMMUNITY: "410102001002"}  # fmt: skip
JINSHUI = {L.CITY: CITY, L.DISTRICT: "410105000000", L.STREET: "410105002000"}
JINGBA_ROAD = {L.CITY: CITY, L.DISTRICT: "410105000000", L.STREET: "410105001000"}
SCHOOL = ("410105001900001", SpecialKind.SCHOOL, "金水区实验小学")

CATEGORIES = """\
code,parent,name_zh,name_en,source,accept_limit,handle_limit,urgent,owning_level,department,filing_condition,closing_condition,limit_basis
A1,,市容环境,City appearance,urban_event,1h,,no,district,urban_management,,,
A101,A1,暴露垃圾,Exposed garbage,,,4h,,,,立案,结案,
A102,A1,道路不洁,Dirty road,,,2h,,,,立案,结案,
A2,,突发事件,Emergencies,urban_event,1h,,yes,district,municipal_engineering,,,
A201,A2,路面塌陷,Road collapse,,,2h,,,,立案,结案,
A3,,管道,Pipes,urban_component,1h,1d,no,district,water_supply,立案,结案,
B1,,党务政务,Party affairs,hotline,2h,13d,no,district,,立案,结案,
"""
DEPARTMENTS = """\
code,name_zh,name_en,level,serves,role
410100000000.urban_management,郑州市城市管理局,Zhengzhou Urban Management Bureau,city,410100000000,urban_management
410100000000.water_supply,郑州市供水公司,Zhengzhou Water Supply Company,city,410100000000,water_supply
410102000000.urban_management,中原区城市管理局,Zhongyuan Urban Management Bureau,district,410102000000,urban_management
410102000000.sanitation,中原区环卫中心,Zhongyuan Sanitation Centre,district,410102000000,sanitation
410105000000.urban_management,金水区城市管理局,Jinshui Urban Management Bureau,district,410105000000,urban_management
410105000000.municipal_engineering,金水区市政工程管理处,Jinshui Municipal Engineering,district,410105000000,municipal_engineering
{grid}.street_office,街道办事处（{grid}）,Street office {grid},street,*,street_office
"""
RULES = """\
category,level,grid,role,department,note
A1,district,,urban_management,,general
A101,district,,sanitation,,more specific category
A1,street,,street_office,,street level
A1,district,410105000000,,410105000000.municipal_engineering,override for 金水区
A1,district,410105001000,,410100000000.urban_management,override for one street of 金水区
A1,community,,street_office,,no community department: resolved one level up
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def taxonomy(tmp_path: Path) -> Taxonomy:
    return load_taxonomy(write(tmp_path, "categories.csv", CATEGORIES))


def responsibilities(
    tmp_path: Path,
    taxonomy: Taxonomy,
    rules: str = RULES,
    departments: str = DEPARTMENTS,
    remit: SpecialRemit | None = None,
) -> ResponsibilityList:
    return load_responsibilities(
        taxonomy,
        write(tmp_path, "responsibilities.csv", rules),
        departments_path=write(tmp_path, "departments.csv", departments),
        special_remit=remit,
    )


@pytest.fixture
def routes(tmp_path: Path, taxonomy: Taxonomy) -> ResponsibilityList:
    return responsibilities(tmp_path, taxonomy)


def assigned(decision: Assignee | ManualDispatch) -> str:
    assert isinstance(decision, Assignee), decision
    return decision.department.code


ASSIGNMENTS = [
    ("the most specific category wins", "A101", ZHONGYUAN, L.DISTRICT, "410102000000.sanitation"),
    ("an ancestor's rule covers a category without its own", "A102", ZHONGYUAN, L.DISTRICT,
     "410102000000.urban_management"),
    ("a district override wins over the general rule", "A102", JINSHUI, L.DISTRICT,
     "410105000000.municipal_engineering"),
    ("a district override wins even over a more specific general category", "A101", JINSHUI,
     L.DISTRICT, "410105000000.municipal_engineering"),
    ("a street override wins over its district's override", "A101", JINGBA_ROAD, L.DISTRICT,
     "410100000000.urban_management"),
    ("a street-level case goes to the street office of its own street", "A101", ZHONGYUAN,
     L.STREET, "410102001000.street_office"),
    ("a community-level case goes up to the street office", "A101", ZHONGYUAN, L.COMMUNITY,
     "410102001000.street_office"),
    ("a city-level case goes to the city department of the role", "A102", ZHONGYUAN, L.CITY,
     "410100000000.urban_management"),
    ("the category's role applies when no rule does", "A201", JINSHUI, L.DISTRICT,
     "410105000000.municipal_engineering"),
    ("a role only the city has serves every district", "A3", ZHONGYUAN, L.DISTRICT,
     "410100000000.water_supply"),
]  # fmt: skip


@pytest.mark.parametrize(("category", "path", "level", "department"),
                         [r[1:] for r in ASSIGNMENTS], ids=[r[0] for r in ASSIGNMENTS])  # fmt: skip
def test_the_responsibility_list_picks_the_department(
    routes: ResponsibilityList,
    category: str,
    path: dict[GridLevel, str],
    level: GridLevel,
    department: str,
) -> None:
    assert assigned(routes.route(category, path, [], level)) == department


def test_the_decision_explains_which_rule_decided(routes: ResponsibilityList) -> None:
    decision = routes.route("A101", JINGBA_ROAD, [], L.DISTRICT)
    assert isinstance(decision, Assignee)
    assert decision.decided_by == "rule"
    assert "410105001000" in decision.rule and "line 6" in decision.rule
    assert "郑州市城市管理局" in decision.explanation_zh
    assert "Zhengzhou Urban Management Bureau" in decision.explanation_en


def test_a_special_grid_owns_what_happens_inside_it(routes: ResponsibilityList) -> None:
    decision = routes.route("A101", JINGBA_ROAD, [SCHOOL], L.DISTRICT)
    assert isinstance(decision, Assignee)
    assert decision.decided_by == "special_grid"
    assert decision.department.name_zh == "金水区实验小学"
    assert decision.department.level is L.SPECIAL
    assert "学校" in decision.explanation_zh


def test_emergencies_in_a_special_grid_stay_with_the_departments(
    routes: ResponsibilityList,
) -> None:
    decision = routes.route("A201", JINSHUI, [SCHOOL], L.DISTRICT)
    assert assigned(decision) == "410105000000.municipal_engineering"


def test_the_specials_remit_is_configurable(tmp_path: Path, taxonomy: Taxonomy) -> None:
    everything = responsibilities(
        tmp_path, taxonomy, remit=SpecialRemit(excluded=frozenset(), exclude_urgent=False)
    )
    assert assigned(everything.route("A201", JINSHUI, [SCHOOL], L.DISTRICT)) == SCHOOL[0]
    no_appearance = responsibilities(tmp_path, taxonomy, remit=SpecialRemit(frozenset({"A1"})))
    assert assigned(no_appearance.route("A101", ZHONGYUAN, [SCHOOL], L.DISTRICT)) == (
        "410102000000.sanitation"
    )


def test_a_special_grid_without_a_responsible_unit_is_passed_over(
    routes: ResponsibilityList,
) -> None:
    nobody = ("410105001900002", "market", None)
    assert assigned(routes.route("A101", JINGBA_ROAD, [nobody, SCHOOL], L.DISTRICT)) == SCHOOL[0]


MANUAL = [
    ("a district-owned case waits at the district centre", ZHONGYUAN, L.DISTRICT,
     "410102000000", L.DISTRICT),
    ("a community-owned case waits at its street's centre", ZHONGYUAN, L.COMMUNITY,
     "410102001000", L.STREET),
    ("a city-owned case waits at the city centre", ZHONGYUAN, L.CITY, CITY, L.CITY),
    ("a path without a district falls back to the city", {L.CITY: CITY}, L.DISTRICT, CITY, L.CITY),
]  # fmt: skip


@pytest.mark.parametrize(("path", "level", "centre", "centre_level"),
                         [r[1:] for r in MANUAL], ids=[r[0] for r in MANUAL])  # fmt: skip
def test_no_rule_sends_the_case_to_the_owning_centre_for_manual_dispatch(
    routes: ResponsibilityList,
    path: dict[GridLevel, str],
    level: GridLevel,
    centre: str,
    centre_level: GridLevel,
) -> None:
    decision = routes.route("B1", path, [], level)
    assert decision == ManualDispatch(centre, centre_level, decision.reason_zh, decision.reason_en)
    assert "党务政务" in decision.reason_zh and "B1" in decision.reason_en


def test_a_role_nobody_serves_here_is_dispatched_by_hand_with_the_reason(
    routes: ResponsibilityList,
) -> None:
    decision = routes.route("A201", ZHONGYUAN, [], L.DISTRICT)
    assert isinstance(decision, ManualDispatch)
    assert decision.centre_code == "410102000000"
    assert "municipal_engineering" in decision.reason_en


def test_an_unknown_category_is_not_found(routes: ResponsibilityList) -> None:
    with pytest.raises(NotFound):
        routes.route("Z9", ZHONGYUAN, [], L.DISTRICT)


def test_a_special_level_cannot_own_a_case(routes: ResponsibilityList) -> None:
    with pytest.raises(InvalidInput, match="owning_level"):
        routes.route("A101", ZHONGYUAN, [], L.SPECIAL)


RULE_HEADER = "category,level,grid,role,department,note\n"
BAD_RULES = [
    ("unknown category", "Z1,district,,urban_management,,\n", "category"),
    ("unknown level", "A1,province,,urban_management,,\n", "level"),
    ("both role and department", "A1,city,,urban_management,410100000000.water_supply,\n", "role"),
    ("neither role nor department", "A1,city,,,,\n", "role"),
    ("unknown role", "A1,city,,fire_brigade,,\n", "role"),
    ("unknown department", "A1,city,,,410100000000.fire,\n", "department"),
    ("duplicate rule", "A1,district,,urban_management,,\nA1,district,,sanitation,,\n", "category"),
]  # fmt: skip


@pytest.mark.parametrize(("rows", "column"), [r[1:] for r in BAD_RULES],
                         ids=[r[0] for r in BAD_RULES])  # fmt: skip
def test_a_bad_rule_file_names_the_line_and_column(
    tmp_path: Path, taxonomy: Taxonomy, rows: str, column: str
) -> None:
    with pytest.raises(DataFileError) as caught:
        responsibilities(tmp_path, taxonomy, rules=RULE_HEADER + rows)
    line = rows.count("\n") + 1
    assert (caught.value.source, caught.value.line, caught.value.column) == (
        "responsibilities.csv", line, column,
    )  # fmt: skip


DEPARTMENT_HEADER = "code,name_zh,name_en,level,serves,role\n"
GOOD_DEPARTMENT = "410100000000.water_supply,郑州市供水公司,Water,city,410100000000,water_supply\n"
BAD_DEPARTMENTS = [
    ("duplicate code", GOOD_DEPARTMENT + GOOD_DEPARTMENT.replace(",water_supply\n", ",heating\n"),
     "code"),
    ("two units of one role for one grid", GOOD_DEPARTMENT
     + GOOD_DEPARTMENT.replace("410100000000.water_supply,", "x,"), "role"),
    ("missing name", "x,,Water,city,410100000000,water_supply\n", "name_zh"),
    ("unknown level", "x,水,Water,province,410100000000,water_supply\n", "level"),
    ("role not in snake case", "x,水,Water,city,410100000000,Water Supply\n", "role"),
    ("missing serves", "x,水,Water,city,,water_supply\n", "serves"),
]  # fmt: skip


@pytest.mark.parametrize(("rows", "column"), [r[1:] for r in BAD_DEPARTMENTS],
                         ids=[r[0] for r in BAD_DEPARTMENTS])  # fmt: skip
def test_a_bad_department_file_names_the_line_and_column(
    tmp_path: Path, taxonomy: Taxonomy, rows: str, column: str
) -> None:
    with pytest.raises(DataFileError) as caught:
        responsibilities(
            tmp_path, taxonomy, rules=RULE_HEADER, departments=DEPARTMENT_HEADER + rows
        )
    assert (caught.value.source, caught.value.line, caught.value.column) == (
        "departments.csv", rows.count("\n") + 1, column,
    )  # fmt: skip


def test_a_category_role_no_department_has_is_refused_on_load(
    tmp_path: Path, taxonomy: Taxonomy
) -> None:
    only_water = DEPARTMENT_HEADER + GOOD_DEPARTMENT
    with pytest.raises(InvalidInput, match="urban_management"):
        responsibilities(tmp_path, taxonomy, rules=RULE_HEADER, departments=only_water)


DEMO_DISTRICTS = ("410102", "410103", "410104", "410105", "410106", "410108", "410122",
                  "410181", "410182", "410183", "410184", "410185")  # fmt: skip


def test_the_shipped_list_routes_every_category_with_a_department_in_every_demo_district() -> None:
    taxonomy = load_taxonomy()
    routes = load_responsibilities(taxonomy)
    for adcode in DEMO_DISTRICTS:
        path = {L.CITY: CITY, L.DISTRICT: f"{adcode}000000", L.STREET: f"{adcode}001000"}
        for category in taxonomy.leaves():
            assert category.owning_level is not None
            decision = routes.route(category.code, path, [], category.owning_level)
            if category.department:
                assert isinstance(decision, Assignee), (adcode, category.code, decision)
            else:
                assert isinstance(decision, ManualDispatch)
