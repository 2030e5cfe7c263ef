"""Labelled duplicate bursts: generated reports whose true problem is known, to measure 并单.

Each problem is reported 1–5 times across channels within minutes to hours, each channel in its
own words and with its own location error:

    channel         text                               location                      category
    hotline_12345   formal, full address               address geocoded 50–150 m off  none (classified)
    police_110      transfer note, usually the address the same geocoded address        none (classified)
    citizen_app     colloquial, address often partial  phone GPS 5–50 m off           the resident's pick or none
    grid_patrol     terse, full address                GPS 5–30 m off                 the worker's leaf, 1 in 10 a sibling

Distractors are problems of their own: the same kind 30–100 m away with one place detail
different (the other side of the road, the cross street, another building), the same wording
1–5 km away, and the same place again 4–9 days later. The templates are written for gridgov.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from gridgov.ai.classifier import TextClassifier
from gridgov.ai.duplicates import DuplicateFinder, RecentIndex, ReportSignature

_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LON_EQUATOR = 111_320.0
DEFAULT_START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
DEFAULT_CENTRE = (113.66, 34.75)


@dataclass(frozen=True, slots=True)
class BurstReport:
    """One generated report; `problem_id` is the ground truth, `role` how it was generated."""

    id: str
    problem_id: str
    role: str  # burst | nearby | far_twin | recurrence
    channel: str
    lon: float
    lat: float
    accuracy_m: float
    at: datetime
    category_code: str | None
    text: str


@dataclass(frozen=True, slots=True)
class Kind:
    leaf: str
    siblings: tuple[str, ...]
    place: str  # road | compound
    hotline: tuple[str, ...]
    police: tuple[str, ...]
    app: tuple[str, ...]
    patrol: tuple[str, ...]


KINDS: tuple[Kind, ...] = (
    Kind("C0102", ("C0101", "C0103"), "road",
         ("市民来电反映：{p}有一个井盖丢失，行人和车辆经过很危险，请尽快处理。",
          "来电人称{p}的下水井盖破损塌陷，有电动车差点摔倒，要求尽快更换。",
          "市民反映{p}井盖移位翘起，存在安全隐患。"),
         ("接报警称{p}井盖丢失，有行人险些跌落，非警情，转城管处理。", "群众报称{p}井盖缺失，转办。"),
         ("{p}井盖没了，晚上看不见太危险", "井盖被偷了！{p}", "{p}这个井盖碎了一半，小孩容易掉下去",
          "路上井盖翘起来了{p}"),
         ("{p}污水井盖缺失，已设置临时警示", "巡查发现{p}井盖破损，需更换")),
    Kind("E0102", ("E0103", "E0106"), "compound",
         ("市民来电反映{p}垃圾堆积多日无人清运，气味难闻，要求清理。",
          "来电人称{p}有大量生活垃圾乱堆乱放，苍蝇很多。"),
         ("群众报称{p}有人倾倒垃圾，非警情转办。",),
         ("{p}垃圾堆成山了，臭死了", "{p}好多垃圾没人收", "这里垃圾好几天没清了{p}"),
         ("{p}暴露垃圾一处，约两立方米", "巡查发现{p}垃圾满溢，已通知保洁")),
    Kind("E0502", ("E0501",), "road",
         ("市民来电反映{p}每天晚上有流动摊贩占道经营，影响通行，要求整治。",
          "来电人称{p}有商贩占用人行道摆摊卖菜。"),
         ("接报{p}摊贩占道与路人发生口角，已调解，占道问题转城管。",),
         ("{p}摆摊的把人行道全占了", "{p}小商贩占道，车都过不去", "晚上{p}夜市摆摊太乱了"),
         ("{p}流动摊贩占道经营，已劝离未果", "{p}发现占道经营摊点，已登记")),
    Kind("E0301", ("E0303",), "compound",
         ("市民来电反映{p}旁边工地夜间施工噪音很大，影响休息，要求查处。",
          "来电人称{p}附近建筑工地半夜还在施工，机器声音扰民。"),
         ("接报警称{p}旁工地夜间施工噪音扰民，已告知施工方，转相关部门。",),
         ("{p}旁边工地半夜还在施工，吵得睡不着", "都十一点了{p}边上还在打桩，太吵了"),
         ("{p}工地夜间施工扰民，未见夜间施工许可",)),
    Kind("E0403", ("E0401",), "road",
         ("市民来电反映{p}下雨后积水严重，车辆无法通行。", "来电人称{p}路面积水很深，行人无法通过。"),
         ("接报{p}积水严重，有车辆被困，已协助推车，积水问题转办。",),
         ("{p}积水太深了，车都熄火了", "{p}又淹了，下水道堵了吧", "雨后{p}一片汪洋"),
         ("{p}道路积水约三十厘米，影响通行",)),
    Kind("E0402", ("E0401",), "road",
         ("市民来电反映{p}路面有一个大坑，电动车经过容易摔倒，要求修补。",
          "来电人称{p}路面塌陷出现坑洼，存在安全隐患。"),
         ("接报{p}路面塌陷，已现场警戒，转市政处理。",),
         ("{p}路上有个大坑，差点把车胎颠爆", "{p}路面塌了一块", "{p}坑坑洼洼的，晚上骑车摔了"),
         ("{p}路面破损塌陷约一平方米，已设置围挡",)),
    Kind("C0105", (), "road",
         ("市民来电反映{p}路灯连续多日不亮，夜间出行不便。", "来电人称{p}的路灯坏了好几盏，晚上一片漆黑。"),
         ("群众报称{p}路灯损坏，夜间照明不足，转办。",),
         ("{p}路灯不亮，黑灯瞎火的", "{p}这几个路灯都坏了"),
         ("{p}路灯不亮，已报修",)),
    Kind("E0201", ("E0202",), "compound",
         ("市民来电反映{p}墙上贴满了小广告，影响市容。",),
         ("群众反映{p}有人张贴小广告，转城管。",),
         ("{p}电线杆上全是小广告", "{p}牛皮癣贴得到处都是"),
         ("{p}发现非法小广告多处，已清除部分",)),
    Kind("C0402", ("C0401",), "road",
         ("市民来电反映{p}一棵行道树被风刮倒，挡住了人行道。",),
         ("接报{p}树木倒伏压住车辆，无人员受伤，转园林处理。",),
         ("{p}树倒了，横在路上", "{p}大树断枝掉下来了，砸到车了"),
         ("{p}行道树倒伏一棵，影响通行",)),
    Kind("E0401", ("E0403",), "road",
         ("市民来电反映{p}地下水管破裂，大量自来水冒出。", "来电人称{p}供水管道爆管，路面都是水。"),
         ("接报{p}水管破裂路面漫水，转供水部门。",),
         ("{p}水管爆了，水哗哗往外冒", "{p}地上一直冒水，好像是管子裂了"),
         ("{p}供水管道破裂漏水，已通知自来水公司",)),
)  # fmt: skip

ROADS = (
    "金水路", "农业路", "花园路", "文化路", "经三路", "纬五路", "黄河路", "丰产路", "红专路", "政七街",
    "东风路", "南阳路", "建设路", "嵩山路", "中原路", "桐柏路", "大学路", "航海路", "陇海路", "商都路",
)  # fmt: skip
COMPOUNDS = (
    "绿城小区", "阳光花园", "金色家园", "和平新村", "锦华苑", "翠竹园", "康宁小区", "文博苑",
    "顺河小区", "银河花园", "明珠苑", "桂香里",
)  # fmt: skip
SIDES = ("东侧", "西侧", "南侧", "北侧")
CORNERS = ("东北角", "西北角", "东南角", "西南角")
OPPOSITE = {"东侧": "西侧", "西侧": "东侧", "南侧": "北侧", "北侧": "南侧"}
OPPOSITE |= {"东北角": "西南角", "西南角": "东北角", "西北角": "东南角", "东南角": "西北角"}
CHANNELS = ("hotline_12345", "citizen_app", "grid_patrol", "police_110")
CHANNEL_WEIGHTS = (0.35, 0.30, 0.25, 0.10)
REPORT_COUNTS = (1, 2, 3, 4, 5)
REPORT_COUNT_WEIGHTS = (0.30, 0.25, 0.20, 0.15, 0.10)


@dataclass(frozen=True, slots=True)
class Place:
    road: str
    side: str  # a side of the road or building; a corner at an intersection
    cross: str | None = None  # at an intersection with this road
    compound: str | None = None
    building: int | None = None

    def full(self) -> str:
        if self.compound is not None:
            return f"{self.road}{self.compound}{self.building}号楼{self.side}"
        if self.cross is not None:
            return f"{self.road}与{self.cross}交叉口{self.side}"
        return f"{self.road}{self.side}"

    def partial(self) -> str:
        return f"{self.compound}里" if self.compound is not None else f"{self.road}上"


@dataclass(frozen=True, slots=True)
class _Problem:
    id: str
    role: str
    kind: Kind
    place: Place
    lon: float
    lat: float
    start: datetime
    geocode: tuple[float, float]  # where the address text lands in the gazetteer


def generate_bursts(
    seed: int,
    n_problems: int,
    *,
    start: datetime = DEFAULT_START,
    span: timedelta = timedelta(days=2),
    centre: tuple[float, float] = DEFAULT_CENTRE,
    radius_m: float = 5_000.0,
    nearby_share: float = 0.20,
    far_twin_share: float = 0.10,
    recurrence_share: float = 0.05,
) -> list[BurstReport]:
    """Reports of `n_problems` problems (distractors included), in order of arrival."""
    rng = random.Random(seed)
    problems: list[_Problem] = []
    # Each distractor copies a distinct original problem: two distractors of one base could share
    # its address and kind, and then nobody, person or program, could tell them apart.
    unused: dict[str, list[_Problem]] = {"nearby": [], "far_twin": [], "recurrence": []}
    makers = (
        (nearby_share, "nearby", _nearby),
        (far_twin_share, "far_twin", _far_twin),
        (recurrence_share, "recurrence", _recurrence),
    )
    for number in range(n_problems):
        pid = f"P{number:05d}"
        draw, problem = rng.random(), None
        for share, role, make in makers:
            if draw < share and unused[role]:
                base = unused[role].pop(rng.randrange(len(unused[role])))
                problem = make(rng, pid, base)
                break
            draw -= share
        if problem is None:
            problem = _original(rng, pid, start, span, centre, radius_m)
            for bases in unused.values():
                bases.append(problem)
        problems.append(problem)
    reports = [report for problem in problems for report in _reports(rng, problem)]
    reports.sort(key=lambda r: (r.at, r.id))
    return reports


def _original(
    rng: random.Random,
    pid: str,
    start: datetime,
    span: timedelta,
    centre: tuple[float, float],
    radius_m: float,
) -> _Problem:
    lon, lat = _offset(centre, rng.uniform(0, 2 * math.pi), radius_m * math.sqrt(rng.random()))
    kind = rng.choice(KINDS)
    return _problem(
        rng, pid, "burst", kind, _place(rng, kind), lon, lat, start + span * rng.random()
    )


def _problem(
    rng: random.Random,
    pid: str,
    role: str,
    kind: Kind,
    place: Place,
    lon: float,
    lat: float,
    at: datetime,
) -> _Problem:
    geocode = _offset((lon, lat), rng.uniform(0, 2 * math.pi), rng.uniform(50, 150))
    return _Problem(pid, role, kind, place, lon, lat, at, geocode)


def _place(rng: random.Random, kind: Kind) -> Place:
    road, side = rng.choice(ROADS), rng.choice(SIDES)
    if kind.place == "compound":
        return Place(road, side, compound=rng.choice(COMPOUNDS), building=rng.randint(1, 24))
    if rng.random() < 0.3:
        cross = rng.choice([r for r in ROADS if r != road])
        return Place(road, rng.choice(CORNERS), cross=cross)
    return Place(road, side)


def _nearby(rng: random.Random, pid: str, base: _Problem) -> _Problem:
    """The same kind of problem 30–100 m away, one place detail different."""
    place = base.place
    if place.compound is not None:
        other = rng.choice([b for b in range(1, 25) if b != place.building])
        changed = (
            replace(place, building=other)
            if rng.random() < 0.7
            else replace(place, side=OPPOSITE[place.side])
        )
    elif place.cross is not None or rng.random() < 0.5:
        changed = replace(place, side=OPPOSITE[place.side])
    else:
        changed = replace(place, road=rng.choice([r for r in ROADS if r != place.road]))
    lon, lat = _offset((base.lon, base.lat), rng.uniform(0, 2 * math.pi), rng.uniform(30, 100))
    at = base.start + timedelta(minutes=rng.uniform(-180, 180))
    return _problem(rng, pid, "nearby", base.kind, changed, lon, lat, at)


def _far_twin(rng: random.Random, pid: str, base: _Problem) -> _Problem:
    """The same kind at the same-sounding place 1–5 km away (another road of the same name is
    rare, so the place text is the base's: only the distance tells them apart)."""
    lon, lat = _offset((base.lon, base.lat), rng.uniform(0, 2 * math.pi), rng.uniform(1_000, 5_000))
    at = base.start + timedelta(minutes=rng.uniform(-120, 120))
    return _problem(rng, pid, "far_twin", base.kind, base.place, lon, lat, at)


def _recurrence(rng: random.Random, pid: str, base: _Problem) -> _Problem:
    """The same problem at the same place again, 4–9 days later, after the first was handled."""
    at = base.start + timedelta(days=rng.uniform(4, 9))
    return replace(base, id=pid, role="recurrence", start=at)


def _reports(rng: random.Random, problem: _Problem) -> list[BurstReport]:
    count = rng.choices(REPORT_COUNTS, REPORT_COUNT_WEIGHTS)[0]
    out = []
    for n in range(count):
        channel = rng.choices(CHANNELS, CHANNEL_WEIGHTS)[0]
        delay = (
            timedelta(0) if n == 0 else timedelta(minutes=min(rng.lognormvariate(4.0, 1.1), 1_440))
        )
        maker = _CHANNEL_MAKERS[channel]
        text, (lon, lat), accuracy, category = maker(rng, problem)
        out.append(
            BurstReport(
                id=f"{problem.id}-{n}", problem_id=problem.id, role=problem.role, channel=channel,
                lon=lon, lat=lat, accuracy_m=accuracy, at=problem.start + delay,
                category_code=category, text=text,
            )
        )  # fmt: skip
    return out


_Made = tuple[str, tuple[float, float], float, str | None]


def _hotline(rng: random.Random, p: _Problem) -> _Made:
    return rng.choice(p.kind.hotline).format(p=p.place.full()), p.geocode, 150.0, None


def _police(rng: random.Random, p: _Problem) -> _Made:
    where = p.place.full() if rng.random() < 0.85 else p.place.partial()
    point = _offset(p.geocode, rng.uniform(0, 2 * math.pi), rng.uniform(0, 20))
    return rng.choice(p.kind.police).format(p=where), point, 150.0, None


def _app(rng: random.Random, p: _Problem) -> _Made:
    draw = rng.random()
    where = p.place.full() if draw < 0.35 else p.place.partial() if draw < 0.7 else ""
    point = _offset((p.lon, p.lat), rng.uniform(0, 2 * math.pi), rng.uniform(5, 50))
    category = p.kind.leaf if rng.random() < 0.4 else None
    return rng.choice(p.kind.app).format(p=where), point, 50.0, category


def _patrol(rng: random.Random, p: _Problem) -> _Made:
    point = _offset((p.lon, p.lat), rng.uniform(0, 2 * math.pi), rng.uniform(5, 30))
    siblings = p.kind.siblings
    category = rng.choice(siblings) if siblings and rng.random() < 0.1 else p.kind.leaf
    return rng.choice(p.kind.patrol).format(p=p.place.full()), point, 30.0, category


_CHANNEL_MAKERS: dict[str, Callable[[random.Random, _Problem], _Made]] = {
    "hotline_12345": _hotline,
    "police_110": _police,
    "citizen_app": _app,
    "grid_patrol": _patrol,
}


def _offset(origin: tuple[float, float], bearing: float, metres: float) -> tuple[float, float]:
    lon, lat = origin
    scale = math.cos(math.radians(lat)) * _M_PER_DEG_LON_EQUATOR
    return lon + metres * math.sin(bearing) / scale, lat + metres * math.cos(
        bearing
    ) / _M_PER_DEG_LAT


@dataclass(frozen=True, slots=True)
class BurstMeasure:
    """Pair-level scores: a pair is two reports; predicted together when they end in one case."""

    precision: float
    recall: float
    f1: float
    reports: int
    problems: int
    cases: int
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int
    wrong_joins: int  # reports joined to a case whose first report is another problem


def measure(
    finder: DuplicateFinder,
    reports: Sequence[BurstReport],
    *,
    classifier: TextClassifier | None = None,
) -> BurstMeasure:
    """Stream `reports` in arrival order through a `RecentIndex` and `finder`, as intake would."""
    index = RecentIndex.for_finder(finder)
    case_of: dict[str, str] = {}
    first_problem: dict[str, str] = {}
    wrong_joins = 0
    for report in sorted(reports, key=lambda r: (r.at, r.id)):
        category = report.category_code
        if category is None and classifier is not None:
            top = classifier.suggest(report.text, channel=report.channel, k=1)
            category = top[0].category_code if top else None
        signature = ReportSignature.of(
            report.id, report.id, report.channel, report.lon, report.lat, report.at,
            category, report.text, report.accuracy_m,
        )  # fmt: skip
        index.evict(report.at)
        decision = finder.find(signature, index.near(report.lon, report.lat))
        case_id = decision.same_as or report.id
        if decision.same_as is None:
            first_problem[case_id] = report.problem_id
        elif first_problem[case_id] != report.problem_id:
            wrong_joins += 1
        case_of[report.id] = case_id
        index.add(replace(signature, case_id=case_id))
    return _score(reports, case_of, wrong_joins)


def _score(
    reports: Sequence[BurstReport], case_of: dict[str, str], wrong_joins: int
) -> BurstMeasure:
    by_case = Counter(case_of[r.id] for r in reports)
    by_problem = Counter(r.problem_id for r in reports)
    by_both = Counter((case_of[r.id], r.problem_id) for r in reports)
    predicted = sum(_pairs(n) for n in by_case.values())
    true = sum(_pairs(n) for n in by_problem.values())
    correct = sum(_pairs(n) for n in by_both.values())
    precision = correct / predicted if predicted else 1.0
    recall = correct / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return BurstMeasure(
        round(precision, 4), round(recall, 4), round(f1, 4), len(reports), len(by_problem),
        len(by_case), true, predicted, correct, wrong_joins,
    )  # fmt: skip


def _pairs(n: int) -> int:
    return n * (n - 1) // 2
