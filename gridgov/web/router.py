"""`web_router(runtime)`: every page and the pages' own form endpoints, for `create_app` to include."""

from __future__ import annotations

from fastapi import APIRouter

from gridgov.bootstrap import Runtime
from gridgov.web.pages import pages_router
from gridgov.web.photos import photos_router
from gridgov.web.reports import Guard, reports_router


def web_router(runtime: Runtime, *, report_guard: Guard | None = None) -> APIRouter:
    """The pages; `report_guard(request)` limits residents' reports (raises to refuse)."""
    router = APIRouter()
    router.include_router(pages_router(runtime))
    router.include_router(reports_router(runtime, guard=report_guard))
    router.include_router(photos_router(runtime))
    return router
