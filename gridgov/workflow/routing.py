"""The responsibility list (权责清单): who handles a case, by territory (grid) and function (category).

A decision is taken in this order (the shipped data/responsibilities.csv repeats it for editors):

    1. special grid   the case lies in a special grid (专属网格) and the category is in the
                      specials' remit → its responsible unit
    2. rule           the rules for the owning level whose category is the case's or an ancestor and
                      whose grid is empty or on the case's grid path; deepest grid first, then the
                      most specific category
    3. category       the category's own department role (categories.csv)
    4. manual         none of these → ManualDispatch to the owning operation centre; a case is
                      never routed nowhere

A rule names a department or a role. A role is resolved to the department of that role serving the
case's grid at the owning level, else at the nearest level above (city companies serve districts).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from gridgov.core.errors import InvalidInput, NotFound
from gridgov.grids.model import REGULAR_LEVELS, GridLevel, SpecialKind
from gridgov.workflow.categories import OWNING_LEVELS, Category, Taxonomy
from gridgov.workflow.datafile import Row, read_table, read_text

DEPARTMENTS_RESOURCE = "departments.csv"
RESPONSIBILITIES_RESOURCE = "responsibilities.csv"
DEPARTMENT_COLUMNS = ("code", "name_zh", "name_en", "level", "serves", "role")
RULE_COLUMNS = ("category", "level", "grid", "role", "department", "note")
CENTRE_LEVELS = (GridLevel.CITY, GridLevel.DISTRICT, GridLevel.STREET)
SPECIAL_ROLE = "special_grid"
TEMPLATE = "*"
_ROLE = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Department:
    code: str
    name_zh: str
    name_en: str
    level: GridLevel
    serves: str
    role: str


@dataclass(frozen=True, slots=True)
class ResponsibilityRule:
    category: str
    level: GridLevel
    grid: str | None
    role: str | None
    department: str | None
    note: str = ""
    where: str = ""  # "responsibilities.csv line 12", for explanations

    def describe(self) -> str:
        target = self.department or f"role {self.role}"
        scope = f" in grid {self.grid}" if self.grid else ""
        return f"{self.category} at {self.level}{scope} → {target} ({self.where})"


class SpecialGridRef(NamedTuple):
    """A special grid containing the case, as the locator reports it."""

    code: str
    kind: SpecialKind | str | None
    responsible_unit: str | None


@dataclass(frozen=True, slots=True)
class SpecialRemit:
    """Which categories special grids own; emergencies stay with the emergency departments."""

    excluded: frozenset[str] = frozenset({"E04"})
    exclude_urgent: bool = True

    def covers(self, category: Category, taxonomy: Taxonomy) -> bool:
        if self.exclude_urgent and category.urgent:
            return False
        return not any(c.code in self.excluded for c in taxonomy.path(category.code))


@dataclass(frozen=True, slots=True)
class Assignee:
    department: Department
    decided_by: str  # "special_grid" | "rule" | "category"
    rule: str  # the rule that decided, readable
    explanation_zh: str
    explanation_en: str


@dataclass(frozen=True, slots=True)
class ManualDispatch:
    centre_code: str
    centre_level: GridLevel
    reason_zh: str
    reason_en: str


RoutingDecision = Assignee | ManualDispatch


class ResponsibilityList:
    """Departments and rules, checked on load; `route` decides one case."""

    def __init__(
        self,
        taxonomy: Taxonomy,
        departments: Iterable[Department],
        rules: Iterable[ResponsibilityRule],
        *,
        special_remit: SpecialRemit | None = None,
        city_code: str | None = None,
    ) -> None:
        self.taxonomy = taxonomy
        self.departments = tuple(departments)
        self.rules = tuple(rules)
        self.special_remit = special_remit or SpecialRemit()
        self.city_code = city_code  # the centre of last resort when a grid path names no centre
        self._by_code = {d.code: d for d in self.departments}
        self._by_role = {(d.role, d.level, d.serves): d for d in self.departments}

    def department(self, code: str) -> Department:
        try:
            return self._by_code[code]
        except KeyError:
            raise NotFound("department", code) from None

    def route(
        self,
        category_code: str,
        grid_path: Mapping[GridLevel, str],
        specials: Sequence[SpecialGridRef | tuple[str, SpecialKind | str | None, str | None]],
        owning_level: GridLevel,
    ) -> RoutingDecision:
        """Who should handle a case of `category_code` located on `grid_path`, owned at a level."""
        if owning_level not in REGULAR_LEVELS:
            raise InvalidInput("owning_level", f"{owning_level} is not a regular level")
        category = self.taxonomy[category_code]
        special = self._special(category, [SpecialGridRef(*s) for s in specials])
        if special is not None:
            return special
        rule = self._best_rule(category, grid_path, owning_level)
        if rule is not None:
            return self._apply_rule(rule, category, grid_path, owning_level)
        if category.department:
            return self._apply_category(category, category.department, grid_path, owning_level)
        return self._manual(
            grid_path,
            owning_level,
            f"权责清单中没有{owning_level.label_zh}层级办理“{category.name_zh}”的规则",
            f"the responsibility list has no rule for {category.code} at {owning_level} level",
        )

    def _special(self, category: Category, specials: Sequence[SpecialGridRef]) -> Assignee | None:
        if not self.special_remit.covers(category, self.taxonomy):
            return None
        for ref in specials:
            if not ref.responsible_unit:
                continue
            kind = _kind_label(ref.kind)
            unit = Department(
                ref.code, ref.responsible_unit, ref.responsible_unit, GridLevel.SPECIAL, ref.code,
                SPECIAL_ROLE,
            )  # fmt: skip
            return Assignee(
                unit,
                "special_grid",
                f"special grid {ref.code}",
                f"案件位于专属网格 {ref.code}（{kind}），由其责任单位{ref.responsible_unit}办理",
                f"the case lies in special grid {ref.code} ({ref.kind}); "
                f"its responsible unit {ref.responsible_unit} handles it",
            )
        return None

    def _best_rule(
        self, category: Category, grid_path: Mapping[GridLevel, str], level: GridLevel
    ) -> ResponsibilityRule | None:
        depth = {c.code: i for i, c in enumerate(self.taxonomy.path(category.code))}
        grid_rank = {code: lvl.rank for lvl, code in grid_path.items()}
        best: tuple[int, int] | None = None
        chosen = None
        for rule in self.rules:
            if rule.level is not level or rule.category not in depth:
                continue
            if rule.grid is not None and rule.grid not in grid_rank:
                continue
            rank = (-1 if rule.grid is None else grid_rank[rule.grid], depth[rule.category])
            if best is None or rank > best:
                best, chosen = rank, rule
        return chosen

    def _apply_rule(
        self,
        rule: ResponsibilityRule,
        category: Category,
        grid_path: Mapping[GridLevel, str],
        level: GridLevel,
    ) -> RoutingDecision:
        if rule.department is not None:
            department: Department | None = self._by_code[rule.department]
        else:
            department = self._resolve_role(rule.role or "", grid_path, level)
        if department is None:
            return self._unresolved(rule.role or "", rule.describe(), grid_path, level)
        scope_zh = f"网格 {rule.grid} 的专门规则" if rule.grid else "通用规则"
        scope_en = f"the rule for grid {rule.grid}" if rule.grid else "the general rule"
        return Assignee(
            department,
            "rule",
            rule.describe(),
            f"按权责清单{scope_zh}（{rule.where}），“{category.name_zh}”在{level.label_zh}层级"
            f"由{department.name_zh}办理",
            f"by {scope_en} ({rule.where}), {category.code} at {level} level goes to "
            f"{department.name_en}",
        )

    def _apply_category(
        self, category: Category, role: str, grid_path: Mapping[GridLevel, str], level: GridLevel
    ) -> RoutingDecision:
        described = f"category {category.code} default role {role}"
        department = self._resolve_role(role, grid_path, level)
        if department is None:
            return self._unresolved(role, described, grid_path, level)
        return Assignee(
            department,
            "category",
            described,
            f"权责清单无专门规则，按事件分类“{category.name_zh}”的默认职能部门由{department.name_zh}办理",
            f"no rule applies; {category.code}'s default role {category.department} "
            f"resolves to {department.name_en}",
        )

    def _resolve_role(
        self, role: str, grid_path: Mapping[GridLevel, str], level: GridLevel
    ) -> Department | None:
        """The unit of `role` serving the case's grid at `level`, or the nearest level above."""
        index = self._by_role
        for candidate in reversed(REGULAR_LEVELS[: level.rank + 1]):
            grid = grid_path.get(candidate)
            if grid is None:
                continue
            department = index.get((role, candidate, grid))
            if department is not None:
                return department
            template = index.get((role, candidate, TEMPLATE))
            if template is not None:
                return _instantiate(template, grid)
        return None

    def _unresolved(
        self, role: str, described: str, grid_path: Mapping[GridLevel, str], level: GridLevel
    ) -> ManualDispatch:
        return self._manual(
            grid_path,
            level,
            f"规则（{described}）要求职能 {role}，但没有该职能的部门服务本网格",
            f"{described} names role {role}, but no department of that role serves this grid",
        )

    def _manual(
        self, grid_path: Mapping[GridLevel, str], level: GridLevel, reason_zh: str, reason_en: str
    ) -> ManualDispatch:
        # Community and finer levels have no operation centre; their street's centre dispatches.
        start = level if level in CENTRE_LEVELS else GridLevel.STREET
        for centre in reversed(CENTRE_LEVELS[: start.rank + 1]):
            code = grid_path.get(centre)
            if code is not None:
                return ManualDispatch(code, centre, reason_zh + "，转人工派单", reason_en)
        if self.city_code is None:
            raise InvalidInput("grid_path", "names no street, district or city to dispatch from")
        return ManualDispatch(self.city_code, GridLevel.CITY, reason_zh + "，转人工派单", reason_en)


