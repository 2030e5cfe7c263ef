"""The demo city's people: who works in, leads, polices and volunteers for each grid.

Per community grid: a grid leader (网格长, who is also secretary of its 网格党支部) and a community
police officer (社区民警, 民警进网入格); per compound grid: a grid worker (网格员); and a few in-service
party members registered with each community (在职党员到社区报到). Names are drawn from common
surnames and given-name characters; phone numbers use the 199 0000 test range, never real ones.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gridgov.grids.model import Grid, GridLevel
from gridgov.grids.people import AssignmentRole, RosterEntry

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志鹏辉斌宇浩凯欣怡晨阳佳琪雪梅海燕春"
PARTY_MEMBERS_PER_COMMUNITY = 3


def generate_roster(grids: Sequence[Grid], seed: int = 20261127) -> list[RosterEntry]:
    """A deterministic roster for a layer's community and compound grids."""
    rng = np.random.default_rng(seed)
    district_of = _district_names(grids)
    phones = iter(range(1_000_000))
    roster: list[RosterEntry] = []

    def name() -> str:
        given = "".join(rng.choice(list(_GIVEN), size=int(rng.integers(1, 3))))
        return str(rng.choice(list(_SURNAMES))) + given

    def phone() -> str:
        return f"199{next(phones):08d}"

    for grid in grids:
        if grid.level is GridLevel.COMMUNITY:
            roster.append(
                RosterEntry(
                    name=name(),
                    phone=phone(),
                    organisation=f"{grid.name}",
                    party_member=True,
                    assignments=((grid.code, AssignmentRole.GRID_LEADER),),
                    secretary_of=grid.code,
                    branch_name=f"{_short_name(grid.name)}网格党支部",
                )
            )
            roster.append(
                RosterEntry(
                    name=name(),
                    phone=phone(),
                    organisation=f"郑州市公安局{district_of[grid.code]}分局",
                    assignments=((grid.code, AssignmentRole.POLICE_OFFICER),),
                )
            )
            for _ in range(PARTY_MEMBERS_PER_COMMUNITY):
                roster.append(
                    RosterEntry(
                        name=name(),
                        phone=phone(),
                        party_member=True,
                        assignments=((grid.code, AssignmentRole.PARTY_MEMBER_VOLUNTEER),),
                        registered_in=grid.code,
                    )
                )
        elif grid.level is GridLevel.COMPOUND:
            roster.append(
                RosterEntry(
                    name=name(),
                    phone=phone(),
                    organisation=f"{grid.name}",
                    party_member=bool(rng.random() < 0.3),
                    assignments=((grid.code, AssignmentRole.GRID_WORKER),),
                )
            )
    return roster


def _district_names(grids: Sequence[Grid]) -> dict[str, str]:
    """Community code → the name of the district it lies in, by walking parent codes."""
    by_code = {g.code: g for g in grids}
    found: dict[str, str] = {}
    for grid in grids:
        if grid.level is not GridLevel.COMMUNITY:
            continue
        walk: Grid | None = grid
        while walk is not None and walk.level is not GridLevel.DISTRICT:
            walk = by_code.get(walk.parent_code) if walk.parent_code else None
        found[grid.code] = walk.name if walk else ""
    return found


def _short_name(community: str) -> str:
    """碧沙岗社区居委会 → 碧沙岗社区, 冯湾村委会 → 冯湾村: the committee is not the grid's name."""
    for suffix in ("居民委员会", "居委会", "村民委员会", "村委会"):
        if community.endswith(suffix):
            stem = community.removesuffix(suffix)
            return stem if suffix.startswith("居") or stem.endswith("村") else stem + "村"
    return community
