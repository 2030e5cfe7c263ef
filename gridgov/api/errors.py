"""The one error body of the JSON API, `{"error": {"field", "problem"}}`, and how routes declare it.

Open311 answers in its own spec's format (gridgov/api/open311); everything else under /api uses
this, whatever refused the request: the services, FastAPI's validation, the auth dependencies or
the hardening middleware (413, 403 for a cross-site cookie request, 429).
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field


class Problem(BaseModel):
    problem: str = Field(description="说明（中文 / English）/ what is wrong, Chinese then English")
    field: str | None = Field(None, description="出错的字段 / the field at fault, if one")


class ErrorBody(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [{"error": {"field": "limit", "problem": "须为 1–200 / must be 1–200"}}]
        }
    }
    error: Problem


_MEANINGS = {
    400: "请求无法解析 / the request could not be read",
    401: "未登录或令牌无效 / not signed in, or the credentials are invalid",
    403: "无权执行 / not allowed for this account",
    404: "不存在，或不在管辖范围内（两者无法区分）/ no such thing, or outside your scope "
    "(deliberately the same answer)",
    409: "当前状态不允许 / the current state forbids it",
    413: "请求体过大 / the request body is too large",
    422: "缺少或错误的字段（已指明）/ a missing or malformed field, named",
    429: "请求过于频繁 / too many requests; see Retry-After",
}


def error_responses(*statuses: int, **meanings: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` declaring `ErrorBody` for each status; `s404="…"` rewords one."""
    return {
        status: {
            "model": ErrorBody,
            "description": meanings.get(f"s{status}", _MEANINGS[status]),
        }
        for status in statuses
    }


def error(status: int, problem: str, *, field: str | None = None, **headers: str) -> JSONResponse:
    """An error answer built outside a route (middleware, rate limits)."""
    body: dict[str, Any] = {"problem": problem}
    if field is not None:
        body["field"] = field
    return JSONResponse(
        status_code=status,
        content={"error": body},
        headers={k.replace("_", "-"): v for k, v in headers.items()} or None,
    )
