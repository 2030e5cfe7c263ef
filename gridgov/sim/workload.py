"""What the simulated city reports, when and where: the arrival side of `gridgov sim events`.

A day's reports are drawn channel by channel: a Poisson count per hour from the channel's share of
the daily volume, its hour-of-day profile and its weekend/holiday factor (citizens call more on days
off, inspectors patrol less). Each report lands where people are: a micro-grid drawn uniformly,
which is urban-weighted because the demo city draws micro-grid seeds from population density, so a
small (dense) cell is as likely as a large rural one and points per km² go as 1 / cell area. A share
of reports is placed inside a special grid (school, market, site …) with that grid's typical
problems. The category depends on the channel, on the special grid, and on urban or rural ground;
the text is a short template sentence, never a real citizen's message.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from gridgov.grids.model import Grid, GridLevel, SpecialKind
from gridgov.workflow.calendar import WorkingCalendar
from gridgov.workflow.categories import Taxonomy

Weights = tuple[tuple[str, float], ...]

# Hour-of-day shapes (relative; normalised when used). Citizens: quiet at night, a mid-morning peak
# and a second one in the evening. Inspectors: working hours. Police 110 hand-offs: evening-heavy
# (noise, disputes). Sensors: around the clock.
_CITIZEN = (
    3,
    2,
    1.5,
    1,
    1,
    2,
    5,
    12,
    22,
    30,
    32,
    28,
    18,
    16,
    22,
    24,
    23,
    20,
    18,
    24,
    28,
    24,
    15,
    7,
)
_INSPECTOR = (0, 0, 0, 0, 0, 0, 1, 6, 20, 24, 24, 14, 2, 4, 16, 22, 22, 12, 3, 1, 0, 0, 0, 0)
_EVENING = (8, 6, 4, 2, 1, 1, 2, 4, 6, 7, 8, 8, 8, 8, 8, 9, 10, 12, 14, 18, 22, 24, 20, 14)
_FLAT = (1,) * 24


@dataclass(frozen=True, slots=True)
class Channel:
    """One intake channel: its share of a weekday's reports and how its days and hours look."""

    code: str
    label_zh: str
    share: float
    hours: tuple[float, ...]
    day_off_factor: float  # volume on weekends and holidays relative to a workday
    citizen: bool  # a resident reported it and can be called back (回访)
    reporter_classifies: bool  # the reporter picks the category (inspectors, sensors)
    heating_season_only: bool = False


CHANNELS: tuple[Channel, ...] = (
    Channel("hotline_12345", "12345热线", 0.36, _CITIZEN, 1.15, True, False),
    Channel("police_110", "110非警务转办", 0.06, _EVENING, 1.2, True, False),
    Channel("city_management", "数字城管", 0.18, _INSPECTOR, 0.35, False, True),
    Channel("civilization", "文明创建", 0.05, _INSPECTOR, 0.3, False, True),
    Channel("heating", "供热热线", 0.08, _CITIZEN, 1.1, True, True, heating_season_only=True),
    Channel("citizen_app", "随手拍", 0.12, _CITIZEN, 1.3, True, False),
    Channel("grid_patrol", "网格巡查", 0.20, _INSPECTOR, 0.4, False, True),
    Channel("iot_sensor", "物联感知", 0.03, _FLAT, 1.0, False, True),
)
CHANNEL_BY_CODE = {c.code: c for c in CHANNELS}

# Zhengzhou's heating season: 15 November to 15 March.
HEATING_SEASON = ((11, 15), (3, 15))

