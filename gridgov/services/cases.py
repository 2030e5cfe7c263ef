"""The case services: reports in, one door (`perform`) for every action, routing, deadlines, sweep.

Every front door (HTTP, Open311, CLI, the simulator) calls these functions, so the rules hold for
all of them: scope is enforced here, each action is decided and appended in one transaction with
its projection, and a refusal writes nothing.

Errors, beyond the workflow's own refusals (`gridgov.workflow.transitions.ActionRefused`):

    Conflict
    ├── OutOfScope               the actor's scope code is not on the case's grid path
    ├── ManualDispatchRequired   routing found no department; the case waits for the centre
    └── ConcurrentChange         another writer appended to the case first (store)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from gridgov.core.clock import Clock
from gridgov.core.errors import Conflict, InvalidInput
from gridgov.core.geo import Crs
from gridgov.grids.locator import Location
from gridgov.grids.model import GridLevel
from gridgov.intake.channels import adapter
from gridgov.services.audit import AuditReport, verify_audit
from gridgov.services.case_scope import department_of, visible
from gridgov.services.locating import GridLocating, LocateAnswer
from gridgov.services.sweeper import (
    SweepItem,
    SweepResult,
    next_check,
    retry_check,
    sweep_command,
)
from gridgov.store.case_queries import CaseQueries, CaseQuery
from gridgov.store.cases import (
    PATH_COLUMNS,
    SPECIAL_KEY_PREFIX,
    CaseRepository,
    ConcurrentChange,
    NewCase,
    ReportExists,
    special_codes,
)
from gridgov.store.layers import LayerRepository
from gridgov.workflow.calendar import WorkingCalendar
from gridgov.workflow.categories import Category, Taxonomy
from gridgov.workflow.events import CaseEvent, ChainHead, PendingEvent
from gridgov.workflow.model import (
    Action,
    Actor,
    Case,
    CaseState,
    Command,
    DispatchCase,
    FileCase,
    MergeCase,
    OwningLevel,
    ReportCase,
    Role,
)
from gridgov.workflow.replay import apply
from gridgov.workflow.routing import (
    ManualDispatch,
    ResponsibilityList,
    RoutingDecision,
    SpecialGridRef,
)
from gridgov.workflow.transitions import ActionRefused, decide, transition_for

SYSTEM_ACTOR = Actor("system", Role.SYSTEM, "系统 / system")
_NEEDS_DISPATCH = (CaseState.FILED, CaseState.RETURNED, CaseState.REOPENED)
MAX_PAGE = 1000

__all__ = [
    "SYSTEM_ACTOR",
    "AuditReport",
    "CaseFilter",
    "CasePage",
    "CaseService",
    "ConcurrentChange",
    "ManualDispatchRequired",
    "NewReport",
    "OutOfScope",
    "SweepItem",
    "SweepResult",
]


class OutOfScope(Conflict):
    """The actor's part of the hierarchy does not include the case."""

    def __init__(self, actor: Actor, case_id: str) -> None:
        self.actor = actor
        self.case_id = case_id
        super().__init__(
            f"工单 {case_id} 不在「{actor.scope_code}」的管辖范围内 / case {case_id} is outside "
            f"the scope {actor.scope_code} of {actor.role.value} {actor.id}"
        )


class ManualDispatchRequired(Conflict):
    """Routing could not place the case: it stays filed in the owning centre's manual queue."""

    def __init__(self, case_id: str, decision: ManualDispatch) -> None:
        self.case_id = case_id
        self.decision = decision
        super().__init__(
            f"工单 {case_id} 需人工派单，已进入{decision.centre_level.label_zh}城运中心 "
            f"{decision.centre_code} 的人工派单队列：{decision.reason_zh} / case {case_id} needs a "
            f"person to dispatch it: it waits in the manual dispatch queue of the "
            f"{decision.centre_level.value} operation centre {decision.centre_code} "
            f"({decision.reason_en})"
        )


