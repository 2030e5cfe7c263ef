"""Address-only reports (most 12345 calls) located through a local gazetteer of grid, road and POI
names, with fuzzy matching for the way people actually write addresses.

How `Gazetteer.locate` reads "金水区文化路街道博物院社区平光华苑3号楼东侧往北100米":
1. parse: full-width folded, 郑州市 dropped, "往北100米" and "3号楼" taken out (`address.parse`);
2. exact names: every substring that is a name or a variant of one (博物院社区 for
   博物院社区居民委员会, the core 文化路 of 文化路街道) is a mention; mentions inside a longer
   mention are dropped, so 文化路街道 is not also the road 文化路;
3. fuzzy names: text no exact name covered is cut into pieces (`address.pieces`) and compared with
   rapidfuzz to the names sharing a character pair with it (平光华苑 finds 平光华庭);
4. crossings: two road mentions ("淮河路与大学路交叉口", "农业路花园路口") name their intersection;
5. narrowing: a candidate whose parent chain holds a district/street/community named in the text
   is supported by it; one whose chain has a different name at that level is in conflict. The
   deepest candidate without conflict wins (compound over community over street over district),
   then the best supported, then the best matched;
6. confidence = match quality × precision of the kind (a district is a vague place) ÷ the number of
   equally good places (同名 in two districts and no district in the text) × ½ on a conflict.
   At or above the threshold the report is located; below it, or with no match at all, it goes
   to manual location — the pipeline never drops it.
"""

from __future__ import annotations

import heapq
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from gridgov.core.errors import InvalidInput
from gridgov.intake.address import (
    DEFAULT_PREFIXES,
    Offset,
    has_intersection_marker,
    normalize,
    parse,
    pieces,
)
from gridgov.intake.place_names import (
    CORE_QUALITY,
    VARIANT_QUALITY,
    GazetteerEntry,
    PlaceKind,
    entries_from_grids,
    name_keys,
)

__all__ = [
    "AddressCandidate",
    "AddressMatch",
    "Gazetteer",
    "GazetteerEntry",
    "PlaceKind",
    "entries_from_grids",
]

DEFAULT_THRESHOLD = 0.6
DEFAULT_MIN_SIMILARITY = 0.6


_DEPTH = {
    PlaceKind.DISTRICT: 1,
    PlaceKind.STREET: 2,
    PlaceKind.ROAD: 2,
    PlaceKind.COMMUNITY: 3,
    PlaceKind.COMPOUND: 4,
    PlaceKind.SPECIAL: 4,
    PlaceKind.POI: 4,
    PlaceKind.INTERSECTION: 4,
}
# How small the place behind a name is: a district or a 10 km road is not a location to dispatch to.
_PRECISION = {
    PlaceKind.DISTRICT: 0.5,
    PlaceKind.STREET: 0.7,
    PlaceKind.ROAD: 0.55,
    PlaceKind.COMMUNITY: 0.85,
    PlaceKind.COMPOUND: 1.0,
    PlaceKind.SPECIAL: 1.0,
    PlaceKind.POI: 1.0,
    PlaceKind.INTERSECTION: 1.0,
}
_ADMIN = (PlaceKind.DISTRICT, PlaceKind.STREET, PlaceKind.COMMUNITY)
_CROSSING = re.compile(r"^(.+?)与(.+?)交叉口$")
# Character pairs in more names than this (社区, 村民, 小区) select nothing and cost time.
_COMMON_BIGRAM = 1500
_FUZZY_POOL = 64
_FUZZY_HITS = 8
# Two equally good places closer than this are the same place for the operator.
_SAME_PLACE_M = 300.0
_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LON_EQUATOR = 111_320.0


