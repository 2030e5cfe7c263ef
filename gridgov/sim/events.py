"""A simulated month of cases, played through the case services exactly as the API would call them.

Time is a `FixedClock` that only this simulation moves: every action is an entry in one queue
ordered by (time, sequence number), the clock is advanced to it, and the service is called with the
actor who would take it. The sweeper runs on its own tick. People behave by drawn chances and
durations (`Behaviour`); durations are drawn as shares of the working time the category allows, so
weekends and holidays stretch them the way the official calendar says, and lateness is whatever
share of a drawn duration lies beyond its deadline.

Lifecycle as simulated (the service decides whether each step is allowed):

    report → reject (不予立案) | merge (并单, a repeated report) | file (立案)
    file → dispatch (routing, or the centre's manual queue) → accept | return (退单) → dispatch …
    accept → [request extension → approve | deny] → handle → verify → close | fail (返工) → handle …
    close → evaluate (citizen channels) → reopen (重办) if dissatisfied, sometimes → handle …
"""

from __future__ import annotations

import heapq
import itertools
import time as time_module
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from gridgov.core.clock import FixedClock
from gridgov.core.errors import Conflict, GridGovError
from gridgov.services.cases import CaseService, ManualDispatchRequired, NewReport
from gridgov.sim.behaviour import (
    DENY_REASONS,
    EXTENSION_REASONS,
    HANDLE_NOTES,
    REJECT_REASONS,
    REOPEN_REASONS,
    RETURN_REASONS,
    VERIFY_FAIL_REASONS,
    Behaviour,
)
from gridgov.sim.summary import Summary, summarise
from gridgov.sim.workload import CHANNEL_BY_CODE, Arrival, CityMap, Workload
from gridgov.workflow.calendar import WorkingCalendar
from gridgov.workflow.categories import Category, Taxonomy
from gridgov.workflow.model import (
    AcceptCase,
    Actor,
    ApproveExtension,
    Case,
    CaseState,
    CloseCase,
    Command,
    DenyExtension,
    EvaluateCase,
    FailVerification,
    HandleCase,
    MergeCase,
    PassVerification,
    RejectCase,
    ReopenCase,
    RequestExtension,
    ReturnCase,
    Role,
    Satisfaction,
)
from gridgov.workflow.routing import Department

if TYPE_CHECKING:
    from gridgov.bootstrap import Runtime

DayProgress = Callable[[date, int, int], None]
"""(day, reports that day, cases open at its end)."""


@dataclass(frozen=True)
class Plan:
    """What to simulate: from `start` (local midnight), `days` of reports, then `drain_days` more."""

    start: datetime
    days: int
    per_day: int
    seed: int
    sweep_every: timedelta = timedelta(minutes=15)
    drain_days: int = 0


@dataclass
class _Track:
    """What the simulation remembers of a case it created."""

    channel: str
    category: str
    lon: float
    lat: float
    reported_at: datetime
    case: Case  # as the service last returned it; sweeps change nothing the simulation reads
    duplicate_of: int | None = None
    returns: int = 0
    verify_fails: int = 0
    reworks_done: int = 0
    evaluations: int = 0

    @property
    def state(self) -> CaseState:
        return self.case.state


