"""Address text into a comparable form: full-width folded, punctuation and city prefixes dropped,
building details and "往北100米" offsets taken out, leftovers cut into name-sized pieces.

The same `normalize` is applied to gazetteer names and to callers' text, so that whatever it does
to one it does to the other and exact lookups stay exact.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass

DEFAULT_PREFIXES = ("中华人民共和国", "中国", "河南省", "河南", "郑州市", "郑州")

# \W is "not a word character"; CJK ideographs and digits are word characters, so this keeps them.
_PUNCTUATION = re.compile(r"[\W_]+")
_OFFSET = re.compile(
    r"(?:往|向|朝)?(东北|东南|西北|西南|东|西|南|北)(?:方向|侧|边)?(?:约|大约|大概)?"
    r"(\d+(?:\.\d+)?)(米|m|公里|千米|km)"
)
# Building, unit, floor and room numbers locate inside a compound, below any gazetteer entry;
# "177号院" is itself a compound name, so 号 followed by 院 stays.
_BUILDING = re.compile(r"[a-z]?\d+(?:号楼|号|栋|幢|座|单元|层|楼|室|户)(?!院)")
_FILLER = re.compile(
    "|".join(
        (
            r"(?:东北|东南|西北|西南|东|西|南|北)(?:侧|边|面|门|角|口|头)",
            "十字路口|交叉口|交汇处|路口|附近|门口|门前|对面|旁边|周边|一带|路边|里面|院内|楼下",
            "后面|前面|辖区|办事处|街道办",
        )
    )
)
_TRAILING = re.compile("(?:内|旁|边|办|处)+$")
# 村 alone is no boundary (仁里村第二村民小组 is one name), nor 和 (建和苑, 和山公寓).
_PIECE = re.compile(r".+?(?:街道|社区|小区|村委会|村民委员会|村民小组|区|县|镇|乡|大道|路|街|与|$)")
_JOINERS = "与"
_BEARINGS = {
    "东": (1.0, 0.0),
    "西": (-1.0, 0.0),
    "南": (0.0, -1.0),
    "北": (0.0, 1.0),
    "东北": (math.sqrt(0.5), math.sqrt(0.5)),
    "东南": (math.sqrt(0.5), -math.sqrt(0.5)),
    "西北": (-math.sqrt(0.5), math.sqrt(0.5)),
    "西南": (-math.sqrt(0.5), -math.sqrt(0.5)),
}
_METRES = {"米": 1.0, "m": 1.0, "公里": 1000.0, "千米": 1000.0, "km": 1000.0}


@dataclass(frozen=True, slots=True)
class Offset:
    """A displacement the caller described ("往北100米"), in metres east and north."""

    east_m: float
    north_m: float
    text: str

    @property
    def distance_m(self) -> float:
        return math.hypot(self.east_m, self.north_m)


@dataclass(frozen=True, slots=True)
class ParsedAddress:
    """An address ready for lookup: `text` is normalized, with offset and building details removed."""

    text: str
    offset: Offset | None


def normalize(text: str, prefixes: tuple[str, ...] = DEFAULT_PREFIXES) -> str:
    """Full-width to half-width, lower case, no spaces or punctuation, no leading province/city."""
    folded = _PUNCTUATION.sub("", unicodedata.normalize("NFKC", text).lower())
    stripped = True
    while stripped:
        stripped = False
        for prefix in prefixes:
            # A prefix is only dropped when something remains: "郑州市" alone names the city.
            if folded.startswith(prefix) and len(folded) > len(prefix):
                folded = folded[len(prefix) :]
                stripped = True
    return folded


def parse(text: str, prefixes: tuple[str, ...] = DEFAULT_PREFIXES) -> ParsedAddress:
    """Normalize an address and take out its offset and building/unit/room details."""
    folded = normalize(text, prefixes)
    offset = None
    found = _OFFSET.search(folded)
    if found is not None:
        east, north = _BEARINGS[found.group(1)]
        metres = float(found.group(2)) * _METRES[found.group(3)]
        offset = Offset(east * metres, north * metres, found.group(0))
        folded = folded[: found.start()] + folded[found.end() :]
    return ParsedAddress(_BUILDING.sub("", folded), offset)


def pieces(residual: str) -> list[tuple[int, int, str]]:
    """Name-sized pieces of text no exact name covered, split after 街道/社区/区/路…, filler removed.

    Each piece comes with the span of `residual` it was cut from.
    """
    out: list[tuple[int, int, str]] = []
    for match in _PIECE.finditer(residual):
        piece = _TRAILING.sub("", _FILLER.sub("", match.group(0))).strip(_JOINERS)
        if sum(1 for ch in piece if _is_cjk(ch)) >= 2:
            out.append((match.start(), match.end(), piece))
    return out


def has_intersection_marker(text: str) -> bool:
    """Whether the text says two roads meet (与/和/交叉口/路口 …)."""
    return any(marker in text for marker in ("与", "和", "交叉", "交汇", "十字", "路口"))


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"
