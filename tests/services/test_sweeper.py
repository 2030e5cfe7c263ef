"""The sweeper: warns once near a deadline, escalates once per rule, catches up, and runs twice at once."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gridgov.services.cases import CaseService, SweepResult
from gridgov.services.locating import GridLocating, IndexParameters
from gridgov.store.db import make_engine, session_factory
from gridgov.store.tables import CaseEventRow
from gridgov.workflow.model import (
    AcceptCase,
    Action,
    CaseState,
    DispatchCase,
    EscalationReason,
    OwningLevel,
    ReturnCase,
)
from tests.case_world import (
    DISPATCHER,
    FRIDAY_AFTERNOON,
    HANDLER,
    INTAKE,
    LEADER,
    SHIFT,
    CaseWorld,
    build_world,
    case_service,
)


@pytest.fixture
def world(sessions: sessionmaker[Session], tmp_path: Path) -> CaseWorld:
    return build_world(sessions, tmp_path)


def _count(world: CaseWorld, case_id: int, action: Action) -> int:
    return sum(e.action is action for e in world.service.events(case_id, LEADER))


def test_a_case_near_its_deadline_is_warned_once(world: CaseWorld) -> None:
    case_id = world.dispatched_case()  # accept_due 16:00 Friday, dispatched 15:00
    assert world.service.sweep(world.clock.now() + timedelta(minutes=30)).warned == 0
    world.clock.advance(timedelta(minutes=50))
    assert world.service.sweep() == SweepResult(warned=1, escalated=0, examined=1)
    assert world.service.sweep() == SweepResult(warned=0, escalated=0, examined=0)
    case = world.service.case(case_id, LEADER)
    assert case.last_supervised_due == case.accept_due
    assert world.service.projection(case_id)["supervised_count"] == 1


def test_an_overdue_case_is_escalated_once_however_often_it_is_swept(world: CaseWorld) -> None:
    case_id = world.dispatched_case()
    world.clock.advance(timedelta(hours=1, minutes=30))
    first = world.service.sweep()
    assert (first.escalated, first.warned) == (1, 0)
    for minutes in (1, 10, 60):
        assert world.service.sweep(world.clock.now() + timedelta(minutes=minutes)).escalated == 0
    case = world.service.case(case_id, LEADER)
    assert case.owning_level is OwningLevel.CITY
    assert [e.grounds for e in case.escalations] == [EscalationReason.OVERDUE]
    assert _count(world, case_id, Action.ESCALATE) == 1
    assert world.service.projection(case_id)["escalation_count"] == 1


def test_a_deadline_set_after_working_hours_is_escalated_as_soon_as_it_passes(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    # Friday 18:50: no working time passes before the deadline, so its 80% warning moment is
    # already behind; a look that finds nothing to do must not put the deadline itself off.
    world = build_world(sessions, tmp_path, FRIDAY_AFTERNOON + timedelta(hours=3, minutes=50))
    _, case = world.service.submit_report(world.report(), INTAKE)
    case_id = int(case.id)
    world.service.file(case_id, SHIFT)
    due = world.clock.now() + timedelta(seconds=5)
    department = world.service.responsibilities.departments[0].code
    command = DispatchCase(
        department=department, accept_due=due, handle_due=due + timedelta(hours=4), reason="late"
    )
    world.service.perform(case_id, command, DISPATCHER)
    assert world.service.sweep(world.clock.now() + timedelta(seconds=1)).escalated == 0
    assert world.service.sweep(due + timedelta(seconds=1)).escalated == 1
    escalations = world.service.case(case_id, LEADER).escalations
    assert [e.grounds for e in escalations] == [EscalationReason.OVERDUE]


def test_a_case_past_its_accept_deadline_then_warned_about_handling(world: CaseWorld) -> None:
    case_id = world.dispatched_case()
    world.clock.advance(timedelta(minutes=30))
    world.service.perform(case_id, AcceptCase(), HANDLER)
    # handle_due is Monday 11:30; 80% of its working span from Friday 15:00 falls on Monday.
    monday = world.service.case(case_id, LEADER).handle_due
    assert monday is not None
    assert world.service.sweep(monday - timedelta(hours=3)).warned == 0
    assert world.service.sweep(monday - timedelta(minutes=30)).warned == 1
    assert world.service.sweep(monday + timedelta(minutes=1)).escalated == 1


def test_a_case_returned_twice_is_escalated(world: CaseWorld) -> None:
    case_id = world.dispatched_case()
    world.service.perform(case_id, ReturnCase(reason="不属本部门"), HANDLER)
    world.service.dispatch(case_id, DISPATCHER)
    assert world.service.sweep().escalated == 0
    world.service.perform(case_id, ReturnCase(reason="仍不属本部门"), HANDLER)
    world.clock.advance(timedelta(minutes=1))
    assert world.service.sweep().escalated == 1
    case = world.service.case(case_id, LEADER)
    assert case.state is CaseState.RETURNED
    assert [e.grounds for e in case.escalations] == [EscalationReason.RETURNED_TWICE]
    assert world.service.sweep().escalated == 0


def test_a_sweep_after_days_of_downtime_escalates_each_overdue_case_once(
    world: CaseWorld,
) -> None:
    cases = [world.dispatched_case() for _ in range(3)]
    result = world.service.sweep(world.clock.now() + timedelta(days=6))
    assert result == SweepResult(warned=0, escalated=3, examined=3)
    assert world.service.sweep(world.clock.now() + timedelta(days=7)).escalated == 0
    assert [_count(world, c, Action.ESCALATE) for c in cases] == [1, 1, 1]
    assert [_count(world, c, Action.SUPERVISE) for c in cases] == [0, 0, 0]


def test_a_sweep_preview_lists_what_it_would_do_and_writes_nothing(world: CaseWorld) -> None:
    case_id = world.dispatched_case()
    later = world.clock.now() + timedelta(hours=2)
    plan = world.service.sweep_plan(later)
    assert [(item.case_id, item.action) for item in plan] == [(case_id, "escalate")]
    assert _count(world, case_id, Action.ESCALATE) == 0
    assert world.service.sweep(later).escalated == 1


CONCURRENT_CASES = 200


def test_two_sweepers_at_once_escalate_every_case_exactly_once(
    world: CaseWorld, db_url: str, tmp_path: Path
) -> None:
    cases = [world.dispatched_case() for _ in range(CONCURRENT_CASES)]
    later = world.clock.now() + timedelta(days=3)
    engines = [make_engine(db_url) for _ in range(2)]
    results: list[SweepResult] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def run(service: CaseService) -> None:
        try:
            start.wait()
            results.append(service.sweep(later, batch=20))
        except BaseException as exc:  # reported below, so that a failure names its cause
            errors.append(exc)

    try:
        services = []
        for engine in engines:
            sessions = session_factory(engine)
            locating = GridLocating(sessions, parameters=IndexParameters(), cache_dir=None)
            services.append(case_service(sessions, locating, world.clock))
        threads = [threading.Thread(target=run, args=(s,)) for s in services]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        for engine in engines:
            engine.dispose()

    assert errors == []
    assert sum(r.escalated for r in results) == CONCURRENT_CASES
    with world.sessions() as s:
        escalations = Counter(
            s.scalars(select(CaseEventRow.case_id).where(CaseEventRow.action == "escalate"))
        )
    assert escalations == Counter(dict.fromkeys(cases, 1))
    assert world.service.verify_audit().intact
