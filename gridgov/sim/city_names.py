"""Names and codes of the demo city's grids: the official NBS 2021 towns and villages where the list
has them, and plausible generated names (with codes that cannot collide with NBS codes) elsewhere.

Codes, by level (digits):

    city, district     12   adcode (6) + "000000"
    street             12   town (9) + "000"; generated towns are adcode + "7xx"/"8xx"
    community          12   NBS village code; generated ones are town (9) + "7xx"/"8xx"
    compound           15   community (12) + 3-digit sequence
    micro              17   compound (15) + 2-digit sequence
    special            15   town of the containing street (9) + "9" + 5-digit sequence

NBS town suffixes run 0xx–5xx and village suffixes 0xx, 2xx and 4xx, so the 7xx/8xx blocks are free;
village suffixes never start with 9, so special codes never equal compound codes.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from importlib import resources

import numpy as np

from gridgov.grids.model import SpecialKind

CITY_CODE = "410100000000"
CITY_NAME = "郑州市"
HIERARCHY_RESOURCE = (
    "data",
    "zhengzhou-admin-hierarchy",
    "zhengzhou_county_town_village_nbs2021.csv",
)

# The NBS list codes three functional zones that have no boundary of their own in the DataV
# polygons; their towns are placed in the statutory district that hosts most of each zone.
HOSTED_ZONES = {
    "410171": "410104",  # 郑州经济技术开发区 → 管城回族区
    "410172": "410102",  # 郑州高新技术产业开发区 → 中原区
    "410173": "410184",  # 郑州航空港经济综合实验区 → 新郑市
}
_GENERATED_BLOCKS = ("7", "8")
MAX_GENERATED_PER_PARENT = 100 * len(_GENERATED_BLOCKS)

_TOWN_SUFFIXES = ("街道", "镇", "乡")
_ZONE_PREFIXES = ("郑州经济技术开发区", "郑州高新技术产业开发区", "郑州航空港经济综合实验区")

_FIRST = tuple("文兴华民康建福裕丰和平安新荣嵩中商桐柏榆槐锦瑞祥泰嘉润悦盛鑫翠金银景东西南北春秋")
_SECOND = tuple("华兴安康明秀昌盛源达通祥苑林园湖河山阳光宁泰丰和德信义乐庭雅")
_ROADS = (
    "纬五路", "经三路", "农业路", "文化路", "黄河路", "政七街", "建设路", "嵩山路", "伊河路",
    "桐柏路", "陇海路", "航海路", "大学路", "淮河路", "长江路", "紫荆山路", "城东路", "商城路",
    "花园路", "南阳路", "丰庆路", "三全路", "北环路", "中州大道", "未来路", "中原路", "棉纺路",
)  # fmt: skip
_COMPOUND_SUFFIXES = ("小区", "家园", "花园", "苑", "公寓", "新村", "华庭", "雅居", "家属院")
_CHINESE_DIGITS = "零一二三四五六七八九"


@dataclass(frozen=True, slots=True)
class Village:
    code: str
    name: str

    @property
    def is_rural(self) -> bool:
        """村委会 rather than 社区居委会; NBS gives them village suffixes 2xx."""
        return self.code[9] == "2" or self.name.endswith(("村委会", "村民委员会"))


@dataclass(frozen=True, slots=True)
class Town:
    code: str
    name: str
    villages: tuple[Village, ...]
    generated: bool = False

    @property
    def rank(self) -> tuple[int, int, str]:
        """Sort key putting urban 街道 (official, then generated) before 镇, 乡 and the rest."""
        kind = next((i for i, s in enumerate(_TOWN_SUFFIXES) if self.name.endswith(s)), 3)
        return kind, int(self.generated), self.code

    @property
    def short_name(self) -> str:
        name = self.name
        for prefix in _ZONE_PREFIXES:
            name = name.removeprefix(prefix)
        for suffix in (*_TOWN_SUFFIXES, "管理委员会"):
            if name.endswith(suffix) and len(name) > len(suffix):
                return name.removesuffix(suffix)
        return name


def load_towns() -> dict[str, list[Town]]:
    """Official towns by the adcode of the district holding them (functional zones moved to hosts)."""
    text = resources.files("gridgov.sim").joinpath(*HIERARCHY_RESOURCE).read_text(encoding="utf-8")
    names: dict[str, str] = {}
    villages: dict[str, list[Village]] = {}
    for row in csv.DictReader(io.StringIO(text)):
        names[row["town_code"]] = row["town_name"]
        villages.setdefault(row["town_code"], []).append(
            Village(row["village_code"], row["village_name"])
        )
    towns: dict[str, list[Town]] = {}
    for code in sorted(names):
        host = HOSTED_ZONES.get(code[:6], code[:6])
        town = Town(code, names[code], tuple(sorted(villages[code], key=lambda v: v.code)))
        towns.setdefault(host, []).append(town)
    return {host: sorted(ts, key=lambda t: t.rank) for host, ts in towns.items()}


def generated_code(parent: str, index: int) -> str:
    """The index-th generated child code under a 6- or 9-digit parent, in the free 7xx/8xx blocks."""
    if index >= MAX_GENERATED_PER_PARENT:
        raise ValueError(f"more than {MAX_GENERATED_PER_PARENT} generated children under {parent}")
    return f"{parent}{_GENERATED_BLOCKS[index // 100]}{index % 100:02d}"


class NameMaker:
    """Plausible names for grids the official list lacks, unique where a person would expect it."""

    def __init__(self, rng: np.random.Generator, taken: set[str]) -> None:
        self._rng = rng
        self._taken = set(taken)
        self._counters: dict[str, int] = {}

    def _pair(self) -> str:
        return str(self._rng.choice(_FIRST)) + str(self._rng.choice(_SECOND))

    def _unique(self, template: str) -> str:
        for _ in range(50):
            name = template.format(self._pair())
            if name not in self._taken:
                self._taken.add(name)
                return name
        # The two-character pool is nearly exhausted for this template: number the repeats.
        return self._numbered(template.format(self._pair()))

    def _numbered(self, base: str) -> str:
        n = 2
        while f"{base}{n}" in self._taken:
            n += 1
        self._taken.add(f"{base}{n}")
        return f"{base}{n}"

    def street(self) -> str:
        return self._unique("{}路街道")

    def community(self) -> str:
        return self._unique("{}社区居委会")

    def _count(self, key: str) -> int:
        """1, 2, 3 … per key, for names like 郑州市第37中学."""
        n = self._counters.get(key, 0) + 1
        self._counters[key] = n
        return n

    def compounds(self, community: Village, count: int) -> list[str]:
        """Names of a community's compounds: 村民小组 in villages, 小区/家园/号院 in towns."""
        if community.is_rural:
            village = community.name
            for suffix in ("村民委员会", "村委会", "委员会"):
                village = village.removesuffix(suffix)
            village = village if village.endswith("村") else f"{village}村"
            return [f"{village}第{_chinese_number(i + 1)}村民小组" for i in range(count)]
        names: list[str] = []
        used: set[str] = set()
        for _ in range(count):
            name = self._compound_name()
            while name in used:
                name = self._compound_name()
            used.add(name)
            names.append(name)
        return names

    def _compound_name(self) -> str:
        if self._rng.random() < 0.25:
            return f"{self._rng.choice(_ROADS)}{int(self._rng.integers(1, 300))}号院"
        return self._pair() + str(self._rng.choice(_COMPOUND_SUFFIXES))

    def special(self, kind: SpecialKind, district: str, street: Town) -> str:
        """A name for a special grid of `kind` in `street` of `district`, unique in the city."""
        options = _SPECIAL_TEMPLATES[kind]
        name = ""
        # Templates without a random part ("{district}人民医院") fit once per district; on a
        # repeat another template is drawn, and only a long run of repeats falls back to numbering.
        for _ in range(20):
            template = options[int(self._rng.integers(len(options)))]
            fields = {"district": district, "place": street.short_name}
            if "{n}" in template:
                fields["n"] = str(self._count(template.format(**fields, pair="", n="#")))
            name = template.format(**fields, pair=self._pair())
            if name not in self._taken:
                self._taken.add(name)
                return name
        return self._numbered(name)


