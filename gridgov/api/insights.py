"""AI insights over HTTP for signed-in staff (智能辅助): proposals for a case, early warning for a
scope, the daily briefing.

GET /api/v1/cases/{case_id}/suggestions   categories, description, department, hazard, checks
GET /api/v1/analytics/early-warning       spikes and hotspots raised in the scope, last 24 h
GET /api/v1/briefing/daily                城市运行日报 of a scope and day

Scope is checked by the services through the account's actor: a case or grid outside it is a
404 word for word like one that does not exist.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from gridgov.api.auth import accounts_of, current_account
from gridgov.api.cases import ErrorBody
from gridgov.api.ids import MAX_ROW_ID
from gridgov.bootstrap import Runtime
from gridgov.services.accounts import Account, AccountService

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "未登录或令牌无效 / not signed in"},
    403: {"model": ErrorBody, "description": "账号已停用 / the account is disabled"},
    404: {
        "model": ErrorBody,
        "description": "不存在，或不在管辖范围内（两者无法区分）/ no such case or grid, or "
        "outside your scope (deliberately the same answer)",
    },
    422: {"model": ErrorBody, "description": "参数错误（已指明）/ a parameter named as wrong"},
}

AccountDep = Annotated[Account, Depends(current_account)]
AccountsDep = Annotated[AccountService, Depends(accounts_of)]
CaseId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="工单号 / case number")]
ScopeParam = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=64,
        description="网格编码，默认为本账号的管辖范围 / grid code; default your own scope",
    ),
]


class CategoryOut(BaseModel):
    code: str
    name: str
    confidence: float = Field(description="0–1")


class DepartmentOut(BaseModel):
    code: str
    name: str
    confidence: float | None = Field(description="规则为 1；学习所得为校准后的概率 / 1 for a rule")
    source: Literal["rule", "learned"]
    explanation: str


class LearnedDepartmentOut(BaseModel):
    code: str
    name: str
    confidence: float
    explanation: str


class ManualCentreOut(BaseModel):
    code: str
    level: str
    reason: str


class PhotoOut(BaseModel):
    file: str = Field(description="原图文件编号 / the stored photo's file id")
    analyzed_by: str | None = Field(description="llm, onnx, exif, or null when not readable")
    category_code: str | None
    category_confidence: float | None
    taken_at: str | None = Field(description="EXIF 拍摄时间 / EXIF time taken")
    gps: list[float] | None = Field(description="EXIF [lon, lat] WGS84")


class FlagOut(BaseModel):
    code: str
    severity: Literal["suspicious", "unverifiable"]
    zh: str
    en: str


class VerificationOut(BaseModel):
    ok: bool = Field(description="无可疑项 / no suspicious flag")
    flags: list[FlagOut]
    before_photo: str
    after_photo: str
    photos_apart_m: float | None
    before_from_case_m: float | None
    after_from_case_m: float | None
    scene_similarity: float


class SuggestionsOut(BaseModel):
    case_id: int
    categories: list[CategoryOut] = Field(description="分类建议（前三）/ the top 3 categories")
    auto_filed: bool = Field(description="是否已自动立案 / filed without a person")
    auto_file_proposed: bool = Field(
        description="首选分类置信度达到自动立案阈值 / the top category is sure enough to file"
    )
    description: str = Field(description="问题描述建议 / the proposed description")
    description_source: Literal["llm", "onnx", "exif", "template"]
    department: DepartmentOut | None = Field(
        description="派遣建议；无分类或无可学时为 null / null without a category or anything learned"
    )
    learned_departments: list[LearnedDepartmentOut] = Field(
        description="智能派单的前三名 / smart dispatch's top 3"
    )
    manual_centre: ManualCentreOut | None = Field(
        description="规则转人工时的城运中心 / the centre whose manual queue routing chose"
    )
    hazard: Literal["low", "medium", "high"] | None
    photo: PhotoOut | None
    verification: VerificationOut | None = Field(
        description="处置前后照片核查（已处置时）/ the check of the handling photos, once handled"
    )
    warnings: list[str]


class ScopeOut(BaseModel):
    code: str
    name: str
    level: str


class AlertOut(BaseModel):
    kind: Literal["spike", "hotspot"]
    title: str
    grid_code: str
    grid_level: str
    grid_name: str | None
    category_code: str
    category_name: str
    started_at: datetime
    raised_at: datetime
    count: int
    expected: float
    p_value: float
    detail: str
    case_ids: list[int]
    lon: float | None
    lat: float | None


class EarlyWarningOut(BaseModel):
    scope: ScopeOut
    as_of: datetime
    alerts: list[AlertOut]


class BriefingOut(BaseModel):
    day: date
    scope: ScopeOut
    text: str = Field(description="日报正文（中文）/ the briefing, in Chinese")
    text_en: str = Field(description="英文模板正文 / the template text in English")
    template: str = Field(description="模板生成的中文正文 / the Chinese template text")
    facts: dict[str, Any] = Field(description="正文中每个数字的出处 / the data behind every figure")
    rewritten_by: Literal["model"] | None = Field(
        description="model: 由语言模型改写；null: 模板 / null: the template text"
    )
    writer: str | None = Field(description="配置的改写模型 / the configured writer model")
    rewrite_refused: str | None = Field(
        description="改写被拒的原因 / why a model's rewrite was not used"
    )


def insights_router(runtime: Runtime) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["insights 智能辅助"])
    insights = runtime.insights

    @router.get(
        "/cases/{case_id}/suggestions",
        summary="智能建议 · Proposed categories, description, department and checks for a case",
        responses=_ERRORS,
    )
    def suggestions(case_id: CaseId, account: AccountDep, accounts: AccountsDep) -> SuggestionsOut:
        answer = insights.suggestions.suggestions(case_id, accounts.reader(account))
        return SuggestionsOut.model_validate(answer)

    @router.get(
        "/analytics/early-warning",
        summary="预警 · Spikes and hotspots raised in a scope over the last 24 hours",
        responses=_ERRORS,
    )
    def early_warning(
        account: AccountDep, accounts: AccountsDep, scope: ScopeParam = None
    ) -> EarlyWarningOut:
        answer = insights.early_warning.alerts(scope, accounts.reader(account))
        return EarlyWarningOut.model_validate(answer)

    @router.get(
        "/briefing/daily",
        summary="城市运行日报 · The daily briefing of a scope, every figure traced to the data",
        responses=_ERRORS,
    )
    def daily_briefing(
        account: AccountDep,
        accounts: AccountsDep,
        scope: ScopeParam = None,
        day: Annotated[
            date | None, Query(description="日期 YYYY-MM-DD，默认今天 / default today (local)")
        ] = None,
    ) -> BriefingOut:
        reader = accounts.reader(account)
        when = day or insights.briefing.today()
        return BriefingOut.model_validate(insights.briefing.daily(scope, when, reader))

    return router
