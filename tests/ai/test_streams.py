"""Simulated report streams and their injected events, the ground truth of early warning."""

from __future__ import annotations

import math
from collections import Counter
from datetime import datetime, timedelta, timezone

from gridgov.ai.streams import (
    Alarm,
    background,
    burst_pipe,
    market_days,
    rainstorm,
    score,
    stuck_sensor,
    synthetic_city,
)

ZONE = timezone(timedelta(hours=8))
START = datetime(2026, 3, 2, tzinfo=ZONE)  # a Monday
CITY = synthetic_city(3)


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    dx = (a[0] - b[0]) * math.cos(math.radians(a[1])) * 111_320
    return math.hypot(dx, (a[1] - b[1]) * 110_574)


def test_a_stream_is_the_same_for_the_same_seed_and_differs_for_another() -> None:
    assert background(CITY, START, 1, 500, 1) == background(CITY, START, 1, 500, 1)
    assert background(CITY, START, 1, 500, 1) != background(CITY, START, 1, 500, 2)


def test_background_follows_the_daily_volume_the_day_and_the_week() -> None:
    reports = background(CITY, START, 14, 2_000, 5)
    per_day = Counter((r.at - START).days for r in reports)
    workdays = [per_day[d] for d in range(14) if d % 7 < 5]
    assert 1_500 < sum(workdays) / len(workdays) < 2_600
    by_hour = Counter(r.at.hour for r in reports)
    assert by_hour[10] > 5 * by_hour[3]
    weekend = [per_day[d] for d in range(14) if d % 7 >= 5]
    assert sum(weekend) / len(weekend) < 0.9 * sum(workdays) / len(workdays)
    assert {r.community_code for r in reports} == {c.code for c in CITY}
    assert any(r.id.endswith("-e0") for r in reports)  # echoes of the same problem


def test_a_burst_pipe_is_within_the_hour_and_150_metres_in_one_community() -> None:
    at = START + timedelta(days=3, hours=9)
    reports, event = burst_pipe(CITY[4], at, 9)
    assert 8 <= len(reports) <= 16 and event.report_ids == {r.id for r in reports}
    assert all(at <= r.at < at + timedelta(hours=1) for r in reports)
    assert {r.community_code for r in reports} == {CITY[4].code}
    spread = max(_metres((a.lon, a.lat), (b.lon, b.lat)) for a in reports for b in reports)
    assert spread <= 300
    assert set(event.category_codes) <= {"E0401", "E0402", "E0403", "H01"}


def test_a_rainstorm_floods_only_its_district_and_a_sensor_repeats_from_one_point() -> None:
    at = START + timedelta(days=3, hours=15)
    rain, storm = rainstorm(CITY, "D00", at, 9)
    assert rain and {r.community_code[:3] for r in rain} == {"D00"}
    assert {r.category_code for r in rain} == {"E0403"}
    assert all(at <= r.at < at + timedelta(hours=4) for r in rain)
    sensor, stuck = stuck_sensor(CITY[0], at, 9)
    assert len(sensor) == 72 and len({(r.lon, r.lat) for r in sensor}) == 1
    assert stuck.kind == "stuck_sensor" and storm.kind == "rainstorm"


def test_a_market_comes_back_at_the_same_hour_every_week() -> None:
    reports, mornings = market_days(CITY[2], START + timedelta(days=5, hours=6), 3, 9)
    assert [m.start.weekday() for m in mornings] == [5, 5, 5]
    assert all(6 <= r.at.hour < 10 for r in reports)


def test_an_alarm_detects_the_events_whose_reports_it_holds_and_the_rest_are_false() -> None:
    at = START + timedelta(days=1)
    pipe, event = burst_pipe(CITY[1], at, 2)
    first = sorted(pipe, key=lambda r: r.at)[0]
    hit = Alarm(at + timedelta(minutes=20), frozenset({first.id, "bg-x"}))
    miss = Alarm(at + timedelta(minutes=5), frozenset({"bg-y"}))
    [detection], false = score([miss, hit], [event])
    assert detection.delay == timedelta(minutes=20)
    assert false == [miss]