def _instantiate(template: Department, grid: str) -> Department:
    return Department(
        template.code.replace("{grid}", grid),
        template.name_zh.replace("{grid}", grid),
        template.name_en.replace("{grid}", grid),
        template.level,
        grid,
        template.role,
    )


def _kind_label(kind: SpecialKind | str | None) -> str:
    if kind is None:
        return "专属网格"
    try:
        return SpecialKind(kind).label_zh
    except ValueError:
        return str(kind)


def load_departments(path: Path | str | None = None) -> tuple[Department, ...]:
    """The department directory at `path`, or the shipped one; a bad cell raises DataFileError."""
    text, source = read_text(path, DEPARTMENTS_RESOURCE)
    seen_codes: dict[str, int] = {}
    seen_units: dict[tuple[str, GridLevel, str], int] = {}
    out: list[Department] = []
    for row in read_table(text, source, DEPARTMENT_COLUMNS):
        department = Department(
            code=row.require("code"),
            name_zh=row.require("name_zh"),
            name_en=row.require("name_en"),
            level=_level(row),
            serves=row.require("serves"),
            role=_role(row, row.require("role")),
        )
        if department.code in seen_codes:
            first = seen_codes[department.code]
            raise row.error("code", f"duplicate department code, first on line {first}")
        unit = (department.role, department.level, department.serves)
        if unit in seen_units:
            raise row.error(
                "role", f"a {unit[0]} for {unit[2]} is already on line {seen_units[unit]}"
            )
        seen_codes[department.code] = seen_units[unit] = row.line
        out.append(department)
    return tuple(out)