class Simulation:
    """One simulated run; `run()` plays it and returns the counters for `summarise`."""

    def __init__(
        self,
        cases: CaseService,
        clock: FixedClock,
        workload: Workload,
        taxonomy: Taxonomy,
        calendar: WorkingCalendar,
        departments: tuple[Department, ...],
        plan: Plan,
        *,
        behaviour: Behaviour | None = None,
        progress: DayProgress | None = None,
    ) -> None:
        self.cases = cases
        self.clock = clock
        self.workload = workload
        self.taxonomy = taxonomy
        self.calendar = calendar
        self.plan = plan
        self.behaviour = behaviour or Behaviour()
        self.progress = progress
        self.rng = np.random.default_rng([plan.seed, 11])
        self.tracks: dict[int, _Track] = {}
        self.counts: Counter[str] = Counter()
        self.refusals: Counter[str] = Counter()
        self._queue: list[tuple[datetime, int, Callable[..., None], tuple[Any, ...]]] = []
        self._serial = itertools.count()
        self._recent: deque[int] = deque(maxlen=2000)
        self._departments = [d for d in departments if "{" not in d.code]
        self._operator = Actor("sim:intake", Role.INTAKE_OPERATOR, "受理员")
        self._dispatcher = Actor("sim:dispatcher", Role.DISPATCHER, "派遣员")
        self._router = Actor("sim:auto-dispatch", Role.SYSTEM, "智能派单")
        self._leader = Actor("sim:shift-leader", Role.SHIFT_LEADER, "值班长")

    # -- the clock and the queue ------------------------------------------------------------

    def run(self) -> None:
        """Play every day of the plan; actions still due after the last day are left undone."""
        if self.clock.now() != self.plan.start:
            raise ValueError("the clock must stand at the plan's start")
        self._refuse_replay()
        total = self.plan.days + self.plan.drain_days
        for index in range(total):
            day = self.plan.start.date() + timedelta(days=index)
            midnight = self.plan.start + timedelta(days=index)
            arrivals = self.workload.day(day, index) if index < self.plan.days else []
            for arrival in arrivals:
                self._at(arrival.at, self._arrive, arrival)
            tick = midnight
            while tick < midnight + timedelta(days=1):
                self._at(tick, self._sweep)
                tick += self.plan.sweep_every
            self._play_until(midnight + timedelta(days=1))
            if self.progress:
                open_now = sum(1 for t in self.tracks.values() if _is_open(t.state))
                self.progress(day, len(arrivals), open_now)

    def _refuse_replay(self) -> None:
        """A second run of the same seed and start would only meet its own reports again."""
        first = self.workload.day(self.plan.start.date(), 0)[:1]
        if first and self.cases.report_id(first[0].channel, first[0].external_id):
            raise Conflict(
                f"this store already holds the simulation seed {self.plan.seed} from "
                f"{self.plan.start:%Y-%m-%d}; use another --seed or --start "
                f"/ 该模拟已写入，请换 --seed 或 --start"
            )

    def _at(self, when: datetime, action: Callable[..., None], *args: Any) -> None:
        heapq.heappush(self._queue, (when, next(self._serial), action, args))

    def _play_until(self, end: datetime) -> None:
        while self._queue and self._queue[0][0] < end:
            when, _, action, args = heapq.heappop(self._queue)
            self.clock.advance(when - self.clock.now())
            action(*args)

    def _call(self, what: str, call: Callable[[], Case]) -> Case | None:
        """Run one service call; a refusal is counted, not fatal, so one bad rule shows as a rate."""
        try:
            case = call()
        except GridGovError as exc:
            self.refusals[f"{what}: {type(exc).__name__}: {str(exc)[:120]}"] += 1
            return None
        self.counts[what] += 1
        track = self.tracks.get(int(case.id))
        if track is not None:
            track.case = case
        return case

    # -- durations ---------------------------------------------------------------------------

    def _lognormal(self, shape: tuple[float, float]) -> float:
        median, sigma = shape
        return float(median * np.exp(sigma * self.rng.standard_normal()))

    def _chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def _pick(self, options: tuple[str, ...]) -> str:
        return options[int(self.rng.integers(len(options)))]

    def _minutes(self, shape: tuple[float, float]) -> timedelta:
        return timedelta(seconds=round(60 * self._lognormal(shape)))

    def _clock_of(self, case: Case) -> WorkingCalendar:
        return self._category(case).clock(self.calendar)

    def _category(self, case: Case) -> Category:
        return self.taxonomy[case.category_code or self.tracks[int(case.id)].category]

    def _after_working(self, case: Case, start: datetime, amount: timedelta) -> datetime:
        """`start` plus `amount` of the case's working time, never before now (whole seconds)."""
        due = self._clock_of(case).add_working(start, amount)
        return max(due, self.clock.now() + timedelta(seconds=1)).replace(microsecond=0)

    def _limit(self, case: Case) -> timedelta:
        category = self._category(case)
        assert category.handle_limit is not None
        return category.clock(self.calendar).length(category.handle_limit)

    # -- reporting and intake ----------------------------------------------------------------

    def _arrive(self, arrival: Arrival) -> None:
        target = self._duplicate_target(arrival) if arrival.duplicate else None
        lon, lat, code = arrival.lon, arrival.lat, arrival.category_code
        if target is not None:
            original = self.tracks[target]
            # A second caller about the same problem stands within a few tens of metres of it.
            lon = original.lon + float(self.rng.normal(0, 0.0002))
            lat = original.lat + float(self.rng.normal(0, 0.0002))
            code = original.category
        channel = CHANNEL_BY_CODE[arrival.channel]
        report = NewReport(
            channel=arrival.channel,
            external_id=arrival.external_id,
            text=arrival.text,
            reported_at=arrival.at,
            lon=lon,
            lat=lat,
            address=arrival.address,
            category_code=code if channel.reporter_classifies else None,
            reporter_name=arrival.reporter_name,
            reporter_phone=arrival.reporter_phone,
        )
        try:
            _, case = self.cases.submit_report(report, _reporter(arrival.channel))
        except GridGovError as exc:
            self.refusals[f"submit_report: {type(exc).__name__}: {str(exc)[:120]}"] += 1
            return
        self.counts["report"] += 1
        case_id = int(case.id)
        if case_id in self.tracks:
            self.counts["report_joined_by_service"] += 1
            return
        self.tracks[case_id] = _Track(
            arrival.channel, code, lon, lat, arrival.at, case, duplicate_of=target
        )
        self._at(
            self.clock.now() + self._minutes(self.behaviour.intake_minutes), self._intake, case_id
        )

    def _duplicate_target(self, arrival: Arrival) -> int | None:
        """A recent case from another channel that is still open: what a repeat caller reports."""
        for case_id in reversed(self._recent):
            track = self.tracks[case_id]
            if track.channel != arrival.channel and _is_open(track.state):
                if arrival.at - track.reported_at < timedelta(days=3):
                    return case_id
                return None
        return None

    def _intake(self, case_id: int) -> None:
        track = self.tracks[case_id]
        if track.state is not CaseState.REPORTED:
            return
        if track.duplicate_of is not None and _is_open(self.tracks[track.duplicate_of].state):
            into = self.tracks[track.duplicate_of].case
            reason = f"与工单 {into.id} 为同一问题，并单办理 / same problem as case {into.id}"
            command = MergeCase(into=into, reason=reason)
            self._call("merge", lambda: self.cases.perform(case_id, command, self._operator))
            return
        reject = self.behaviour.reject.get(track.channel, self.behaviour.reject_other)
        if self._chance(reject):
            command_r = RejectCase(reason=self._pick(REJECT_REASONS))
            self._call("reject", lambda: self.cases.perform(case_id, command_r, self._operator))
            return
        code = track.category
        case = self._call(
            "file", lambda: self.cases.file(case_id, self._operator, category_code=code)
        )
        if case is None:
            return
        self._recent.append(case_id)
        self._at(self.clock.now() + timedelta(minutes=2), self._dispatch, case_id)

    # -- dispatch, accept, return ------------------------------------------------------------

    def _dispatch(self, case_id: int) -> None:
        try:
            case = self.cases.dispatch(case_id, self._router)
        except ManualDispatchRequired:
            # No rule decides: the case waits in the centre's manual queue for a dispatcher.
            self.counts["manual_queue"] += 1
            delay = self._minutes(self.behaviour.manual_dispatch_minutes)
            self._at(self.clock.now() + delay, self._dispatch_by_hand, case_id)
            return
        except GridGovError as exc:
            self.refusals[f"dispatch: {type(exc).__name__}: {str(exc)[:120]}"] += 1
            return
        self.counts["dispatch"] += 1
        self.tracks[case_id].case = case
        self._schedule_response(case)

    def _dispatch_by_hand(self, case_id: int, avoid: str | None = None) -> None:
        case = self.tracks[case_id].case
        department = self._choose_department(case, avoid)
        dispatched = self._call(
            "dispatch",
            lambda: self.cases.dispatch(case_id, self._dispatcher, department=department.code),
        )
        if dispatched is not None:
            self._schedule_response(dispatched)

    def _choose_department(self, case: Case, avoid: str | None) -> Department:
        """The dispatcher's choice: the category's role in the case's district, else the city."""
        role = self._category(case).department
        district = case.grid_codes.get("district")
        candidates = [d for d in self._departments if d.code != avoid]
        for serves in (district, None):
            fits = [
                d for d in candidates if d.role == role and (serves is None or d.serves == serves)
            ]
            if fits:
                return fits[0]
        local = [d for d in candidates if d.serves == district] or candidates
        return local[int(self.rng.integers(len(local)))]

    def _schedule_response(self, case: Case) -> None:
        assert case.dispatched_at is not None and case.accept_due is not None
        clock = self._clock_of(case)
        span = clock.working_between(case.dispatched_at, case.accept_due)
        share = self._lognormal(self.behaviour.accept_share)
        at = self._after_working(case, case.dispatched_at, span * share)
        self._at(at, self._respond, int(case.id), case.seq)

    def _respond(self, case_id: int, dispatched_seq: int) -> None:
        track = self.tracks[case_id]
        if track.state is not CaseState.DISPATCHED:
            return
        current = self.tracks[case_id].case
        handler = _handler(current)
        chance = self.behaviour.return_first if track.returns == 0 else self.behaviour.return_again
        if self._chance(chance):
            previous = current.assignee_department
            command = ReturnCase(reason=self._pick(RETURN_REASONS))
            if self._call("return", lambda: self.cases.perform(case_id, command, handler)):
                track.returns += 1
                delay = self._minutes(self.behaviour.redispatch_minutes)
                self._at(self.clock.now() + delay, self._dispatch_by_hand, case_id, previous)
            return
        case = self._call("accept", lambda: self.cases.perform(case_id, AcceptCase(), handler))
        if case is not None:
            self._plan_handling(case, handler)

    # -- handling, extensions ----------------------------------------------------------------

    def _plan_handling(self, case: Case, handler: Actor) -> None:
        """Draw when the handler finishes; one who will run late may ask for more time first."""
        assert case.accepted_at is not None and case.handle_due is not None
        limit = self._limit(case)
        share = self._lognormal(self.behaviour.handle_share)
        done = self._after_working(case, case.accepted_at, limit * share)
        long_limit = limit >= self.calendar.day_length
        if done > case.handle_due and long_limit and self._chance(self.behaviour.extension_ask):
            ask = self._after_working(case, case.accepted_at, limit * 0.6)
            if ask < case.handle_due:
                self._at(ask, self._ask_extension, int(case.id), handler, done)
                return
        self._at(done, self._handle, int(case.id), handler)

    def _ask_extension(self, case_id: int, handler: Actor, done: datetime) -> None:
        case = self.tracks[case_id].case
        if case.state is not CaseState.ACCEPTED or case.handle_due is None:
            return
        extra = max(self._limit(case) / 2, self.calendar.day_length)
        until = self._after_working(case, case.handle_due, extra)
        command = RequestExtension(until=until, reason=self._pick(EXTENSION_REASONS))
        if self._call("request_extension", lambda: self.cases.perform(case_id, command, handler)):
            hours = self._lognormal(self.behaviour.extension_answer_hours)
            answer = self._after_working(case, self.clock.now(), timedelta(hours=hours))
            self._at(answer, self._answer_extension, case_id, until)
            # The work goes on meanwhile, but its feedback cannot come before the answer.
            done = max(done, answer + timedelta(minutes=10))
        self._at(done, self._handle, case_id, handler)

    def _answer_extension(self, case_id: int, until: datetime) -> None:
        if self._chance(self.behaviour.extension_approve):
            command: Command = ApproveExtension(handle_due=until, reason="同意延期 / approved")
            self._call(
                "approve_extension", lambda: self.cases.perform(case_id, command, self._leader)
            )
        else:
            command = DenyExtension(reason=self._pick(DENY_REASONS))
            self._call("deny_extension", lambda: self.cases.perform(case_id, command, self._leader))

    def _handle(self, case_id: int, handler: Actor) -> None:
        case = self.tracks[case_id].case
        if case.state not in (CaseState.ACCEPTED, CaseState.REOPENED):
            return
        if case.pending_extension is not None:
            self._at(self.clock.now() + timedelta(hours=1), self._handle, case_id, handler)
            return
        evidence = (f"photo:sim/{case_id}-{case.seq}.jpg", self._pick(HANDLE_NOTES))
        handled = self._call(
            "handle", lambda: self.cases.perform(case_id, HandleCase(evidence=evidence), handler)
        )
        if handled is None:
            return
        hours = self._lognormal(self.behaviour.verify_hours)
        at = self._after_working(handled, self.clock.now(), timedelta(hours=hours))
        self._at(at, self._verify, case_id)

    # -- verification, closing, call-back ----------------------------------------------------

    def _verify(self, case_id: int) -> None:
        track = self.tracks[case_id]
        case = self.tracks[case_id].case
        worker = _grid_worker(case)
        first = track.verify_fails == 0
        fail = self.behaviour.verify_fail_first if first else self.behaviour.verify_fail_again
        if self._chance(fail):
            due = self._rework_due(case)
            command = FailVerification(reason=self._pick(VERIFY_FAIL_REASONS), handle_due=due)
            failed = self._call("verify_fail", lambda: self.cases.perform(case_id, command, worker))
            if failed is not None:
                track.verify_fails += 1
                self._plan_rework(failed)
            return
        passed = self._call(
            "verify_pass", lambda: self.cases.perform(case_id, PassVerification(), worker)
        )
        if passed is not None:
            at = self.clock.now() + self._minutes(self.behaviour.close_minutes)
            self._at(at, self._close, case_id)

    def _rework_due(self, case: Case) -> datetime:
        return self._after_working(case, self.clock.now(), self._limit(case) / 2)

    def _plan_rework(self, case: Case) -> None:
        share = self._lognormal(self.behaviour.rework_share)
        done = self._after_working(case, self.clock.now(), self._limit(case) / 2 * share)
        self._at(done, self._handle, int(case.id), _handler(case))

    def _close(self, case_id: int) -> None:
        closed = self._call("close", lambda: self.cases.perform(case_id, CloseCase(), self._leader))
        if closed is None or not CHANNEL_BY_CODE[self.tracks[case_id].channel].citizen:
            return
        if self._chance(self.behaviour.callback_reached):
            # The call-back is made the day after closure, in the centre's calling hours.
            local = self.clock.now().astimezone(self.calendar.time_zone)
            start = datetime.combine(local.date() + timedelta(days=1), time(9), local.tzinfo)
            self._at(
                start + timedelta(seconds=int(self.rng.integers(0, 11 * 3600))),
                self._evaluate,
                case_id,
            )

    def _evaluate(self, case_id: int) -> None:
        track = self.tracks[case_id]
        case = self.tracks[case_id].case
        late = (
            case.handled_at is not None
            and case.handle_due is not None
            and case.handled_at > case.handle_due
        )
        shares = self.behaviour.satisfaction_late if late else self.behaviour.satisfaction_on_time
        if track.evaluations:
            shares = (0.75, 0.2, 0.05)  # the second call after a redo
        choice = list(Satisfaction)[int(self.rng.choice(3, p=np.array(shares) / sum(shares)))]
        actor = (
            Actor(f"sim:resident:{case_id}", Role.REPORTER, "诉求人")
            if track.channel == "citizen_app"
            else self._operator
        )
        command = EvaluateCase(satisfaction=choice.value)
        evaluated = self._call("evaluate", lambda: self.cases.perform(case_id, command, actor))
        if evaluated is None:
            return
        track.evaluations += 1
        self.counts[f"evaluate:{choice.value}"] += 1
        if choice is Satisfaction.DISSATISFIED and self._chance(self.behaviour.reopen_dissatisfied):
            hours = self._lognormal(self.behaviour.extension_answer_hours)
            at = self._after_working(evaluated, self.clock.now(), timedelta(hours=hours))
            self._at(at, self._reopen, case_id)

    def _reopen(self, case_id: int) -> None:
        case = self.tracks[case_id].case
        command = ReopenCase(reason=self._pick(REOPEN_REASONS), handle_due=self._rework_due(case))
        reopened = self._call("reopen", lambda: self.cases.perform(case_id, command, self._leader))
        if reopened is not None:
            self._plan_rework(reopened)

    # -- the sweeper -------------------------------------------------------------------------

    def _sweep(self) -> None:
        result = self.cases.sweep(self.clock.now())
        self.counts["sweep"] += 1
        self.counts["sweep_warned"] += int(result.warned)
        self.counts["sweep_escalated"] += int(result.escalated)