# Hotline weights follow the class counts of the 9,210 labelled TipDM 12345 messages (城乡建设 2,009,
# 劳动和社会保障 1,969 …), the classes it lacks get a small share, and some calls are about the street.
_HOTLINE: Weights = (
    ("H01", 2009), ("H15", 1969), ("H14", 1589), ("H11", 1215), ("H04", 938), ("H12", 877),
    ("H06", 613), ("H09", 300), ("H13", 250), ("H03", 150), ("H07", 120), ("H02", 80),
    ("H10", 80), ("H08", 40), ("H05", 30), ("E0601", 500), ("E0102", 300), ("C0105", 250),
    ("E0502", 200), ("E0301", 250),
)  # fmt: skip
_POLICE: Weights = (
    ("E0601", 40), ("E0504", 10), ("E0602", 10), ("H13", 15), ("E0503", 5), ("E0401", 5),
    ("C0204", 5), ("E0301", 10),
)  # fmt: skip
_URBAN_MANAGEMENT: Weights = (
    ("C0101", 3), ("C0102", 4), ("C0103", 4), ("C0104", 1), ("C0105", 8), ("C0106", 2),
    ("C0201", 1), ("C0202", 2), ("C0203", 3), ("C0204", 2), ("C0205", 2), ("C0206", 2),
    ("C0301", 3), ("C0302", 3), ("C0303", 4), ("C0304", 6), ("C0401", 0.5), ("C0402", 4),
    ("C0403", 3), ("C0404", 0.5), ("C0405", 2), ("C0501", 2), ("C0502", 1), ("C0601", 0.5),
    ("C0602", 1), ("E0101", 4), ("E0102", 12), ("E0103", 5), ("E0104", 8), ("E0105", 1),
    ("E0106", 4), ("E0201", 10), ("E0202", 3), ("E0302", 3), ("E0303", 3), ("E0402", 0.5),
    ("E0403", 1), ("E0501", 3), ("E0502", 10), ("E0503", 1), ("E0504", 1), ("E0602", 2),
)  # fmt: skip
_CIVILIZATION: Weights = (
    ("E0102", 20), ("E0104", 15), ("E0201", 20), ("E0202", 8), ("E0502", 15), ("C0304", 10),
    ("C0301", 8), ("E0106", 6), ("C0501", 5),
)  # fmt: skip
_HEATING: Weights = (("H1601", 70), ("H1602", 15), ("H1603", 15))
_APP: Weights = (
    ("E0102", 15), ("E0201", 8), ("E0502", 10), ("C0105", 10), ("C0101", 3), ("C0102", 4),
    ("C0203", 3), ("E0104", 6), ("E0403", 2), ("E0602", 4), ("C0402", 4), ("C0304", 4),
    ("E0601", 8), ("H01", 10), ("H06", 5), ("H04", 5),
)  # fmt: skip
_PATROL: Weights = (
    ("E0101", 10), ("E0102", 15), ("E0502", 12), ("E0501", 5), ("E0201", 12), ("C0105", 6),
    ("C0304", 5), ("E0602", 4), ("C0302", 4), ("E0103", 4), ("H01", 6), ("H09", 4),
    ("E0503", 1), ("E0404", 0.5),
)  # fmt: skip
_IOT: Weights = (("I0101", 30), ("I0102", 15), ("I0103", 10), ("I0104", 45))
CHANNEL_CATEGORIES: Mapping[str, Weights] = {
    "hotline_12345": _HOTLINE,
    "police_110": _POLICE,
    "city_management": _URBAN_MANAGEMENT,
    "civilization": _CIVILIZATION,
    "heating": _HEATING,
    "citizen_app": _APP,
    "grid_patrol": _PATROL,
    "iot_sensor": _IOT,
}

