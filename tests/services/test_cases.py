"""The closed loop through the case services, on both dialects: projection and events at each step."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gridgov.core.errors import InvalidInput, NotFound, OutsideCoverage
from gridgov.services.cases import ManualDispatchRequired, OutOfScope
from gridgov.store.tables import AuditAnchorRow, CaseEventRow, CaseRow, ReportRow
from gridgov.workflow.model import (
    AcceptCase,
    Action,
    Actor,
    ApproveExtension,
    CaseState,
    CloseCase,
    EvaluateCase,
    HandleCase,
    MergeCase,
    OwningLevel,
    PassVerification,
    RequestExtension,
    ReturnCase,
    Role,
)
from gridgov.workflow.transitions import IllegalTransition, RoleNotAllowed
from tests.case_world import (
    CITIZEN,
    COMMUNITY_1,
    DISPATCHER,
    ERQI_POINT,
    HANDLER,
    INTAKE,
    LEADER,
    OUTSIDE_POINT,
    PLAIN_POINT,
    SCHOOL_POINT,
    SHANGHAI,
    SHIFT,
    STREET_1,
    WORKER,
    ZHONGYUAN,
    CaseWorld,
    build_world,
)


@pytest.fixture
def world(sessions: sessionmaker[Session], tmp_path: Path) -> CaseWorld:
    return build_world(sessions, tmp_path)


def _rows(world: CaseWorld) -> dict[str, int]:
    with world.sessions() as s:
        return {
            t.__tablename__: s.scalar(select(func.count()).select_from(t)) or 0
            for t in (ReportRow, CaseRow, CaseEventRow, AuditAnchorRow)
        }


def _projection(world: CaseWorld, case_id: int) -> dict[str, Any]:
    return world.service.projection(case_id)


def _actions(world: CaseWorld, case_id: int) -> list[str]:
    return [e.action.value for e in world.service.events(case_id, LEADER)]


def test_a_report_runs_the_whole_loop_with_projection_and_events_at_each_step(
    world: CaseWorld,
) -> None:
    service, clock = world.service, world.clock
    report_id, case = service.submit_report(world.report(), INTAKE)
    case_id = int(case.id)
    assert case.state is CaseState.REPORTED
    assert case.grid_codes["street"] == STREET_1
    assert case.grid_codes["community"] == COMMUNITY_1
    assert case.layer_id == world.layer_id
    row = _projection(world, case_id)
    assert (row["state"], row["street_code"], row["district_code"]) == (
        "reported",
        STREET_1,
        ZHONGYUAN,
    )
    assert row["lon"] == pytest.approx(PLAIN_POINT[0])
    assert service.reports(case_id, LEADER)[0]["id"] == report_id

    clock.advance(timedelta(minutes=5))
    filed = service.file(case_id, SHIFT)
    assert filed.state is CaseState.FILED
    assert filed.owning_level is OwningLevel.DISTRICT  # E0102's owning level
    assert _projection(world, case_id)["owning_code"] == ZHONGYUAN

    dispatched = service.dispatch(case_id, DISPATCHER)
    assert dispatched.assignee_department == f"{ZHONGYUAN}.urban_management"
    row = _projection(world, case_id)
    assert row["state"] == "dispatched"
    assert row["assignee_department"] == f"{ZHONGYUAN}.urban_management"
    assert row["accept_due"] == dispatched.accept_due
    dispatch_event = service.events(case_id, LEADER)[-1]
    assert dispatch_event.actor_id == DISPATCHER.id
    assert "城市管理局" in dispatch_event.reason

    clock.advance(timedelta(minutes=10))
    assert service.perform(case_id, AcceptCase(person="王五"), HANDLER).assignee_person == "王五"
    handled = service.perform(case_id, HandleCase(evidence=("photo-1.jpg",)), HANDLER)
    assert handled.state is CaseState.HANDLED
    service.perform(case_id, PassVerification(reason="现场已清理"), WORKER)
    closed = service.perform(case_id, CloseCase(), SHIFT)
    assert closed.state is CaseState.CLOSED
    evaluated = service.perform(case_id, EvaluateCase(satisfaction="satisfied"), CITIZEN)

    row = _projection(world, case_id)
    assert row["state"] == "evaluated"
    assert row["satisfaction"] == "satisfied"
    assert row["closed_at"] == closed.closed_at
    assert row["last_seq"] == evaluated.seq == 8
    assert row["sweep_at"] is None
    assert _actions(world, case_id) == [
        "report", "file", "dispatch", "accept", "handle", "verify_pass", "close", "evaluate",
    ]  # fmt: skip
    events = service.events(case_id, LEADER)
    assert events[4].payload["evidence"] == ["photo-1.jpg"]
    assert [e.global_seq for e in events] == list(range(1, 9))
    assert service.verify_audit().intact


def test_a_retry_with_the_same_channel_and_external_id_returns_the_same_report(
    world: CaseWorld,
) -> None:
    first_id, first = world.service.submit_report(world.report(external_id="A-1"), INTAKE)
    before = _rows(world)
    again_id, again = world.service.submit_report(world.report(external_id="A-1"), INTAKE)
    assert (again_id, again.id) == (first_id, first.id)
    assert _rows(world) == before
    other_id, _ = world.service.submit_report(
        world.report(external_id="A-1", channel="citizen_app"), INTAKE
    )
    assert other_id != first_id


@pytest.mark.parametrize(
    "change, error, field",
    [
        ({"category": "X9999"}, InvalidInput, "category_code"),
        ({"point": None}, InvalidInput, "lon"),
        ({"point": OUTSIDE_POINT}, OutsideCoverage, "lon,lat"),
    ],
)
def test_a_bad_report_is_refused_naming_the_field_and_writes_nothing(
    world: CaseWorld, change: dict[str, Any], error: type[InvalidInput], field: str
) -> None:
    before = _rows(world)
    report = world.report(category=change.get("category", "E0102"))
    if "point" in change:
        lon, lat = change["point"] or (None, None)
        report = replace(report, lon=lon, lat=lat)
    with pytest.raises(error) as caught:
        world.service.submit_report(report, INTAKE)
    assert caught.value.field == field
    assert _rows(world) == before


def test_an_action_by_a_role_not_allowed_is_refused_and_writes_nothing(world: CaseWorld) -> None:
    case_id = world.dispatched_case()
    before = _rows(world)
    with pytest.raises(RoleNotAllowed, match="handler"):
        world.service.perform(case_id, AcceptCase(), WORKER)
    with pytest.raises(IllegalTransition):
        world.service.perform(case_id, CloseCase(), SHIFT)
    assert _rows(world) == before


def test_an_actor_out_of_scope_neither_sees_nor_acts_and_writes_nothing(world: CaseWorld) -> None:
    case_id = world.dispatched_case()
    erqi_case = world.dispatched_case(ERQI_POINT)
    erqi_handler = Actor("h-erqi", Role.HANDLER, scope_code="410103000000")
    before = _rows(world)
    with pytest.raises(OutOfScope, match="410103000000"):
        world.service.perform(case_id, AcceptCase(), erqi_handler)
    with pytest.raises(OutOfScope):
        world.service.case(case_id, erqi_handler)
    with pytest.raises(OutOfScope):
        world.service.submit_report(
            world.report(PLAIN_POINT), Actor("w", Role.GRID_WORKER, scope_code=STREET_1[:-1] + "9")
        )
    assert _rows(world) == before
    assert [c.id for c in world.service.cases(erqi_handler)] == [str(erqi_case)]
    street_leader = Actor("s", Role.CENTRE_LEADER, scope_code=STREET_1)
    assert [c.id for c in world.service.cases(street_leader)] == [str(case_id)]
    assert {c.id for c in world.service.cases(LEADER)} == {str(case_id), str(erqi_case)}


def test_an_unknown_case_is_not_found(world: CaseWorld) -> None:
    with pytest.raises(NotFound):
        world.service.perform(999, AcceptCase(), HANDLER)


def test_a_case_in_a_special_grid_goes_to_its_responsible_unit(world: CaseWorld) -> None:
    case = world.service.case(world.dispatched_case(SCHOOL_POINT), LEADER)
    assert case.assignee_department == "SP-SCHOOL-1"
    assert world.service.projection(int(case.id))["special_codes"] == ["SP-SCHOOL-1"]


def test_a_case_no_rule_places_waits_in_the_district_centres_manual_queue(
    world: CaseWorld,
) -> None:
    _, case = world.service.submit_report(world.report(category="H02"), INTAKE)
    case_id = int(case.id)
    world.service.file(case_id, SHIFT)
    before = _rows(world)
    with pytest.raises(ManualDispatchRequired, match=ZHONGYUAN):
        world.service.dispatch(case_id, DISPATCHER)
    assert _rows(world) == before
    assert world.service.case(case_id, LEADER).state is CaseState.FILED
    centre = Actor("c", Role.CENTRE_LEADER, scope_code=ZHONGYUAN)
    assert [c.id for c in world.service.manual_queue(centre)] == [str(case_id)]
    assert (
        world.service.manual_queue(Actor("c2", Role.CENTRE_LEADER, scope_code="410103000000")) == []
    )
    dispatched = world.service.dispatch(
        case_id, DISPATCHER, department=f"{ZHONGYUAN}.civil_affairs"
    )
    assert dispatched.state is CaseState.DISPATCHED
    assert world.service.manual_queue(centre) == []


def test_filing_refuses_an_unknown_or_a_parent_category(world: CaseWorld) -> None:
    _, case = world.service.submit_report(world.report(category=None), INTAKE)
    before = _rows(world)
    for code in ("NOPE", "E01"):
        with pytest.raises(InvalidInput) as caught:
            world.service.file(int(case.id), SHIFT, category_code=code)
        assert caught.value.field == "category_code"
    with pytest.raises(InvalidInput, match="category_code"):
        world.service.file(int(case.id), SHIFT)
    assert _rows(world) == before


def test_a_dispatch_on_friday_afternoon_is_due_on_monday_in_working_time(
    world: CaseWorld,
) -> None:
    case = world.service.case(world.dispatched_case(), LEADER)
    # E0102: 1 working hour to accept, then 4 to handle; the office closes at 17:30 on Friday.
    assert case.accept_due == datetime(2026, 11, 27, 16, 0, tzinfo=SHANGHAI)
    assert case.handle_due == datetime(2026, 11, 30, 11, 30, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    "dispatched_at, accept_due, handle_due",
    [
        # Half an hour before the National Day holiday (Oct 1–7): both clocks resume on Oct 8.
        ((2026, 9, 30, 17, 0), (2026, 10, 8, 9, 30), (2026, 10, 8, 15, 0)),
        # The lunch break does not count, nor the night.
        ((2026, 12, 1, 11, 30), (2026, 12, 1, 14, 0), (2026, 12, 2, 9, 30)),
    ],
)
def test_deadlines_skip_holidays_and_breaks(
    world: CaseWorld,
    dispatched_at: tuple[int, ...],
    accept_due: tuple[int, ...],
    handle_due: tuple[int, ...],
) -> None:
    start = datetime(*dispatched_at, tzinfo=SHANGHAI)
    assert world.service.deadlines("E0102", start) == (
        datetime(*accept_due, tzinfo=SHANGHAI),
        datetime(*handle_due, tzinfo=SHANGHAI),
    )


def test_an_approved_extension_moves_handle_due(world: CaseWorld) -> None:
    case_id = world.dispatched_case()
    service = world.service
    service.perform(case_id, AcceptCase(), HANDLER)
    until = datetime(2026, 12, 3, 17, 0, tzinfo=SHANGHAI)
    service.perform(case_id, RequestExtension(until=until, reason="需协调物业"), HANDLER)
    assert service.case(case_id, LEADER).pending_extension is not None
    granted = datetime(2026, 12, 2, 17, 0, tzinfo=SHANGHAI)
    case = service.perform(case_id, ApproveExtension(handle_due=granted), SHIFT)
    assert case.handle_due == granted
    assert service.projection(case_id)["handle_due"] == granted


def test_a_merge_closes_the_duplicate_and_the_target_records_its_reports(
    world: CaseWorld,
) -> None:
    target = world.dispatched_case()
    _, dup = world.service.submit_report(world.report(), INTAKE)
    into = world.service.case(target, LEADER)
    merged = world.service.perform(int(dup.id), MergeCase(into=into), INTAKE)
    assert merged.state is CaseState.MERGED
    assert world.service.projection(int(dup.id))["merged_into"] == target
    absorbed = world.service.case(target, LEADER)
    assert absorbed.merged_from == (dup.id,)
    assert len(absorbed.report_ids) == 2
    assert _actions(world, target)[-1] == Action.ABSORB.value


def test_rebuilding_the_projection_restores_it_from_the_events(world: CaseWorld) -> None:
    case_id = world.dispatched_case()
    world.service.perform(case_id, ReturnCase(reason="不属本部门"), HANDLER)
    expected = world.service.projection(case_id)
    with world.sessions.begin() as s:
        s.execute(
            CaseRow.__table__.update()
            .where(CaseRow.id == case_id)
            .values(state="closed", return_count=0, assignee_department="x")
        )
    case = world.service.rebuild_projection(case_id)
    assert case.state is CaseState.RETURNED
    assert world.service.projection(case_id) == expected