@dataclass(frozen=True)
class NewReport:
    """One message from one channel, as it arrived; `external_id` is the channel's own id."""

    channel: str
    external_id: str
    text: str
    reported_at: datetime
    lon: float | None = None
    lat: float | None = None
    crs: Crs = Crs.WGS84
    address: str | None = None
    category_code: str | None = None
    reporter_name: str | None = None
    reporter_phone: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CaseFilter:
    """What a case list asks for, within the actor's scope; empty and None mean any."""

    scope_code: str | None = None  # a grid inside the actor's own scope
    ids: tuple[int, ...] = ()
    states: tuple[CaseState, ...] = ()
    category_code: str | None = None  # a class includes every class below it
    category_codes: tuple[str, ...] = ()  # exact leaf codes (Open311's service_code list)
    channel: str | None = None
    overdue: bool = False
    created_from: datetime | None = None
    created_to: datetime | None = None
    department: str | None = None  # dispatched to this department now
    text: str | None = None  # case number, category code or words of a report


@dataclass(frozen=True)
class CasePage:
    """One page of a case list, newest first, with how many cases match in all."""

    cases: list[Case]
    total: int
    limit: int
    offset: int

    @property
    def next_offset(self) -> int | None:
        following = self.offset + self.limit
        return following if following < self.total else None


