"""Reports over HTTP for signed-in staff, and placing a report that could not be located.

GET  /api/v1/reports?scope&location_status&channel&limit&offset  newest first, always masked
GET  /api/v1/reports/{report_id}?purpose=                        one report; unmasked by role, audited
POST /api/v1/reports/{report_id}/locate   {"lon", "lat", "crs"}  人工定位: place it; its case opens

`location_status=awaiting_manual` is the manual location queue. The report desk service decides
what the account sees: a located report exactly when its case is visible, an unlocated one only
for city-wide accounts.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from gridgov.api.auth import accounts_of, current_account
from gridgov.api.errors import error_responses
from gridgov.api.grids import ScopeQuery
from gridgov.api.ids import MAX_ROW_ID
from gridgov.bootstrap import Runtime
from gridgov.core.geo import Crs
from gridgov.services.accounts import Account, AccountService
from gridgov.services.report_desk import MAX_PAGE
from gridgov.workflow.model import Role

AccountDep = Annotated[Account, Depends(current_account)]
AccountsDep = Annotated[AccountService, Depends(accounts_of)]
ReportId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="上报编号 / report id")]
LocationStatus = Literal["located", "awaiting_manual"]
Channel = Annotated[
    str | None,
    Query(pattern=r"^[a-z0-9_]{1,32}$", description="渠道 / channel, e.g. hotline_12345"),
]


class ReportRow(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: int
    channel: str
    external_id: str
    received_at: str
    reported_at: str
    case_id: int | None
    location_status: str
    lon: float | None
    lat: float | None
    category_code: str | None
    title: str | None
    text: str = Field(description="已脱敏 / masked")
    address: str | None
    reporter_name: str | None
    reporter_phone: str | None
    intake: dict[str, Any] = Field(
        description="定位与分类的依据（候选地点等）/ how intake located and classified it"
    )


class ReportList(BaseModel):
    rows: list[ReportRow]
    total: int
    limit: int
    offset: int
    next_offset: int | None


class ReportDetail(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: int
    channel: str
    case_id: int | None
    location_status: str | None
    text: str
    reporter_name: str | None
    reporter_phone: str | None
    personal_data_visible: bool = Field(
        description="是否显示个人信息（已记录查看）/ unmasked, and the read was recorded"
    )


class Placement(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"lon": 113.61, "lat": 34.71, "crs": "wgs84"}]},
    )
    lon: float = Field(ge=-180, le=180, description="经度 / longitude")
    lat: float = Field(ge=-90, le=90, description="纬度 / latitude")
    crs: Crs = Field(Crs.WGS84, description="wgs84, cgcs2000, gcj02 or bd09")


class Placed(BaseModel):
    report_id: int
    case_id: int | None
    duplicate_of: int | None = Field(description="并入的已有工单 / the case it joined, if any")
    category_code: str | None
    warnings: list[str]


def reports_router(runtime: Runtime) -> APIRouter:
    router = APIRouter(prefix="/api/v1/reports", tags=["reports 上报"])
    desk = runtime.desk

    @router.get(
        "",
        summary="上报列表 · Reports you may see, newest first (masked)",
        responses=error_responses(401, 404, 422),
    )
    def reports(
        account: AccountDep,
        accounts: AccountsDep,
        scope: ScopeQuery = None,
        location_status: Annotated[
            LocationStatus | None,
            Query(description="awaiting_manual: 待人工定位队列 / the manual location queue"),
        ] = None,
        channel: Channel = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> ReportList:
        page = desk.reports(
            accounts.reader(account),
            scope,
            location_status=location_status,
            channel=channel,
            limit=limit,
            offset=offset,
        )
        following = page.offset + page.limit
        return ReportList(
            rows=[ReportRow(**r) for r in page.rows],
            total=page.total,
            limit=page.limit,
            offset=page.offset,
            next_offset=following if following < page.total else None,
        )

    @router.get(
        "/{report_id}",
        summary="上报详情 · One report (personal data by role, audited)",
        responses=error_responses(401, 404, 422),
    )
    def report(
        report_id: ReportId,
        account: AccountDep,
        accounts: AccountsDep,
        purpose: Annotated[
            str | None,
            Query(max_length=200, description="查看个人信息的理由（记入审计）/ why, for the audit"),
        ] = None,
    ) -> ReportDetail:
        _, case = desk.report(accounts.reader(account), report_id)
        unmasked = accounts.may_see_personal_data(account, case)
        if unmasked:
            # Recorded before the data leaves: a read that cannot be audited is not served.
            accounts.record_personal_data_access(
                account,
                f"report:{report_id}",
                purpose or f"查看上报 / read report {report_id} (API)",
            )
        shown = desk.view(report_id, personal_data=unmasked)
        return ReportDetail(**shown, personal_data_visible=unmasked)

    @router.post(
        "/{report_id}/locate",
        summary="人工定位 · Place a report that could not be located; its case opens",
        responses=error_responses(
            401,
            403,
            404,
            409,
            422,
            s403="此账号不能受理上报 / this account does not take in reports",
            s409="已定位 / the report is located already",
        ),
    )
    def locate(
        report_id: ReportId,
        body: Placement,
        account: AccountDep,
        accounts: AccountsDep,
    ) -> Placed:
        # Placing is the intake desk's work: decided by the account alone, before any lookup,
        # so that the 403 is the same for every report id.
        actor = accounts.actor(account, Role.INTAKE_OPERATOR)
        receipt = desk.place(actor, report_id, body.lon, body.lat, crs=body.crs)
        return Placed(
            report_id=receipt.report_id,
            case_id=receipt.case_id,
            duplicate_of=receipt.duplicate_of,
            category_code=receipt.category_code,
            warnings=list(receipt.warnings),
        )

    return router
