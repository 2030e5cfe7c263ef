"""Chinese report text made comparable: normalization, words, character bigrams, place details.

Duplicate detection compares character bigrams (`tokens`), not jieba words: on the labelled bursts
they find duplicates as well as words and their bigrams did (docs/ai.md) at a seventh of the cost,
and intake builds one signature per report on its write path. jieba still reads road names for
`details`, only in a few characters around each 路, 街 or 大道 (segmenting whole texts was intake's
largest single cost), and gives `words` to the classifier.

jieba is loaded on first use, once per process, with its log silenced: it prints to stderr and
builds a prefix-dictionary cache when initialised, which must not happen at import time or in a
process that never segments text.
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata
import warnings
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Protocol


class _Segmenter(Protocol):
    def lcut(self, sentence: str, cut_all: bool = ..., HMM: bool = ...) -> list[str]: ...


_segmenter: _Segmenter | None = None
_segmenter_lock = threading.Lock()

# Words that every report of any problem may contain (hotline boilerplate, politeness, fillers):
# left in, they make two unrelated hotline orders look alike.
_STOPWORD_TEXT = """
    的 了 着 过 是 在 有 和 与 及 或 也 都 就 还 又 很 太 非常 特别 比较 一个 一下 这个 那个 这里 那里
    这边 那边 我 我们 你 你们 他 她 它 他们 大家 请 麻烦 希望 尽快 及时 赶紧 快 快点 一直 已经 现在
    今天 昨天 晚上 早上 白天 半夜 市民 来电 来电人 反映 反应 称 表示 诉求 投诉 举报 咨询 建议 相关
    部门 单位 处理 解决 协调 落实 核实 查看 看看 一下子 情况 问题 存在 影响 造成 导致 发现 上报
    拍照 已 谢谢 您好 你好 附近 位置 地方 那 这 啊 吧 呢 吗 呀 哦 嘛 了吧 没人管 没有人 管管
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
# Longest first, so that 一下子 goes before 一下 can leave a stray 子.
_STOPWORD_PHRASES = re.compile(
    "|".join(re.escape(w) for w in sorted((w for w in STOPWORDS if len(w) > 1), key=len)[::-1])
)
_STOPWORD_CHARS = re.compile("[" + "".join(sorted(w for w in STOPWORDS if len(w) == 1)) + "]")

_SPACE = re.compile(r"\s+")
_KEEP = re.compile(r"[^0-9a-z\u4e00-\u9fff]+")
_HAN = re.compile(r"[\u4e00-\u9fff]")
_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6}
_CN_DIGITS |= {"七": 7, "八": 8, "九": 9}
_CN_NUMBER = re.compile(r"([零〇一二两三四五六七八九十百]+)(?=号|栋|幢|单元|层|楼|室|路口|排)")
# A date ("3月15号", "15日") would otherwise read as house number 15.
_DATE = re.compile(r"\d{1,2}月\d{1,2}[日号]|\d{1,2}[日号](?:上午|下午|晚上|早上|凌晨|中午)")
_NUMBERED = re.compile(r"(\d+)(号楼|栋|幢|单元|层|号院|号|室|排)")
_DIRECTION = re.compile(
    r"([东南西北]{1,2})(?:侧|边|面|门|角|口|头|方向|出口)|路([东南西北])(?![路街])"
)
_ROAD_ENDS = ("路", "街", "大道")
_ROAD_PARTS = frozenset({"路", "街", "大道", "东路", "西路", "南路", "北路", "中路", "大街"})
_ROAD_TAILS = frozenset({"路上", "路边", "路口", "路旁"})
# Words before a bare 路 that make it "the road here", not part of a name ("东侧路边").
_NOT_ROAD_ENDS = tuple("侧边角口面头里内外上下前后旁到在是个条")
_GENERIC_ROADS = frozenset(
    {"马路", "道路", "公路", "大道", "大街", "小路", "走路", "出路", "一路", "路", "街", "上路"}
    | {"过马路", "辅路", "主路", "支路", "便道"}
)
_UNIT_ALIASES = {"号楼": "楼", "栋": "楼", "幢": "楼"}


