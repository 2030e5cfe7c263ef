"""Simulated report streams with injected events, to measure early warning.

A background stream is drawn hour by hour per channel: a Poisson count from the channel's share
of the day's volume, its hour-of-day shape and its day-off factor, times a city-wide daily swing
(weather, news) of `day_noise`. Each report lands in a community drawn by weight (busy and quiet
communities), gets a category from its channel's mix, and a point in the community's disc. A share
of reports is echoed 1–2 times within the hour, as a problem reported again on another channel
is (重复诉求): reports are not independent, and a detector must not alarm on every echo.

Events are injected on top, each with the ids of its reports so that a warning can be matched
to it exactly (a warning whose evidence holds one of them detected it):

    burst_pipe     爆管       8–16 reports of 管道破裂/道路积水/路面塌陷 (and 停水 calls, hotline 城乡建设)
                              within 150 m of one point in one community, within the hour
    rainstorm      暴雨       道路积水 in every community of a district for hours
    stuck_sensor   传感器卡死  one noise sensor alarming every 10 minutes for hours
    market_day     集市       a weekly morning surge of 占道经营 at one market: normal, must not alarm
                              once the baseline has seen it

The channel profiles default to shapes of our own; `bench/early_warning.py` passes the
simulator's (`gridgov.sim.workload`) instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from gridgov.ai.anomalies import ReportPoint

_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LON_EQUATOR = 111_320.0
DEFAULT_CENTRE = (113.66, 34.75)
Weights = tuple[tuple[str, float], ...]

_CITIZEN_HOURS = (3, 2, 1.5, 1, 1, 2, 5, 12, 22, 30, 32, 28, 18, 16, 22, 24, 23, 20, 18, 24, 28, 24, 15, 7)  # fmt: skip
_WORKING_HOURS = (0, 0, 0, 0, 0, 0, 1, 6, 20, 24, 24, 14, 2, 4, 16, 22, 22, 12, 3, 1, 0, 0, 0, 0)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Community:
    """A community grid as the stream sees it: its street and district, a disc, a busyness."""

    code: str
    street_code: str
    district_code: str
    lon: float
    lat: float
    radius_m: float
    weight: float  # relative share of the city's reports


@dataclass(frozen=True, slots=True)
class ChannelProfile:
    """One channel's share of a workday's reports, its hours, its day-off factor and its mix."""

    code: str
    share: float
    hours: tuple[float, ...]  # 24 relative weights, local time
    day_off_factor: float
    categories: Weights


DEFAULT_CHANNELS: tuple[ChannelProfile, ...] = (
    ChannelProfile("hotline_12345", 0.45, _CITIZEN_HOURS, 1.15, (
        ("H01", 20), ("H15", 18), ("H14", 14), ("H11", 12), ("H04", 9), ("H06", 6),
        ("E0601", 5), ("E0102", 3), ("C0105", 3), ("E0502", 2), ("E0301", 3), ("E0403", 0.3),
        ("E0401", 0.3), ("E0402", 0.2),
    )),
    ChannelProfile("citizen_app", 0.12, _CITIZEN_HOURS, 1.3, (
        ("E0102", 15), ("E0201", 8), ("E0502", 10), ("C0105", 10), ("C0102", 4), ("E0601", 8),
        ("E0403", 2), ("C0402", 4),
    )),
    ChannelProfile("grid_patrol", 0.40, _WORKING_HOURS, 0.4, (
        ("E0101", 10), ("E0102", 15), ("E0502", 12), ("E0501", 5), ("E0201", 12), ("C0105", 6),
        ("C0304", 5), ("E0602", 4), ("C0302", 4), ("E0103", 4),
    )),
    ChannelProfile("iot_sensor", 0.03, (1.0,) * 24, 1.0, (
        ("I0101", 30), ("I0102", 15), ("I0103", 10), ("I0104", 45),
    )),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class InjectedEvent:
    """An injected event and the ids of its reports (the ground truth a warning is matched to)."""

    kind: str  # burst_pipe | rainstorm | stuck_sensor | market_day
    start: datetime
    end: datetime
    community_codes: tuple[str, ...]
    category_codes: tuple[str, ...]
    report_ids: frozenset[str]


def synthetic_city(
    seed: int,
    *,
    districts: int = 2,
    streets_per_district: int = 4,
    communities_per_street: int = 8,
    spacing_m: float = 1_200.0,
    centre: tuple[float, float] = DEFAULT_CENTRE,
) -> tuple[Community, ...]:
    """Communities on a jittered lattice, busyness log-normal (some ten times others)."""
    rng = np.random.default_rng([seed, 1])
    total = districts * streets_per_district * communities_per_street
    side = math.ceil(math.sqrt(total))
    weights = rng.lognormal(0.0, 0.8, size=total)
    out = []
    for n in range(total):
        d, rest = divmod(n, streets_per_district * communities_per_street)
        s, c = divmod(rest, communities_per_street)
        x = (n % side - side / 2) * spacing_m + float(rng.uniform(-150, 150))
        y = (n // side - side / 2) * spacing_m + float(rng.uniform(-150, 150))
        lon, lat = offset(centre, x, y)
        street = f"D{d:02d}S{s:02d}"
        code = f"{street}C{c:02d}"
        out.append(Community(code, street, f"D{d:02d}", lon, lat, spacing_m / 2, float(weights[n])))
    return tuple(out)


def offset(origin: tuple[float, float], east_m: float, north_m: float) -> tuple[float, float]:
    """The point `east_m`, `north_m` from `origin` (lon, lat), on a local flat frame."""
    lon, lat = origin
    scale = math.cos(math.radians(lat)) * _M_PER_DEG_LON_EQUATOR
    return lon + east_m / scale, lat + north_m / _M_PER_DEG_LAT


def _in_disc(
    rng: np.random.Generator, centre: tuple[float, float], radius_m: float, n: int
) -> list[tuple[float, float]]:
    r = radius_m * np.sqrt(rng.random(n))
    angle = rng.uniform(0, 2 * math.pi, n)
    return [
        offset(centre, float(a), float(b))
        for a, b in zip(r * np.cos(angle), r * np.sin(angle), strict=True)
    ]


def _draw(table: Weights, rng: np.random.Generator, n: int) -> list[str]:
    weights = np.array([w for _, w in table], dtype=np.float64)
    picks = rng.choice(len(table), size=n, p=weights / weights.sum())
    return [table[int(i)][0] for i in picks]


def background(
    city: Sequence[Community],
    start: datetime,
    days: int,
    per_day: float,
    seed: int,
    *,
    channels: Sequence[ChannelProfile] = DEFAULT_CHANNELS,
    day_noise: float = 0.15,
    echo_share: float = 0.05,
    is_day_off: Callable[[datetime], bool] = lambda day: day.weekday() >= 5,
) -> list[ReportPoint]:
    """`days` of ordinary reports from local midnight `start` (time-zone aware), in time order."""
    weights = np.array([c.weight for c in city], dtype=np.float64)
    weights /= weights.sum()
    reports: list[ReportPoint] = []
    for day in range(days):
        rng = np.random.default_rng([seed, 2, day])
        midnight = start + timedelta(days=day)
        swing = rng.gamma(1 / day_noise**2, day_noise**2) if day_noise > 0 else 1.0
        off = is_day_off(midnight)
        for channel in channels:
            mean = per_day * channel.share * swing * (channel.day_off_factor if off else 1.0)
            hours = np.asarray(channel.hours, dtype=np.float64)
            counts = rng.poisson(mean * hours / hours.sum())
            n = int(counts.sum())
            if n == 0:
                continue
            seconds = np.repeat(np.arange(24) * 3600, counts) + rng.integers(0, 3600, n)
            where = rng.choice(len(city), size=n, p=weights)
            categories = _draw(channel.categories, rng, n)
            lons, lats = _scatter(rng, city, where)
            echoed = rng.random(n) < echo_share
            for k in range(n):
                community = city[int(where[k])]
                at = midnight + timedelta(seconds=int(seconds[k]))
                report = ReportPoint(
                    f"bg-{seed}-{day:03d}-{channel.code}-{k:05d}", at, categories[k],
                    community.code, community.street_code, float(lons[k]), float(lats[k]),
                )  # fmt: skip
                reports.append(report)
                if echoed[k]:
                    reports.extend(_echoes(rng, report))
    reports.sort(key=lambda r: (r.at, r.id))
    return reports


def _scatter(
    rng: np.random.Generator, city: Sequence[Community], where: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """A uniform point in each chosen community's disc, vectorised (a day has thousands)."""
    lon0 = np.array([c.lon for c in city])[where]
    lat0 = np.array([c.lat for c in city])[where]
    radius = np.array([c.radius_m for c in city])[where] * np.sqrt(rng.random(where.size))
    angle = rng.uniform(0, 2 * math.pi, where.size)
    scale = np.cos(np.radians(lat0)) * _M_PER_DEG_LON_EQUATOR
    return (
        lon0 + radius * np.cos(angle) / scale,
        lat0 + radius * np.sin(angle) / _M_PER_DEG_LAT,
    )


