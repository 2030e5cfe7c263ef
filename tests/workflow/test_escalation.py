"""The escalation ladder, and when the sweeper warns and escalates: once per cause."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gridgov.workflow.escalation import escalation_due, next_level, warning_due
from gridgov.workflow.model import (
    AcceptCase,
    Actor,
    ApproveExtension,
    Case,
    CaseState,
    Command,
    DispatchCase,
    EscalateCase,
    EscalationReason,
    EvaluateCase,
    FileCase,
    HandleCase,
    OwningLevel,
    PassVerification,
    ReportCase,
    RequestExtension,
    ReturnCase,
    Role,
    SuperviseCase,
)
from gridgov.workflow.replay import apply
from gridgov.workflow.transitions import decide

T0 = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
ACCEPT_DUE = T0 + timedelta(hours=2)
HANDLE_DUE = T0 + timedelta(days=2)
SWEEPER = Actor("sweeper", Role.SYSTEM)

ROLE_FOR = {
    ReportCase: Role.REPORTER,
    FileCase: Role.SHIFT_LEADER,
    DispatchCase: Role.DISPATCHER,
    AcceptCase: Role.HANDLER,
    ReturnCase: Role.HANDLER,
    HandleCase: Role.HANDLER,
    RequestExtension: Role.HANDLER,
    ApproveExtension: Role.SHIFT_LEADER,
    PassVerification: Role.GRID_WORKER,
    EvaluateCase: Role.REPORTER,
    EscalateCase: Role.SYSTEM,
    SuperviseCase: Role.SYSTEM,
}


def run(case: Case | None, command: Command, at: datetime) -> Case:
    actor = Actor("a-1", ROLE_FOR[type(command)])
    for event in decide(case, command, actor, at):
        case = apply(case, event)
    assert case is not None
    return case


def dispatched(at: datetime = T0) -> Case:
    case = run(None, ReportCase(case_id="C1", report_id="R1", grid_codes={}), at)
    case = run(case, FileCase(category_code="0101"), at)
    dispatch = DispatchCase(department="城管局", accept_due=ACCEPT_DUE, handle_due=HANDLE_DUE)
    return run(case, dispatch, at)


def accepted() -> Case:
    return run(dispatched(), AcceptCase(), T0 + timedelta(minutes=30))


def wall_clock_fraction(start: datetime, due: datetime, now: datetime) -> float:
    return (now - start) / (due - start)


def test_the_ladder_runs_from_grid_to_city_and_stops_there() -> None:
    climbed = [OwningLevel.GRID]
    while (upper := next_level(climbed[-1])) is not None:
        climbed.append(upper)
    assert climbed == ["grid", "community", "street", "district", "city"]


def test_a_case_inside_its_deadlines_is_not_escalated() -> None:
    assert escalation_due(dispatched(), ACCEPT_DUE) is None
    assert escalation_due(accepted(), HANDLE_DUE) is None


def test_a_case_not_accepted_by_its_accept_deadline_is_escalated_as_overdue() -> None:
    assert escalation_due(dispatched(), ACCEPT_DUE + timedelta(seconds=1)) is (
        EscalationReason.OVERDUE
    )


def test_an_accepted_case_past_its_handling_deadline_is_escalated_once() -> None:
    late = HANDLE_DUE + timedelta(hours=1)
    case = accepted()
    grounds = escalation_due(case, late)
    assert grounds is EscalationReason.OVERDUE
    case = run(case, EscalateCase(reason="超期未办结", grounds=grounds), late)
    assert case.owning_level is OwningLevel.COMMUNITY
    assert escalation_due(case, late + timedelta(days=5)) is None


def test_a_new_deadline_after_an_extension_can_be_missed_and_escalated_again() -> None:
    late = HANDLE_DUE + timedelta(hours=1)
    case = run(accepted(), EscalateCase(reason="超期", grounds=EscalationReason.OVERDUE), late)
    case = run(case, RequestExtension(until=late + timedelta(days=3), reason="需协调"), late)
    case = run(case, ApproveExtension(handle_due=late + timedelta(days=3)), late)
    assert escalation_due(case, late + timedelta(days=2)) is None
    assert escalation_due(case, late + timedelta(days=4)) is EscalationReason.OVERDUE


def test_a_case_waiting_on_an_extension_decision_is_not_escalated_for_the_delay() -> None:
    case = run(
        accepted(), RequestExtension(until=HANDLE_DUE + timedelta(days=3), reason="需协调"), T0
    )
    assert escalation_due(case, HANDLE_DUE + timedelta(hours=1)) is None


def test_a_case_returned_twice_is_escalated_once_per_two_returns() -> None:
    case = run(dispatched(), ReturnCase(reason="属地不符"), T0)
    assert escalation_due(case, T0) is None
    redispatch = DispatchCase(department="住建局", accept_due=ACCEPT_DUE, handle_due=HANDLE_DUE)
    case = run(run(case, redispatch, T0), ReturnCase(reason="职能不符"), T0)
    assert escalation_due(case, T0) is EscalationReason.RETURNED_TWICE
    case = run(case, EscalateCase(reason="两次退单", grounds=EscalationReason.RETURNED_TWICE), T0)
    assert escalation_due(case, T0) is None
    case = run(run(case, redispatch, T0), ReturnCase(reason="权属不清"), T0)
    assert escalation_due(case, T0) is None


def test_a_city_owned_case_handled_or_closed_case_is_never_escalated() -> None:
    late = HANDLE_DUE + timedelta(days=10)
    case = accepted()
    for _ in range(4):
        case = run(case, EscalateCase(reason="超出职权"), T0)
    assert case.owning_level is OwningLevel.CITY
    assert escalation_due(case, late) is None
    handled = run(accepted(), HandleCase(evidence=("photo",)), T0 + timedelta(hours=1))
    assert handled.state is CaseState.HANDLED and escalation_due(handled, late) is None


@pytest.mark.parametrize(
    ("elapsed", "expected"),
    [(0.5, False), (0.79, False), (0.8, True), (0.95, True), (1.0, False), (1.2, False)],
)
def test_the_warning_comes_from_80_percent_of_the_span_until_the_deadline(
    elapsed: float, expected: bool
) -> None:
    start = T0 + timedelta(minutes=30)
    now = start + (HANDLE_DUE - start) * elapsed
    assert warning_due(accepted(), now, start, HANDLE_DUE, wall_clock_fraction) is expected


def test_the_warning_is_sent_once_per_deadline() -> None:
    start = T0 + timedelta(minutes=30)
    now = start + (HANDLE_DUE - start) * 0.85
    case = run(accepted(), SuperviseCase(due=HANDLE_DUE, reason="即将超期"), now)
    assert case.supervised and case.last_supervised_due == HANDLE_DUE
    assert not warning_due(case, now, start, HANDLE_DUE, wall_clock_fraction)
    other_due = HANDLE_DUE + timedelta(days=1)
    assert warning_due(case, other_due - timedelta(hours=1), start, other_due, wall_clock_fraction)


def test_the_warning_uses_the_elapsed_fraction_it_is_given() -> None:
    def working_time(start: datetime, due: datetime, now: datetime) -> float:
        return 0.9  # as a calendar would say late on a Friday before a long weekend

    assert warning_due(accepted(), T0 + timedelta(hours=1), T0, HANDLE_DUE, working_time)