# Inside a special grid the place decides the problem: schools → education and safety, markets →
# street vending and licences, sites → noise and dust.
SPECIAL_CATEGORIES: Mapping[SpecialKind, Weights] = {
    SpecialKind.SCHOOL: (("H14", 50), ("C0204", 15), ("E0502", 15), ("H13", 10), ("E0404", 2)),
    SpecialKind.MARKET: (("E0502", 45), ("E0501", 30), ("H11", 15), ("E0102", 10)),
    SpecialKind.CONSTRUCTION_SITE: (("E0301", 45), ("E0303", 35), ("E0302", 15), ("E0103", 5)),
    SpecialKind.HOSPITAL: (("H12", 60), ("E0504", 20), ("C0206", 20)),
    SpecialKind.PARK: (("E0106", 30), ("C0402", 25), ("C0405", 20), ("C0301", 15), ("E0601", 10)),
    SpecialKind.TRANSPORT_HUB: (("E0504", 40), ("H06", 40), ("E0104", 20)),
    SpecialKind.INDUSTRIAL_PARK: (("H15", 50), ("H04", 30), ("E0303", 20)),
    SpecialKind.SCENIC_AREA: (("H11", 50), ("E0102", 30), ("E0105", 20)),
    SpecialKind.GOVERNMENT: (("H02", 60), ("H05", 20), ("H07", 20)),
}
_SPECIAL_PLACEMENT: Mapping[SpecialKind, float] = {
    SpecialKind.SCHOOL: 0.28,
    SpecialKind.MARKET: 0.24,
    SpecialKind.CONSTRUCTION_SITE: 0.24,
    SpecialKind.HOSPITAL: 0.08,
    SpecialKind.PARK: 0.08,
    SpecialKind.TRANSPORT_HUB: 0.04,
    SpecialKind.INDUSTRIAL_PARK: 0.02,
    SpecialKind.SCENIC_AREA: 0.01,
    SpecialKind.GOVERNMENT: 0.01,
}
SPECIAL_SHARE = 0.10  # of the reports that can be anywhere (not sensors, not heating)

# In a village the mix shifts: farming, muck heaps, self-built houses, ditches.
_RURAL: Weights = (("H10", 35), ("E0103", 20), ("E0101", 20), ("E0105", 15), ("E0102", 10))
RURAL_SHARE = 0.35