def _echoes(rng: np.random.Generator, report: ReportPoint) -> list[ReportPoint]:
    """The same problem reported again 1–2 times within about an hour, nearby."""
    out = []
    for n in range(int(rng.integers(1, 3))):
        minutes = float(min(rng.lognormal(3.0, 0.8), 180.0))
        lon, lat = _in_disc(rng, (report.lon, report.lat), 50.0, 1)[0]
        at = report.at + timedelta(minutes=minutes)
        out.append(
            ReportPoint(
                f"{report.id}-e{n}", at, report.category_code, report.community_code,
                report.street_code, lon, lat,
            )
        )  # fmt: skip
    return out


def _event_reports(
    prefix: str,
    community: Community,
    times: Sequence[datetime],
    categories: Sequence[str],
    points: Sequence[tuple[float, float]],
) -> list[ReportPoint]:
    return [
        ReportPoint(
            f"{prefix}-{n:03d}", at, category, community.code, community.street_code, lon, lat
        )
        for n, (at, category, (lon, lat)) in enumerate(zip(times, categories, points, strict=True))
    ]


BURST_PIPE_MIX: Weights = (("E0401", 0.4), ("E0403", 0.3), ("E0402", 0.1), ("H01", 0.2))


def burst_pipe(
    community: Community, start: datetime, seed: int, *, reports: tuple[int, int] = (8, 16)
) -> tuple[list[ReportPoint], InjectedEvent]:
    """A burst water main: reports within 150 m, most in the first half hour, all within the hour."""
    rng = np.random.default_rng([seed, 3])
    n = int(rng.integers(reports[0], reports[1] + 1))
    source = _in_disc(rng, (community.lon, community.lat), community.radius_m * 0.7, 1)[0]
    minutes = np.sort(60.0 * rng.beta(1.2, 2.5, n))
    minutes[0] = 0.0
    times = [start + timedelta(minutes=float(m)) for m in minutes]
    categories = _draw(BURST_PIPE_MIX, rng, n)
    prefix = f"pipe-{seed}"
    out = _event_reports(prefix, community, times, categories, _in_disc(rng, source, 150.0, n))
    event = InjectedEvent(
        "burst_pipe", start, start + timedelta(hours=1), (community.code,),
        tuple(sorted(set(categories))), frozenset(r.id for r in out),
    )  # fmt: skip
    return out, event