@dataclass(frozen=True, slots=True)
class AddressCandidate:
    """One place an address may mean, with how sure the gazetteer is about it on its own."""

    matched_name: str
    kind: PlaceKind
    grid_code: str
    lon: float
    lat: float
    confidence: float
    parent_names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AddressMatch:
    """Where an address text points: shown to the operator with its confidence and alternatives.

    `located` is whether the confidence reached the gazetteer's threshold; if not, the report
    needs manual location. `lon`/`lat` include any offset the text gave ("往北100米");
    `grid_code` is the grid of the matched place itself.
    """

    lon: float
    lat: float
    grid_code: str
    matched_name: str
    kind: PlaceKind
    confidence: float
    located: bool
    explanation_zh: str
    explanation_en: str
    candidates: tuple[AddressCandidate, ...]
    parent_names: tuple[str, ...] = ()
    offset: Offset | None = None


@dataclass(frozen=True, slots=True)
class _Mention:
    """A span of the normalized text and the entries it may name, each with a match quality."""

    start: int
    end: int
    hits: tuple[tuple[int, float], ...]
    fuzzy: bool


class _Pool:
    """Keys to compare a piece of text with: (entry index, key, quality of a match on the key)."""

    def __init__(self, choices: list[tuple[int, str, float]]) -> None:
        self.choices = choices
        self.keys = [key for _, key, _ in choices]


@dataclass(slots=True)
class _Candidate:
    index: int
    quality: float
    own: frozenset[int]
    how: str
    support: float = 0.0
    supported_by: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


