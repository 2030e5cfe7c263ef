"""People in grids: time-bounded assignments by grid code, party organisation, volunteer tasks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gridgov.core.clock import FixedClock
from gridgov.core.errors import Conflict, InvalidInput, NotFound
from gridgov.grids.people import AssignmentRole, PartyOrgKind, RosterEntry, VolunteerTaskStatus
from gridgov.store.layers import LayerRepository
from gridgov.store.people import PeopleRepository
from gridgov.store.tables import AssignmentRow
from tests.factories import sample_grids

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
STREET = "410102001"
COMMUNITY = "410102001001"


def _people(session: Session) -> PeopleRepository:
    return PeopleRepository(session, FixedClock(T0))


def test_a_person_is_stored_with_every_detail(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        added = _people(session).add_person(
            "张伟",
            phone="13800000000",
            role_title="专职网格员",
            organisation="中原区",
            party_member=True,
        )
    with sessions() as session:
        assert _people(session).person(added.id) == added
    assert (added.name, added.phone, added.party_member) == ("张伟", "13800000000", True)


def test_responsible_people_are_those_assigned_at_that_time_in_the_given_order(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        people = _people(session)
        worker = people.add_person("王芳")
        leader = people.add_person("李强")
        police = people.add_person("赵警官")
        past = people.add_person("刘退休")
        people.assign(worker.id, COMMUNITY, AssignmentRole.GRID_WORKER, T0)
        people.assign(police.id, COMMUNITY, AssignmentRole.POLICE_OFFICER, T0)
        people.assign(leader.id, STREET, AssignmentRole.GRID_LEADER, T0, T0 + 30 * DAY)
        people.assign(past.id, COMMUNITY, AssignmentRole.GRID_WORKER, T0 - 90 * DAY, T0)
    with sessions() as session:
        people = _people(session)
        now = people.responsible_for([COMMUNITY, STREET], T0 + DAY)
        later = people.responsible_for([STREET, COMMUNITY], T0 + 60 * DAY)
        before = people.responsible_for([COMMUNITY, STREET], T0 - DAY)
    assert [(a.person_id, a.grid_code) for a in now] == [
        (worker.id, COMMUNITY),
        (police.id, COMMUNITY),
        (leader.id, STREET),
    ]
    assert [a.person_id for a in later] == [worker.id, police.id]
    assert [a.person_id for a in before] == [past.id]


def test_an_assignment_ending_before_it_starts_is_refused_naming_valid_to(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        person = _people(session).add_person("王芳")
    with pytest.raises(InvalidInput) as caught, sessions.begin() as session:
        _people(session).assign(person.id, COMMUNITY, AssignmentRole.GRID_WORKER, T0, T0 - DAY)
    assert caught.value.field == "valid_to"
    assert "is not after valid_from" in caught.value.problem
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(AssignmentRow)) == 0


def test_an_assignment_needs_a_known_person_and_aware_times(
    sessions: sessionmaker[Session],
) -> None:
    with pytest.raises(NotFound, match="person not found: 7"), sessions.begin() as session:
        _people(session).assign(7, COMMUNITY, AssignmentRole.GRID_WORKER, T0)
    with sessions.begin() as session:
        person = _people(session).add_person("王芳")
    with (
        pytest.raises(InvalidInput, match="valid_from: needs a time zone"),
        sessions.begin() as session,
    ):
        _people(session).assign(
            person.id, COMMUNITY, AssignmentRole.GRID_WORKER, datetime(2025, 3, 1)
        )


def test_an_ended_assignment_stops_counting_and_cannot_end_twice(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        people = _people(session)
        person = people.add_person("王芳")
        assignment = people.assign(person.id, COMMUNITY, AssignmentRole.GRID_WORKER, T0)
    with sessions.begin() as session:
        ended = _people(session).end_assignment(assignment.id, T0 + 10 * DAY)
    assert ended.valid_to == T0 + 10 * DAY
    assert ended.is_active_at(T0 + 9 * DAY) and not ended.is_active_at(T0 + 10 * DAY)
    with sessions() as session:
        assert _people(session).responsible_for([COMMUNITY], T0 + 11 * DAY) == []
    with pytest.raises(Conflict, match="already ended"), sessions.begin() as session:
        _people(session).end_assignment(assignment.id, T0 + 20 * DAY)
    with pytest.raises(InvalidInput, match="valid_to"), sessions.begin() as session:
        _people(session).end_assignment(assignment.id, T0 - DAY)


def test_assignments_carry_over_to_a_new_grid_layer_with_the_same_codes(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        layers = LayerRepository(session, FixedClock(T0))
        old = layers.create_draft("2024", "test", sample_grids())
        layers.activate(old.id, T0)
        person = _people(session).add_person("王芳")
        _people(session).assign(person.id, COMMUNITY, AssignmentRole.GRID_WORKER, T0)
    with sessions.begin() as session:
        layers = LayerRepository(session, FixedClock(T0))
        new = layers.create_draft("2025", "test", sample_grids())
        layers.activate(new.id, T0 + DAY)
    with sessions() as session:
        grid = LayerRepository(session).grid(new.id, COMMUNITY)
        found = _people(session).responsible_for([grid.code], T0 + 2 * DAY)
    assert [a.person_id for a in found] == [person.id]


def test_party_members_register_with_a_grid_party_organisation(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        people = _people(session)
        secretary = people.add_person("陈书记", party_member=True)
        member = people.add_person("周党员", party_member=True)
        branch = people.add_organisation(
            STREET, "第一网格党支部", PartyOrgKind.BRANCH, secretary.id
        )
        group = people.add_organisation(COMMUNITY, "第一党小组", PartyOrgKind.GROUP)
        registration = people.register_party_member(member.id, COMMUNITY, T0, group.id)
    with sessions() as session:
        people = _people(session)
        assert people.organisations(STREET) == [branch]
        assert people.registrations(COMMUNITY) == [registration]
    assert branch.kind.label_zh == "网格党支部" and branch.secretary_id == secretary.id
    assert (registration.person_id, registration.organisation_id) == (member.id, group.id)


def test_only_a_party_member_registers_and_only_once_per_grid(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        people = _people(session)
        citizen = people.add_person("普通居民")
        member = people.add_person("周党员", party_member=True)
        people.register_party_member(member.id, COMMUNITY, T0)
    with (
        pytest.raises(InvalidInput, match="not a party member") as caught,
        sessions.begin() as session,
    ):
        _people(session).register_party_member(citizen.id, COMMUNITY, T0)
    assert caught.value.field == "person_id"
    with pytest.raises(Conflict, match="already registered"), sessions.begin() as session:
        _people(session).register_party_member(member.id, COMMUNITY, T0 + DAY)
    with pytest.raises(NotFound, match="party organisation"), sessions.begin() as session:
        _people(session).register_party_member(member.id, STREET, T0, organisation_id=99)


def test_a_volunteer_task_goes_open_assigned_done(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        people = _people(session)
        volunteer = people.add_person("周党员", party_member=True)
        task = people.add_task(COMMUNITY, "清理楼道杂物", "3号楼", due_at=T0 + 7 * DAY)
    assert (task.status, task.created_at, task.assignee_id) == (VolunteerTaskStatus.OPEN, T0, None)
    with sessions.begin() as session:
        assigned = _people(session).assign_task(task.id, volunteer.id)
    with pytest.raises(Conflict, match="not open"), sessions.begin() as session:
        _people(session).assign_task(task.id, volunteer.id)
    with sessions.begin() as session:
        done = _people(session).complete_task(task.id)
    with sessions() as session:
        listed = _people(session).tasks(COMMUNITY, VolunteerTaskStatus.DONE)
    assert assigned.assignee_id == volunteer.id and assigned.status is VolunteerTaskStatus.ASSIGNED
    assert listed == [done]
    assert done.due_at == T0 + 7 * DAY


def test_bad_volunteer_tasks_are_refused_by_field(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(InvalidInput, match="due_at") as caught, sessions.begin() as session:
        _people(session).add_task(COMMUNITY, "清理楼道", due_at=T0 - DAY)
    assert caught.value.field == "due_at"
    with pytest.raises(InvalidInput, match="title"), sessions.begin() as session:
        _people(session).add_task(COMMUNITY, " ")
    with sessions.begin() as session:
        task = _people(session).add_task(COMMUNITY, "清理楼道")
    with pytest.raises(Conflict, match="only assigned tasks"), sessions.begin() as session:
        _people(session).complete_task(task.id)
    with pytest.raises(NotFound, match="person"), sessions.begin() as session:
        _people(session).assign_task(task.id, 404)


def test_a_roster_loads_people_roles_branches_and_registrations_in_one_go(
    sessions: sessionmaker[Session],
) -> None:
    roster = [
        RosterEntry(
            "张网格长",
            phone="19900000001",
            party_member=True,
            assignments=(("C1", AssignmentRole.GRID_LEADER),),
            secretary_of="C1",
            branch_name="一号社区网格党支部",
        ),
        RosterEntry("李网格员", assignments=(("C1001", AssignmentRole.GRID_WORKER),)),
        RosterEntry(
            "王党员",
            party_member=True,
            assignments=(("C1", AssignmentRole.PARTY_MEMBER_VOLUNTEER),),
            registered_in="C1",
        ),
    ]
    with sessions.begin() as session:
        counts = PeopleRepository(session).add_roster(roster, T0)
    assert counts == {"people": 3, "assignments": 3, "organisations": 1, "registrations": 1}
    with sessions() as session:
        repo = PeopleRepository(session)
        found = repo.responsible_for(["C1001", "C1"], T0)
        assert [repo.person(a.person_id).name for a in found] == ["李网格员", "张网格长", "王党员"]
        (branch,) = repo.organisations("C1")
        assert branch.name == "一号社区网格党支部"
        assert (
            branch.secretary_id is not None and repo.person(branch.secretary_id).name == "张网格长"
        )
        (registration,) = repo.registrations("C1")
        assert registration.organisation_id == branch.id


def test_a_roster_entry_without_a_name_is_refused_and_nothing_is_stored(
    sessions: sessionmaker[Session],
) -> None:
    roster = [RosterEntry("甲"), RosterEntry("  ")]
    with pytest.raises(InvalidInput, match=r"roster\[1\]\.name"), sessions.begin() as session:
        PeopleRepository(session).add_roster(roster, T0)
    with sessions() as session:
        assert PeopleRepository(session).count() == 0
