"""Spikes per grid × category against an hour-of-week baseline, on simulated streams."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from gridgov.ai.anomalies import EarlyWarning, ReportPoint, SpikeDetector
from gridgov.ai.streams import (
    Alarm,
    Community,
    background,
    burst_pipe,
    market_days,
    merged,
    rainstorm,
    replay,
    score,
    synthetic_city,
)
from gridgov.grids.model import GridLevel
from gridgov.workflow.categories import Taxonomy, load_taxonomy

ZONE = timezone(timedelta(hours=8))
START = datetime(2026, 3, 2, tzinfo=ZONE)  # a Monday
DAYS = 22
PER_DAY = 2_000
SEED = 11
EVERY = timedelta(minutes=15)
# Measured on this seed: no false alarm over the last 3 days at 2,000 reports a day (docs/ai.md gives the bench's
# figures); the bound leaves room for one without letting a flood through.
MAX_FALSE_ALARMS = 1


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return load_taxonomy()


@pytest.fixture(scope="module")
def city() -> tuple[Community, ...]:
    return synthetic_city(SEED)


@pytest.fixture(scope="module")
def quiet(city: tuple[Community, ...]) -> list[ReportPoint]:
    return background(city, START, DAYS, PER_DAY, SEED)


def _run(
    taxonomy: Taxonomy,
    reports: list[ReportPoint],
    days: float = 3,
    every: timedelta = EVERY,
    **options: object,
) -> list[EarlyWarning]:
    detector = SpikeDetector(taxonomy=taxonomy, **options)  # type: ignore[arg-type]
    warnings: list[EarlyWarning] = []

    def scan(now: datetime) -> list[Alarm]:
        found = detector.scan(now)
        warnings.extend(found)
        return [Alarm(w.raised_at, frozenset(w.evidence)) for w in found]

    end = START + timedelta(days=DAYS)
    replay(reports, end - timedelta(days=days), end, every, detector.update, scan)
    return warnings


def _alarms(warnings: list[EarlyWarning]) -> list[Alarm]:
    return [Alarm(w.raised_at, frozenset(w.evidence)) for w in warnings]


def test_a_burst_pipe_is_warned_within_half_an_hour_with_its_reports_as_evidence(
    taxonomy: Taxonomy, city: tuple[Community, ...], quiet: list[ReportPoint]
) -> None:
    at = START + timedelta(days=DAYS - 1, hours=14, minutes=7)
    pipe, event = burst_pipe(city[10], at, SEED, reports=(12, 16))
    warnings = _run(taxonomy, merged(quiet, pipe), days=0.5, every=timedelta(minutes=5))
    [detection], _ = score(_alarms(warnings), [event])
    assert detection.delay is not None and detection.delay <= timedelta(minutes=30)
    first = next(w for w in warnings if set(w.evidence) & event.report_ids)
    assert (first.kind, first.grid_code, first.category_code) == ("spike", city[10].code, "E04")
    assert first.observed >= 4 and first.expected < 0.5 and first.p_value < 1e-6
    assert "E04" in first.explanation_zh and "E04" in first.explanation_en


def test_clean_background_raises_at_most_one_false_alarm_over_three_days(
    taxonomy: Taxonomy, quiet: list[ReportPoint]
) -> None:
    assert len(_run(taxonomy, quiet)) <= MAX_FALSE_ALARMS


def test_a_weekly_market_morning_does_not_alarm_once_the_baseline_has_seen_it(
    taxonomy: Taxonomy, city: tuple[Community, ...], quiet: list[ReportPoint]
) -> None:
    monday = START + timedelta(hours=6)
    market, mornings = market_days(city[3], monday, 4, SEED, per_hour=6)
    last = mornings[-1]
    assert START + timedelta(days=DAYS - 1) < last.start < START + timedelta(days=DAYS)
    [seen], _ = score(_alarms(_run(taxonomy, merged(quiet, market), days=1)), [last])
    assert seen.first_alarm is None
    # The same morning on a city that never had a market is a spike: the test can fail.
    first_time = [r for r in market if r.id in last.report_ids]
    [unseen], _ = score(_alarms(_run(taxonomy, merged(quiet, first_time), days=1)), [last])
    assert unseen.first_alarm is not None


def test_a_new_quiet_community_does_not_alarm_on_its_first_reports_but_has_a_baseline(
    taxonomy: Taxonomy, city: tuple[Community, ...], quiet: list[ReportPoint]
) -> None:
    street = city[0].street_code
    at = START + timedelta(days=DAYS - 1, hours=10)
    new = [
        ReportPoint(f"new-{n}", at + timedelta(minutes=5 * n), "E0102", "NEW", street, 0.0, 0.0)
        for n in range(3)
    ]
    detector = SpikeDetector(taxonomy=taxonomy)
    detector.extend(merged(quiet, new))
    assert detector.scan(at + timedelta(minutes=30)) == []
    expected = detector.expected("NEW", "E0102", at, at + timedelta(hours=1))
    assert 0 < expected < detector.expected(city[0].code, "E0102", at, at + timedelta(hours=1)) * 5


def test_an_hour_of_week_baseline_expects_more_on_a_weekday_morning_than_at_night(
    taxonomy: Taxonomy, city: tuple[Community, ...], quiet: list[ReportPoint]
) -> None:
    detector = SpikeDetector(taxonomy=taxonomy)
    detector.extend(quiet)
    detector.scan(START + timedelta(days=DAYS))
    tuesday = START + timedelta(days=DAYS - 6)
    morning = detector.expected(
        city[0].code, "H01", tuesday + timedelta(hours=9), tuesday + timedelta(hours=10)
    )
    night = detector.expected(
        city[0].code, "H01", tuesday + timedelta(hours=3), tuesday + timedelta(hours=4)
    )
    assert morning > 5 * night > 0


def test_a_rainstorm_is_warned_per_street_when_watching_streets(
    taxonomy: Taxonomy, city: tuple[Community, ...], quiet: list[ReportPoint]
) -> None:
    at = START + timedelta(days=DAYS - 1, hours=12)
    rain, event = rainstorm(city, "D01", at, SEED)
    warnings = _run(taxonomy, merged(quiet, rain), days=1, level=GridLevel.STREET)
    hits = [w for w in warnings if set(w.evidence) & event.report_ids]
    assert hits and all(w.grid_level is GridLevel.STREET for w in hits)
    assert {w.grid_code for w in hits} <= {c.street_code for c in city if c.district_code == "D01"}
    assert min(w.raised_at for w in hits) - at <= timedelta(hours=2)


def test_the_same_stream_gives_the_same_warnings(
    taxonomy: Taxonomy, city: tuple[Community, ...], quiet: list[ReportPoint]
) -> None:
    pipe, _ = burst_pipe(city[20], START + timedelta(days=DAYS - 1, hours=9), SEED)
    stream = merged(quiet, pipe)
    assert _run(taxonomy, stream, days=1) == _run(taxonomy, stream, days=1)


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"level": GridLevel.MICRO}, "per community or street"),
        ({"category_level": "parent", "taxonomy": None}, "needs the taxonomy"),
        ({"windows": ()}, "positive durations"),
    ],
)
def test_a_detector_refuses_settings_it_cannot_honour(
    taxonomy: Taxonomy, options: dict[str, object], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        SpikeDetector(**{"taxonomy": taxonomy, **options})  # type: ignore[arg-type]


def test_nothing_is_raised_before_the_minimum_history(
    taxonomy: Taxonomy, city: tuple[Community, ...], quiet: list[ReportPoint]
) -> None:
    pipe, _ = burst_pipe(city[10], START + timedelta(days=5, hours=10), SEED)
    detector = SpikeDetector(taxonomy=taxonomy)
    detector.extend(r for r in merged(quiet, pipe) if r.at < START + timedelta(days=6))
    assert detector.scan(START + timedelta(days=5, hours=11)) == []