class Gazetteer:
    """An in-memory index of place names; build once per grid layer, then `locate` many times."""

    def __init__(
        self,
        entries: Sequence[GazetteerEntry],
        *,
        threshold: float = DEFAULT_THRESHOLD,
        min_similarity: float = DEFAULT_MIN_SIMILARITY,
        prefixes: tuple[str, ...] = DEFAULT_PREFIXES,
        alternatives: int = 5,
    ) -> None:
        if not 0 <= threshold <= 1:
            raise InvalidInput("threshold", f"must be between 0 and 1, not {threshold}")
        if not 0 < min_similarity <= 1:
            raise InvalidInput("min_similarity", f"must be in (0, 1], not {min_similarity}")
        self.threshold = threshold
        self._min_similarity = min_similarity * 100
        self._prefixes = prefixes
        self._alternatives = alternatives
        self._entries = list(entries)
        self._names = [normalize(e.name, prefixes) for e in self._entries]
        self._keys: dict[str, list[tuple[int, float]]] = defaultdict(list)
        self._entry_keys: list[tuple[tuple[str, float], ...]] = []
        for i, entry in enumerate(self._entries):
            variants = name_keys(entry, self._names[i], prefixes)
            self._entry_keys.append(tuple(variants))
            for key, quality in variants:
                self._keys[key].append((i, quality))
        self._max_key = max((len(k) for k in self._keys), default=0)
        self._bigrams = _bigram_index(self._entry_keys)
        self._crossings = self._index_crossings()
        self._ancestors, self._levels = self._index_parents(prefixes)
        self._below: dict[str, list[int]] = defaultdict(list)
        for index, ancestors in enumerate(self._ancestors):
            for name in ancestors:
                self._below[name].append(index)
        self._pools: dict[tuple[str, ...], _Pool] = {}
        self._admin_by_name: dict[str, list[int]] = defaultdict(list)
        for index, entry in enumerate(self._entries):
            if entry.kind in _ADMIN:
                self._admin_by_name[self._names[index]].append(index)

    @classmethod
    def build(
        cls,
        entries: Iterable[GazetteerEntry],
        *,
        threshold: float = DEFAULT_THRESHOLD,
        min_similarity: float = DEFAULT_MIN_SIMILARITY,
    ) -> Gazetteer:
        """A gazetteer over `entries`; `threshold` decides located vs manual location."""
        return cls(list(entries), threshold=threshold, min_similarity=min_similarity)

    def __len__(self) -> int:
        return len(self._entries)

    def _index_crossings(self) -> dict[frozenset[str], list[int]]:
        crossings: dict[frozenset[str], list[int]] = defaultdict(list)
        for i, entry in enumerate(self._entries):
            if entry.kind is not PlaceKind.INTERSECTION:
                continue
            parts = _CROSSING.match(entry.name)
            if parts is None:
                raise InvalidInput(
                    "entries", f"intersection {entry.name!r} is not named like 'A路与B路交叉口'"
                )
            a, b = (normalize(p, self._prefixes) for p in parts.groups())
            crossings[frozenset((a, b))].append(i)
        return crossings

    def _index_parents(
        self, prefixes: tuple[str, ...]
    ) -> tuple[list[frozenset[str]], list[frozenset[PlaceKind]]]:
        """Each entry's parent names, and the admin levels those names are at."""
        kinds_of: dict[str, set[PlaceKind]] = defaultdict(set)
        for name, entry in zip(self._names, self._entries, strict=True):
            if entry.kind in _ADMIN:
                kinds_of[name].add(entry.kind)
        ancestors: list[frozenset[str]] = []
        levels: list[frozenset[PlaceKind]] = []
        for entry in self._entries:
            names = frozenset(normalize(n, prefixes) for n in entry.parent_names)
            ancestors.append(names)
            levels.append(frozenset(k for n in names for k in kinds_of.get(n, ())))
        return ancestors, levels

    def locate(self, text: str) -> AddressMatch | None:
        """The place an address text names, or None when nothing in it resembles a known name."""
        parsed = parse(text, self._prefixes)
        mentions = self._exact_mentions(parsed.text)
        mentions += self._fuzzy_mentions(parsed.text, mentions)
        candidates = self._candidates(mentions, parsed.text)
        if not candidates:
            return None
        for candidate in candidates:
            self._judge(candidate, mentions)
        ranked = sorted(candidates, key=self._rank, reverse=True)
        return self._answer(ranked, mentions, parsed.offset)

    def _exact_mentions(self, text: str) -> list[_Mention]:
        """Every substring that is a key, minus those inside a longer one."""
        found: list[_Mention] = []
        for start in range(len(text)):
            for end in range(min(len(text), start + self._max_key), start + 1, -1):
                hits = self._keys.get(text[start:end])
                if hits:
                    found.append(_Mention(start, end, tuple(hits), fuzzy=False))
        # Longest first, then best matched; a mention overlapping a kept one is a coincidence of
        # characters (庄王 inside 王刘庄王刘庄村), not a name.
        found.sort(key=lambda m: (m.end - m.start, _strength(m)), reverse=True)
        kept: list[_Mention] = []
        for mention in found:
            if all(mention.end <= k.start or k.end <= mention.start for k in kept):
                kept.append(mention)
        return sorted(kept, key=lambda m: m.start)

    def _fuzzy_mentions(self, text: str, exact: list[_Mention]) -> list[_Mention]:
        """Fuzzy matches for the text that no full name covered, within the area the text names."""
        covered = [False] * len(text)
        for m in exact:
            # A bare core (裕华 of 裕华社区) may be the start of a misspelt compound (裕华雅间).
            if _strength(m) >= VARIANT_QUALITY:
                covered[m.start : m.end] = [True] * (m.end - m.start)
        pool = self._context_pool(exact)
        out: list[_Mention] = []
        start = 0
        while start < len(text):
            if covered[start]:
                start += 1
                continue
            end = start
            while end < len(text) and not covered[end]:
                end += 1
            for a, b, piece in pieces(text[start:end]):
                hits = self._similar(piece, pool)
                if hits:
                    out.append(_Mention(start + a, start + b, hits, fuzzy=True))
            start = end
        return out

    def _context_pool(self, exact: list[_Mention]) -> _Pool | None:
        """Every key below the deepest area the text clearly names, or None if it names none."""
        deepest: list[int] = []
        depth = 0
        for mention in exact:
            for index, quality in mention.hits:
                kind = self._entries[index].kind
                if kind in _ADMIN and quality >= CORE_QUALITY:
                    if _DEPTH[kind] > depth:
                        deepest, depth = [], _DEPTH[kind]
                    if _DEPTH[kind] == depth:
                        deepest.append(index)
        if not deepest:
            return None
        names = sorted({self._names[i] for i in deepest})
        return self._pool_below(tuple(names))

    def _pool_below(self, names: tuple[str, ...]) -> _Pool:
        pool = self._pools.get(names)
        if pool is None:
            members = sorted({i for name in names for i in self._below.get(name, ())})
            choices = [(i, key, q) for i in members for key, q in self._entry_keys[i]]
            pool = self._pools[names] = _Pool(choices)
        return pool

    def _global_pool(self, piece: str) -> _Pool:
        """Entries sharing the most character pairs with `piece`, rarest pairs counting most."""
        votes: dict[int, float] = defaultdict(float)
        for i in range(len(piece) - 1):
            postings = self._bigrams.get(piece[i : i + 2], ())
            weight = 1.0 / math.log2(2 + len(postings))
            for entry in postings:
                votes[entry] += weight
        members = heapq.nlargest(_FUZZY_POOL, votes, key=votes.__getitem__)
        return _Pool([(i, key, q) for i in members for key, q in self._entry_keys[i]])

    def _similar(self, piece: str, context: _Pool | None) -> tuple[tuple[int, float], ...]:
        """Entries whose names are most like `piece`, by rapidfuzz's normalized similarity.

        Searched: everything below the area the text names, and the names sharing the rarest
        character pairs with the piece anywhere (the misspelt piece may be that area's parent).
        """
        best: dict[int, float] = {}
        for pool in (context, self._global_pool(piece)):
            if pool is None or not pool.keys:
                continue
            scored = process.extract(
                piece,
                pool.keys,
                scorer=fuzz.ratio,
                limit=_FUZZY_HITS * 2,
                score_cutoff=self._min_similarity,
            )
            for _, score, position in scored:
                index, _, key_quality = pool.choices[position]
                best[index] = max(best.get(index, 0.0), score / 100 * key_quality)
        ordered = sorted(best.items(), key=lambda item: -item[1])
        return tuple(ordered[:_FUZZY_HITS])

    def _candidates(self, mentions: list[_Mention], text: str) -> list[_Candidate]:
        best: dict[int, _Candidate] = {}

        def offer(candidate: _Candidate) -> None:
            known = best.get(candidate.index)
            if known is None or candidate.quality > known.quality:
                best[candidate.index] = candidate

        for mid, mention in enumerate(mentions):
            for index, quality in mention.hits:
                how = "fuzzy" if mention.fuzzy else ("exact" if quality >= 1 else "variant")
                offer(_Candidate(index, quality, frozenset((mid,)), how))
        for candidate in self._crossing_candidates(mentions, text):
            offer(candidate)
        return list(best.values())

    def _crossing_candidates(self, mentions: list[_Mention], text: str) -> list[_Candidate]:
        roads: list[tuple[int, str, float]] = []
        for mid, mention in enumerate(mentions):
            for index, quality in mention.hits:
                if self._entries[index].kind is PlaceKind.ROAD:
                    roads.append((mid, self._names[index], quality))
        if len(roads) < 2:
            return []
        # Two roads side by side with no 与/路口 usually still mean where they meet (公交站 style).
        marker = 1.0 if has_intersection_marker(text) else 0.9
        out: list[_Candidate] = []
        for i, (m1, road1, q1) in enumerate(roads):
            for m2, road2, q2 in roads[i + 1 :]:
                if m1 == m2 or road1 == road2:
                    continue
                for index in self._crossings.get(frozenset((road1, road2)), ()):
                    quality = marker * min(q1, q2)
                    out.append(_Candidate(index, quality, frozenset((m1, m2)), "crossing"))
        return out

    def _judge(self, candidate: _Candidate, mentions: list[_Mention]) -> None:
        """Support and conflicts of a candidate from the admin names elsewhere in the text."""
        entry = self._entries[candidate.index]
        depth = _DEPTH[entry.kind]
        ancestors = self._ancestors[candidate.index]
        levels = self._levels[candidate.index]
        for mid, mention in enumerate(mentions):
            if mid in candidate.own:
                continue
            above = [
                (i, q)
                for i, q in mention.hits
                if self._entries[i].kind in levels and _DEPTH[self._entries[i].kind] < depth
            ]
            if not above:
                continue
            inside = [(i, q) for i, q in above if self._names[i] in ancestors]
            if inside:
                index, quality = max(inside, key=lambda hit: hit[1])
                candidate.support += quality
                candidate.supported_by.append(self._entries[index].name)
                continue
            # A span that could also be a road or a compound is no clear statement of the area.
            only_admin = all(self._entries[i].kind in _ADMIN for i, _ in mention.hits)
            if only_admin and max(q for _, q in above) >= CORE_QUALITY:
                candidate.conflicts.append(self._entries[above[0][0]].name)

    def _rank(self, candidate: _Candidate) -> tuple[bool, int, float, float]:
        kind = self._entries[candidate.index].kind
        return (not candidate.conflicts, _DEPTH[kind], candidate.support, candidate.quality)

    def _confidence(self, candidate: _Candidate) -> float:
        kind = self._entries[candidate.index].kind
        value = candidate.quality * _PRECISION[kind]
        if candidate.conflicts:
            value *= 0.5
        return value

    def _answer(
        self, ranked: list[_Candidate], mentions: list[_Mention], offset: Offset | None
    ) -> AddressMatch:
        best = ranked[0]
        ties = self._equally_good(ranked)
        area = self._common_area(ties) if len(ties) > 1 else None
        if area is not None:
            # 赵家村第法村民小组 fits every group of 赵家村 equally: the village itself is certain.
            ranked = [area, *ties]
            best, ties = area, [area]
        entry = self._entries[best.index]
        confidence = self._confidence(best) / len(ties)
        has_context = any(
            self._entries[i].kind in _ADMIN
            for mid, m in enumerate(mentions)
            if mid not in best.own
            for i, _ in m.hits
        )
        if not has_context and entry.kind not in _ADMIN:
            # A lone name with nothing to cross-check it is a little less certain.
            confidence *= 0.95
        lon, lat = entry.lon, entry.lat
        if offset is not None:
            lon, lat = _shifted(lon, lat, offset)
        # The areas holding the answer are in the text too, but they are not other places.
        holding = self._ancestors[best.index]
        others = [c for c in ranked[1:] if self._names[c.index] not in holding]
        alternatives = [self._candidate(c) for c in others[: self._alternatives]]
        zh, en = self._explain(best, len(ties), offset)
        return AddressMatch(
            lon=lon,
            lat=lat,
            grid_code=entry.grid_code,
            matched_name=entry.name,
            kind=entry.kind,
            confidence=round(confidence, 3),
            located=confidence >= self.threshold,
            explanation_zh=zh,
            explanation_en=en,
            candidates=tuple(alternatives),
            parent_names=entry.parent_names,
            offset=offset,
        )

    def _equally_good(self, ranked: list[_Candidate]) -> list[_Candidate]:
        """The best candidate and those as good as it at a different place."""
        best = ranked[0]
        head = self._rank(best)
        ties = [best]
        for other in ranked[1:]:
            rank = self._rank(other)
            if rank[:3] != head[:3] or head[3] - rank[3] > 0.02:
                break
            if all(self._distance_m(other, seen) > _SAME_PLACE_M for seen in ties):
                ties.append(other)
        return ties

    def _common_area(self, ties: list[_Candidate]) -> _Candidate | None:
        """The deepest admin area holding every tied candidate, if the gazetteer has exactly one."""
        common = frozenset.intersection(*(self._ancestors[c.index] for c in ties))
        found: list[int] = []
        for name in common:
            for index in self._admin_by_name.get(name, ()):
                if self._ancestors[index] <= common:
                    found.append(index)
        if not found:
            return None
        depth = max(_DEPTH[self._entries[i].kind] for i in found)
        deepest = [i for i in found if _DEPTH[self._entries[i].kind] == depth]
        if len(deepest) != 1:
            return None
        quality = min(c.quality for c in ties)
        own = frozenset().union(*(c.own for c in ties))
        return _Candidate(deepest[0], quality, own, "area", supported_by=ties[0].supported_by)

    def _distance_m(self, a: _Candidate, b: _Candidate) -> float:
        ea, eb = self._entries[a.index], self._entries[b.index]
        north = (ea.lat - eb.lat) * _M_PER_DEG_LAT
        east = (ea.lon - eb.lon) * _M_PER_DEG_LON_EQUATOR * math.cos(math.radians(ea.lat))
        return math.hypot(east, north)

    def _candidate(self, candidate: _Candidate) -> AddressCandidate:
        entry = self._entries[candidate.index]
        return AddressCandidate(
            matched_name=entry.name,
            kind=entry.kind,
            grid_code=entry.grid_code,
            lon=entry.lon,
            lat=entry.lat,
            confidence=round(self._confidence(candidate), 3),
            parent_names=entry.parent_names,
        )

    def _explain(self, best: _Candidate, ties: int, offset: Offset | None) -> tuple[str, str]:
        entry = self._entries[best.index]
        how_zh = {
            "exact": "名称一致",
            "variant": "简称/别称一致",
            "crossing": "两条道路相交",
            "area": "多个同样匹配的地点都在此范围内",
        }
        how_en = {
            "exact": "exact name",
            "variant": "short form",
            "crossing": "two roads named",
            "area": "holds every equally good match",
        }
        similarity = f"{best.quality:.0%}"
        zh = [
            f"{entry.kind.label_zh}「{entry.name}」"
            f"（{how_zh.get(best.how, '相似度' + similarity)}）"
        ]
        en = [
            f"{entry.kind.value} {entry.name} ({how_en.get(best.how, 'similarity ' + similarity)})"
        ]
        if entry.kind is PlaceKind.ROAD and entry.parent_names:
            zh.append("途经" + "、".join(entry.parent_names))
            en.append("through " + ", ".join(entry.parent_names))
        elif entry.parent_names:
            zh.append("位于" + "›".join(entry.parent_names))
            en.append("in " + " › ".join(entry.parent_names))
        if best.supported_by:
            zh.append("与文本中的" + "、".join(best.supported_by) + "相符")
            en.append("agrees with " + ", ".join(best.supported_by) + " in the text")
        if best.conflicts:
            zh.append("但与文本中的" + "、".join(best.conflicts) + "不符")
            en.append("but contradicts " + ", ".join(best.conflicts) + " in the text")
        if ties > 1:
            zh.append(f"另有{ties - 1}处同样匹配的地点，请人工确认")
            en.append(f"{ties - 1} other place(s) match as well; please confirm")
        if offset is not None:
            zh.append(f"按“{offset.text}”偏移")
            en.append(f"moved {offset.distance_m:.0f} m as the text says ({offset.text})")
        return "；".join(zh), "; ".join(en)


def _strength(mention: _Mention) -> float:
    return max(q for _, q in mention.hits)


def _bigram_index(entry_keys: list[tuple[tuple[str, float], ...]]) -> dict[str, list[int]]:
    postings: dict[str, set[int]] = defaultdict(set)
    for index, keys in enumerate(entry_keys):
        for key, _ in keys:
            for i in range(len(key) - 1):
                postings[key[i : i + 2]].add(index)
    return {
        bigram: sorted(members)
        for bigram, members in postings.items()
        if len(members) <= _COMMON_BIGRAM
    }


def _shifted(lon: float, lat: float, offset: Offset) -> tuple[float, float]:
    dlat = offset.north_m / _M_PER_DEG_LAT
    dlon = offset.east_m / (_M_PER_DEG_LON_EQUATOR * math.cos(math.radians(lat)))
    return lon + dlon, lat + dlat
