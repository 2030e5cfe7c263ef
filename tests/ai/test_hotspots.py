"""Hotspots: tight clusters in space and time, raised only where they are unusual."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from gridgov.ai.anomalies import ReportPoint
from gridgov.ai.hotspots import Hotspot, HotspotFinder
from gridgov.ai.streams import DEFAULT_CENTRE, offset
from gridgov.workflow.categories import Taxonomy, load_taxonomy

ZONE = timezone(timedelta(hours=8))
START = datetime(2026, 3, 2, tzinfo=ZONE)
HALF_SIDE_M = 5_000.0


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return load_taxonomy()


def _uniform(seed: int, days: int, per_day: int, category: str = "E0403") -> list[ReportPoint]:
    """Reports spread evenly over a 10 km square and over the days."""
    rng = np.random.default_rng(seed)
    n = days * per_day
    seconds = np.sort(rng.uniform(0, days * 86_400, n))
    xy = rng.uniform(-HALF_SIDE_M, HALF_SIDE_M, (n, 2))
    return [
        ReportPoint(
            f"u{seed}-{i}", START + timedelta(seconds=float(s)), category, "C", "S",
            *offset(DEFAULT_CENTRE, float(x), float(y)),
        )
        for i, (s, (x, y)) in enumerate(zip(seconds, xy, strict=True))
    ]  # fmt: skip


def _cluster(at: datetime, east_m: float, north_m: float, n: int) -> list[ReportPoint]:
    """`n` reports within about 80 m of one point and 30 minutes."""
    rng = np.random.default_rng(7)
    out = []
    for i in range(n):
        lon, lat = offset(
            DEFAULT_CENTRE, east_m + rng.uniform(-60, 60), north_m + rng.uniform(-60, 60)
        )
        out.append(ReportPoint(f"k{i}", at + timedelta(minutes=3 * i), "E0401", "C", "S", lon, lat))
    return out


def _scan(finder: HotspotFinder, reports: list[ReportPoint], now: datetime) -> list[Hotspot]:
    finder.extend(r for r in reports if r.at < now)
    return finder.scan(now)


def test_a_tight_cluster_in_uniform_noise_is_a_hotspot_with_its_members(
    taxonomy: Taxonomy,
) -> None:
    noise = _uniform(1, 15, 300)
    at = START + timedelta(days=14, hours=10)
    cluster = _cluster(at, 1_200.0, -800.0, 7)
    found = _scan(HotspotFinder(taxonomy=taxonomy), noise + cluster, at + timedelta(hours=1))
    assert len(found) == 1
    [hotspot] = found
    assert hotspot.family == "E04"
    assert {r.id for r in cluster} <= set(hotspot.member_ids)
    centre = offset(DEFAULT_CENTRE, 1_200.0, -800.0)
    assert (
        abs(hotspot.lon - centre[0]) * 91_000 < 100 and abs(hotspot.lat - centre[1]) * 110_574 < 100
    )
    assert hotspot.radius_m < 150 and hotspot.p_value < 1e-4
    assert hotspot.last_at - hotspot.first_at <= timedelta(minutes=30)
    assert "E04" in hotspot.explanation_zh and "E04" in hotspot.explanation_en


def test_uniform_noise_has_no_hotspot(taxonomy: Taxonomy) -> None:
    noise = _uniform(2, 15, 300)
    finder = HotspotFinder(taxonomy=taxonomy)
    finder.extend(r for r in noise if r.at < START + timedelta(days=14))
    found = []
    for hour in range(1, 25):
        now = START + timedelta(days=14, hours=hour)
        finder.extend(r for r in noise if now - timedelta(hours=1) <= r.at < now)
        found.extend(finder.scan(now))
    assert found == []


def test_a_place_busy_at_the_same_hour_every_week_is_not_a_hotspot(taxonomy: Taxonomy) -> None:
    noise = _uniform(3, 15, 300)
    weekly = [
        r
        for week in range(3)
        for r in _cluster(START + timedelta(days=7 * week, hours=10), 1_200.0, -800.0, 7)
    ]
    weekly = [
        ReportPoint(f"w{n}-{r.id}", r.at, r.category_code, "C", "S", r.lon, r.lat)
        for n, r in enumerate(weekly)
    ]
    last_week = [r for r in weekly if r.at >= START + timedelta(days=14)]
    found = _scan(
        HotspotFinder(taxonomy=taxonomy), noise + weekly, START + timedelta(days=14, hours=11)
    )
    assert not any(set(h.member_ids) & {r.id for r in last_week} for h in found)


def test_a_hotspot_is_raised_once_not_at_every_scan(taxonomy: Taxonomy) -> None:
    noise = _uniform(4, 15, 300)
    at = START + timedelta(days=14, hours=10)
    reports = noise + _cluster(at, 0.0, 0.0, 7)
    finder = HotspotFinder(taxonomy=taxonomy)
    first = _scan(finder, reports, at + timedelta(hours=1))
    again = _scan(
        finder,
        [r for r in reports if r.at >= at + timedelta(hours=1)],
        at + timedelta(hours=1, minutes=10),
    )
    assert len(first) == 1 and again == []


def test_the_same_reports_give_the_same_hotspots(taxonomy: Taxonomy) -> None:
    at = START + timedelta(days=14, hours=10)
    reports = _uniform(5, 15, 300) + _cluster(at, 300.0, 300.0, 6)
    now = at + timedelta(hours=1)
    assert _scan(HotspotFinder(taxonomy=taxonomy), reports, now) == _scan(
        HotspotFinder(taxonomy=taxonomy), reports, now
    )
