"""Intake over HTTP: a channel pushes its payload with its API key; the route only calls the service.

POST /api/v1/intake/{channel}          one payload → 201 receipt (200 on a retry)
POST /api/v1/intake/{channel}/batch    a list → 200, one receipt or error per slot
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from gridgov.api.errors import ErrorBody, error_responses
from gridgov.bootstrap import Runtime
from gridgov.core.errors import InvalidInput, NotFound
from gridgov.intake.channels import adapter
from gridgov.services.intake import IntakeReceipt
from gridgov.services.intake_keys import API_KEY_HEADER, InvalidApiKey

ApiKey = Annotated[str | None, Header(alias=API_KEY_HEADER, description="the channel's API key")]


class Receipt(BaseModel):
    """What a channel is told once its report is durably stored (`IntakeReceipt`)."""

    report_id: int
    case_id: int | None
    created: bool
    located_by: str
    location_confidence: float | None
    category_code: str | None
    category_confidence: float | None
    duplicate_of: int | None
    warnings: list[str]


class BatchAnswer(BaseModel):
    """One receipt, or one `ErrorBody`, per payload, in the order sent."""

    results: list[Receipt | ErrorBody]


_REFUSALS = error_responses(
    401,
    404,
    s401="缺少、未知、已吊销或属于其他渠道的接入密钥 / a missing, unknown, revoked or other "
    "channel's X-Api-Key",
    s404="无此渠道 / no such channel",
)


def intake_router(runtime: Runtime) -> APIRouter:
    router = APIRouter(prefix="/api/v1/intake", tags=["intake 受理"])
    service = runtime.intake

    @router.post(
        "/{channel}",
        status_code=201,
        responses={
            201: {"model": Receipt, "description": "已受理 / stored"},
            200: {
                "model": Receipt,
                "description": "重复推送：返回已存的上报 / a retry: the stored report",
            },
            **_REFUSALS,
        },
    )
    def receive(
        channel: str, payload: Annotated[Any, Body()], api_key: ApiKey = None
    ) -> JSONResponse:
        refused = _check(runtime, channel, api_key)
        if refused is not None:
            return refused
        if not isinstance(payload, dict):
            raise InvalidInput("payload", "wrong type: expected a JSON object")
        receipt = service.receive(channel, payload)
        return JSONResponse(status_code=201 if receipt.created else 200, content=receipt.as_dict())

    @router.post(
        "/{channel}/batch",
        responses={
            200: {"model": BatchAnswer, "description": "每条一个结果 / one answer per payload"},
            **_REFUSALS,
        },
    )
    def receive_batch(
        channel: str, payloads: Annotated[Any, Body()], api_key: ApiKey = None
    ) -> JSONResponse:
        refused = _check(runtime, channel, api_key)
        if refused is not None:
            return refused
        if not isinstance(payloads, list):
            raise InvalidInput("payload", "wrong type: expected a JSON list of payloads")
        answers = service.receive_many(channel, payloads)
        return JSONResponse(content={"results": [_slot(a) for a in answers]})

    return router


def _check(runtime: Runtime, channel: str, api_key: str | None) -> JSONResponse | None:
    try:
        adapter(channel)
    except InvalidInput as exc:
        raise NotFound("channel 渠道", f"{channel} ({exc.problem})") from None
    try:
        runtime.intake.check_key(channel, api_key)
    except InvalidApiKey as exc:
        return JSONResponse(
            status_code=401,
            content={"error": {"field": API_KEY_HEADER, "problem": str(exc)}},
            headers={"WWW-Authenticate": "ApiKey"},
        )
    return None


def _slot(answer: IntakeReceipt | InvalidInput) -> dict[str, Any]:
    if isinstance(answer, InvalidInput):
        return {"error": {"field": answer.field, "problem": answer.problem}}
    return answer.as_dict()
