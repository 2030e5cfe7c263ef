"""A month of known cases for the dashboard figures, played through the real case services.

On Friday 2026-11-27 15:00 (Shanghai), in street 1 (community 1):

    id  channel        what happens                                             ends
    A   hotline_12345  dispatched, handled, verified, closed at once; satisfied  evaluated, on time
    B   grid_patrol    the same; basically satisfied                            evaluated, on time
    C   grid_patrol    the same; dissatisfied                                   evaluated, on time
    F   hotline_12345  handled, fails verification (返工), handled again, closed  closed, on time
    E   hotline_12345  dispatched, returned (退单), dispatched again              open, overdue later
    D   hotline_12345  dispatched; handled and closed 30 days later              closed late
    G   citizen_app    reported only                                            open, not filed
    I   hotline_12345  a duplicate of E, merged into it                         merged

and in the other district (Erqi, street 3) one more case, dispatched and left open (X).
Then the clock moves 30 days on and D is handled and closed, late. Every figure the tests assert
follows from this table; `docs/analytics.md` defines them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from gridgov.core.clock import Clock
from gridgov.grids.people import PartyOrgKind
from gridgov.services.cases import CaseService
from gridgov.store.people import PeopleRepository
from gridgov.workflow.model import (
    AcceptCase,
    CloseCase,
    EvaluateCase,
    FailVerification,
    HandleCase,
    MergeCase,
    PassVerification,
    ReturnCase,
)
from tests.case_world import (
    CITIZEN,
    COMMUNITY_1,
    DISPATCHER,
    ERQI_POINT,
    HANDLER,
    INTAKE,
    PLAIN_POINT,
    SHIFT,
    WORKER,
    CaseWorld,
)

DEPARTMENT = "410102000000.urban_management"  # where exposed garbage in street 1 goes
LATER = timedelta(days=30)


@dataclass(frozen=True)
class KnownCases:
    ids: dict[str, int]
    start: datetime  # when A–I were reported
    handle_due: datetime  # D's and E's handling deadline (both dispatched at `start`)


def play_known_month(world: CaseWorld) -> KnownCases:
    service = world.service
    clock = world.clock
    start = clock.now()
    ids: dict[str, int] = {}
    channels = {"A": "hotline_12345", "B": "grid_patrol", "C": "grid_patrol", "F": "hotline_12345"}
    for name, channel in channels.items():
        ids[name] = _dispatched(world, channel)
        _handle(service, ids[name])
        if name == "F":
            service.perform(ids[name], FailVerification(reason="仍有垃圾 / still dirty"), WORKER)
            _handle(service, ids[name])
        service.perform(ids[name], PassVerification(), WORKER)
        service.perform(ids[name], CloseCase(), SHIFT)
    for name, satisfaction in (
        ("A", "satisfied"),
        ("B", "basically_satisfied"),
        ("C", "dissatisfied"),
    ):
        service.perform(ids[name], EvaluateCase(satisfaction=satisfaction), CITIZEN)
    ids["E"] = _dispatched(world, "hotline_12345")
    service.perform(ids["E"], ReturnCase(reason="非本部门职责 / not ours"), HANDLER)
    service.dispatch(ids["E"], DISPATCHER)
    ids["D"] = _dispatched(world, "hotline_12345")
    _, reported = service.submit_report(world.report(PLAIN_POINT, channel="citizen_app"), INTAKE)
    ids["G"] = int(reported.id)
    _, duplicate = service.submit_report(world.report(PLAIN_POINT), INTAKE)
    ids["I"] = int(duplicate.id)
    service.perform(
        ids["I"], MergeCase(into=service.case(ids["E"], INTAKE), reason="重复 / duplicate"), INTAKE
    )
    ids["X"] = world.dispatched_case(ERQI_POINT)
    handle_due = service.case(ids["D"], INTAKE).handle_due
    assert handle_due is not None and service.case(ids["E"], INTAKE).handle_due == handle_due
    clock.advance(LATER)
    _handle(service, ids["D"])
    service.perform(ids["D"], PassVerification(), WORKER)
    service.perform(ids["D"], CloseCase(), SHIFT)
    return KnownCases(ids, start, handle_due)


def _dispatched(world: CaseWorld, channel: str) -> int:
    _, case = world.service.submit_report(world.report(PLAIN_POINT, channel=channel), INTAKE)
    case_id = int(case.id)
    world.service.file(case_id, SHIFT)
    world.service.dispatch(case_id, DISPATCHER)
    return case_id


def _handle(service: CaseService, case_id: int) -> None:
    if service.case(case_id, INTAKE).state.value != "reopened":
        service.perform(case_id, AcceptCase(), HANDLER)
    service.perform(case_id, HandleCase(evidence=("photo-1.jpg",)), HANDLER)


def seed_party(sessions: sessionmaker[Session], clock: Clock) -> None:
    """Party building in the sample city: street 1 has two branches' worth, Erqi one task.

    community 1 (street 1): a branch, two registered members, tasks: one done, one assigned, one
    open; community 2 of street 2: a branch; a community of Erqi: one open task.
    """
    with sessions.begin() as session:
        repo = PeopleRepository(session, clock)
        branch = repo.add_organisation(COMMUNITY_1, "第一社区党支部", PartyOrgKind.BRANCH)
        repo.add_organisation("410102002002", "第二街道第二社区党支部", PartyOrgKind.BRANCH)
        members = [repo.add_person(name, party_member=True) for name in ("党员甲", "党员乙")]
        for person in members:
            repo.register_party_member(person.id, COMMUNITY_1, clock.now(), branch.id)
        done, assigned, _ = (
            repo.add_task(COMMUNITY_1, title) for title in ("清扫", "探访", "巡河")
        )
        repo.assign_task(done.id, members[0].id)
        repo.complete_task(done.id)
        repo.assign_task(assigned.id, members[1].id)
        repo.add_task("410103003001", "二七区任务")
