"""Dashboard figures over HTTP for signed-in staff: one screen for the city, a district, a street.

GET /api/v1/analytics/overview     a day's intake and closings, open cases, the 30-day rates
GET /api/v1/analytics/trend        per day: created, closed, closed on time, overdue
GET /api/v1/analytics/children     区域评价 of the scope's child grids for a month
GET /api/v1/analytics/departments  专业部门评价 for a month (GB/T 30428)
GET /api/v1/analytics/cases-map    case points in a box, as GeoJSON
GET /api/v1/analytics/party        党建引领: organisations, members, volunteer tasks
GET /api/v1/analytics/live         server-sent events: cases created or changed from now on

`scope` is a grid code at or below the account's own (default: its own). The analytics service
checks it; one outside is a 404 word for word like a grid that does not exist.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from gridgov.analytics.indicators import OPEN_STATES, CohortFigures
from gridgov.analytics.party import PartyCounts
from gridgov.analytics.scope import Scope
from gridgov.api.auth import accounts_of, current_account
from gridgov.api.errors import error_responses
from gridgov.api.grids import GRID_CODE
from gridgov.api.ids import MAX_ROW_ID
from gridgov.bootstrap import Runtime
from gridgov.core.errors import InvalidInput
from gridgov.services.accounts import Account, AccountService
from gridgov.services.analytics import (
    MAX_MAP_POINTS,
    AnalyticsService,
    LiveFeed,
)
from gridgov.store.analytics import CaseChange
from gridgov.workflow.model import CaseState

POLL_SECONDS = 1.0
PING_SECONDS = 15.0

_ERRORS = error_responses(
    401,
    404,
    422,
    s404="无此网格，或不在管辖范围内（两者无法区分）/ no such grid, or outside your scope "
    "(deliberately the same answer)",
)

# One server-sent event as a client parses it; `data` is JSON text (module doc and docs/api.md).
_SSE_EVENT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "event": {"type": "string", "enum": ["ready", "case"]},
        "data": {"type": "string"},
        "id": {"type": "string"},
        "retry": {"type": "integer"},
    },
}

AccountDep = Annotated[Account, Depends(current_account)]
AccountsDep = Annotated[AccountService, Depends(accounts_of)]
ScopeParam = Annotated[
    str | None,
    Query(
        pattern=GRID_CODE,
        description="网格编码，默认为本账号的管辖范围 / grid code; default your own scope",
    ),
]
MonthParam = Annotated[
    str | None,
    Query(pattern=r"^\d{4}-\d{2}$", description="月份 YYYY-MM，默认本月 / default this month"),
]


class ScopeOut(BaseModel):
    code: str
    name: str
    level: str
    level_zh: str


class Today(BaseModel):
    reports: int = Field(description="当日上报数（已定位）/ reports received that day, located")
    cases: int = Field(description="当日新工单（不含并单）/ new cases, duplicates aside")
    by_channel: dict[str, int] = Field(description="按渠道的上报数 / reports per channel")
    closed: int = Field(description="当日结案数 / cases closed that day")


class Window(BaseModel):
    first_day: date
    last_day: date


class Overview(BaseModel):
    scope: ScopeOut
    day: date
    today: Today
    open: int = Field(description="未结工单 / open cases now")
    overdue: int = Field(description="超期未结 / open cases past their handling deadline")
    on_time_close_rate: float | None
    close_rate: float | None
    satisfaction_rate: float | None
    return_rate: float | None
    rework_rate: float | None
    by_state: dict[str, int] = Field(
        description="统计期内新工单按状态 / the window's cases by state"
    )
    window: Window = Field(description="比率的统计期（含首尾）/ the days the rates count")
    counts: dict[str, int] = Field(description="比率的分子分母 / the counts behind the rates")


class TrendDayOut(BaseModel):
    day: date
    created: int
    closed: int
    closed_on_time: int
    overdue_open: int


class TrendOut(BaseModel):
    scope: ScopeOut
    days: list[TrendDayOut]


class RegionRowOut(BaseModel):
    code: str
    name: str
    level: str
    filed: int
    closed: int
    due: int
    closed_on_time: int
    public_filed: int
    close_rate: float | None
    on_time_close_rate: float | None
    supervision_rate: float | None
    score: float | None = Field(
        description="0–100；无可评数据时为 null / null when nothing to score"
    )
    grade: str | None


class ChildrenOut(BaseModel):
    scope: ScopeOut
    month: str
    level: str | None = Field(description="下级网格的层级 / the children's level")
    rows: list[RegionRowOut]
    formula: str


class DepartmentRowOut(BaseModel):
    department: str
    name: str
    filed: int
    closed: int
    due: int
    close_rate: float | None
    handle_due: int
    handled_on_time: int
    on_time_handle_rate: float | None
    handled: int
    reworked: int
    rework_rate: float | None
    filed_score: int
    score: float | None
    grade: str | None


class DepartmentsOut(BaseModel):
    scope: ScopeOut
    month: str
    rows: list[DepartmentRowOut]
    formula: str


class PointGeometry(BaseModel):
    type: Literal["Point"] = "Point"
    coordinates: list[float] = Field(min_length=2, max_length=2)


class CaseMapProperties(BaseModel):
    id: int
    state: str
    state_zh: str
    overdue: bool
    category_code: str | None
    created_at: datetime


class CaseMapFeature(BaseModel):
    type: Literal["Feature"] = "Feature"
    geometry: PointGeometry
    properties: CaseMapProperties


class CaseMapOut(BaseModel):
    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[CaseMapFeature]


class PartyRowOut(BaseModel):
    code: str
    name: str
    level: str
    organisations: int
    members: int
    tasks_done: int
    tasks_open: int


class PartyOut(BaseModel):
    scope: ScopeOut
    organisations: int
    members: int
    tasks_done: int
    tasks_open: int
    rows: list[PartyRowOut]


def analytics_router(runtime: Runtime) -> APIRouter:
    router = APIRouter(prefix="/api/v1/analytics", tags=["analytics 统计分析"])
    service = runtime.analytics

    @router.get(
        "/overview",
        summary="总览 · A day's intake, open and overdue cases, and the rates of the last 30 days",
        responses=_ERRORS,
    )
    def overview(
        account: AccountDep,
        accounts: AccountsDep,
        scope: ScopeParam = None,
        day: Annotated[date | None, Query(description="日期，默认今天 / default today")] = None,
    ) -> Overview:
        found = service.overview(accounts.reader(account), scope, day)
        figures = found.figures
        return Overview(
            scope=_scope(found.scope),
            day=found.day,
            today=Today(
                reports=sum(found.reports_by_channel.values()),
                cases=found.created,
                by_channel=dict(found.reports_by_channel),
                closed=found.closed,
            ),
            open=found.open,
            overdue=found.overdue,
            on_time_close_rate=figures.on_time_close_rate,
            close_rate=figures.close_rate,
            satisfaction_rate=figures.satisfaction_rate,
            return_rate=figures.return_rate,
            rework_rate=figures.rework_rate,
            by_state=dict(found.by_state),
            window=Window(first_day=found.window.first, last_day=found.window.last),
            counts=_counts(figures),
        )

    @router.get(
        "/trend",
        summary="趋势 · Per day: created, closed, closed on time, overdue at the day's end",
        responses=_ERRORS,
    )
    def trend(
        account: AccountDep,
        accounts: AccountsDep,
        scope: ScopeParam = None,
        days: Annotated[int, Query(ge=1, le=366, description="天数 / how many days")] = 30,
        day: Annotated[date | None, Query(description="最后一天，默认今天 / the last day")] = None,
    ) -> TrendOut:
        found = service.trend(accounts.reader(account), scope, days=days, last=day)
        return TrendOut(
            scope=_scope(found.scope),
            days=[
                TrendDayOut(
                    day=d.day,
                    created=d.created,
                    closed=d.closed,
                    closed_on_time=d.closed_on_time,
                    overdue_open=d.overdue_open,
                )
                for d in found.days
            ],
        )

    @router.get(
        "/children",
        summary="区域评价 · Region evaluation of the scope's child grids for a month",
        responses=_ERRORS,
    )
    def children(
        account: AccountDep,
        accounts: AccountsDep,
        scope: ScopeParam = None,
        month: MonthParam = None,
    ) -> ChildrenOut:
        report = service.children(accounts.reader(account), scope, month)
        rows = []
        for row in report.rows:
            f = row.figures
            rows.append(
                RegionRowOut(
                    code=row.grid.code,
                    name=row.grid.name,
                    level=row.grid.level.value,
                    filed=f.filed,
                    closed=f.closed,
                    due=f.due,
                    closed_on_time=f.closed_on_time,
                    public_filed=f.public_filed,
                    close_rate=f.close_rate,
                    on_time_close_rate=f.on_time_close_rate,
                    supervision_rate=f.supervision_rate,
                    score=row.evaluation.score if row.evaluation else None,
                    grade=row.evaluation.grade if row.evaluation else None,
                )
            )
        return ChildrenOut(
            scope=_scope(report.scope),
            month=_month(report.month.first),
            level=report.level.value if report.level else None,
            rows=rows,
            formula=report.formula,
        )

    @router.get(
        "/departments",
        summary="专业部门评价 · Department evaluation for a month (GB/T 30428)",
        responses=_ERRORS,
    )
    def departments(
        account: AccountDep,
        accounts: AccountsDep,
        scope: ScopeParam = None,
        month: MonthParam = None,
    ) -> DepartmentsOut:
        report = service.departments(accounts.reader(account), scope, month)
        rows = []
        for row in report.rows:
            f = row.figures
            rows.append(
                DepartmentRowOut(
                    department=row.code,
                    name=row.name,
                    filed=f.created,
                    closed=f.closed,
                    due=f.due,
                    close_rate=f.close_rate,
                    handle_due=f.handle_due,
                    handled_on_time=f.handled_on_time,
                    on_time_handle_rate=f.on_time_handle_rate,
                    handled=f.handled,
                    reworked=f.reworked,
                    rework_rate=f.rework_rate,
                    filed_score=row.filed_score,
                    score=row.evaluation.score if row.evaluation else None,
                    grade=row.evaluation.grade if row.evaluation else None,
                )
            )
        return DepartmentsOut(
            scope=_scope(report.scope),
            month=_month(report.month.first),
            rows=rows,
            formula=report.formula,
        )

    @router.get(
        "/cases-map",
        summary="工单分布 · Open cases in a box (and recent ones with `days`), as GeoJSON points",
        responses=_ERRORS,
    )
    def cases_map(
        account: AccountDep,
        accounts: AccountsDep,
        bbox: Annotated[
            str,
            Query(
                max_length=200,
                description="最小经度,最小纬度,最大经度,最大纬度 (WGS84) / minlon,minlat,maxlon,maxlat",
            ),
        ],
        scope: ScopeParam = None,
        limit: Annotated[int, Query(ge=1, le=MAX_MAP_POINTS)] = 5000,
        days: Annotated[
            int | None,
            Query(
                ge=1, le=366, description="另含近几天新建的工单 / also cases created in these days"
            ),
        ] = None,
    ) -> CaseMapOut:
        found = service.case_map(
            accounts.reader(account), scope, bbox=parse_bbox(bbox), limit=limit, days=days
        )
        features = [
            CaseMapFeature(
                geometry=PointGeometry(coordinates=[p.lon, p.lat]),
                properties=CaseMapProperties(
                    id=p.id,
                    state=p.state,
                    state_zh=CaseState(p.state).label_zh,
                    overdue=_overdue(p.state, p.handle_due, found.now),
                    category_code=p.category_code,
                    created_at=p.created_at,
                ),
            )
            for p in found.points
        ]
        return CaseMapOut(features=features)

    @router.get(
        "/party",
        summary="党建引领 · Party organisations, members and volunteer tasks in the scope",
        responses=_ERRORS,
    )
    def party(account: AccountDep, accounts: AccountsDep, scope: ScopeParam = None) -> PartyOut:
        report = service.party(accounts.reader(account), scope)
        return PartyOut(
            scope=_scope(report.scope),
            **_party(report.totals),
            rows=[
                PartyRowOut(
                    code=r.grid.code, name=r.grid.name, level=r.grid.level.value, **_party(r.counts)
                )
                for r in report.rows
            ],
        )

    @router.get(
        "/live",
        summary="实时 · Server-sent events: each case created or changed in the scope from now on",
        response_class=StreamingResponse,
        responses={
            200: {
                "description": "text/event-stream: `event: ready` with the position, then "
                "`event: case` per change; `: ping` every 15 s",
                "content": {"text/event-stream": {"schema": _SSE_EVENT}},
            },
            **_ERRORS,
        },
    )
    async def live(
        request: Request,
        account: AccountDep,
        accounts: AccountsDep,
        scope: ScopeParam = None,
        once: Annotated[
            bool, Query(description="只返回待发送的变化后关闭 / send what is pending, then close")
        ] = False,
        after: Annotated[
            int | None,
            Query(ge=0, le=MAX_ROW_ID, description="从此位置之后 / resume after this position"),
        ] = None,
        last_event_id: Annotated[
            str | None, Header(alias="Last-Event-ID", max_length=32, include_in_schema=False)
        ] = None,
    ) -> StreamingResponse:
        start = after if after is not None else _last_event_id(last_event_id)
        # Checked before the stream starts, so that a refusal is an ordinary JSON answer.
        feed = await run_in_threadpool(service.live, accounts.reader(account), scope, start)
        return StreamingResponse(
            _events(request, service, feed, once=once),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return router


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """Four numbers from "minlon,minlat,maxlon,maxlat" (range checks are the service's)."""
    parts = text.split(",")
    try:
        if len(parts) != 4:
            raise ValueError
        min_lon, min_lat, max_lon, max_lat = (float(p) for p in parts)
    except ValueError:
        raise InvalidInput(
            "bbox",
            "须为四个数 最小经度,最小纬度,最大经度,最大纬度 / must be four numbers "
            "minlon,minlat,maxlon,maxlat",
        ) from None
    return min_lon, min_lat, max_lon, max_lat


async def _events(
    request: Request, service: AnalyticsService, feed: LiveFeed, *, once: bool
) -> AsyncIterator[str]:
    position = feed.start
    ready = {"scope": feed.scope.code, "position": position}
    yield f"retry: 3000\nid: {position}\nevent: ready\ndata: {json.dumps(ready)}\n\n"
    pinged = time.monotonic()
    while True:
        # A session per poll, closed before sleeping: a waiting stream holds no connection.
        changes, reached = await run_in_threadpool(service.changes, feed, position)
        for change in changes:
            yield _case_event(change)
        caught_up = reached == position
        position = reached
        if once and caught_up:
            return
        if caught_up:
            if await request.is_disconnected():
                return
            if time.monotonic() - pinged >= PING_SECONDS:
                pinged = time.monotonic()
                yield ": ping\n\n"
            await asyncio.sleep(POLL_SECONDS)


def _case_event(change: CaseChange) -> str:
    data = {
        "id": change.id,
        "state": change.state,
        "lon": change.lon,
        "lat": change.lat,
        "category_code": change.category_code,
        "created_at": change.created_at.isoformat(),
        "street_code": change.street_code,
    }
    return f"id: {change.seq}\nevent: case\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _last_event_id(value: str | None) -> int | None:
    if value is None or not value.strip():
        return None
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_ROW_ID:
        raise InvalidInput(
            "Last-Event-ID", f"须为 0–{MAX_ROW_ID} 的整数 / must be a whole number 0–{MAX_ROW_ID}"
        )
    return int(text)


def _scope(scope: Scope) -> ScopeOut:
    return ScopeOut(
        code=scope.code, name=scope.name, level=scope.level.value, level_zh=scope.level.label_zh
    )


def _counts(figures: CohortFigures) -> dict[str, int]:
    return {
        name: getattr(figures, name)
        for name in (
            "created",
            "filed",
            "due",
            "closed",
            "closed_on_time",
            "dispatched",
            "returned",
            "handled",
            "reworked",
            "evaluated",
            "satisfied",
        )
    }


def _party(counts: PartyCounts) -> dict[str, int]:
    return {
        "organisations": counts.organisations,
        "members": counts.members,
        "tasks_done": counts.tasks_done,
        "tasks_open": counts.tasks_open,
    }


def _month(first: date) -> str:
    return f"{first.year:04d}-{first.month:02d}"


def _overdue(state: str, handle_due: datetime | None, now: datetime) -> bool:
    return state in OPEN_STATES and handle_due is not None and handle_due < now
