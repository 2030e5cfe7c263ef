"""Reports filed from the pages: a resident's photo report (随手拍) and a grid worker's from patrol.

POST /resident/reports   form: service_code, lon, lat, phone, description, name, photo,
                         submission_id → 201 {"case_id", "report_id", "duplicate_of", "token"}
POST /worker/reports     form (signed in, CSRF): text, category_code, lon, lat, photo, urgent,
                         handled_on_site, submission_id → 201, the same shape

The pages are the city's own forms, so they file through the services directly instead of holding
a channel key: a resident's report as the `citizen_app` channel with the class they chose, a
worker's as `grid_patrol` in the name of the signed-in account and its grid. Each form sends a
submission id it made once, so a retry after a lost connection answers the stored report (200)
rather than filing a second. A refusal names the form's field: `{"error": {"field", "problem"}}`.
"""

from __future__ import annotations

import base64
import math
import re
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException

from gridgov.bootstrap import Runtime
from gridgov.core.errors import InvalidInput, NotFound
from gridgov.services.accounts import Account, NotPermitted
from gridgov.services.intake import IntakeReceipt
from gridgov.services.residents import ResidentService
from gridgov.web.pages import may_patrol
from gridgov.web.signed_in import form_session

Guard = Callable[[Request], None]

MAX_TEXT = 4000
MAX_NAME = 50
_SUBMISSION = re.compile(r"[A-Za-z0-9-]{8,64}")
_PHONE_DIGITS = re.compile(r"\+?[0-9][0-9 -]{5,18}[0-9]")
# The digital urban management classes (部件 C…, 事件 E…) are judged from a photo, as in Open311.
PHOTO_REQUIRED_PREFIXES = ("C", "E")
# Field paths in intake's refusals, by the form field a person can correct.
_FORM_FIELDS = (
    ("photos", "photo"),
    ("gps", "location"),
    ("user.phone", "phone"),
    ("user.nickname", "name"),
    ("text", "text"),
    ("category_code", "category_code"),
)


def reports_router(runtime: Runtime, *, guard: Guard | None = None) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    residents = ResidentService(runtime.cases, runtime.intake, runtime.clock)
    photo_max = runtime.intake.options.photo_max_bytes

    @router.post("/resident/reports")
    async def resident_report(request: Request) -> JSONResponse:
        async with _form(request) as form:
            return await resident_form(request, form)

    async def resident_form(request: Request, form: FormData) -> JSONResponse:
        code = _text(form, "service_code", required=True)
        try:
            category = residents.category(code)
        except NotFound:
            raise InvalidInput(
                "service_code", "未知的问题类型 / not a kind of problem we take"
            ) from None
        lon, lat = _location(form)
        phone = _phone(form)
        description = _text(form, "description", limit=MAX_TEXT)
        name = _text(form, "name", limit=MAX_NAME)
        photo = await _photo(form, photo_max)
        if photo is None and category.code.startswith(PHOTO_REQUIRED_PREFIXES):
            raise InvalidInput("photo", "此类问题须附照片 / this kind of problem needs a photo")
        submission = _submission(form)
        if guard is not None:
            # Spent only once the form is complete: a resident correcting typos is not limited.
            guard(request)
        user: dict[str, Any] = {"id": "resident-web", "phone": phone}
        if name:
            user["nickname"] = name
        payload: dict[str, Any] = {
            "submission_id": f"web-{submission}",
            "submitted_at": runtime.clock.now().isoformat(),
            "text": description or category.name_zh,
            "gps": {"lon": lon, "lat": lat, "crs": "wgs84"},
            "user": user,
            "photos": [photo] if photo else [],
        }
        with _form_field():
            receipt = await run_in_threadpool(residents.file, "citizen_app", payload, category.code)
        return _answer(receipt)

    @router.post("/worker/reports")
    async def patrol_report(request: Request) -> JSONResponse:
        account = form_session(request, runtime.accounts).account
        if not may_patrol(account) or account.scope_code is None:
            raise NotPermitted(
                f"「{account.role.label_zh}」不做巡查上报",
                f"a {account.role.value} does not patrol",
            )
        async with _form(request) as form:
            return await patrol_form(account, form)

    async def patrol_form(account: Account, form: FormData) -> JSONResponse:
        text = _text(form, "text", required=True, limit=MAX_TEXT)
        category = _text(form, "category_code")
        if category and not (
            category in runtime.cases.taxonomy and runtime.cases.taxonomy.is_leaf(category)
        ):
            raise InvalidInput("category_code", "未知的分类 / not a category we take")
        lon, lat = _location(form)
        photo = await _photo(form, photo_max)
        submission = _submission(form)
        payload: dict[str, Any] = {
            "report_id": f"web-{submission}",
            "patrolled_at": runtime.clock.now().isoformat(),
            "text": text,
            "worker": {"id": account.username, "name": account.display_name or account.username},
            "grid_code": account.scope_code,
            "gps": {"lon": lon, "lat": lat, "crs": "wgs84"},
            "urgent": _flag(form, "urgent"),
            "handled_on_site": _flag(form, "handled_on_site"),
            "photos": [photo] if photo else [],
        }
        if category:
            payload["category_code"] = category
        with _form_field():
            receipt = await run_in_threadpool(runtime.intake.receive, "grid_patrol", payload)
        return _answer(receipt)

    return router