# Short problem phrases per category; the report text wraps one in a channel's opening and a place.
PROBLEMS: Mapping[str, tuple[str, ...]] = {
    "C0101": ("自来水井盖缺失，晚上容易踩空", "上水井盖松动，车辆经过哐哐响"),
    "C0102": ("污水井盖破损，往外冒臭水", "污水井盖移位，路面塌了一个口子"),
    "C0103": ("雨水箅子堵住了，下雨就积水", "雨水井盖不见了"),
    "C0104": ("热力井盖往外冒白汽", "热力井盖破了一角"),
    "C0105": ("路灯晚上不亮，走路很黑", "一排路灯忽明忽暗", "路灯杆歪了"),
    "C0106": ("消火栓漏水，地面一直湿着", "消火栓被车挡住了"),
    "C0201": ("天桥栏杆松动", "天桥台阶破损"),
    "C0202": ("路名牌字迹看不清", "路名牌歪倒在地上"),
    "C0203": ("道路护栏被撞倒了", "护栏缺了好几段"),
    "C0204": ("交通标志被树挡住看不见", "限速牌掉了"),
    "C0205": ("公交站亭顶棚漏雨", "公交站牌破损"),
    "C0206": ("停车位标线磨没了", "停车场道闸坏了"),
    "C0301": ("公厕没水冲不了", "公厕大白天锁着门"),
    "C0302": ("垃圾间满了好几天没人清", "垃圾间门坏了味道很大"),
    "C0303": ("店招牌匾松动，怕掉下来砸人", "牌匾破了一半"),
    "C0304": ("果皮箱满溢", "垃圾桶被撞坏了"),
    "C0401": ("古树树皮被剥", "古树围栏坏了"),
    "C0402": ("行道树断枝挂在半空", "行道树倒了挡住人行道", "树枝挡住路灯"),
    "C0403": ("绿地黄土裸露", "绿化带缺株"),
    "C0404": ("雕塑底座开裂", "雕塑掉了一块"),
    "C0405": ("公园座椅坏了", "座椅板子缺了"),
    "C0501": ("宣传栏玻璃碎了", "宣传栏内容过期很久"),
    "C0502": ("外墙瓷砖脱落", "楼体外立面有东西要掉下来"),
    "C0601": ("人防出入口堆满杂物", "人防工事门口破损"),
    "C0602": ("河边护栏坏了", "水闸警示牌缺失"),
    "E0101": ("有人在楼顶私搭乱建", "院里新搭了彩钢房", "在绿地上违建围墙"),
    "E0102": ("路边暴露垃圾没人清", "垃圾堆了好几天有异味", "垃圾桶周边满地垃圾"),
    "E0103": ("路边堆了一大堆建筑渣土", "空地倾倒渣土"),
    "E0104": ("路面油污很多", "道路积尘严重，车过尘土飞扬"),
    "E0105": ("河面漂浮垃圾很多", "沟渠里都是垃圾"),
    "E0106": ("绿化带里扔满了垃圾", "绿地里堆放杂物"),
    "E0201": ("墙上贴满小广告", "电线杆上喷涂办证广告"),
    "E0202": ("未经审批挂了大型广告", "户外广告布破烂悬挂"),
    "E0301": ("工地夜里还在施工，噪音很大", "凌晨还在打桩，影响休息"),
    "E0302": ("施工围挡占了半条路", "施工占道没有设置警示"),
    "E0303": ("工地裸土没有覆盖，扬尘很大", "渣土车带泥上路"),
    "E0401": ("自来水管爆了，水漫到路上", "地下管道破裂冒水"),
    "E0402": ("路面突然塌陷出一个坑", "路面下沉有空洞"),
    "E0403": ("下雨后道路积水过不去", "涵洞积水很深"),
    "E0404": ("楼道里冒烟", "垃圾堆着火了"),
    "E0501": ("有无照摊点长期经营", "门店没有营业执照在经营"),
    "E0502": ("商户占道经营，人行道走不了", "早市摊贩占道", "夜市摊位占用道路"),
    "E0503": ("有流浪人员在地下通道过夜", "路口有人乞讨"),
    "E0504": ("黑车在门口拉客", "有无牌照车辆揽客"),
    "E0601": ("广场舞音响太吵", "饭店油烟机噪音大", "楼下商铺喇叭叫卖扰民"),
    "E0602": ("僵尸车占用车位很久", "路边废弃车辆积满灰尘"),
    "H01": ("小区物业不作为，楼道灯坏了没人修", "老旧小区改造进度慢", "小区电梯经常故障"),
    "H02": ("咨询社区办事流程", "反映办事窗口服务态度"),
    "H03": ("宅基地确权问题咨询", "土地征收补偿问题"),
    "H04": ("附近工厂排放异味", "河道水质发黑发臭"),
    "H05": ("反映有关工作人员作风问题",),
    "H06": ("公交线路调整后出行不便", "出租车拒载", "路口红绿灯时间太短"),
    "H07": ("企业拖欠货款问题", "营商环境相关问题"),
    "H08": ("手机信号差", "宽带安装问题"),
    "H09": ("咨询低保办理", "高龄补贴没有发放", "老年人助餐问题"),
    "H10": ("农田灌溉用水问题", "村里道路坑洼", "农业补贴咨询"),
    "H11": ("商家缺斤短两", "预付卡退费难", "食品过期仍在销售"),
    "H12": ("诊所收费不规范", "医保报销问题", "疫苗接种咨询"),
    "H13": ("邻里纠纷需要调解", "咨询法律援助"),
    "H14": ("学校放学时门口拥堵", "入学报名政策咨询", "校外培训机构收费问题"),
    "H15": ("公司拖欠工资", "社保转移接续问题", "咨询失业保险金领取"),
    "H1601": ("家里暖气不热，室温只有十几度", "供暖后室温一直不达标"),
    "H1602": ("暖气管道漏水", "楼道暖气片冒汽"),
    "H1603": ("对供暖费收费有异议", "申请停暖退费"),
    "I0101": ("井盖倾斜角度超过阈值",),
    "I0102": ("管网水位超过警戒值",),
    "I0103": ("烟感探测器报警",),
    "I0104": ("噪声监测读数超过功能区标准",),
}
_OPENINGS: Mapping[str, tuple[str, ...]] = {
    "hotline_12345": ("市民来电反映：", "来电人称："),
    "police_110": ("110转办：群众报称",),
    "city_management": ("监督员上报：",),
    "civilization": ("文明创建督查发现：",),
    "heating": ("用户来电反映：",),
    "citizen_app": ("", "随手拍："),
    "grid_patrol": ("网格员巡查发现：",),
    "iot_sensor": ("设备告警：",),
}
_CLOSINGS: Mapping[bool, tuple[str, ...]] = {
    True: ("，希望尽快处理。", "，请相关部门核实处理。", "，已经好几天了。", "。"),
    False: ("，请处置。", "。"),
}
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭"


