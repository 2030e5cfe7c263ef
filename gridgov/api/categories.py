"""The city's reference lists over HTTP, for signed-in staff: the category taxonomy and departments.

GET /api/v1/categories?source&leaf    the taxonomy (数字城管 部件/事件, 12345, IoT) with deadlines
GET /api/v1/departments?serves&level  the departments of the responsibility list (权责清单)

Both are the city's published configuration (gridgov/workflow/data/*.csv), the same for every
account; they hold no case and no personal data, so they are not narrowed by scope.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from gridgov.api.auth import current_account
from gridgov.api.errors import error_responses
from gridgov.api.grids import GRID_CODE
from gridgov.bootstrap import Runtime
from gridgov.grids.model import GridLevel
from gridgov.services.accounts import Account
from gridgov.workflow.categories import Category, CategorySource

AccountDep = Annotated[Account, Depends(current_account)]


class CategoryView(BaseModel):
    code: str
    parent_code: str | None
    name_zh: str
    name_en: str
    source: CategorySource
    leaf: bool = Field(description="可立案的小类 / a class a case may be filed under")
    urgent: bool = Field(description="紧急：时限按 7×24 计 / limits count round the clock")
    accept_limit: str | None = Field(description="签收时限，如 2h / time to accept, e.g. 2h")
    handle_limit: str | None = Field(description="处置时限，如 3d / time to handle, e.g. 3d")
    owning_level: GridLevel | None
    department_role: str | None = Field(description="权责清单中的部门角色 / department role")
    filing_condition: str
    closing_condition: str


class CategoryList(BaseModel):
    rows: list[CategoryView]


class DepartmentView(BaseModel):
    code: str
    name_zh: str
    name_en: str
    level: GridLevel
    serves: str = Field(description="服务的网格编码 / the grid code it serves")
    role: str


class DepartmentList(BaseModel):
    rows: list[DepartmentView]


def categories_router(runtime: Runtime) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["reference 基础数据"])
    taxonomy = runtime.cases.taxonomy
    departments = runtime.cases.responsibilities.departments

    @router.get(
        "/categories",
        summary="事件分类 · The category taxonomy with deadlines",
        responses=error_responses(401, 422),
    )
    def categories(
        _: AccountDep,
        source: Annotated[
            CategorySource | None, Query(description="只看此来源 / one source")
        ] = None,
        leaf: Annotated[
            bool | None, Query(description="1: 只看小类 / leaves only; 0: only classes")
        ] = None,
    ) -> CategoryList:
        rows = [
            _category(c, taxonomy.is_leaf(c.code))
            for c in taxonomy
            if (source is None or c.source is source)
            and (leaf is None or taxonomy.is_leaf(c.code) is leaf)
        ]
        return CategoryList(rows=rows)

    @router.get(
        "/departments",
        summary="职能部门 · The departments cases are dispatched to",
        responses=error_responses(401, 422),
    )
    def department_list(
        _: AccountDep,
        serves: Annotated[
            str | None, Query(pattern=GRID_CODE, description="服务此网格 / serving this grid")
        ] = None,
        level: Annotated[GridLevel | None, Query(description="层级 / level")] = None,
    ) -> DepartmentList:
        rows = [
            DepartmentView(
                code=d.code,
                name_zh=d.name_zh,
                name_en=d.name_en,
                level=d.level,
                serves=d.serves,
                role=d.role,
            )
            for d in departments
            if (serves is None or d.serves == serves) and (level is None or d.level is level)
        ]
        return DepartmentList(rows=rows)

    return router


def _category(category: Category, leaf: bool) -> CategoryView:
    return CategoryView(
        code=category.code,
        parent_code=category.parent_code,
        name_zh=category.name_zh,
        name_en=category.name_en,
        source=category.source,
        leaf=leaf,
        urgent=category.urgent,
        accept_limit=str(category.accept_limit) if category.accept_limit else None,
        handle_limit=str(category.handle_limit) if category.handle_limit else None,
        owning_level=category.owning_level,
        department_role=category.department,
        filing_condition=category.filing_condition,
        closing_condition=category.closing_condition,
    )
