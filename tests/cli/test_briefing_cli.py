"""`gridgov ai briefing` and `gridgov ai dispatch-eval` against a real store, on both dialects."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from gridgov.cli.main import cli
from tests.case_world import ERQI, ERQI_POINT, INTAKE, PLAIN_POINT
from tests.insights_world import InsightsWorld, insights_world

CIVIL = "410102000000.civil_affairs"
ERQI_CIVIL = "410103000000.civil_affairs"


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[InsightsWorld]:
    with insights_world(db_url, tmp_path / "var") as built:
        yield built


def run(world: InsightsWorld, *args: str) -> Result:
    settings = world.runtime.settings
    runner = CliRunner(
        env={
            "GRIDGOV_DATABASE_URL": settings.resolved_database_url,
            "GRIDGOV_DATA_DIR": str(settings.data_dir),
            "GRIDGOV_INTAKE_PLACES": "",
        }
    )
    return runner.invoke(cli, ["ai", *args])


def test_briefing_prints_the_days_text_in_chinese_then_english(world: InsightsWorld) -> None:
    world.cases.dispatched_case(PLAIN_POINT)
    world.runtime.cases.submit_report(world.cases.report(ERQI_POINT), INTAKE)
    result = run(world, "briefing", "--day", "2026-11-27")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("郑州市城市运行日报（2026年11月27日）")
    assert "当日接收上报2件" in result.stdout
    assert "Daily operations briefing, 郑州市" in result.stdout
    assert "模板 / template" in result.stderr
    scoped = run(world, "briefing", "--day", "2026-11-27", "--scope", ERQI, "--json")
    assert scoped.exit_code == 0, scoped.output
    body = json.loads(scoped.stdout)
    assert body["facts"]["reports"] == 1 and body["rewritten_by"] is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--day", "2026-13-01"], "--day"),
        (["--day", "2026-11-27", "--scope", "410199000000"], "410199000000"),
        (["--day", "2026-11-27", "--scope", "SP-SCHOOL-1"], "special grid"),
    ],
)
def test_briefing_refuses_a_bad_day_or_scope_naming_it(
    world: InsightsWorld, args: list[str], message: str
) -> None:
    result = run(world, "briefing", *args)
    assert result.exit_code == 2
    assert message in result.output


def test_dispatch_eval_prints_the_time_split_scores_as_json(world: InsightsWorld) -> None:
    for _day in range(2):
        for _ in range(3):
            world.dispatched_by_hand("H02", CIVIL)
            world.dispatched_by_hand("H02", ERQI_CIVIL, point=ERQI_POINT)
        world.clock.advance(timedelta(days=1))
    result = run(
        world, "dispatch-eval", "--start", "2026-11-27", "--train-days", "1", "--test-days", "1"
    )
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["trained_on"] == 6 and scores["tested_on"] == 6
    # Each district's civil affairs bureau, learned as one kind of unit: right everywhere.
    assert scores["learned"]["top1"] == 1.0
    assert scores["baseline_most_frequent_for_category"]["top1"] == 0.5
    assert scores["rules"]["manual"] == 6


def test_dispatch_eval_on_a_store_without_dispatches_says_so(world: InsightsWorld) -> None:
    result = run(world, "dispatch-eval")
    assert result.exit_code == 2
    assert "not found" in result.output
    bad = run(world, "dispatch-eval", "--start", "yesterday")
    assert bad.exit_code == 2 and "--start" in bad.output
