"""Open311 GeoReport v2 at /open311/v2/: every resource in JSON and XML, errors in the spec's format.

    GET  discovery.{fmt}                 GET  requests.{fmt}          (filters, paging)
    GET  services.{fmt}                  GET  requests/{id}.{fmt}
    GET  services/{service_code}.{fmt}   GET  tokens/{token}.{fmt}
    POST requests.{fmt}                  (api_key of the citizen_app channel; media upload)

The routes parse the spec's loose form fields themselves, so every refusal, even of a malformed
parameter, comes back in the spec's `errors` shape rather than the app's own.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from gridgov.api.ids import row_id
from gridgov.api.open311 import mapping, xml
from gridgov.api.open311.mapping import FORMATS, Open311Error, RequestForm, Upload, bad_request
from gridgov.api.ratelimit import Rate, RateLimiter
from gridgov.bootstrap import Runtime
from gridgov.config import Settings
from gridgov.core.errors import Conflict, InvalidInput, NotFound
from gridgov.services.intake_keys import InvalidApiKey
from gridgov.services.residents import MAX_IDS, Filters, ResidentService

WINDOW = timedelta(days=90)
MAX_PAGE_SIZE = 1000
_SPEC_ERRORS = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["code", "description"],
        "properties": {"code": {"type": "integer"}, "description": {"type": "string"}},
    },
}


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The spec's error list, declared for each status (XML carries the same, as <errors>)."""
    meaning = {
        400: "bad input; the description starts with the field",
        403: "missing or bad api_key",
        404: "unknown service, request, token, jurisdiction or format",
        429: "too many requests; see Retry-After",
    }
    return {
        status: {
            "description": meaning[status],
            "content": {
                "application/json": {"schema": _SPEC_ERRORS},
                "text/xml": {"schema": {"type": "string"}},
            },
        }
        for status in statuses
    }


@dataclass(frozen=True, slots=True)
class Open311Options:
    """Settings of the Open311 door."""

    jurisdiction_id: str = "gridgov"
    contact: str = "12345 市民服务热线 / the 12345 citizen hotline"
    reads_per_minute: int = 120  # GETs per client address and route
    posts_per_10_minutes: int = 10  # reports per client address
    test_endpoint: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> Open311Options:
        return cls(
            jurisdiction_id=settings.open311_jurisdiction_id,
            contact=settings.open311_contact,
            reads_per_minute=settings.open311_reads_per_minute,
            posts_per_10_minutes=settings.open311_posts_per_10_minutes,
        )


