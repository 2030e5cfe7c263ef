from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gridgov.bootstrap import Runtime, build_runtime
from gridgov.config import load_settings
from gridgov.core.clock import FixedClock
from gridgov.core.errors import Conflict
from gridgov.grids.model import Grid, SpecialKind
from gridgov.sim.city import generate_city
from gridgov.sim.events import Plan, simulate
from gridgov.sim.summary import Summary
from gridgov.sim.workload import CHANNELS, SPECIAL_CATEGORIES, CityMap, Workload
from gridgov.store.migrate import upgrade
from gridgov.workflow.calendar import WorkingCalendar
from gridgov.workflow.categories import load_taxonomy
from gridgov.workflow.events import CaseEvent
from gridgov.workflow.model import Action, Actor, Case, CaseState, EscalationReason, Role

SHANGHAI = ZoneInfo("Asia/Shanghai")
# The last workday before National Day (1–7 October 2026), then the first two holidays.
EVE_OF_NATIONAL_DAY = datetime(2026, 9, 30, tzinfo=SHANGHAI)
PLAN = Plan(start=EVE_OF_NATIONAL_DAY, days=2, per_day=60, seed=7)
OBSERVER = Actor("test:observer", Role.CENTRE_LEADER)


@dataclass
class Run:
    runtime: Runtime
    summary: Summary
    cases: list[Case]
    events: dict[int, list[CaseEvent]]


@pytest.fixture(scope="module")
def small_city() -> list[Grid]:
    return generate_city(scale=0.01)


def run_month(folder: Path, grids: list[Grid], plan: Plan) -> Run:
    settings = load_settings(data_dir=folder, database_url="")
    upgrade(settings.resolved_database_url)
    runtime = build_runtime(settings, clock=FixedClock(plan.start))
    layer = runtime.grids.import_grids(grids, name="small", source="test", commit=True).layer
    assert layer is not None
    runtime.grids.activate(layer.id, commit=True)
    summary = simulate(runtime, plan)
    cases = runtime.cases.cases(OBSERVER, limit=100_000)
    events = {int(c.id): runtime.cases.events(int(c.id), OBSERVER) for c in cases}
    return Run(runtime, summary, cases, events)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, small_city: list[Grid]) -> Iterator[Run]:
    done = run_month(tmp_path_factory.mktemp("first"), small_city, PLAN)
    yield done
    done.runtime.close()


def without_timing(summary: Summary) -> dict[str, object]:
    out = summary.as_dict()
    out.pop("seconds")
    return out


def test_the_same_seed_plays_the_same_days(
    run: Run, tmp_path_factory: pytest.TempPathFactory, small_city: list[Grid]
) -> None:
    again = run_month(tmp_path_factory.mktemp("again"), small_city, PLAN)
    try:
        assert without_timing(again.summary) == without_timing(run.summary)
        assert [c.state for c in again.cases] == [c.state for c in run.cases]
    finally:
        again.runtime.close()


def test_no_simulated_action_is_refused(run: Run) -> None:
    assert run.summary.refusals == {}


def test_every_case_is_what_its_events_replay_to_and_the_audit_chain_holds(run: Run) -> None:
    assert run.cases, "the run made no cases"
    for case in run.cases:
        assert Case.replay(run.events[int(case.id)]) == case
        if case.state in (CaseState.CLOSED, CaseState.EVALUATED):
            assert case.closed_at is not None and case.handled_at is not None
        if case.state is CaseState.MERGED:
            assert case.merged_into is not None
    assert run.runtime.cases.verify_audit().intact


def test_the_summary_counts_what_the_store_holds(run: Run) -> None:
    actions = Counter(e.action for events in run.events.values() for e in events)
    satisfaction = Counter(
        str(e.payload["satisfaction"])
        for events in run.events.values()
        for e in events
        if e.action is Action.EVALUATE
    )
    s = run.summary
    assert s.reports == s.cases == actions[Action.REPORT] == len(run.cases)
    assert s.filed == actions[Action.FILE]
    assert s.rejected == actions[Action.REJECT]
    assert s.merged == actions[Action.MERGE] == actions[Action.ABSORB]
    assert s.dispatches == actions[Action.DISPATCH]
    assert s.returns == actions[Action.RETURN]
    assert sum(s.escalations.values()) == actions[Action.ESCALATE]
    assert s.warnings == actions[Action.SUPERVISE]
    assert s.extension_requests == actions[Action.REQUEST_EXTENSION]
    assert s.extension_approvals == actions[Action.APPROVE_EXTENSION]
    assert s.extension_denials == actions[Action.DENY_EXTENSION]
    assert s.verification_failures == actions[Action.VERIFY_FAIL]
    assert s.verifications == actions[Action.VERIFY_PASS] + actions[Action.VERIFY_FAIL]
    assert s.reopened_after_evaluation == actions[Action.REOPEN]
    assert s.evaluations == {k: satisfaction[k] for k in s.evaluations}
    assert sum(c.reports for c in s.channels.values()) == s.reports
    assert s.closed == sum(c.closed for c in s.channels.values())


def test_rates_stay_within_sane_bounds(run: Run) -> None:
    s = run.summary
    assert s.reports > 100
    assert s.filed > 0.8 * s.cases
    assert 0 < s.rejected < 0.15 * s.cases
    assert 0 <= s.return_rate < 0.2
    assert 0 <= s.rework_rate < 0.3
    assert 0 < s.on_time_rate <= 1
    assert s.closed_on_time <= s.due
    assert 0 < s.closed < s.filed
    assert set(s.channels) <= {c.code for c in CHANNELS}
    assert "heating" not in s.channels  # the heating season starts on 15 November


