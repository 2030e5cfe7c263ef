"""The worker's rollups job: it builds the rollups once, then takes in only what changed, and on
PostgreSQL makes the coming months' partitions; a zone with daylight saving gets no rollups."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session, sessionmaker

from gridgov.core.errors import InvalidInput
from gridgov.services.rollups import RollupService
from gridgov.services.worker import ROLLUPS, Worker, rollups_job
from gridgov.workflow.model import SuperviseCase
from tests.case_world import LEADER, SHANGHAI, build_world


def test_the_rollups_job_builds_once_then_takes_in_each_change(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    # Years ahead, so that the months the migration made cannot include this one.
    world = build_world(sessions, tmp_path, datetime(2031, 6, 2, 9, 0, tzinfo=SHANGHAI))
    first = world.dispatched_case()
    service = RollupService(sessions, world.clock, time_zone=SHANGHAI)
    worker = Worker(sessions, world.clock, [rollups_job(service, timedelta(minutes=1))])

    (run,) = worker.run_due(force=True)
    assert run.name == ROLLUPS and run.outcome == "ok" and "rebuilt" in run.summary
    postgres = sessions.kw["bind"].dialect.name == "postgresql"
    assert ("cases_2031_06, cases_2031_07" in run.summary) == postgres
    status = service.status()
    assert status.behind == 0 and status.state is not None and status.state.utc_offset == 8 * 3600

    world.service.perform(first, SuperviseCase(reason="督办 / hurry"), LEADER)
    assert service.status().behind == 1
    (run,) = worker.run_due(force=True)
    assert "events 1 · units 1" in run.summary and "partitions added none" in run.summary
    assert service.status().behind == 0


def test_a_zone_with_daylight_saving_keeps_no_rollups(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    world = build_world(sessions, tmp_path)
    service = RollupService(sessions, world.clock, time_zone=ZoneInfo("Europe/Berlin"))
    assert service.keep_up().refresh is None
    with pytest.raises(InvalidInput, match="GRIDGOV_TIMEZONE"):
        service.rebuild()