def normalize(text: str) -> str:
    """NFKC (full-width → half-width), lower case, Chinese house numbers as digits, no punctuation."""
    folded = unicodedata.normalize("NFKC", text).lower()
    folded = _CN_NUMBER.sub(lambda m: str(_cn_to_int(m.group(1))), folded)
    return _KEEP.sub(" ", folded).strip()


def words(text: str) -> list[str]:
    """jieba words of the normalized text, without stopwords and single non-Han characters."""
    kept: list[str] = []
    for word in _segment(normalize(text)):
        word = word.strip()
        if not word or word in STOPWORDS:
            continue
        if len(word) == 1 and not _HAN.match(word) and not word.isdigit():
            continue
        kept.append(word)
    return kept


def bigrams(text: str) -> list[str]:
    """Overlapping character pairs of the normalized text, within each run of characters."""
    out: list[str] = []
    for run in normalize(text).split():
        out.extend(run[i : i + 2] for i in range(len(run) - 1))
    return out


def tokens(text: str) -> frozenset[str]:
    """The set a similarity is computed on: the character pairs of the text without stopwords
    (the text's one character when that is all that is left)."""
    return _tokens(normalize(text))


def features(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """`tokens` and `details` of one text, normalizing it once."""
    normalized = normalize(text)
    return _tokens(normalized), _details(normalized)


def _tokens(normalized: str) -> frozenset[str]:
    kept = _STOPWORD_CHARS.sub("", _STOPWORD_PHRASES.sub(" ", normalized))
    # Pairs run across the gaps a stopword or punctuation left, as they ran across jieba words.
    joined = "".join(kept.split())
    if len(joined) < 2:
        return frozenset(joined)
    return frozenset(f"~{joined[i : i + 2]}" for i in range(len(joined) - 1))


def details(text: str) -> frozenset[str]:
    """Place details that tell two nearby problems apart: `楼=3`, `dir=东`, `road=金水路`."""
    return _details(normalize(text))


# How much text around a 路, 街 or 大道 jieba reads: a road name, the word before it (农业 of
# 农业东路) and the one after (路灯 is no road). On 14,905 generated report texts, windows of 6 to 12
# characters before read the same roads as segmenting the whole text.
_ROAD_WINDOW_BEFORE = 8
_ROAD_WINDOW_AFTER = 3
_ROAD_MARK = re.compile("路|街|大道")


def _details(normalized: str) -> frozenset[str]:
    flat = _DATE.sub(" ", normalized.replace(" ", ""))
    found: set[str] = set()
    for number, unit in _NUMBERED.findall(flat):
        found.add(f"{_UNIT_ALIASES.get(unit, unit)}={int(number)}")
    for side, road_side in _DIRECTION.findall(flat):
        found.add(f"dir={side or road_side}")
    # Only a word with 路, 街 or 大道 in it can name a road: the many texts without one are spared
    # jieba, the cost of this function.
    spans: list[list[int]] = []
    for mark in _ROAD_MARK.finditer(flat):
        start = max(0, mark.start() - _ROAD_WINDOW_BEFORE)
        end = mark.end() + _ROAD_WINDOW_AFTER
        if spans and start <= spans[-1][1]:
            spans[-1][1] = end
        else:
            spans.append([start, end])
    for start, end in spans:
        found.update(f"road={road}" for road in _window_roads(flat[start:end]))
    return frozenset(found)


@lru_cache(maxsize=16_384)
def _window_roads(window: str) -> tuple[str, ...]:
    """The roads jieba reads in one window; remembered, as reports keep naming the same roads."""
    return tuple(_roads(_segment(window)))


def _roads(segmented: Sequence[str]) -> list[str]:
    """Road names from jieba words: 金水路 stays whole, 农业 + 东路 and 花园 + 路上 are rejoined."""
    roads = []
    for i, word in enumerate(segmented):
        previous = segmented[i - 1] if i else ""
        following = segmented[i + 1] if i + 1 < len(segmented) else ""
        if word in _ROAD_TAILS:  # 路上, 路边: jieba splits "花园路上" as 花园 / 路上
            word = "路"
        if not word.endswith(_ROAD_ENDS) or (word == "路" and following.startswith("灯")):
            continue
        if (word in _ROAD_PARTS or len(previous) == 1) and _joinable(previous):
            word = previous + word
        if len(word) >= 2 and word not in _GENERIC_ROADS and word not in _ROAD_PARTS:
            roads.append(word)
    return roads


def _joinable(previous: str) -> bool:
    return (
        bool(_HAN.match(previous[-1:]))
        and previous not in STOPWORDS
        and not previous.endswith(_NOT_ROAD_ENDS)
    )


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """Cosine of two token sets (Ochiai coefficient), 0 when either is empty."""
    if not a or not b:
        return 0.0
    return len(a & b) / math.sqrt(len(a) * len(b))


def compare_details(a: Iterable[str], b: Iterable[str]) -> tuple[list[str], list[str]]:
    """The detail kinds both texts state: those that agree, and those that conflict as
    'kind: left ≠ right' (e.g. '楼: 3 ≠ 7')."""
    left, right = _by_kind(frozenset(a)), _by_kind(frozenset(b))
    agree: list[str] = []
    conflicts: list[str] = []
    if left.keys().isdisjoint(right):
        return agree, conflicts
    for kind in sorted(left.keys() & right.keys()):
        if details_agree(kind, left[kind], right[kind]):
            agree.append(kind)
        else:
            shown_l, shown_r = "/".join(sorted(left[kind])), "/".join(sorted(right[kind]))
            conflicts.append(f"{kind}: {shown_l} ≠ {shown_r}")
    return agree, conflicts


def details_by_kind(details: frozenset[str]) -> Mapping[str, frozenset[str]]:
    """`details` grouped by kind: {"楼": {"3"}, "road": {"金水路"}}; remembered."""
    return _by_kind(details)


@lru_cache(maxsize=1024)
def details_agree(kind: str, left: frozenset[str], right: frozenset[str]) -> bool:
    """Whether two texts state one kind of detail alike; remembered, as duplicate detection asks
    about the same roads and buildings all day."""
    return _compatible(kind, left, right)


@lru_cache(maxsize=16_384)
def _by_kind(items: frozenset[str]) -> dict[str, frozenset[str]]:
    """Details grouped by kind; remembered, as duplicate detection compares each report's details
    with every neighbour's (the callers only read the answer)."""
    grouped: dict[str, set[str]] = {}
    for item in items:
        kind, _, value = item.partition("=")
        grouped.setdefault(kind, set()).add(value)
    return {kind: frozenset(values) for kind, values in grouped.items()}


def _compatible(kind: str, left: frozenset[str], right: frozenset[str]) -> bool:
    if kind == "dir":
        # "东" and "东北" describe overlapping places; "东" and "西" do not.
        return any(set(x) <= set(y) or set(y) <= set(x) for x in left for y in right)
    if kind == "road":
        # A resident may drop the prefix of a long name: "东路" of "农业东路" is the same road.
        return any(x.endswith(y) or y.endswith(x) for x in left for y in right)
    return bool(left & right)


def _cn_to_int(numeral: str) -> int:
    """一 → 1, 十二 → 12, 二十 → 20, 一百零五 → 105; digit strings like 三〇五 read as 305."""
    if "十" not in numeral and "百" not in numeral:
        return int("".join(str(_CN_DIGITS[c]) for c in numeral))
    total, current = 0, 0
    for char in numeral:
        if char == "百":
            total += (current or 1) * 100
            current = 0
        elif char == "十":
            total += (current or 1) * 10
            current = 0
        else:
            current = _CN_DIGITS[char]
    return total + current


def load_segmenter() -> None:
    """Load jieba and its dictionary now (about a second) rather than in the first report that
    names a road."""
    # The dictionary loads on the first cut, not when the tokenizer is made.
    _jieba().lcut("金水路", HMM=True)


def _segment(text: str) -> Sequence[str]:
    if not text:
        return []
    return _jieba().lcut(text, HMM=True)


def _jieba() -> _Segmenter:
    global _segmenter
    if _segmenter is None:
        with _segmenter_lock:
            if _segmenter is None:
                _segmenter = _load_jieba()
    return _segmenter


def _load_jieba() -> _Segmenter:
    import logging

    # jieba falls back to pkg_resources when setuptools provides it, which warns of its own
    # deprecation; the test suite turns warnings into errors, and the warning is not ours to fix.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import jieba

    jieba.setLogLevel(logging.WARNING)
    tokenizer: _Segmenter = jieba.Tokenizer()
    return tokenizer