def open311_router(runtime: Runtime, options: Open311Options | None = None) -> APIRouter:
    router = APIRouter(
        prefix="/open311/v2", tags=["Open311 GeoReport v2"], responses=_errors(400, 404, 429)
    )
    opts = options or Open311Options.from_settings(runtime.settings)
    residents = ResidentService(runtime.cases, runtime.intake, runtime.clock)
    taxonomy = runtime.cases.taxonomy
    tz = ZoneInfo(runtime.settings.timezone)
    reads = RateLimiter(Rate(opts.reads_per_minute, 60.0))
    posts = RateLimiter(Rate(opts.posts_per_10_minutes, 600.0))
    changeset = mapping.iso(runtime.clock.now(), tz)
    photo_max = runtime.intake.options.photo_max_bytes

    async def answer(
        request: Request,
        fmt: str,
        root: str,
        work: Callable[[], Any],
        *,
        status: int = 200,
        limited: bool = True,
    ) -> Response:
        if fmt not in FORMATS:
            return _render("json", "errors", _unknown_format(fmt).as_list(), 404)
        try:
            if limited:
                _limit(reads, request)
            _jurisdiction(request.query_params.get("jurisdiction_id"), opts)
            data = await run_in_threadpool(_spec_errors, work)
        except Open311Error as exc:
            headers = {"Retry-After": str(exc.code)} if exc.status == 429 else None
            return _render(fmt, "errors", exc.as_list(), exc.status, headers)
        return _render(fmt, root, data, status)

    @router.get("/discovery.{fmt}", summary="Service discovery")
    async def discovery(request: Request, fmt: str) -> Response:
        def work() -> dict[str, Any]:
            return {
                "changeset": changeset,
                "contact": opts.contact,
                "key_service": "向城运中心申请 citizen_app 渠道的接入密钥（gridgov intake keys "
                "create citizen_app）/ ask the operation centre for a citizen_app channel key",
                "endpoints": [
                    {
                        "specification": mapping.SPECIFICATION,
                        "url": str(request.url_for("open311_services", fmt="json")).rsplit("/", 1)[
                            0
                        ],
                        "changeset": changeset,
                        "type": "test" if opts.test_endpoint else "production",
                        "formats": [f.split(";")[0] for f in FORMATS.values()],
                    }
                ],
            }

        return await answer(request, fmt, "discovery", work)

    @router.get("/services.{fmt}", name="open311_services", summary="GET Service List")
    async def service_list(request: Request, fmt: str) -> Response:
        return await answer(request, fmt, "services", lambda: mapping.services(taxonomy))

    @router.get("/services/{service_code}.{fmt}", summary="GET Service Definition")
    async def service_definition(request: Request, service_code: str, fmt: str) -> Response:
        def work() -> dict[str, Any]:
            return mapping.definition(_category(residents, service_code))

        return await answer(request, fmt, "service_definition", work)

    @router.post("/requests.{fmt}", summary="POST Service Request", responses=_errors(403))
    async def post_request(request: Request, fmt: str) -> Response:
        if fmt not in FORMATS:
            return _render("json", "errors", _unknown_format(fmt).as_list(), 404)
        try:
            _limit(posts, request)
            form = await _read_form(request, photo_max)
            _jurisdiction(form.get("jurisdiction_id"), opts)
        except Open311Error as exc:
            headers = {"Retry-After": str(exc.code)} if exc.status == 429 else None
            return _render(fmt, "errors", exc.as_list(), exc.status, headers)

        def work() -> list[dict[str, Any]]:
            key = form.get("api_key") or request.query_params.get("api_key")
            try:
                runtime.intake.check_key(mapping.CHANNEL, key)
            except InvalidApiKey as exc:
                raise Open311Error(403, f"api_key: {exc}") from None
            code = form.get("service_code")
            if code is None:
                raise bad_request("service_code", "必须填写 / is required")
            category = _category(residents, code)
            payload, origins = mapping.citizen_payload(form, category, runtime.clock.now())
            try:
                receipt = residents.file(mapping.CHANNEL, payload, category.code)
            except InvalidInput as exc:
                raise mapping.from_intake_refusal(exc, origins) from None
            case_id = receipt.duplicate_of or receipt.case_id
            slot: dict[str, Any] = (
                {"service_request_id": str(case_id)}
                if case_id is not None
                else {"token": f"r{receipt.report_id}"}
            )
            slot["service_notice"] = _notice(case_id, receipt.duplicate_of is not None)
            slot["account_id"] = form.get("account_id")
            return [slot]

        return await answer(request, fmt, "service_requests", work, status=201, limited=False)

    @router.get("/requests.{fmt}", summary="GET Service Requests")
    async def get_requests(request: Request, fmt: str) -> Response:
        def work() -> list[dict[str, Any]]:
            filters, extensions = _filters(request, residents, runtime.clock.now())
            return [
                mapping.service_request(c, tz, extensions=extensions)
                for c in residents.cases(filters)
            ]

        return await answer(request, fmt, "service_requests", work)

    @router.get("/requests/{service_request_id}.{fmt}", summary="GET Service Request")
    async def get_request(request: Request, service_request_id: str, fmt: str) -> Response:
        def work() -> list[dict[str, Any]]:
            case_id = _case_id(service_request_id)
            extensions = request.query_params.get("extensions") == "true"
            return [mapping.service_request(residents.case(case_id), tz, extensions=extensions)]

        return await answer(request, fmt, "service_requests", work)

    @router.get("/tokens/{token}.{fmt}", summary="GET service_request_id from a token")
    async def token(request: Request, token: str, fmt: str) -> Response:
        return await answer(request, fmt, "service_requests", lambda: _token(residents, token))

    @router.get("/tokens/{token}", include_in_schema=False)
    async def token_plain(request: Request, token: str) -> Response:
        return await answer(request, "json", "service_requests", lambda: _token(residents, token))

    return router


def _spec_errors(work: Callable[[], Any]) -> Any:
    """Run `work`, turning our own refusals into the spec's errors."""
    try:
        return work()
    except NotFound as exc:
        raise Open311Error(404, f"{exc.kind}: 未找到 / not found: {exc.key}") from None
    except InvalidInput as exc:
        raise bad_request(exc.field, exc.problem) from None
    except Conflict as exc:
        raise Open311Error(400, str(exc)) from None


def _render(
    fmt: str, root: str, data: Any, status: int, headers: dict[str, str] | None = None
) -> Response:
    if fmt == "xml":
        body = xml.render(root, data)
    else:
        body = json.dumps(data, ensure_ascii=False).encode("utf-8")
    return Response(body, status_code=status, media_type=FORMATS[fmt], headers=headers)


def _unknown_format(fmt: str) -> Open311Error:
    return Open311Error(
        404, f"format: 未知格式 {fmt!r}，请用 json 或 xml / unknown; use json or xml"
    )


def _limit(limiter: RateLimiter, request: Request) -> None:
    key = f"{request.client.host if request.client else '?'} {request.url.path}"
    if not limiter.take(key):
        wait = limiter.retry_after(key)
        raise Open311Error(
            429,
            f"请求过于频繁，请 {wait} 秒后再试 / too many requests; retry in {wait} s",
            code=wait,
        )


def _jurisdiction(given: str | None, opts: Open311Options) -> None:
    if given and given.strip() and given.strip() != opts.jurisdiction_id:
        raise Open311Error(404, f"jurisdiction_id: 未知辖区 / not found: {given!r}")