def _is_open(state: CaseState) -> bool:
    return state not in (
        CaseState.REJECTED,
        CaseState.CLOSED,
        CaseState.EVALUATED,
        CaseState.MERGED,
    )


def _reporter(channel: str) -> Actor:
    """Who registers a report: the call-taker for calls, the inspector, the citizen, the system."""
    role = {
        "hotline_12345": Role.INTAKE_OPERATOR,
        "heating": Role.INTAKE_OPERATOR,
        "police_110": Role.SYSTEM,
        "iot_sensor": Role.SYSTEM,
        "citizen_app": Role.REPORTER,
    }.get(channel, Role.GRID_WORKER)
    return Actor(f"sim:{channel}", role, CHANNEL_BY_CODE[channel].label_zh)


def _handler(case: Case) -> Actor:
    department = case.assignee_department or "unassigned"
    return Actor(f"sim:handler:{department}", Role.HANDLER, "处置人员")


def _grid_worker(case: Case) -> Actor:
    grid = case.grid_codes.get("compound") or case.grid_codes.get("community")
    return Actor(f"sim:grid-worker:{grid}", Role.GRID_WORKER, "网格员", scope_code=grid)


def simulate(
    runtime: Runtime,
    plan: Plan,
    *,
    behaviour: Behaviour | None = None,
    progress: DayProgress | None = None,
) -> Summary:
    """Play `plan` on the runtime's active grid layer and summarise what the store then holds.

    The runtime must have been built with a `FixedClock` standing at `plan.start`.
    """
    clock = runtime.clock
    if not isinstance(clock, FixedClock):
        raise ValueError("the simulation needs a runtime built with a FixedClock")
    layer = runtime.locating.layer()
    index = runtime.locating.index(layer)
    grids = [index.grid(i) for i in range(len(index))]
    taxonomy = runtime.cases.taxonomy
    calendar = runtime.cases.calendar
    workload = Workload(
        CityMap(grids),
        taxonomy,
        calendar,
        per_day=plan.per_day,
        seed=plan.seed,
        time_zone=calendar.time_zone,
    )
    started = time_module.perf_counter()
    simulation = Simulation(
        runtime.cases,
        clock,
        workload,
        taxonomy,
        calendar,
        runtime.cases.responsibilities.departments,
        plan,
        behaviour=behaviour,
        progress=progress,
    )
    simulation.run()
    observer = Actor("sim:report", Role.CENTRE_LEADER, "统计")
    stored = (
        (runtime.cases.case(case_id, observer), track.channel)
        for case_id, track in sorted(simulation.tracks.items())
    )
    return summarise(
        stored,
        simulation.counts,
        simulation.refusals,
        calendar=calendar,
        start=plan.start,
        end=clock.now(),
        days=plan.days,
        drain_days=plan.drain_days,
        per_day=plan.per_day,
        seed=plan.seed,
        seconds=time_module.perf_counter() - started,
    )
