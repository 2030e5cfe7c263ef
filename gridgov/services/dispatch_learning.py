"""Smart dispatch from the store: outcomes read off the case events, the recommender trained and
kept, its proposals named, and the time-split evaluation.

An outcome is one dispatch (派遣) of a case: returned (退单) when the department sent it back or
the centre reassigned it (改派) before it was handled; kept otherwise. The responsibility list
stays authoritative: these proposals are what a dispatcher sees beside the rule, and the proposal
for the cases the rules leave to the manual dispatch queue.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

from sqlalchemy.orm import Session, sessionmaker

from gridgov.ai.dispatch import (
    DepartmentRecommender,
    DispatchOutcome,
    Proposal,
    RecommenderConfig,
)
from gridgov.ai.dispatch_evaluation import SplitEvaluation, evaluate_time_split
from gridgov.core.clock import Clock
from gridgov.core.errors import InvalidInput, NotFound
from gridgov.grids.model import REGULAR_LEVELS, GridLevel
from gridgov.services.cases import owning_level, routing_level
from gridgov.store.cases import SPECIAL_KEY_PREFIX, special_codes
from gridgov.store.insights import CaseFacts, DispatchEvent, InsightsRepository
from gridgov.store.layers import LayerRepository
from gridgov.workflow.categories import Taxonomy
from gridgov.workflow.routing import (
    SPECIAL_ROLE,
    TEMPLATE,
    Assignee,
    Department,
    ResponsibilityList,
    SpecialGridRef,
)

_log = logging.getLogger(__name__)
_KEY_SEPARATOR = "@"
SPECIAL_KEY = f"{SPECIAL_ROLE}{_KEY_SEPARATOR}special"


class ResponsibilityDirectory:
    """Departments of the responsibility list generalized as "role@level": the street office of
    one street teaches about the street offices of all streets."""

    def __init__(self, departments: Iterable[Department]) -> None:
        self._by_code: dict[str, Department] = {}
        self._templates: list[Department] = []
        self._units: dict[tuple[str, GridLevel, str], str] = {}
        for department in departments:
            if department.serves == TEMPLATE:
                self._templates.append(department)
            else:
                self._by_code[department.code] = department
                self._units[(department.role, department.level, department.serves)] = (
                    department.code
                )

    def key_of(self, department: str, grid_path: Mapping[str, str]) -> str:
        specials = [c for k, c in grid_path.items() if k.startswith(SPECIAL_KEY_PREFIX)]
        if department in specials:
            # A special grid's responsible unit is coded as the grid itself (routing.py).
            return SPECIAL_KEY
        known = self._by_code.get(department)
        if known is not None:
            return f"{known.role}{_KEY_SEPARATOR}{known.level.value}"
        template = self._template_of(department)
        if template is not None:
            return f"{template.role}{_KEY_SEPARATOR}{template.level.value}"
        return department

    def department_for(self, key: str, grid_path: Mapping[str, str]) -> str | None:
        if key == SPECIAL_KEY:
            return special_codes(grid_path)[0] if special_codes(grid_path) else None
        role, separator, level_name = key.rpartition(_KEY_SEPARATOR)
        if not separator or level_name not in {level.value for level in REGULAR_LEVELS}:
            return key
        level = GridLevel(level_name)
        grid = grid_path.get(level.value)
        if grid is None:
            return None
        found = self._units.get((role, level, grid))
        if found is not None:
            return found
        for template in self._templates:
            if template.role == role and template.level is level:
                return template.code.replace("{grid}", grid)
        return None

    def name_of(self, department: str) -> str:
        """The Chinese name of a department code (the code itself when it is not listed)."""
        known = self._by_code.get(department)
        if known is not None:
            return known.name_zh
        template = self._template_of(department)
        if template is not None:
            grid = _template_grid(template.code, department)
            return template.name_zh.replace("{grid}", grid or "")
        return department

    def _template_of(self, department: str) -> Department | None:
        for template in self._templates:
            if _template_grid(template.code, department) is not None:
                return template
        return None


def _template_grid(pattern: str, code: str) -> str | None:
    head, _, tail = pattern.partition("{grid}")
    if len(code) > len(head) + len(tail) and code.startswith(head) and code.endswith(tail):
        return code[len(head) : len(code) - len(tail)]
    return None


@dataclass(frozen=True, slots=True)
class DispatchLearningOptions:
    enabled: bool = True
    history: timedelta | None = timedelta(days=180)  # None: learn from the whole log
    refresh: timedelta = timedelta(hours=1)
    # After a failed training (the database away), wait this long before trying again.
    retry: timedelta = timedelta(minutes=1)
    config: RecommenderConfig = field(default_factory=RecommenderConfig)


class DispatchLearning:
    """The recommender, trained from the store in a background thread, never inside a request.

    Until the first model is ready, `propose` answers nothing and the page shows the rules' (or the
    manual queue's) proposal: a dispatcher waits for no one, and learned proposals appear once the
    log has been counted. `warm_up` starts that first training when the server starts; a model
    `refresh` old is replaced the same way while it keeps answering.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        *,
        taxonomy: Taxonomy,
        responsibilities: ResponsibilityList,
        time_zone: tzinfo,
        options: DispatchLearningOptions | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self.taxonomy = taxonomy
        self.responsibilities = responsibilities
        self.directory = ResponsibilityDirectory(responsibilities.departments)
        self.time_zone = time_zone
        self.options = options or DispatchLearningOptions()
        self._model: DepartmentRecommender | None = None
        self._trained_at: datetime | None = None
        self._failed_at: datetime | None = None
        self._retraining: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.options.enabled

    def outcomes(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> list[DispatchOutcome]:
        """Every dispatch in [since, until) and whether it was returned, oldest first."""
        with self._sessions() as session:
            repo = InsightsRepository(session)
            events = repo.dispatch_events(since, until)
            facts = repo.case_facts(sorted({e.case_id for e in events}))
        return outcomes_of(events, facts)

    def warm_up(self) -> None:
        """Start training the first model in the background (server start); returns at once."""
        self.recommender()

    def recommender(self) -> DepartmentRecommender | None:
        """The last trained model: None while the first is still learning, or when smart dispatch
        is switched off. A missing or `refresh`-old model is (re)trained in the background; this
        call never waits for it (a city's year of dispatches takes a minute to count)."""
        if not self.options.enabled:
            return None
        now = self._clock.now()
        with self._lock:
            if self._retraining is None and self._due(now):
                self._retraining = threading.Thread(
                    target=self._retrain_quietly, name="dispatch-learning", daemon=True
                )
                self._retraining.start()
            return self._model

    def _due(self, now: datetime) -> bool:
        if self._failed_at is not None and now - self._failed_at < self.options.retry:
            return False
        return self._trained_at is None or now - self._trained_at >= self.options.refresh

    def wait(self, timeout: float | None = None) -> DepartmentRecommender | None:
        """Wait for a training in progress (at most `timeout` seconds); the model after it."""
        with self._lock:
            running = self._retraining
        if running is not None:
            running.join(timeout)
        with self._lock:
            return self._model

    def close(self, timeout: float = 30.0) -> None:
        """Wait for a background training to finish, so it does not outlive the store."""
        self.wait(timeout)

    def _retrain_quietly(self) -> None:
        try:
            self.retrain()
        except Exception:
            # The last model (or the rules alone) keeps answering; tried again after `retry`.
            _log.exception("smart dispatch training failed; the previous model stays")
            with self._lock:
                self._failed_at = self._clock.now()
        finally:
            with self._lock:
                self._retraining = None

    def retrain(self) -> DepartmentRecommender:
        """Train now from the store, whatever the age of the current model (waits for it)."""
        now = self._clock.now()
        model = self._train(now)
        with self._lock:
            self._model, self._trained_at, self._failed_at = model, now, None
        return model

    def _train(self, now: datetime) -> DepartmentRecommender:
        since = None if self.options.history is None else now - self.options.history
        return DepartmentRecommender.train(
            self.outcomes(since),
            taxonomy=self.taxonomy,
            directory=self.directory,
            config=self.options.config,
        )

    def propose(
        self,
        text: str,
        category_code: str,
        grid_path: Mapping[str, str],
        *,
        exclude: Iterable[str] = (),
        k: int = 3,
    ) -> list[Proposal]:
        """The learned departments for a case, best first; empty when switched off or untrained."""
        model = self.recommender()
        if model is None:
            return []
        return model.propose(text, category_code, grid_path, k=k, exclude=exclude)

    def department_name(self, code: str) -> str:
        return self.directory.name_of(code)

    def evaluate(
        self, *, start: datetime | None = None, train_days: int = 21, test_days: int = 7
    ) -> SplitEvaluation:
        """Train on `train_days` from `start` (default: the local midnight of the first dispatch),
        test on the next `test_days`, beside the baseline and the responsibility list's rules."""
        if start is not None and start.tzinfo is None:
            raise InvalidInput("start", "须带时区 / must be timezone-aware")
        outcomes = self.outcomes(start, None)
        if not outcomes:
            raise NotFound("dispatch 派遣记录", "any")
        if start is None:
            first = outcomes[0].at.astimezone(self.time_zone)
            start = datetime.combine(first.date(), datetime.min.time(), self.time_zone)
        with self._sessions() as session:
            facts = InsightsRepository(session).case_facts(
                sorted({int(o.case_id) for o in outcomes})
            )
        specials = self._specials(facts.values())
        return evaluate_time_split(
            outcomes,
            start=start,
            train_days=train_days,
            test_days=test_days,
            taxonomy=self.taxonomy,
            directory=self.directory,
            config=self.options.config,
            rule=lambda o: self._rule(o, specials.get(int(o.case_id), [])),
        )

    def _rule(self, outcome: DispatchOutcome, specials: Sequence[SpecialGridRef]) -> str | None:
        """What the responsibility list decides for the case (None: the manual queue)."""
        category = self.taxonomy.get(outcome.category_code)
        if category is None or not self.taxonomy.is_leaf(category.code):
            return None
        path = {
            GridLevel(k): v
            for k, v in outcome.grid_path.items()
            if not k.startswith(SPECIAL_KEY_PREFIX)
        }
        try:
            decision = self.responsibilities.route(
                category.code, path, specials, routing_level(owning_level(category))
            )
        except InvalidInput:
            return None
        return decision.department.code if isinstance(decision, Assignee) else None

    def _specials(self, facts: Iterable[CaseFacts]) -> dict[int, list[SpecialGridRef]]:
        wanted = [(f.case_id, f.layer_id, code) for f in facts for code in f.special_codes]
        if not wanted:
            return {}
        out: dict[int, list[SpecialGridRef]] = defaultdict(list)
        with self._sessions() as session:
            layers = LayerRepository(session)
            for case_id, layer_id, code in wanted:
                if layer_id is None:
                    continue
                try:
                    grid = layers.grid(layer_id, code)
                except NotFound:
                    continue
                out[case_id].append(
                    SpecialGridRef(grid.code, grid.special_kind, grid.responsible_unit)
                )
        return out


def outcomes_of(
    events: Sequence[DispatchEvent], facts: Mapping[int, CaseFacts]
) -> list[DispatchOutcome]:
    """Dispatch outcomes from the file/dispatch/return/reassign events of cases (by case, in order)."""
    by_case: dict[int, list[DispatchEvent]] = defaultdict(list)
    for event in events:
        by_case[event.case_id].append(event)
    out: list[DispatchOutcome] = []
    for case_id, history in by_case.items():
        case = facts.get(case_id)
        if case is not None:
            out.extend(_case_outcomes(case, history))
    out.sort(key=lambda o: (o.at, o.case_id))
    return out


def _case_outcomes(case: CaseFacts, history: Sequence[DispatchEvent]) -> list[DispatchOutcome]:
    category = case.category_code
    settled: list[tuple[str, datetime, str | None, bool]] = []
    pending: tuple[str, datetime, str | None] | None = None
    for event in history:
        department = event.payload.get("department")
        if event.action == "file":
            category = event.payload.get("category_code") or category
        elif event.action in ("return", "reassign"):
            if pending is not None:
                settled.append((*pending, True))
            pending = None
        if event.action in ("dispatch", "reassign") and department:
            # A new dispatch after a reopening follows a department that did handle the case.
            if pending is not None:
                settled.append((*pending, False))
            pending = (str(department), event.at, category)
    if pending is not None:
        settled.append((*pending, False))
    path = {
        **case.grid_path,
        **{f"{SPECIAL_KEY_PREFIX}{n}": c for n, c in enumerate(case.special_codes, start=1)},
    }
    return [
        DispatchOutcome(str(case.case_id), at, case.text, code, path, dept, returned)
        for dept, at, code, returned in settled
        if code
    ]