def _chinese_number(n: int) -> str:
    if n < 10:
        return _CHINESE_DIGITS[n]
    tens, ones = divmod(n, 10)
    head = "" if tens == 1 else _CHINESE_DIGITS[tens]
    return f"{head}十{_CHINESE_DIGITS[ones] if ones else ''}" if n < 100 else str(n)


_SPECIAL_TEMPLATES: dict[SpecialKind, tuple[str, ...]] = {
    SpecialKind.SCHOOL: (
        "郑州市第{n}中学", "{district}第{n}小学", "{place}小学", "{pair}实验学校", "{pair}幼儿园",
    ),
    SpecialKind.HOSPITAL: (
        "{district}人民医院", "{district}中医院", "{district}妇幼保健院", "{place}社区卫生服务中心",
        "{pair}医院", "{pair}口腔医院",
    ),
    SpecialKind.MARKET: ("{place}农贸市场", "{pair}批发市场", "{pair}商贸城", "{pair}菜市场"),
    SpecialKind.PARK: ("{pair}公园", "{place}游园", "{pair}湿地公园"),
    SpecialKind.CONSTRUCTION_SITE: (
        "{pair}项目工地", "轨道交通{pair}站工地", "{place}安置房项目工地", "{pair}城市更新项目工地",
    ),
    SpecialKind.TRANSPORT_HUB: ("{pair}公交枢纽站", "{pair}地铁站", "{district}汽车客运站"),
    SpecialKind.INDUSTRIAL_PARK: ("{pair}产业园", "{district}{pair}工业园", "{place}物流园"),
    SpecialKind.SCENIC_AREA: ("{pair}风景区", "{pair}景区", "{place}森林公园"),
    SpecialKind.GOVERNMENT: ("{district}人民政府", "{place}便民服务中心", "{district}{pair}管理局"),
}  # fmt: skip

RESPONSIBLE_UNITS: dict[SpecialKind, str] = {
    SpecialKind.SCHOOL: "学校安全保卫处",
    SpecialKind.HOSPITAL: "医院后勤保卫科",
    SpecialKind.MARKET: "市场管理办公室",
    SpecialKind.PARK: "公园管理处",
    SpecialKind.CONSTRUCTION_SITE: "项目部",
    SpecialKind.TRANSPORT_HUB: "站务安全管理部",
    SpecialKind.INDUSTRIAL_PARK: "园区安全生产办公室",
    SpecialKind.SCENIC_AREA: "景区管理处",
    SpecialKind.GOVERNMENT: "机关后勤服务中心",
}