@dataclass(frozen=True, slots=True)
class Place:
    """Where a report can land: a micro-grid (or a special grid) and how to name it in text."""

    code: str
    name: str
    geometry: BaseGeometry
    rural: bool
    special_kind: SpecialKind | None = None


@dataclass(frozen=True, slots=True)
class Arrival:
    """One report as a channel delivers it, before the platform has seen it."""

    at: datetime
    channel: str
    external_id: str
    category_code: str
    lon: float
    lat: float
    text: str
    address: str
    reporter_name: str | None
    reporter_phone: str | None
    duplicate: bool  # the simulator turns it into a second report of a recent open case


class CityMap:
    """The places of a grid layer that reports are drawn from."""

    def __init__(self, grids: Sequence[Grid]) -> None:
        by_code = {g.code: g for g in grids}
        micro: list[Place] = []
        specials: dict[SpecialKind, list[Place]] = {}
        for grid in grids:
            if grid.level is GridLevel.MICRO:
                compound = by_code.get(grid.parent_code or "")
                community = by_code.get(compound.parent_code or "") if compound else None
                rural = community is not None and "村" in community.name
                name = compound.name if compound else grid.name
                micro.append(Place(grid.code, name, grid.geometry, rural))
            elif grid.level is GridLevel.SPECIAL and grid.special_kind is not None:
                place = Place(grid.code, grid.name, grid.geometry, False, grid.special_kind)
                specials.setdefault(grid.special_kind, []).append(place)
        if not micro:
            raise ValueError("the grid layer has no micro-grids to place reports in")
        for place in micro:
            shapely.prepare(place.geometry)
        for places in specials.values():
            for place in places:
                shapely.prepare(place.geometry)
        self.micro = tuple(micro)
        self.specials = {kind: tuple(places) for kind, places in specials.items()}

    def point_in(self, place: Place, rng: np.random.Generator) -> tuple[float, float]:
        """A uniform point inside the place (rejection sampling in its bounding box)."""
        minx, miny, maxx, maxy = place.geometry.bounds
        for _ in range(64):
            x = float(rng.uniform(minx, maxx))
            y = float(rng.uniform(miny, maxy))
            if shapely.contains_xy(place.geometry, x, y):
                return x, y
        point = place.geometry.representative_point()
        return float(point.x), float(point.y)


def in_heating_season(day: date) -> bool:
    (start_month, start_day), (end_month, end_day) = HEATING_SEASON
    return (day.month, day.day) >= (start_month, start_day) or (day.month, day.day) <= (
        end_month,
        end_day,
    )