def test_a_case_dispatched_on_the_eve_of_national_day_waits_out_the_holiday(run: Run) -> None:
    taxonomy = load_taxonomy()
    calendar = WorkingCalendar.default()
    holiday = (date(2026, 10, 1), date(2026, 10, 2))
    working_dispatched_on_eve = [
        c
        for c in run.cases
        if c.dispatched_at is not None
        and c.dispatched_at.astimezone(SHANGHAI).date() == date(2026, 9, 30)
        and not taxonomy[c.category_code or ""].urgent
    ]
    assert working_dispatched_on_eve
    for case in working_dispatched_on_eve:
        assert case.handle_due is not None
        due = case.handle_due.astimezone(SHANGHAI)
        assert calendar.is_workday(due.date())
        assert due.date() not in holiday
    assert any(
        c.handle_due and c.handle_due >= datetime(2026, 10, 8, tzinfo=SHANGHAI)
        for c in working_dispatched_on_eve
    )
    non_urgent = {int(c.id) for c in working_dispatched_on_eve}
    sweeper_on_holiday = [
        e
        for case_id in non_urgent
        for e in run.events[case_id]
        if e.action in (Action.ESCALATE, Action.SUPERVISE)
        and e.at.astimezone(SHANGHAI).date() in holiday
    ]
    assert sweeper_on_holiday == []


def test_urgent_cases_keep_their_clock_through_the_holiday(run: Run) -> None:
    taxonomy = load_taxonomy()
    urgent = [
        c
        for c in run.cases
        if c.category_code and taxonomy[c.category_code].urgent and c.handle_due
    ]
    assert urgent
    on_holiday = [
        c
        for c in urgent
        if c.handle_due and c.handle_due.astimezone(SHANGHAI).date() == date(2026, 10, 1)
    ]
    assert on_holiday, "an urgent case dispatched on 1 October is due the same day"


def test_overdue_escalations_name_a_missed_deadline(run: Run) -> None:
    for case in run.cases:
        for escalation in case.escalations:
            if escalation.grounds is EscalationReason.OVERDUE:
                assert case.accept_due is not None
                assert escalation.at > min(d for d in (case.accept_due, case.handle_due) if d)


@pytest.fixture(scope="module")
def workload(small_city: list[Grid]) -> Workload:
    calendar = WorkingCalendar.default()
    return Workload(
        CityMap(small_city),
        load_taxonomy(),
        calendar,
        per_day=2000,
        seed=3,
        time_zone=SHANGHAI,
    )


def channel_counts(workload: Workload, day: date) -> Counter[str]:
    return Counter(a.channel for a in workload.day(day, 0))


def test_on_a_weekend_citizens_report_more_and_inspectors_patrol_less(workload: Workload) -> None:
    wednesday = channel_counts(workload, date(2026, 10, 14))
    saturday = channel_counts(workload, date(2026, 10, 17))
    assert saturday["hotline_12345"] > wednesday["hotline_12345"]
    assert saturday["grid_patrol"] < 0.6 * wednesday["grid_patrol"]


def test_a_worked_weekend_day_looks_like_a_workday(workload: Workload) -> None:
    make_up_saturday = channel_counts(workload, date(2026, 10, 10))  # 国庆调休上班
    saturday = channel_counts(workload, date(2026, 10, 17))
    assert make_up_saturday["grid_patrol"] > 1.5 * saturday["grid_patrol"]


def test_heating_complaints_start_with_the_heating_season(workload: Workload) -> None:
    assert channel_counts(workload, date(2026, 11, 14))["heating"] == 0
    assert channel_counts(workload, date(2026, 11, 16))["heating"] > 50


def test_reports_peak_mid_morning_and_evening_and_are_rare_at_night(workload: Workload) -> None:
    hours = Counter(
        a.at.hour for a in workload.day(date(2026, 10, 14), 0) if a.channel == "hotline_12345"
    )
    assert hours[10] > 5 * hours[3]
    assert hours[20] > 5 * hours[3]


def test_report_texts_name_the_place_and_never_come_out_empty(workload: Workload) -> None:
    arrivals = workload.day(date(2026, 10, 14), 0)
    assert all(a.address and a.address in a.text for a in arrivals)
    assert len({a.external_id for a in arrivals}) == len(arrivals)


def test_special_grids_draw_their_own_problems(workload: Workload) -> None:
    sites = {p.name for p in workload.city.specials[SpecialKind.CONSTRUCTION_SITE]}
    arrivals = [
        a for d in range(5) for a in workload.day(date(2026, 10, 12) + timedelta(days=d), d)
    ]
    at_sites = Counter(a.category_code for a in arrivals if a.address in sites)
    assert at_sites
    assert set(at_sites) <= {code for code, _ in SPECIAL_CATEGORIES[SpecialKind.CONSTRUCTION_SITE]}


def test_running_the_same_seed_and_start_into_the_same_store_again_is_refused(run: Run) -> None:
    clock = run.runtime.clock
    assert isinstance(clock, FixedClock)
    clock.advance(PLAN.start - clock.now())
    with pytest.raises(Conflict, match="another --seed or --start"):
        simulate(run.runtime, PLAN)