def rainstorm(
    city: Sequence[Community],
    district_code: str,
    start: datetime,
    seed: int,
    *,
    hours: float = 4.0,
    per_community_hour: float = 0.8,
) -> tuple[list[ReportPoint], InjectedEvent]:
    """道路积水 across one district: each community's rate rises and falls over `hours`."""
    rng = np.random.default_rng([seed, 4])
    out: list[ReportPoint] = []
    area = [c for c in city if c.district_code == district_code]
    for community in area:
        # Busier (denser) communities have more roads and more people to call.
        mean = per_community_hour * hours * min(math.sqrt(community.weight), 3.0)
        n = int(rng.poisson(mean))
        # A triangular profile: the rain builds, peaks a third of the way in, drains.
        minutes = np.sort(rng.triangular(0, hours * 20, hours * 60, n))
        times = [start + timedelta(minutes=float(m)) for m in minutes]
        points = _in_disc(rng, (community.lon, community.lat), community.radius_m, n)
        prefix = f"rain-{seed}-{community.code}"
        out.extend(_event_reports(prefix, community, times, ["E0403"] * n, points))
    out.sort(key=lambda r: (r.at, r.id))
    event = InjectedEvent(
        "rainstorm", start, start + timedelta(hours=hours), tuple(c.code for c in area),
        ("E0403",), frozenset(r.id for r in out),
    )  # fmt: skip
    return out, event


