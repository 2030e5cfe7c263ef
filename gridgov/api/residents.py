"""A resident follows and rates their own case, with no account: the case number and the last four
digits of the phone they reported from.

POST /api/v1/residents/cases/{case_id}/follow   {"phone_last4"}  → the public state and timeline
POST /api/v1/residents/cases/{case_id}/rating   {"phone_last4", "satisfaction", "comment"}

POST, not GET, so the digits stay out of URLs and access logs. Failed attempts are limited per
case and per client address (429), as four digits are only ten thousand guesses.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Body, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from gridgov.api.errors import error_responses
from gridgov.api.ids import MAX_ROW_ID
from gridgov.api.open311.mapping import iso
from gridgov.api.ratelimit import Rate, RateLimiter
from gridgov.bootstrap import Runtime
from gridgov.services.residents import (
    NotYourCase,
    PublicCase,
    ResidentService,
    TimelineEntry,
)
from gridgov.workflow.model import CaseState

FAILED_ATTEMPTS = Rate(5, 15 * 60.0)  # wrong digits per case and per address
REQUESTS = Rate(60, 60.0)  # any request per address and route
CaseId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="工单号 / case number")]
_REFUSALS = error_responses(
    404,
    422,
    429,
    s404="无此工单或手机号后四位不符（两者无法区分）/ no such case, or the digits differ",
)


class Proof(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"phone_last4": "5678"}]}
    )
    phone_last4: str = Field(description="上报手机号后四位 / last 4 digits of the reporting phone")


class Rating(Proof):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"phone_last4": "5678", "satisfaction": "satisfied", "comment": "处理很及时"}
            ]
        },
    )
    satisfaction: str = Field(
        description="satisfied 满意, basically_satisfied 基本满意 or dissatisfied 不满意"
    )
    comment: str | None = Field(None, description="意见（可选）/ optional comment, ≤ 500 chars")


def residents_router(
    runtime: Runtime, *, failed: Rate = FAILED_ATTEMPTS, requests: Rate = REQUESTS
) -> APIRouter:
    router = APIRouter(prefix="/api/v1/residents", tags=["residents 市民"])
    service = ResidentService(runtime.cases, runtime.intake, runtime.clock)
    tz = ZoneInfo(runtime.settings.timezone)
    failures, calls = RateLimiter(failed), RateLimiter(requests)

    def guarded(request: Request, case_id: int) -> tuple[list[str], JSONResponse | None]:
        host = request.client.host if request.client else "?"
        keys = [f"case {case_id}", f"address {host}"]
        route = f"{host} {request.url.path.rsplit('/', 1)[-1]}"
        if not calls.take(route):
            return keys, _too_many(calls.retry_after(route))
        for key in keys:
            if not failures.allows(key):
                return keys, _too_many(failures.retry_after(key))
        return keys, None

    def failed_attempt(keys: list[str], exc: NotYourCase) -> JSONResponse:
        for key in keys:
            failures.take(key)
        return JSONResponse(status_code=404, content={"error": {"problem": str(exc)}})

    @router.post("/cases/{case_id}/follow", responses=_REFUSALS)
    def follow(request: Request, case_id: CaseId, proof: Annotated[Proof, Body()]) -> JSONResponse:
        """案件进度：凭工单号和手机号后四位 / a case's progress, by its number and phone digits."""
        keys, refused = guarded(request, case_id)
        if refused is not None:
            return refused
        try:
            case, timeline = service.follow(case_id, proof.phone_last4)
        except NotYourCase as exc:
            return failed_attempt(keys, exc)
        return JSONResponse(content=_view(case, timeline, tz))

    @router.post("/cases/{case_id}/rating", responses={**_REFUSALS, **error_responses(409)})
    def rate(request: Request, case_id: CaseId, rating: Annotated[Rating, Body()]) -> JSONResponse:
        """结案后评价 / rate the outcome once the case is closed (once)."""
        keys, refused = guarded(request, case_id)
        if refused is not None:
            return refused
        try:
            case = service.rate(case_id, rating.phone_last4, rating.satisfaction, rating.comment)
        except NotYourCase as exc:
            return failed_attempt(keys, exc)
        return JSONResponse(content=_summary(case, tz))

    return router


def _too_many(wait: int) -> JSONResponse:
    return JSONResponse(
        status_code=429,
        content={
            "error": {
                "problem": f"尝试过于频繁，请 {wait} 秒后再试 / too many attempts; retry in {wait} s"
            }
        },
        headers={"Retry-After": str(wait)},
    )


def _summary(case: PublicCase, tz: tzinfo) -> dict[str, Any]:
    category = case.category
    return {
        "case_id": case.id,
        "status": "open" if case.is_open else "closed",
        "state": case.state.value,
        "state_zh": case.state.label_zh,
        "status_notes": f"{case.status_zh} / {case.status_en}",
        "service_code": category.code if category else None,
        "service_name": category.name_zh if category else None,
        "department": case.department_name,
        "reported_at": iso(case.reported_at, tz),
        "updated_at": iso(case.updated_at, tz),
        "expected_at": iso(case.handle_due, tz) if case.handle_due else None,
        "closed_at": iso(case.closed_at, tz) if case.closed_at else None,
        "merged_into": case.merged_into,
        "satisfaction": case.satisfaction.value if case.satisfaction else None,
        "may_rate": case.state is CaseState.CLOSED,
    }


def _view(case: PublicCase, timeline: list[TimelineEntry], tz: tzinfo) -> dict[str, Any]:
    return {
        **_summary(case, tz),
        "timeline": [
            {
                "at": iso(e.at, tz),
                "action": e.action.value,
                "action_zh": e.action.label_zh,
                "state": e.state.value,
                "state_zh": e.state.label_zh,
                "department": e.department,
                "note": e.note,
            }
            for e in timeline
        ],
    }