@asynccontextmanager
async def _form(request: Request) -> AsyncIterator[FormData]:
    """The posted form; its uploads (spooled to temporary files) are closed afterwards."""
    try:
        form = await request.form(max_files=1, max_fields=50)
    except (MultiPartException, ValueError, KeyError) as exc:
        raise InvalidInput("body", f"无法读取表单 / not a readable form: {exc}") from None
    try:
        yield form
    finally:
        await form.close()


def _text(form: FormData, name: str, *, required: bool = False, limit: int = 64) -> str:
    value = form.get(name)
    text = value.strip() if isinstance(value, str) else ""
    if required and not text:
        raise InvalidInput(name, "必须填写 / required")
    if len(text) > limit:
        raise InvalidInput(name, f"过长，至多 {limit} 字 / too long: at most {limit} characters")
    return text


def _location(form: FormData) -> tuple[float, float]:
    raw_lon, raw_lat = _text(form, "lon"), _text(form, "lat")
    if not raw_lon or not raw_lat:
        raise InvalidInput("location", "请在地图上标出位置 / mark the place on the map")
    try:
        lon, lat = float(raw_lon), float(raw_lat)
    except ValueError:
        raise InvalidInput(
            "location", "经纬度须为数字 / longitude and latitude must be numbers"
        ) from None
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise InvalidInput("location", "经纬度超出范围 / longitude or latitude out of range")
    return lon, lat


def _phone(form: FormData) -> str:
    phone = _text(form, "phone", required=True, limit=20)
    if not _PHONE_DIGITS.fullmatch(phone):
        raise InvalidInput("phone", "不是有效的电话号码 / not a phone number")
    return phone


def _flag(form: FormData, name: str) -> bool:
    return _text(form, name).lower() in {"1", "true", "on", "yes"}


def _submission(form: FormData) -> str:
    given = _text(form, "submission_id")
    if not given:
        return uuid.uuid4().hex
    if not _SUBMISSION.fullmatch(given):
        raise InvalidInput("submission_id", "格式错误 / malformed: 8–64 letters, digits or -")
    return given


async def _photo(form: FormData, max_bytes: int) -> dict[str, str] | None:
    upload = form.get("photo")
    if not isinstance(upload, UploadFile):
        return None
    data = await upload.read(max_bytes + 1)
    if not data:
        return None
    if len(data) > max_bytes:
        raise InvalidInput(
            "photo", f"照片过大，至多 {max_bytes} 字节 / too large: at most {max_bytes} bytes"
        )
    photo = {"base64": base64.b64encode(data).decode("ascii")}
    if upload.content_type and upload.content_type.startswith("image/"):
        photo["media_type"] = upload.content_type
    return photo


@contextmanager
def _form_field() -> Iterator[None]:
    """Rename intake's field paths (`photos[0]`, `gps.lon`) to the form field a person corrects."""
    try:
        yield
    except InvalidInput as exc:
        raise InvalidInput(_form_name(exc.field), exc.problem) from None


def _form_name(field: str) -> str:
    path = field.removeprefix("payload.")
    for prefix, name in _FORM_FIELDS:
        if path == prefix or path.startswith((f"{prefix}.", f"{prefix}[")):
            return name
    return field


def _answer(receipt: IntakeReceipt) -> JSONResponse:
    body: Mapping[str, Any] = {
        "case_id": receipt.duplicate_of or receipt.case_id,
        "report_id": receipt.report_id,
        "duplicate_of": receipt.duplicate_of,
        "token": None if (receipt.duplicate_of or receipt.case_id) else f"r{receipt.report_id}",
        "created": receipt.created,
    }
    return JSONResponse(status_code=201 if receipt.created else 200, content=dict(body))