def stuck_sensor(
    community: Community,
    start: datetime,
    seed: int,
    *,
    hours: float = 12.0,
    every: timedelta = timedelta(minutes=10),
) -> tuple[list[ReportPoint], InjectedEvent]:
    """One noise sensor stuck above its limit, alarming at a fixed interval from one point."""
    rng = np.random.default_rng([seed, 5])
    point = _in_disc(rng, (community.lon, community.lat), community.radius_m * 0.7, 1)[0]
    n = int(timedelta(hours=hours) / every)
    times = [start + every * k for k in range(n)]
    out = _event_reports(f"sensor-{seed}", community, times, ["I0104"] * n, [point] * n)
    event = InjectedEvent(
        "stuck_sensor", start, start + timedelta(hours=hours), (community.code,), ("I0104",),
        frozenset(r.id for r in out),
    )  # fmt: skip
    return out, event


def market_days(
    community: Community,
    first: datetime,
    weeks: int,
    seed: int,
    *,
    hours: float = 4.0,
    per_hour: float = 4.0,
) -> tuple[list[ReportPoint], list[InjectedEvent]]:
    """A weekly market morning from `first`: 占道经营 and 无照经营 within 120 m, every week."""
    rng = np.random.default_rng([seed, 6])
    point = _in_disc(rng, (community.lon, community.lat), community.radius_m * 0.5, 1)[0]
    reports: list[ReportPoint] = []
    events = []
    for week in range(weeks):
        start = first + timedelta(weeks=week)
        n = int(rng.poisson(per_hour * hours))
        minutes = np.sort(rng.uniform(0, hours * 60, n))
        times = [start + timedelta(minutes=float(m)) for m in minutes]
        categories = _draw((("E0502", 0.8), ("E0501", 0.2)), rng, n)
        points = _in_disc(rng, point, 120.0, n)
        out = _event_reports(f"market-{seed}-{week:02d}", community, times, categories, points)
        reports.extend(out)
        events.append(
            InjectedEvent(
                "market_day", start, start + timedelta(hours=hours), (community.code,),
                ("E0501", "E0502"), frozenset(r.id for r in out),
            )
        )  # fmt: skip
    return reports, events


def merged(*streams: Iterable[ReportPoint]) -> list[ReportPoint]:
    """Several streams as one, in time order."""
    return sorted((r for s in streams for r in s), key=lambda r: (r.at, r.id))


@dataclass(frozen=True, slots=True)
class Alarm:
    """Anything raised, reduced to what scoring needs: when, and on which reports."""

    raised_at: datetime
    evidence: frozenset[str]


@dataclass(frozen=True, slots=True)
class Detection:
    """How one injected event fared: the first alarm on its reports, if any."""

    event: InjectedEvent
    first_alarm: datetime | None

    @property
    def delay(self) -> timedelta | None:
        return None if self.first_alarm is None else self.first_alarm - self.event.start


def replay(
    reports: Sequence[ReportPoint],
    start: datetime,
    end: datetime,
    every: timedelta,
    update: Callable[[ReportPoint], None],
    scan: Callable[[datetime], Sequence[Alarm]],
) -> list[Alarm]:
    """Feed `reports` in time order and scan every `every` over [start, end), as a server would."""
    ordered = sorted(reports, key=lambda r: (r.at, r.id))
    alarms: list[Alarm] = []
    i = 0
    now = start
    while i < len(ordered) and ordered[i].at < start:
        update(ordered[i])
        i += 1
    while now < end:
        now = now + every
        while i < len(ordered) and ordered[i].at < now:
            update(ordered[i])
            i += 1
        alarms.extend(scan(now))
    return alarms


def score(
    alarms: Sequence[Alarm], events: Sequence[InjectedEvent]
) -> tuple[list[Detection], list[Alarm]]:
    """Each event's first alarm (one holding any of its reports), and the alarms matching none."""
    detections = []
    for event in events:
        hits = [a.raised_at for a in alarms if a.evidence & event.report_ids]
        detections.append(Detection(event, min(hits) if hits else None))
    truth = frozenset().union(*(e.report_ids for e in events)) if events else frozenset()
    false = [a for a in alarms if not (a.evidence & truth)]
    return detections, false
