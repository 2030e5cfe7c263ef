"""The category taxonomy (事件分类): a city-editable tree of classes with their time limits.

Four source taxonomies share one tree of codes; each top class belongs to one of them:

    urban_component  数字城管部件   C01 公用设施 → C0101 上水井盖 …
    urban_event      数字城管事件   E01 市容环境 → E0101 私搭乱建 …
    hotline          12345 热线     H01 城乡建设 … H16 供热 → H1601 室温不达标 …
    iot_alarm        物联感知告警   I01 → I0101 井盖倾斜 …

The columns of data/categories.csv are documented at the top of that file. Limits, urgency, owning
level and department are inherited from the parent when a row leaves them empty; the loaded
`Category` holds the resolved values, so callers never walk the tree for them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from gridgov.core.errors import InvalidInput, NotFound
from gridgov.grids.model import GridLevel
from gridgov.workflow.calendar import WorkingCalendar, WorkingTime
from gridgov.workflow.datafile import Row, read_table, read_text

CATEGORIES_RESOURCE = "categories.csv"
CATEGORY_COLUMNS = (
    "code", "parent", "name_zh", "name_en", "source", "accept_limit", "handle_limit", "urgent",
    "owning_level", "department", "filing_condition", "closing_condition", "limit_basis",
)  # fmt: skip
OWNING_LEVELS = (GridLevel.CITY, GridLevel.DISTRICT, GridLevel.STREET, GridLevel.COMMUNITY)
_CODE = re.compile(r"^[A-Za-z0-9_-]+$")
_YES_NO = {"yes": True, "no": False}


class CategorySource(StrEnum):
    URBAN_COMPONENT = "urban_component"
    URBAN_EVENT = "urban_event"
    HOTLINE = "hotline"
    IOT_ALARM = "iot_alarm"


@dataclass(frozen=True, slots=True)
class Category:
    code: str
    parent_code: str | None
    name_zh: str
    name_en: str
    source: CategorySource
    accept_limit: WorkingTime | None
    handle_limit: WorkingTime | None
    urgent: bool
    owning_level: GridLevel | None
    department: str | None  # a department role of the responsibility list
    filing_condition: str
    closing_condition: str
    limit_basis: str = ""

    def clock(self, calendar: WorkingCalendar) -> WorkingCalendar:
        """The calendar its limits count on: 7×24 when urgent, working time otherwise."""
        return calendar.round_the_clock() if self.urgent else calendar


class Taxonomy:
    """The loaded tree: lookups by code, children, leaves and the path to the root."""

    def __init__(self, categories: Iterable[Category]) -> None:
        self._by_code: dict[str, Category] = {}
        self._children: dict[str | None, list[Category]] = {}
        for category in categories:
            if category.code in self._by_code:
                raise InvalidInput("code", f"duplicate category code {category.code}")
            if category.parent_code is not None and category.parent_code not in self._by_code:
                raise InvalidInput("parent", f"unknown parent {category.parent_code}")
            self._by_code[category.code] = category
            self._children.setdefault(category.parent_code, []).append(category)

    def __getitem__(self, code: str) -> Category:
        try:
            return self._by_code[code]
        except KeyError:
            raise NotFound("category", code) from None

    def get(self, code: str) -> Category | None:
        return self._by_code.get(code)

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def __iter__(self) -> Iterator[Category]:
        return iter(self._by_code.values())

    def __len__(self) -> int:
        return len(self._by_code)

    def roots(self) -> tuple[Category, ...]:
        return tuple(self._children.get(None, ()))

    def children(self, code: str) -> tuple[Category, ...]:
        self[code]
        return tuple(self._children.get(code, ()))

    def is_leaf(self, code: str) -> bool:
        return not self.children(code)

    def leaves(self) -> tuple[Category, ...]:
        return tuple(c for c in self if not self._children.get(c.code))

    def path(self, code: str) -> tuple[Category, ...]:
        """From the top class down to `code` itself."""
        chain = [self[code]]
        while chain[-1].parent_code is not None:
            chain.append(self._by_code[chain[-1].parent_code])
        return tuple(reversed(chain))

    def is_within(self, code: str, ancestor: str) -> bool:
        """Whether `code` is `ancestor` or lies below it."""
        return any(c.code == ancestor for c in self.path(code))


def load_taxonomy(path: Path | str | None = None) -> Taxonomy:
    """The taxonomy at `path`, or the shipped default; a bad cell raises DataFileError."""
    text, source = read_text(path, CATEGORIES_RESOURCE)
    rows = read_table(text, source, CATEGORY_COLUMNS)
    categories: dict[str, Category] = {}
    lines: dict[str, Row] = {}
    for row in rows:
        category = _category(row, categories, lines)
        categories[category.code] = category
        lines[category.code] = row
    taxonomy = Taxonomy(categories.values())
    for leaf in taxonomy.leaves():
        _check_leaf(leaf, lines[leaf.code])
    return taxonomy


def _category(row: Row, known: dict[str, Category], lines: dict[str, Row]) -> Category:
    code = row.require("code")
    if not _CODE.match(code):
        raise row.error("code", f"{code!r} may hold only letters, digits, '-' and '_'")
    if code in known:
        raise row.error("code", f"duplicate code {code}, first on line {lines[code].line}")
    parent_code = row.get("parent") or None
    parent = None
    if parent_code is not None:
        parent = known.get(parent_code)
        if parent is None:
            raise row.error("parent", f"unknown parent {parent_code!r} (list a parent above it)")
    source = _source(row, parent)
    return Category(
        code=code,
        parent_code=parent_code,
        name_zh=row.require("name_zh"),
        name_en=row.require("name_en"),
        source=source,
        accept_limit=_limit(row, "accept_limit", parent.accept_limit if parent else None),
        handle_limit=_limit(row, "handle_limit", parent.handle_limit if parent else None),
        urgent=_urgent(row, parent.urgent if parent else False),
        owning_level=_level(row, parent.owning_level if parent else None),
        department=row.get("department") or (parent.department if parent else None),
        filing_condition=row.get("filing_condition"),
        closing_condition=row.get("closing_condition"),
        limit_basis=row.get("limit_basis"),
    )


def _source(row: Row, parent: Category | None) -> CategorySource:
    raw = row.get("source")
    if not raw:
        if parent is None:
            raise row.error("source", "is empty but required on a top class")
        return parent.source
    try:
        source = CategorySource(raw)
    except ValueError:
        allowed = ", ".join(s.value for s in CategorySource)
        raise row.error("source", f"{raw!r} is not one of {allowed}") from None
    if parent is not None and source is not parent.source:
        raise row.error("source", f"{source} differs from the parent's {parent.source}")
    return source


def _limit(row: Row, column: str, inherited: WorkingTime | None) -> WorkingTime | None:
    raw = row.get(column)
    if not raw:
        return inherited
    try:
        return WorkingTime.parse(raw)
    except InvalidInput as exc:
        raise row.error(column, exc.problem) from None


def _urgent(row: Row, inherited: bool) -> bool:
    raw = row.get("urgent").lower()
    if not raw:
        return inherited
    if raw not in _YES_NO:
        raise row.error("urgent", f"{raw!r} is not yes or no")
    return _YES_NO[raw]


def _level(row: Row, inherited: GridLevel | None) -> GridLevel | None:
    raw = row.get("owning_level")
    if not raw:
        return inherited
    if raw not in {level.value for level in OWNING_LEVELS}:
        allowed = ", ".join(level.value for level in OWNING_LEVELS)
        raise row.error("owning_level", f"{raw!r} is not one of {allowed}")
    return GridLevel(raw)


def _check_leaf(leaf: Category, row: Row) -> None:
    for column, value in (
        ("accept_limit", leaf.accept_limit),
        ("handle_limit", leaf.handle_limit),
        ("owning_level", leaf.owning_level),
        ("filing_condition", leaf.filing_condition),
        ("closing_condition", leaf.closing_condition),
    ):
        if not value:
            also = "" if column.endswith("condition") else ", here or on a parent"
            raise row.error(column, f"is empty; leaf class {leaf.code} needs it{also}")
