"""Photos on the pages: handling evidence sent from the field, and a case's photos shown to staff.

POST /console/photos                             form: photo → 201 {"id"} (signed in, CSRF)
GET  /console/cases/{case_id}/photos             {"photos": [{"id", "kind", "channel", "at"}]}
GET  /console/cases/{case_id}/photos/{file_id}   one of them, without metadata

An evidence photo is stored as sent, because its EXIF place and time are what the check of the
handling (智能核查) reads; its id then goes into the `handle` action's evidence. What a page shows
is always a copy without metadata: a report's public copy as intake stored it, an evidence
photo's made when asked for. A photo is served only for a case the account may see and only if
it belongs to that case, so a file id learnt elsewhere shows nothing; anything else is the same
404 as a case outside the scope.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException

from gridgov.bootstrap import Runtime
from gridgov.core.errors import InvalidInput, NotFound
from gridgov.intake.photos import inspect_photo, public_copy
from gridgov.services.accounts import Account, NotAuthenticated
from gridgov.services.cases import OutOfScope
from gridgov.store.files import FileStore
from gridgov.web.signed_in import form_session, page_account
from gridgov.workflow.model import Action

_FILE_ID = re.compile(r"(?:file:)?([0-9a-f]{64})")
_CASE_ID = re.compile(r"[0-9]{1,16}")
MAX_CASE_ID = 2**53 - 1


@dataclass(frozen=True, slots=True)
class CasePhoto:
    id: str  # what the page asks for: a public copy, or an evidence original
    kind: str  # "report" or "evidence"
    channel: str | None
    at: datetime
    stored_public: bool  # False: the stored file is an original; strip it before showing


def photos_router(runtime: Runtime) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    files = FileStore(runtime.settings.files_dir)
    photo_max = runtime.intake.options.photo_max_bytes

    def reader_for(request: Request) -> tuple[Account, Any]:
        account = page_account(request, runtime.accounts)
        if account is None:
            raise NotAuthenticated("请先登录", "sign in first")
        return account, runtime.accounts.reader(account)

    def case_photos(case_id: str, actor: Any) -> list[CasePhoto]:
        number = _case_number(case_id)
        with _hidden(number):
            case = runtime.cases.case(number, actor)
            events = runtime.cases.events(number, actor)
        found: list[CasePhoto] = []
        for report_id in case.report_ids:
            report = runtime.intake.report(int(report_id), may_see_personal_data=False)
            for ref in report["intake"].get("photos") or []:
                public = ref.get("public") if isinstance(ref, dict) else None
                if ref.get("source") == "file" and isinstance(public, str):
                    at = datetime.fromisoformat(report["reported_at"])
                    found.append(CasePhoto(public, "report", report["channel"], at, True))
        for event in events:
            if event.action is not Action.HANDLE:
                continue
            evidence = event.payload.get("evidence")
            for item in evidence if isinstance(evidence, list) else []:
                match = _FILE_ID.fullmatch(str(item))
                if match and files.exists(match.group(1)):
                    found.append(CasePhoto(match.group(1), "evidence", None, event.at, False))
        return found

    @router.post("/console/photos")
    async def upload(request: Request) -> JSONResponse:
        account = form_session(request, runtime.accounts).account
        # Read-only accounts (auditors) never hand in evidence: refused before the upload is read.
        runtime.accounts.actor(account)
        try:
            form = await request.form(max_files=1, max_fields=5)
        except (MultiPartException, ValueError, KeyError) as exc:
            raise InvalidInput("photo", f"无法读取表单 / not a readable form: {exc}") from None
        try:
            upload = form.get("photo")
            if not isinstance(upload, UploadFile):
                raise InvalidInput("photo", "请选择照片 / choose a photo")
            data = await upload.read(photo_max + 1)
        finally:
            await form.close()
        if len(data) > photo_max:
            raise InvalidInput(
                "photo", f"照片过大，至多 {photo_max} 字节 / too large: at most {photo_max} bytes"
            )
        try:
            await run_in_threadpool(inspect_photo, data, max_bytes=photo_max)
        except InvalidInput as exc:
            raise InvalidInput("photo", exc.problem) from None
        file_id = await run_in_threadpool(files.put, data)
        return JSONResponse(status_code=201, content={"id": file_id})

    @router.get("/console/cases/{case_id}/photos")
    def listing(request: Request, case_id: str) -> dict[str, Any]:
        _, actor = reader_for(request)
        return {
            "photos": [
                {"id": p.id, "kind": p.kind, "channel": p.channel, "at": p.at.isoformat()}
                for p in case_photos(case_id, actor)
            ]
        }

    @router.get("/console/cases/{case_id}/photos/{file_id}")
    def photo(request: Request, case_id: str, file_id: str) -> Response:
        _, actor = reader_for(request)
        chosen = next((p for p in case_photos(case_id, actor) if p.id == file_id), None)
        if chosen is None:
            raise NotFound("photo 照片", file_id)
        data = files.get(chosen.id)
        if not chosen.stored_public:
            data = public_copy(data, max_bytes=max(photo_max, len(data)))
        return Response(
            data,
            media_type=_media_type(data),
            headers={"Cache-Control": "private, max-age=3600"},
        )

    return router


def _case_number(raw: str) -> int:
    if not _CASE_ID.fullmatch(raw) or not 1 <= int(raw) <= MAX_CASE_ID:
        raise NotFound("case 工单", raw)
    return int(raw)


@contextmanager
def _hidden(case_id: int) -> Iterator[None]:
    """A case outside the account's scope is answered as one that does not exist."""
    try:
        yield
    except OutOfScope:
        raise NotFound("case 工单", case_id) from None


def _media_type(data: bytes) -> str:
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"
