"""Weeks of random cases played through the real case services, for comparing rollups with the
projection: every path of the lifecycle — rejection, merging, returns, rework, extensions,
dissatisfied evaluations reopened — in both districts, four streets and several departments,
with cases closed late, cases left open past their deadline, and steps weeks after the report.
"""

from __future__ import annotations

import contextlib
import heapq
import random
from collections.abc import Callable
from datetime import timedelta

from gridgov.core.errors import GridGovError
from gridgov.workflow.model import (
    AcceptCase,
    ApproveExtension,
    CloseCase,
    EvaluateCase,
    FailVerification,
    HandleCase,
    MergeCase,
    PassVerification,
    RejectCase,
    ReopenCase,
    RequestExtension,
    ReturnCase,
)
from tests.case_world import CITIZEN, DISPATCHER, HANDLER, INTAKE, SHIFT, WORKER, CaseWorld

CHANNELS = (
    "hotline_12345",
    "police_110",
    "city_management",
    "civilization",
    "heating",
    "citizen_app",
    "grid_patrol",
    "iot_sensor",
)
ROLES = ("urban_management", "housing", "environment")
# Inside the sample city (113.6–113.76, 34.7–34.86), off its outer edge.
LON, LAT = (113.603, 113.757), (34.703, 34.857)

Step = Callable[[], object]


def play_random_weeks(world: CaseWorld, *, cases: int, days: int, seed: int) -> list[int]:
    """`cases` cases reported over `days` days, each then walked along a random path; the clock
    ends a few days after the last step. Returns the case ids."""
    rng = random.Random(seed)
    start = world.clock.now()
    queue: list[tuple[float, int, Step]] = []
    order = 0
    ids: list[int] = []

    def later(hours: float, step: Step) -> None:
        nonlocal order
        order += 1
        heapq.heappush(queue, (at_hours + hours, order, step))

    def report() -> None:
        point = (rng.uniform(*LON), rng.uniform(*LAT))
        channel = rng.choice(CHANNELS)
        _, case = world.service.submit_report(world.report(point, channel=channel), INTAKE)
        ids.append(int(case.id))
        _walk(world, rng, int(case.id), ids, later)

    for _ in range(cases):
        at_hours = rng.uniform(0, days * 24)
        later(0, report)
    at_hours = 0.0
    while queue:
        at_hours, _, step = heapq.heappop(queue)
        world.clock.advance(start + timedelta(hours=at_hours) - world.clock.now())
        # Refused: a merge target closed meanwhile, or an extension already pending.
        with contextlib.suppress(GridGovError):
            step()
    world.clock.advance(timedelta(days=3))
    return ids


def _walk(
    world: CaseWorld,
    rng: random.Random,
    case_id: int,
    ids: list[int],
    later: Callable[[float, Step], None],
) -> None:
    """Schedule one case's path: each step some hours (sometimes weeks) after the one before."""
    service = world.service
    case = service.case(case_id, INTAKE)
    district = case.grid_codes.get("district", "410102000000")
    departments = [f"{district}.{role}" for role in ROLES]
    steps: list[tuple[float, Step]] = []

    def then(step: Step, hours: float | None = None) -> None:
        steps.append((rng.uniform(0.5, 30) if hours is None else hours, step))

    fate = rng.random()
    if fate < 0.08:
        then(lambda: service.perform(case_id, RejectCase(reason="不属实 / not real"), SHIFT))
    elif fate < 0.14 and len(ids) > 1:
        into = rng.choice(ids[:-1])
        then(
            lambda: service.perform(
                case_id,
                MergeCase(into=service.case(into, INTAKE), reason="重复 / duplicate"),
                INTAKE,
            )
        )
    elif fate < 0.2:
        pass  # left reported
    else:
        then(lambda: service.file(case_id, SHIFT))
        then(lambda: service.dispatch(case_id, DISPATCHER, department=rng.choice(departments)))
        if rng.random() < 0.12:
            then(
                lambda: service.perform(case_id, ReturnCase(reason="非本部门 / not ours"), HANDLER)
            )
            then(lambda: service.dispatch(case_id, DISPATCHER, department=rng.choice(departments)))
        if rng.random() < 0.1:
            return _schedule(steps, later)  # dispatched and never touched again
        then(lambda: service.perform(case_id, AcceptCase(), HANDLER))
        if rng.random() < 0.1:
            then(lambda: _extend(world, case_id, rng.uniform(24, 24 * 20)))
        # Some are handled weeks later, long past their deadline.
        then(_handle(world, case_id), rng.uniform(1, 24 * (40 if rng.random() < 0.2 else 4)))
        if rng.random() < 0.15:
            then(lambda: service.perform(case_id, FailVerification(reason="仍有 / still"), WORKER))
            then(_handle(world, case_id))
        if rng.random() < 0.1:
            return _schedule(steps, later)  # handled, never verified
        then(lambda: service.perform(case_id, PassVerification(), WORKER))
        then(lambda: service.perform(case_id, CloseCase(), SHIFT))
        if rng.random() < 0.6:
            satisfaction = rng.choice(("satisfied", "basically_satisfied", "dissatisfied"))
            then(lambda: service.perform(case_id, EvaluateCase(satisfaction=satisfaction), CITIZEN))
            if satisfaction == "dissatisfied" and rng.random() < 0.5:
                then(lambda: service.perform(case_id, ReopenCase(reason="不满意 / no"), SHIFT))
                then(_handle(world, case_id))
                then(lambda: service.perform(case_id, PassVerification(), WORKER))
                then(lambda: service.perform(case_id, CloseCase(), SHIFT))
    _schedule(steps, later)


def _schedule(steps: list[tuple[float, Step]], later: Callable[[float, Step], None]) -> None:
    total = 0.0
    for hours, step in steps:
        total += hours
        later(total, step)


def _handle(world: CaseWorld, case_id: int) -> Step:
    def step() -> None:
        world.service.perform(case_id, HandleCase(evidence=("photo.jpg",)), HANDLER)

    return step


def _extend(world: CaseWorld, case_id: int, hours: float) -> None:
    until = world.clock.now() + timedelta(hours=hours)
    world.service.perform(case_id, RequestExtension(until=until, reason="材料 / parts"), HANDLER)
    world.service.perform(case_id, ApproveExtension(handle_due=until), SHIFT)
