"""The demo city's roster: every community led, policed and staffed; deterministic."""

from __future__ import annotations

from collections import Counter

import pytest
from shapely.geometry import box

from gridgov.grids.model import Grid, GridLevel
from gridgov.grids.people import AssignmentRole
from gridgov.sim.city import generate_city
from gridgov.sim.people import PARTY_MEMBERS_PER_COMMUNITY, generate_roster


def test_every_community_has_a_leader_a_police_officer_and_a_party_branch_and_every_compound_a_worker() -> (
    None
):
    grids = generate_city(scale=0.01)
    roster = generate_roster(grids)
    roles = Counter((code, role) for entry in roster for code, role in entry.assignments)
    communities = [g.code for g in grids if g.level is GridLevel.COMMUNITY]
    compounds = [g.code for g in grids if g.level is GridLevel.COMPOUND]
    for code in communities:
        assert roles[(code, AssignmentRole.GRID_LEADER)] == 1
        assert roles[(code, AssignmentRole.POLICE_OFFICER)] == 1
        assert roles[(code, AssignmentRole.PARTY_MEMBER_VOLUNTEER)] == PARTY_MEMBERS_PER_COMMUNITY
    assert all(roles[(code, AssignmentRole.GRID_WORKER)] == 1 for code in compounds)
    assert sorted(e.secretary_of for e in roster if e.secretary_of) == sorted(communities)
    assert all(e.party_member for e in roster if e.registered_in or e.secretary_of)


def test_police_officers_belong_to_the_branch_of_their_district() -> None:
    grids = generate_city(scale=0.01)
    police = [
        e for e in generate_roster(grids) if e.assignments[0][1] is AssignmentRole.POLICE_OFFICER
    ]
    assert police and all(
        e.organisation
        and e.organisation.startswith("郑州市公安局")
        and e.organisation.endswith("分局")
        and len(e.organisation) > len("郑州市公安局分局")
        for e in police
    )


def test_the_same_seed_gives_the_same_roster_and_phone_numbers_are_test_numbers() -> None:
    grids = generate_city(scale=0.01)
    first, second = generate_roster(grids, seed=7), generate_roster(grids, seed=7)
    assert first == second
    phones = [e.phone for e in first]
    assert len(set(phones)) == len(phones)
    assert all(p is not None and p.startswith("199") and len(p) == 11 for p in phones)


@pytest.mark.parametrize(
    "committee, branch",
    [
        ("碧沙岗社区居委会", "碧沙岗社区网格党支部"),
        ("陇海路社区居民委员会", "陇海路社区网格党支部"),
        ("冯湾村委会", "冯湾村网格党支部"),
        ("张庄村村民委员会", "张庄村网格党支部"),
    ],
)
def test_a_party_branch_is_named_after_the_community_not_its_committee(
    committee: str, branch: str
) -> None:
    community = Grid("410102001001", committee, GridLevel.COMMUNITY, box(0, 0, 1, 1), "S")
    (leader, *_) = generate_roster([community])
    assert leader.branch_name == branch