def _category(residents: ResidentService, code: str) -> Any:
    try:
        return residents.category(code)
    except NotFound:
        raise Open311Error(404, f"service_code: 未知服务 / not found: {code!r}") from None


def _case_id(raw: str) -> int:
    case_id = row_id(raw)
    if case_id is None:
        raise Open311Error(404, f"service_request_id: 无此工单 / not found: {raw!r}")
    return case_id


def _notice(case_id: int | None, joined: bool) -> str:
    if case_id is None:
        return (
            "已收到，待人工定位后生成工单号，可凭 token 查询 / received; it gets a case number "
            "once located by hand: ask tokens/{token}"
        )
    merged = f"同一问题已有工单 {case_id}，已并入 / the same problem is case {case_id}; joined. "
    return (merged if joined else "") + (
        f"工单号 {case_id}：凭工单号和手机号后四位可查询进度并评价 / case {case_id}: follow it "
        "and rate it with the case number and the last 4 digits of your phone"
    )


def _token(residents: ResidentService, token: str) -> list[dict[str, Any]]:
    report_id = row_id(token[1:]) if token.startswith("r") else None
    if report_id is None:
        raise Open311Error(404, f"token: 未知 / not found: {token!r}")
    try:
        receipt = residents.receipt(report_id)
    except NotFound:
        raise Open311Error(404, f"token: 未知 / not found: {token!r}") from None
    case_id = receipt.duplicate_of or receipt.case_id
    return [{"service_request_id": None if case_id is None else str(case_id), "token": token}]


def _filters(request: Request, residents: ResidentService, now: datetime) -> tuple[Filters, bool]:
    q = {k: v.strip() for k, v in request.query_params.items() if v.strip()}
    extensions = q.get("extensions") == "true"
    page = _positive(q, "page", 1)
    size = _positive(q, "page_size", MAX_PAGE_SIZE)
    if size > MAX_PAGE_SIZE:
        raise bad_request("page_size", f"至多 {MAX_PAGE_SIZE} / at most {MAX_PAGE_SIZE}")
    offset = (page - 1) * size
    if "service_request_id" in q:
        ids = []
        parts = q["service_request_id"].split(",")
        if len(parts) > MAX_IDS:
            raise bad_request("service_request_id", f"至多 {MAX_IDS} 个 / at most {MAX_IDS}")
        for part in parts:
            case_id = row_id(part.strip())
            if case_id is None:
                raise bad_request("service_request_id", f"不是工单号 / not a case number: {part!r}")
            ids.append(case_id)
        return Filters(ids=tuple(ids), offset=offset, limit=size), extensions
    codes = tuple(c.strip() for c in q.get("service_code", "").split(",") if c.strip())
    for code in codes:
        _category(residents, code)
    start = mapping.parse_date("start_date", q.get("start_date"))
    end = mapping.parse_date("end_date", q.get("end_date"))
    if start is None and end is None:
        end = now
    if start is None:
        assert end is not None
        start = end - WINDOW
    if end is None:
        end = start + WINDOW
    if end < start:
        raise bad_request("end_date", "早于 start_date / is before start_date")
    if end - start > WINDOW:
        raise bad_request(
            "end_date", "与 start_date 至多相隔 90 天 / at most 90 days after start_date"
        )
    statuses = {s.strip() for s in q.get("status", "").split(",") if s.strip()}
    if statuses - {"open", "closed"}:
        raise bad_request("status", "须为 open 或 closed / must be open or closed")
    wanted = None if len(statuses) != 1 else statuses == {"open"}
    return Filters(
        category_codes=codes, start=start, end=end, open=wanted, offset=offset, limit=size
    ), extensions


def _positive(q: dict[str, str], name: str, default: int) -> int:
    raw = q.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9 or int(raw) < 1:
        raise bad_request(name, f"须为正整数 / must be a positive integer: {raw!r}")
    return int(raw)


async def _read_form(request: Request, photo_max: int) -> RequestForm:
    try:
        raw = await request.form(max_files=1, max_fields=200, max_part_size=64 * 1024)
    except (HTTPException, MultiPartException) as exc:
        detail = getattr(exc, "detail", None) or getattr(exc, "message", str(exc))
        raise bad_request("body", f"无法解析表单 / not a readable form: {detail}") from None
    try:
        return await _form_of(raw.multi_items(), photo_max)
    finally:
        # Uploads are spooled to temporary files; close them however the form is answered.
        await raw.close()


async def _form_of(pairs: list[tuple[str, str | UploadFile]], photo_max: int) -> RequestForm:
    items: list[tuple[str, str]] = []
    upload = None
    for key, value in pairs:
        if isinstance(value, UploadFile):
            if key not in ("media", "media[]"):
                raise bad_request(key, "只接受 media 上传 / only media may be a file")
            data = await value.read(photo_max + 1)
            if len(data) > photo_max:
                raise bad_request("media", f"过大 / too large: at most {photo_max} bytes")
            upload = Upload(data, value.content_type)
        else:
            items.append((key, value))
    return RequestForm.read(items, upload)