def load_rules(
    taxonomy: Taxonomy, departments: Iterable[Department], path: Path | str | None = None
) -> tuple[ResponsibilityRule, ...]:
    """The rules at `path`, or the shipped ones, checked against the taxonomy and departments."""
    text, source = read_text(path, RESPONSIBILITIES_RESOURCE)
    directory = tuple(departments)
    codes = {d.code for d in directory}
    roles = {d.role for d in directory}
    seen: dict[tuple[str, GridLevel, str | None], int] = {}
    out: list[ResponsibilityRule] = []
    for row in read_table(text, source, RULE_COLUMNS):
        category = row.require("category")
        if category not in taxonomy:
            raise row.error("category", f"unknown category {category!r}")
        rule = ResponsibilityRule(
            category=category,
            level=_level(row),
            grid=row.get("grid") or None,
            role=row.get("role") or None,
            department=row.get("department") or None,
            note=row.get("note"),
            where=f"{source} line {row.line}",
        )
        _check_target(row, rule, codes, roles)
        key = (rule.category, rule.level, rule.grid)
        if key in seen:
            raise row.error("category", f"same category, level and grid as line {seen[key]}")
        seen[key] = row.line
        out.append(rule)
    return tuple(out)


def load_responsibilities(
    taxonomy: Taxonomy,
    path: Path | str | None = None,
    *,
    departments_path: Path | str | None = None,
    special_remit: SpecialRemit | None = None,
) -> ResponsibilityList:
    """The responsibility list from the two data files (shipped defaults when paths are None)."""
    departments = load_departments(departments_path)
    rules = load_rules(taxonomy, departments, path)
    roles = {d.role for d in departments}
    for category in taxonomy:
        if category.department and category.department not in roles:
            raise InvalidInput(
                f"categories {category.code} department",
                f"role {category.department!r} is not the role of any department",
            )
    cities = {d.serves for d in departments if d.level is GridLevel.CITY}
    return ResponsibilityList(
        taxonomy,
        departments,
        rules,
        special_remit=special_remit,
        city_code=next(iter(cities)) if len(cities) == 1 else None,
    )


def _check_target(row: Row, rule: ResponsibilityRule, codes: set[str], roles: set[str]) -> None:
    if (rule.role is None) == (rule.department is None):
        raise row.error("role", "fill exactly one of role and department")
    if rule.role is not None and rule.role not in roles:
        raise row.error("role", f"no department has role {rule.role!r}")
    if rule.department is not None and rule.department not in codes:
        raise row.error("department", f"unknown department {rule.department!r}")


def _level(row: Row) -> GridLevel:
    raw = row.require("level")
    if raw not in {level.value for level in OWNING_LEVELS}:
        allowed = ", ".join(level.value for level in OWNING_LEVELS)
        raise row.error("level", f"{raw!r} is not one of {allowed}")
    return GridLevel(raw)


def _role(row: Row, role: str) -> str:
    if not _ROLE.match(role):
        raise row.error("role", f"{role!r} must be lower_snake_case")
    return role
