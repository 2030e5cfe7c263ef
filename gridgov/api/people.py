"""People in grids over HTTP, for signed-in staff: who works where within the account's scope.

GET /api/v1/people?scope&role&on_duty&limit&offset   one row per person and grid role
GET /api/v1/people/{person_id}                        one person and their assignments in scope

Phone numbers are shown unmasked only to accounts that may see personal data, and that read is
recorded before the answer leaves (`purpose` is the recorded reason); everyone else gets them
masked. The people directory service applies the scope.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from gridgov.api.auth import accounts_of, current_account
from gridgov.api.errors import error_responses
from gridgov.api.grids import ScopeQuery
from gridgov.api.ids import MAX_ROW_ID
from gridgov.bootstrap import Runtime
from gridgov.grids.people import AssignmentRole
from gridgov.services.accounts import Account, AccountService
from gridgov.services.people_directory import MAX_PAGE, PersonView, StaffEntry, StaffPage

AccountDep = Annotated[Account, Depends(current_account)]
AccountsDep = Annotated[AccountService, Depends(accounts_of)]
Purpose = Annotated[
    str | None,
    Query(max_length=200, description="查看手机号的理由（记入审计）/ why, for the audit"),
]


class StaffRowView(BaseModel):
    id: int = Field(description="人员编号 / person id")
    assignment_id: int
    name: str
    role: AssignmentRole
    role_zh: str
    grid_code: str
    grid_name: str | None
    grid_level: str | None
    phone: str | None = Field(description="按角色脱敏 / masked unless you may see personal data")
    on_duty: bool = Field(description="任职期内 / the assignment is in force now")
    valid_from: datetime
    valid_to: datetime | None
    lon: float | None = Field(description="网格内一点（非实时位置）/ a point inside the grid")
    lat: float | None


class StaffList(BaseModel):
    rows: list[StaffRowView]
    total: int
    limit: int
    offset: int
    next_offset: int | None
    phones_visible: bool = Field(description="手机号未脱敏（已记录查看）/ unmasked, and recorded")


class PersonDetail(BaseModel):
    id: int
    name: str
    phone: str | None
    role_title: str | None
    organisation: str | None
    party_member: bool
    phones_visible: bool
    assignments: list[StaffRowView] = Field(description="本范围内的任职 / assignments in scope")


def people_router(runtime: Runtime) -> APIRouter:
    router = APIRouter(prefix="/api/v1/people", tags=["people 人员"])
    directory = runtime.directory

    @router.get(
        "",
        summary="网格人员 · The people in grid roles in your scope",
        responses=error_responses(401, 404, 422),
    )
    def people(
        account: AccountDep,
        accounts: AccountsDep,
        scope: ScopeQuery = None,
        role: Annotated[AssignmentRole | None, Query(description="只看此角色 / one role")] = None,
        on_duty: Annotated[
            bool | None,
            Query(description="1: 在任 / in force now; 0: 已离任或未到任 / not; omitted: both"),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
        purpose: Purpose = None,
    ) -> StaffList:
        actor = accounts.reader(account)
        visible = accounts.may_see_personal_data(account)
        page = directory.staff(
            actor,
            scope,
            role=role,
            on_duty=on_duty,
            limit=limit,
            offset=offset,
            phones_visible=visible,
        )
        if visible and any(r.phone for r in page.rows):
            # Recorded before the data leaves: a read that cannot be audited is not served.
            accounts.record_personal_data_access(
                account,
                f"people:{scope or account.scope_code or 'city'}",
                purpose or "查看网格人员手机号 / read grid staff phone numbers (API)",
            )
        return _list(page)

    @router.get(
        "/{person_id}",
        summary="人员详情 · One person and their assignments in your scope",
        responses=error_responses(401, 404, 422),
    )
    def person(
        person_id: Annotated[int, Path(ge=1, le=MAX_ROW_ID)],
        account: AccountDep,
        accounts: AccountsDep,
        purpose: Purpose = None,
    ) -> PersonDetail:
        actor = accounts.reader(account)
        visible = accounts.may_see_personal_data(account)
        found = directory.person(actor, person_id, phones_visible=visible)
        if visible and found.phone:
            accounts.record_personal_data_access(
                account,
                f"person:{person_id}",
                purpose or f"查看人员 {person_id} 手机号 / read the phone of person {person_id}",
            )
        return _person(found)

    return router


def _row(entry: StaffEntry) -> StaffRowView:
    return StaffRowView(
        id=entry.person_id,
        assignment_id=entry.assignment_id,
        name=entry.name,
        role=entry.role,
        role_zh=entry.role.label_zh,
        grid_code=entry.grid_code,
        grid_name=entry.grid_name,
        grid_level=entry.grid_level,
        phone=entry.phone,
        on_duty=entry.on_duty,
        valid_from=entry.valid_from,
        valid_to=entry.valid_to,
        lon=entry.lon,
        lat=entry.lat,
    )


def _list(page: StaffPage) -> StaffList:
    following = page.offset + page.limit
    return StaffList(
        rows=[_row(e) for e in page.rows],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
        next_offset=following if following < page.total else None,
        phones_visible=page.phones_visible,
    )


def _person(view: PersonView) -> PersonDetail:
    return PersonDetail(
        id=view.id,
        name=view.name,
        phone=view.phone,
        role_title=view.role_title,
        organisation=view.organisation,
        party_member=view.party_member,
        phones_visible=view.phones_visible,
        assignments=[_row(e) for e in view.assignments],
    )