class Workload:
    """Draws each simulated day's arrivals; the same seed and day always give the same reports."""

    def __init__(
        self,
        city: CityMap,
        taxonomy: Taxonomy,
        calendar: WorkingCalendar,
        *,
        per_day: int,
        seed: int,
        time_zone: ZoneInfo,
    ) -> None:
        self.city = city
        self.calendar = calendar
        self.per_day = per_day
        self.seed = seed
        self.zone = time_zone
        for table in (*CHANNEL_CATEGORIES.values(), *SPECIAL_CATEGORIES.values(), _RURAL):
            for code, _ in table:
                if taxonomy.get(code) is None or not taxonomy.is_leaf(code):
                    raise ValueError(f"simulated category {code} is not a leaf of the taxonomy")
        self._kinds = [k for k in _SPECIAL_PLACEMENT if k in city.specials]

    def day(self, day: date, day_index: int) -> list[Arrival]:
        """The reports of one local calendar day, in time order."""
        rng = np.random.default_rng([self.seed, 7, day_index])
        day_off = not self.calendar.is_workday(day)
        midnight = datetime.combine(day, time(0), tzinfo=self.zone)
        arrivals: list[Arrival] = []
        serial = 0
        for channel in CHANNELS:
            if channel.heating_season_only and not in_heating_season(day):
                continue
            mean = self.per_day * channel.share * (channel.day_off_factor if day_off else 1.0)
            hours = np.asarray(channel.hours, dtype=np.float64)
            counts = rng.poisson(mean * hours / hours.sum())
            for hour, count in enumerate(counts.tolist()):
                for second in sorted(rng.integers(0, 3600, size=count).tolist()):
                    at = midnight + timedelta(hours=hour, seconds=second)
                    serial += 1
                    external_id = f"sim-{self.seed}-{day:%Y%m%d}-{channel.code}-{serial:06d}"
                    arrivals.append(self._arrival(channel, at, external_id, rng))
        arrivals.sort(key=lambda a: (a.at, a.external_id))
        return arrivals

    def _arrival(
        self, channel: Channel, at: datetime, external_id: str, rng: np.random.Generator
    ) -> Arrival:
        anywhere = channel.code not in ("iot_sensor", "heating")
        place: Place
        if anywhere and self._kinds and rng.random() < SPECIAL_SHARE:
            weights = np.array([_SPECIAL_PLACEMENT[k] for k in self._kinds])
            kind = self._kinds[int(rng.choice(len(self._kinds), p=weights / weights.sum()))]
            options = self.city.specials[kind]
            place = options[int(rng.integers(len(options)))]
            table = SPECIAL_CATEGORIES[kind]
        else:
            place = self.city.micro[int(rng.integers(len(self.city.micro)))]
            rural = anywhere and place.rural and rng.random() < RURAL_SHARE
            table = _RURAL if rural else CHANNEL_CATEGORIES[channel.code]
        code = _draw(table, rng)
        lon, lat = self.city.point_in(place, rng)
        name = phone = None
        if channel.citizen:
            name = f"{_SURNAMES[int(rng.integers(len(_SURNAMES)))]}先生/女士"
            phone = f"1990{int(rng.integers(10_000_000)):07d}"  # the test range of the demo roster
        return Arrival(
            at=at,
            channel=channel.code,
            external_id=external_id,
            category_code=code,
            lon=lon,
            lat=lat,
            text=_text(channel, code, place, rng),
            address=place.name,
            reporter_name=name,
            reporter_phone=phone,
            duplicate=channel.citizen and rng.random() < DUPLICATE_SHARE,
        )


# Share of citizen reports that repeat a problem someone already reported (重复诉求).
DUPLICATE_SHARE = 0.04


def _draw(table: Weights, rng: np.random.Generator) -> str:
    weights = np.array([w for _, w in table], dtype=np.float64)
    return table[int(rng.choice(len(table), p=weights / weights.sum()))][0]


def _pick(options: Sequence[str], rng: np.random.Generator) -> str:
    return options[int(rng.integers(len(options)))]


def _text(channel: Channel, code: str, place: Place, rng: np.random.Generator) -> str:
    where = f"{place.name}{'门口' if place.special_kind else ''}"
    problem = _pick(PROBLEMS.get(code, ("有问题需要处理",)), rng)
    opening = _pick(_OPENINGS[channel.code], rng)
    return f"{opening}{where}{problem}{_pick(_CLOSINGS[channel.citizen], rng)}"


def days(start: date, count: int) -> Iterator[tuple[int, date]]:
    for index in range(count):
        yield index, start + timedelta(days=index)
