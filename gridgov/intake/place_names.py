"""Place names the gazetteer knows: their kinds, entries made from a grid layer, and the variants
each name is found by (博物院社区 for 博物院社区居民委员会, the core 文化路 of 文化路街道).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import shapely

from gridgov.grids.model import Grid, GridLevel
from gridgov.intake.address import normalize


class PlaceKind(StrEnum):
    DISTRICT = "district"
    STREET = "street"
    COMMUNITY = "community"
    COMPOUND = "compound"
    SPECIAL = "special"
    ROAD = "road"
    POI = "poi"
    INTERSECTION = "intersection"

    @property
    def label_zh(self) -> str:
        return _KIND_ZH[self]


_KIND_ZH = {
    PlaceKind.DISTRICT: "区县",
    PlaceKind.STREET: "街道/乡镇",
    PlaceKind.COMMUNITY: "社区/村",
    PlaceKind.COMPOUND: "小区/楼院",
    PlaceKind.SPECIAL: "专属网格",
    PlaceKind.ROAD: "道路",
    PlaceKind.POI: "兴趣点",
    PlaceKind.INTERSECTION: "路口",
}

_GRID_KINDS = {
    GridLevel.DISTRICT: PlaceKind.DISTRICT,
    GridLevel.STREET: PlaceKind.STREET,
    GridLevel.COMMUNITY: PlaceKind.COMMUNITY,
    GridLevel.COMPOUND: PlaceKind.COMPOUND,
    GridLevel.SPECIAL: PlaceKind.SPECIAL,
}
_DISTRICT_SUFFIX = re.compile(r"(?:回族区|区|县|市)$")
_ZONE_PREFIX = re.compile(r"^.*?(?:开发区|实验区)")
_STREET_SUFFIX = re.compile(r"(?:街道办事处|街道|镇|乡|管理委员会)$")
_COMMITTEE = re.compile(r"(?:居民委员会|居委会|村民委员会|村委会|委员会)$")
_VILLAGE_GROUP = re.compile(r"^(.+村)第(.+)村民小组$")
_BRANCH = re.compile(r"^(.+?)\((.+)\)$")
_CHINESE_DIGITS = "零一二三四五六七八九"
# Quality of a match on a variant rather than the full name: a 2-character core such as 新华
# turns up inside unrelated words far more often than a longer one.
VARIANT_QUALITY = 0.9
SHORT_CORE_QUALITY = 0.7
CORE_QUALITY = 0.85


@dataclass(frozen=True, slots=True)
class GazetteerEntry:
    """A named place. Intersections are named "A与B交叉口" after the two roads that cross.

    `parent_names` are the names of the areas holding it (district, street, community for a grid;
    every district and street a road crosses), used to narrow a search by the names in the text.
    """

    name: str
    kind: PlaceKind
    lon: float
    lat: float
    grid_code: str
    aliases: tuple[str, ...] = ()
    parent_names: tuple[str, ...] = ()


def entries_from_grids(grids: Iterable[Grid]) -> list[GazetteerEntry]:
    """One entry per district, street, community, compound and special grid, at a point inside it.

    Micro-grids are left out: their names (第3微网格) mean nothing outside their compound.
    """
    by_code = {g.code: g for g in grids}
    wanted = [g for g in by_code.values() if g.level in _GRID_KINDS]
    if not wanted:
        return []
    points = shapely.point_on_surface(np.array([g.geometry for g in wanted], dtype=object))
    xs, ys = shapely.get_x(points), shapely.get_y(points)
    chains: dict[str, tuple[str, ...]] = {}

    def chain(code: str | None) -> tuple[str, ...]:
        """Names from the district down to the grid `code`, the city left out."""
        if code is None or code not in by_code:
            return ()
        if code not in chains:
            grid = by_code[code]
            above = chain(grid.parent_code) if grid.level is not GridLevel.DISTRICT else ()
            chains[code] = (*above, grid.name)
        return chains[code]

    return [
        GazetteerEntry(
            name=g.name,
            kind=_GRID_KINDS[g.level],
            lon=float(x),
            lat=float(y),
            grid_code=g.code,
            parent_names=chain(g.parent_code) if g.level is not GridLevel.DISTRICT else (),
        )
        for g, x, y in zip(wanted, xs, ys, strict=True)
    ]


def name_keys(
    entry: GazetteerEntry, name: str, prefixes: tuple[str, ...]
) -> list[tuple[str, float]]:
    """Normalized keys an entry is found by, with the quality of a match on each."""
    keys: dict[str, float] = {name: 1.0}
    for alias in entry.aliases:
        keys[normalize(alias, prefixes)] = 1.0
    for key, quality in _kind_variants(entry.kind, name):
        if len(key) >= 2 and keys.get(key, 0.0) < quality:
            keys[key] = quality
    return [(k, q) for k, q in keys.items() if k]


def _kind_variants(kind: PlaceKind, name: str) -> list[tuple[str, float]]:
    if kind is PlaceKind.DISTRICT:
        core = _DISTRICT_SUFFIX.sub("", name)
        out = [(_core(core))]
        if name.endswith("回族区"):
            out.append((core + "区", 1.0))
        return out
    if kind is PlaceKind.STREET:
        unzoned = _ZONE_PREFIX.sub("", name)
        return [(unzoned, 1.0), _core(_STREET_SUFFIX.sub("", unzoned))]
    if kind is PlaceKind.COMMUNITY:
        committee = _COMMITTEE.search(name)
        base = _COMMITTEE.sub("", name)
        if base.endswith(("社区", "村")):
            return [(base, 1.0), _core(base.removesuffix("社区").removesuffix("村"))]
        # 里河村民委员会 is 里河村, 纬一路居委会 is 纬一路社区; the bare 里河 is only a core.
        rural = committee is not None and committee.group(0).startswith("村")
        return [(base + ("村" if rural else "社区"), 1.0), _core(base)]
    if kind is PlaceKind.COMPOUND:
        group = _VILLAGE_GROUP.match(name)
        if group is not None:
            village, number = group.groups()
            return [(f"{village}{number}组", 1.0), (f"{village}{_arabic(number)}组", 1.0)]
        return []
    if kind in (PlaceKind.POI, PlaceKind.SPECIAL):
        branch = _BRANCH.match(name)
        return [(branch.group(1), 0.8)] if branch is not None else []
    return []


def _core(core: str) -> tuple[str, float]:
    return core, (SHORT_CORE_QUALITY if len(core) <= 2 else CORE_QUALITY)


def _arabic(chinese: str) -> str:
    """一 → 1, 十二 → 12, 二十 → 20: the village-group numbers `city_names` writes."""
    if chinese.isdigit():
        return chinese
    if "十" not in chinese:
        return "".join(str(_CHINESE_DIGITS.index(c)) for c in chinese if c in _CHINESE_DIGITS)
    tens, _, ones = chinese.partition("十")
    value = (_CHINESE_DIGITS.index(tens) if tens else 1) * 10
    return str(value + (_CHINESE_DIGITS.index(ones) if ones else 0))