class CaseService:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        locating: GridLocating,
        clock: Clock,
        *,
        taxonomy: Taxonomy,
        responsibilities: ResponsibilityList,
        calendar: WorkingCalendar,
        on_filed: Callable[[int, str, Actor], object] | None = None,
    ) -> None:
        self._sessions = session_factory
        self._locating = locating
        self._clock = clock
        self.taxonomy = taxonomy
        self.responsibilities = responsibilities
        self.calendar = calendar
        # Filing is where a person confirms or corrects the proposed category: the learning
        # service keeps it as a labelled example.
        self._on_filed = on_filed

    # Reports

    def report_id(self, channel: str, external_id: str) -> int | None:
        """The id of the report a channel already sent under this external id, if any."""
        with self._sessions() as session:
            stored = CaseRepository(session).report_by_key(channel, external_id)
        return stored.id if stored is not None else None

    def submit_report(self, report: NewReport, actor: Actor) -> tuple[int, Case]:
        """Store a report and open its case, exactly once per (channel, external_id)."""
        self._check_report(report)
        with self._sessions() as session:
            repo = CaseRepository(session)
            existing = repo.report_by_key(report.channel, report.external_id)
            if existing is not None and existing.case_id is not None:
                return existing.id, repo.case(existing.case_id)
        assert report.lon is not None and report.lat is not None
        answer = self._locating.locate(report.lon, report.lat, crs=report.crs)
        grid_codes = _grid_path(answer)
        if actor.scope_code is not None and actor.scope_code not in grid_codes.values():
            raise OutOfScope(actor, "（新 / new）")
        category = self.taxonomy.get(report.category_code) if report.category_code else None
        now = self._clock.now()
        try:
            with self._sessions.begin() as session:
                repo = CaseRepository(session)
                repo.begin_write()
                report_id = repo.add_report(
                    channel=report.channel,
                    external_id=report.external_id,
                    received_at=now,
                    reported_at=report.reported_at,
                    text=report.text,
                    address=report.address,
                    lon=answer.location.lon,
                    lat=answer.location.lat,
                    crs=report.crs.value,
                    reporter_name=report.reporter_name,
                    reporter_phone=report.reporter_phone,
                    category_code=report.category_code,
                    payload=report.payload,
                )
                case_id = repo.open_case(now, answer.location.lon, answer.location.lat)
                command = ReportCase(
                    case_id=str(case_id),
                    report_id=str(report_id),
                    grid_codes=grid_codes,
                    layer_id=answer.layer.id,
                    category_code=report.category_code,
                    owning_level=owning_level(category),
                    reason=f"{report.channel} {report.external_id}",
                )
                case = self._apply(repo, None, command, actor, now)
                repo.link_report(report_id, case_id)
                repo.record_anchor(now)
        except ReportExists:
            # Another process stored the same report between our look and our insert.
            with self._sessions() as session:
                repo = CaseRepository(session)
                stored = repo.report_by_key(report.channel, report.external_id)
                assert stored is not None and stored.case_id is not None
                return stored.id, repo.case(stored.case_id)
        return report_id, case

    def _check_report(self, report: NewReport) -> None:
        for name in ("channel", "external_id", "text"):
            if not str(getattr(report, name) or "").strip():
                raise InvalidInput(name, "必须填写 / is required")
        if report.reported_at.tzinfo is None:
            raise InvalidInput("reported_at", "须带时区 / must be timezone-aware")
        for name in ("lon", "lat"):
            if getattr(report, name) is None:
                raise InvalidInput(
                    name,
                    "暂需坐标：仅有地址的上报尚不支持 / coordinates are required for now; "
                    "address-only reports are not yet supported",
                )
        if report.category_code is not None and report.category_code not in self.taxonomy:
            raise InvalidInput(
                "category_code",
                f"未知的事件分类 {report.category_code!r} / unknown category "
                f"{report.category_code!r}",
            )

    # The one door

    def perform(self, case_id: int, command: Command, actor: Actor) -> Case:
        """Take one action on a case: scope, decide, append and project in one transaction."""
        if isinstance(command, ReportCase):
            raise InvalidInput("command", "上报请用 submit_report / use submit_report to report")
        now = self._clock.now()
        with self._sessions.begin() as session:
            repo = CaseRepository(session)
            repo.begin_write()
            into_id = int(command.into.id) if isinstance(command, MergeCase) else None
            repo.lock_cases([case_id] if into_id is None else [case_id, into_id])
            case = self._visible(repo, case_id, actor)
            if isinstance(command, MergeCase):
                assert into_id is not None
                command = replace(command, into=self._visible(repo, into_id, actor))
            result = self._apply(repo, case, command, actor, now)
            repo.record_anchor(now)
        return result

    def _apply(
        self, repo: CaseRepository, case: Case | None, command: Command, actor: Actor, now: datetime
    ) -> Case:
        """Decide, append, and rewrite the projection of every case the events touch."""
        pending = decide(case, command, actor, now)
        sealed = repo.append(pending)
        current: dict[str, Case | None] = {pending[0].case_id: case}
        if isinstance(command, MergeCase):
            current[command.into.id] = command.into
        for event in sealed:
            updated = apply(current[event.case_id], event)
            current[event.case_id] = updated
            repo.save_projection(int(updated.id), updated, self._next_check(updated, now))
        result = current[pending[0].case_id]
        assert result is not None
        return result

    def apply_batch(
        self,
        repo: CaseRepository,
        known: Mapping[str, Case],
        steps: Sequence[tuple[str, Command, Actor]],
        now: datetime,
        new_cases: Mapping[str, tuple[float | None, float | None]] | None = None,
        head: ChainHead | None = None,
    ) -> tuple[dict[str, Case], list[ActionRefused | None]]:
        """Decide many steps (case id, command, actor) in order, then append once and project once.

        `known` holds the current state of every existing case a step names (locked by the
        caller); a ReportCase step names its new case, whose id is either stored already or
        reserved and given in `new_cases` (id → lon, lat), which inserts it here with its
        projection before the events. Each step is decided against the state the
        earlier steps left, so one batch may report, merge, file and dispatch. All events are
        sealed under one hold of the audit head and inserted in one statement, and each touched
        case's projection is written once: this is what lets intake store thousands of reports a
        second. A refused step writes nothing and is answered in its slot; the others stand.
        With the audit `head` already locked by the caller, nothing here waits for an answer
        from the store (see `pipelined`).
        """
        current: dict[str, Case | None] = dict(known)
        pending: list[PendingEvent] = []
        refused: list[ActionRefused | None] = []
        for case_id, command, actor in steps:
            case = None if isinstance(command, ReportCase) else current.get(case_id)
            if isinstance(command, MergeCase):
                into = current.get(command.into.id) or command.into
                command = replace(command, into=into)
            try:
                events = decide(case, command, actor, now)
            except ActionRefused as exc:
                refused.append(exc)
                continue
            refused.append(None)
            for event in events:
                current[event.case_id] = apply(current.get(event.case_id), event)
            pending.extend(events)
        touched = list(dict.fromkeys(e.case_id for e in pending))
        fresh = new_cases or {}
        # New cases go in finished, with their projection, before the events that name them.
        repo.insert_cases(
            [self._new_case(k, point, current.get(k), now) for k, point in fresh.items()]
        )
        if pending:
            repo.append(pending, head)
        final = {case_id: current[case_id] for case_id in touched}
        repo.save_projections(
            [
                (case, self._next_check(case, now))
                for case in final.values()
                if case is not None and case.id not in fresh
            ]
        )
        return {k: v for k, v in final.items() if v is not None}, refused

    def _new_case(
        self,
        case_id: str,
        point: tuple[float | None, float | None],
        case: Case | None,
        now: datetime,
    ) -> NewCase:
        sweep_at = None if case is None else self._next_check(case, now)
        return NewCase(int(case_id), point[0], point[1], now, case, sweep_at)

    def _visible(self, repo: CaseRepository, case_id: int, actor: Actor) -> Case:
        case = repo.case(case_id)
        if not visible(actor, case):
            raise OutOfScope(actor, case.id)
        return case

    # Steps with more to them than a command

    def file(self, case_id: int, actor: Actor, *, category_code: str | None = None) -> Case:
        """立案 with the given category (or the one proposed on the report); it sets the owning level."""
        case = self.case(case_id, actor)
        code = category_code or case.category_code
        if not code:
            raise InvalidInput("category_code", "立案须确定事件分类 / filing needs a category")
        category = self._leaf(code)
        filed = self.perform(
            case_id,
            FileCase(category_code=code, owning_level=owning_level(category)),
            actor,
        )
        if self._on_filed is not None:
            self._on_filed(case_id, code, actor)
        return filed

    def dispatch(self, case_id: int, actor: Actor, *, department: str | None = None) -> Case:
        """派遣 to `department`, or where the responsibility list routes it; deadlines in working time."""
        case = self.case(case_id, actor)
        transition_for(case.state, Action.DISPATCH, actor)
        if not case.category_code:
            raise InvalidInput("category_code", "派遣前须立案分类 / file a category first")
        reason = ""
        if department is None:
            decision = self.route(case)
            if isinstance(decision, ManualDispatch):
                raise ManualDispatchRequired(case.id, decision)
            department, reason = decision.department.code, decision.explanation_zh
        elif not department.strip():
            raise InvalidInput("department", "必须填写 / is required")
        accept_due, handle_due = self.deadlines(case.category_code, self._clock.now())
        command = DispatchCase(
            department=department, accept_due=accept_due, handle_due=handle_due, reason=reason
        )
        return self.perform(case_id, command, actor)

    def route(self, case: Case) -> RoutingDecision:
        """Who the responsibility list says should handle `case` (or the centre that must decide)."""
        if not case.category_code:
            raise InvalidInput(
                "category_code", "未分类的工单无法派遣 / an unfiled case has no route"
            )
        path = {GridLevel(k): v for k, v in case.grid_codes.items() if k in PATH_COLUMNS}
        return self.responsibilities.route(
            case.category_code,
            path,
            self._specials(case),
            routing_level(case.owning_level),
        )

    def deadlines(self, category_code: str, start: datetime) -> tuple[datetime, datetime]:
        """(accept_due, handle_due) for a dispatch at `start`: handling counts on from accept_due."""
        category = self._leaf(category_code)
        assert category.accept_limit is not None and category.handle_limit is not None
        clock = category.clock(self.calendar)
        accept_due = clock.add_working(start, category.accept_limit)
        return accept_due, clock.add_working(accept_due, category.handle_limit)

    def _specials(self, case: Case) -> list[SpecialGridRef]:
        codes = special_codes(case.grid_codes)
        if not codes or case.layer_id is None:
            return []
        with self._sessions() as session:
            repo = LayerRepository(session)
            grids = [repo.grid(case.layer_id, code) for code in codes]
        return [SpecialGridRef(g.code, g.special_kind, g.responsible_unit) for g in grids]

    def _leaf(self, code: str) -> Category:
        category = self.taxonomy.get(code)
        if category is None:
            raise InvalidInput(
                "category_code", f"未知的事件分类 {code!r} / unknown category {code!r}"
            )
        if not self.taxonomy.is_leaf(code):
            raise InvalidInput(
                "category_code",
                f"{code} 是大类，请选择具体小类 / {code} is a class with subclasses; choose one",
            )
        return category

    # Reading

    def case(self, case_id: int, actor: Actor) -> Case:
        """One case, if the actor's scope includes it."""
        with self._sessions() as session:
            return self._visible(CaseRepository(session), case_id, actor)

    def events(self, case_id: int, actor: Actor) -> list[CaseEvent]:
        """A case's history, oldest first, if the actor's scope includes it."""
        with self._sessions() as session:
            repo = CaseRepository(session)
            self._visible(repo, case_id, actor)
            return repo.events(case_id)

    def cases(
        self, actor: Actor, *, state: CaseState | None = None, limit: int = 100
    ) -> list[Case]:
        """The newest cases in the actor's subtree, optionally in one state."""
        return self._cases(actor, [state] if state else [], limit)

    def search(
        self,
        actor: Actor,
        wanted: CaseFilter | None = None,
        *,
        limit: int = 50,
        offset: int = 0,
        personal_data: bool = False,
    ) -> CasePage:
        """A page of the cases in the actor's scope that match `wanted`, newest first.

        `personal_data` says whether the actor may see reporters' numbers: without it, a text
        search with digits looks only at the masked report text.
        """
        wanted = wanted or CaseFilter()
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput("limit", f"须为 1–{MAX_PAGE} / must be 1–{MAX_PAGE}")
        if offset < 0:
            raise InvalidInput("offset", "不能为负 / must not be negative")
        query = self._query(actor, wanted, personal_data)
        with self._sessions() as session:
            ids, total = CaseQueries(session).search(query, limit=limit, offset=offset)
            events = CaseRepository(session).events_of(ids)
        cases = [Case.replay(events[i]) for i in ids if events.get(i)]
        # The projection chose the page; the replayed events decide what is shown.
        return CasePage([c for c in cases if visible(actor, c)], total, limit, offset)

    def _query(self, actor: Actor, wanted: CaseFilter, personal_data: bool) -> CaseQuery:
        # Both the actor's scope and the asked one must hold, so a grid outside the actor's
        # scope finds nothing (the front doors answer it with 404 before asking).
        scopes = tuple(c for c in (actor.scope_code, wanted.scope_code) if c is not None)
        categories = tuple(wanted.category_codes)
        if wanted.category_code is not None:
            categories += self._within(wanted.category_code)
        if wanted.channel is not None:
            adapter(wanted.channel)
        for name, at in (("created_from", wanted.created_from), ("created_to", wanted.created_to)):
            if at is not None and at.tzinfo is None:
                raise InvalidInput(name, "须带时区 / must be timezone-aware")
        narrowed = department_of(actor)
        departments = tuple(d for d in (narrowed, wanted.department) if d is not None)
        return CaseQuery(
            scope_codes=scopes,
            departments=departments,
            ids=wanted.ids,
            states=tuple(s.value for s in wanted.states),
            category_codes=categories,
            channel=wanted.channel,
            overdue_at=self._clock.now() if wanted.overdue else None,
            created_from=wanted.created_from,
            created_to=wanted.created_to,
            text=(wanted.text or "").strip() or None,
            search_in="text" if personal_data else "text_masked",
        )

    def _within(self, code: str) -> tuple[str, ...]:
        if code not in self.taxonomy:
            raise InvalidInput("category", f"未知的事件分类 {code!r} / unknown category {code!r}")
        return tuple(c.code for c in self.taxonomy if self.taxonomy.is_within(c.code, code))

    def manual_queue(self, actor: Actor) -> list[Case]:
        """Cases waiting to be dispatched that routing cannot place, owned by the actor's centre."""
        waiting = self._cases(actor, list(_NEEDS_DISPATCH), limit=10_000)
        queue = []
        for case in waiting:
            decision = self.route(case) if case.category_code else None
            if not isinstance(decision, ManualDispatch):
                continue
            if actor.scope_code is None or decision.centre_code == actor.scope_code:
                queue.append(case)
        return queue

    def reports(self, case_id: int, actor: Actor) -> list[dict[str, Any]]:
        """The reports that make up a case, as stored (for showing to operators)."""
        with self._sessions() as session:
            repo = CaseRepository(session)
            self._visible(repo, case_id, actor)
            return [asdict(r) for r in repo.reports_of(case_id)]

    def _cases(self, actor: Actor, states: list[CaseState], limit: int) -> list[Case]:
        if limit <= 0:
            raise InvalidInput("limit", "须为正数 / must be positive")
        with self._sessions() as session:
            repo = CaseRepository(session)
            ids = repo.case_ids(
                scope_code=actor.scope_code, states=[s.value for s in states], limit=limit
            )
            events = repo.events_of(ids)
        cases = [Case.replay(events[i]) for i in ids]
        return [c for c in cases if visible(actor, c)]

    def projection(self, case_id: int) -> dict[str, Any]:
        """The stored read model of a case (dashboards read this, not the events)."""
        with self._sessions() as session:
            return CaseRepository(session).projection(case_id)

    def rebuild_projection(self, case_id: int) -> Case:
        """Rewrite a case's projection from its events, the source of truth."""
        now = self._clock.now()
        with self._sessions.begin() as session:
            repo = CaseRepository(session)
            repo.begin_write()
            repo.lock_cases([case_id])
            return repo.rebuild_projection(case_id, lambda c: self._next_check(c, now))

    # The sweeper

    def sweep(self, now: datetime | None = None, *, batch: int = 500) -> SweepResult:
        """Warn near deadlines and escalate by rule; safe to run in several processes at once."""
        at = now or self._clock.now()
        warned = escalated = examined = 0
        while True:
            with self._sessions.begin() as session:
                repo = CaseRepository(session)
                repo.begin_write()
                # Locked with SKIP LOCKED on PostgreSQL: a concurrent sweeper takes other cases.
                ids = repo.sweep_candidates(at, batch)
                events = repo.events_of(ids)
                appended = False
                for case_id in ids:
                    examined += 1
                    case = Case.replay(events[case_id])
                    calendar = self._calendar_for(case)
                    command = sweep_command(case, at, calendar)
                    if command is None:
                        repo.set_sweep_at(case_id, retry_check(case, at, calendar))
                        continue
                    try:
                        with repo.savepoint():
                            self._apply(repo, case, command, SYSTEM_ACTOR, at)
                    except ConcurrentChange:
                        continue
                    appended = True
                    if command.action is Action.ESCALATE:
                        escalated += 1
                    else:
                        warned += 1
                if appended:
                    repo.record_anchor(at)
            if len(ids) < batch:
                return SweepResult(warned=warned, escalated=escalated, examined=examined)

    def sweep_plan(self, now: datetime | None = None, *, limit: int = 1000) -> list[SweepItem]:
        """What a sweep at `now` would do first, without writing anything (one rule per case)."""
        at = now or self._clock.now()
        with self._sessions() as session:
            repo = CaseRepository(session)
            ids = repo.sweep_candidates(at, limit)
            events = repo.events_of(ids)
            session.rollback()
        plan = []
        for case_id in ids:
            case = Case.replay(events[case_id])
            command = sweep_command(case, at, self._calendar_for(case))
            if command is not None:
                plan.append(SweepItem(case_id, command))
        return plan

    def _calendar_for(self, case: Case) -> WorkingCalendar:
        category = self.taxonomy.get(case.category_code) if case.category_code else None
        return category.clock(self.calendar) if category else self.calendar

    def _next_check(self, case: Case, now: datetime) -> datetime | None:
        return next_check(case, now, self._calendar_for(case))

    # Audit

    def verify_audit(self) -> AuditReport:
        """Check the whole event log against its hash chain and recorded heads."""
        return verify_audit(self._sessions)


def _grid_path(answer: LocateAnswer) -> dict[str, str]:
    return grid_path(answer.location)


def grid_path(location: Location) -> dict[str, str]:
    """The grid codes of a located point: one per regular level, then "special.N" per special."""
    path = {level.value: grid.code for level, grid in location.grids.items()}
    for n, special in enumerate(location.specials, start=1):
        path[f"{SPECIAL_KEY_PREFIX}{n}"] = special.code
    return path


def owning_level(category: Category | None) -> OwningLevel:
    """The level that owns a case of `category` (the grid when the taxonomy names none)."""
    if category is None or category.owning_level is None:
        return OwningLevel.GRID
    return OwningLevel(category.owning_level.value)


def routing_level(level: OwningLevel) -> GridLevel:
    """The grid level routing starts from for a case owned at `level`."""
    # A case owned by "the grid" is routed from the finest regular level of its path upwards.
    return GridLevel.MICRO if level is OwningLevel.GRID else GridLevel(level.value)
