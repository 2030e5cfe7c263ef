"""Department actors see only the cases dispatched to their department, on every case service
read and write, and the case search keeps every filter inside the actor's scope."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from gridgov.core.errors import InvalidInput
from gridgov.services.case_scope import DepartmentActor
from gridgov.services.cases import CaseFilter, OutOfScope
from gridgov.workflow.model import AcceptCase, Actor, CaseState, Role
from tests.case_world import (
    ERQI_POINT,
    INTAKE,
    LEADER,
    PLAIN_POINT,
    STREET_1,
    ZHONGYUAN,
    build_world,
)

URBAN = "410102000000.urban_management"


def _handler(department: str = URBAN) -> Actor:
    return DepartmentActor("handler-1", Role.HANDLER, "处置员", ZHONGYUAN, department)


def test_a_department_actor_reads_and_acts_only_on_its_departments_cases(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    world = build_world(sessions, tmp_path)
    ours = world.dispatched_case(PLAIN_POINT)
    _, reported = world.service.submit_report(world.report(PLAIN_POINT), INTAKE)
    waiting = int(reported.id)
    assert world.service.case(ours, _handler()).state is CaseState.DISPATCHED
    with pytest.raises(OutOfScope):
        world.service.case(waiting, _handler())
    with pytest.raises(OutOfScope):
        world.service.case(ours, _handler("410102000000.water"))
    with pytest.raises(OutOfScope):
        world.service.perform(ours, AcceptCase(), _handler("410102000000.water"))
    assert world.service.perform(ours, AcceptCase(), _handler()).state is CaseState.ACCEPTED
    found = world.service.search(_handler())
    assert [int(c.id) for c in found.cases] == [ours] and found.total == 1


def test_a_search_never_leaves_the_actors_scope_whatever_is_asked(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    world = build_world(sessions, tmp_path)
    inside, outside = world.dispatched_case(PLAIN_POINT), world.dispatched_case(ERQI_POINT)
    street = Actor("street-1", Role.DISPATCHER, "街道", STREET_1)
    assert [int(c.id) for c in world.service.search(street).cases] == [inside]
    asked_outside = world.service.search(street, CaseFilter(scope_code="410103000000"))
    assert asked_outside.cases == [] and asked_outside.total == 0
    by_id = world.service.search(street, CaseFilter(ids=(inside, outside)))
    assert [int(c.id) for c in by_id.cases] == [inside]
    everything = world.service.search(LEADER, limit=1)
    assert everything.total == 2 and everything.next_offset == 1


@pytest.mark.parametrize(
    ("wanted", "field"),
    [
        (CaseFilter(category_code="NOPE"), "category"),
        (CaseFilter(channel="pigeon_post"), "channel"),
    ],
)
def test_a_filter_naming_something_unknown_is_refused(
    sessions: sessionmaker[Session], tmp_path: Path, wanted: CaseFilter, field: str
) -> None:
    world = build_world(sessions, tmp_path)
    with pytest.raises(InvalidInput) as refused:
        world.service.search(LEADER, wanted)
    assert refused.value.field == field


@pytest.mark.parametrize(
    ("limit", "offset", "field"), [(0, 0, "limit"), (1001, 0, "limit"), (10, -1, "offset")]
)
def test_a_page_out_of_bounds_is_refused(
    sessions: sessionmaker[Session], tmp_path: Path, limit: int, offset: int, field: str
) -> None:
    world = build_world(sessions, tmp_path)
    with pytest.raises(InvalidInput) as refused:
        world.service.search(LEADER, limit=limit, offset=offset)
    assert refused.value.field == field
