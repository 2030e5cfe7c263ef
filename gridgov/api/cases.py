"""Cases over HTTP for signed-in staff: list, detail with timeline, reports, every workflow action.

GET  /api/v1/cases                            filtered, paged, newest first, in the account's subtree
GET  /api/v1/cases/{case_id}                  one case, its timeline and what this account may do
GET  /api/v1/cases/{case_id}/reports          its reports; personal data only for who may see it
POST /api/v1/cases/{case_id}/actions/{action} one workflow action → the case as it now stands
GET  /api/v1/queue/manual                     cases routing could not place, for the account's centre

Scope is enforced by the case services through the actor, never here. What the routes add is the
answer: a case outside the account's scope is a 404 exactly like a case that does not exist, so
that nobody can probe for case numbers in another street (docs/api.md has the full table).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Header, Path, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from gridgov.api.auth import ACTING_ROLE_HEADER, accounts_of, current_account
from gridgov.api.errors import ErrorBody as ErrorBody  # re-exported for older imports
from gridgov.api.errors import Problem as Problem
from gridgov.api.errors import error_responses
from gridgov.api.grids import GRID_CODE
from gridgov.api.ids import MAX_ROW_ID
from gridgov.bootstrap import Runtime
from gridgov.core.errors import InvalidInput, NotFound
from gridgov.intake.privacy import mask
from gridgov.services.accounts import Account, AccountService, NotPermitted
from gridgov.services.cases import CaseFilter, CaseService, OutOfScope
from gridgov.workflow.events import CaseEvent
from gridgov.workflow.model import (
    AcceptCase,
    Action,
    Actor,
    ApproveExtension,
    Case,
    CaseState,
    CloseCase,
    Command,
    DenyExtension,
    EscalateCase,
    EscalationReason,
    EvaluateCase,
    FailVerification,
    HandleCase,
    MergeCase,
    PassVerification,
    ReassignCase,
    RejectCase,
    ReopenCase,
    RequestExtension,
    ReturnCase,
    SuperviseCase,
)
from gridgov.workflow.transitions import RoleNotAllowed, allowed_actions, transition_for

MAX_PAGE = 200
MAX_OFFSET = 1_000_000
MAX_SEARCH = 100
# Actions the route does not take: a report arrives through intake, and absorb follows a merge.
NOT_ROUTED = frozenset({Action.REPORT, Action.ABSORB})

_T = TypeVar("_T")


class CaseSummary(BaseModel):
    id: int
    state: CaseState
    state_zh: str
    category_code: str | None
    category_name: str | None = Field(description="分类名称 / the category's Chinese name")
    grid_path: dict[str, str] = Field(description="网格路径：层级 → 网格编码 / level → grid code")
    owning_level: str
    assignee_department: str | None
    assignee_person: str | None
    reported_at: datetime
    updated_at: datetime
    accept_due: datetime | None
    handle_due: datetime | None
    supervised: bool
    counts: dict[str, int] = Field(
        description="reports, returns, reopens, extensions granted, supervisions, escalations"
    )


class CaseWithActions(CaseSummary):
    allowed_actions: list[Action] = Field(
        description="此账号现在可执行的操作（未核对条件）/ what this account may do now, "
        "before conditions are checked"
    )


class TimelineEntry(BaseModel):
    at: datetime
    action: Action
    action_zh: str
    actor_id: str
    actor_role: str
    actor_role_zh: str
    reason: str
    details: dict[str, Any] = Field(description="事件内容 / what the event recorded")


class CaseDetail(CaseWithActions):
    pending_extension: dict[str, Any] | None
    timeline: list[TimelineEntry]


class CasePage(BaseModel):
    items: list[CaseSummary]
    total: int = Field(description="符合条件的工单总数 / how many cases match in all")
    limit: int
    offset: int
    next_offset: int | None = Field(
        description="下一页的 offset；无则为 null / null on the last page"
    )


class ReportView(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: int
    channel: str
    external_id: str
    received_at: str
    reported_at: str
    case_id: int | None
    category_code: str | None
    title: str | None
    text: str
    address: str | None
    reporter_name: str | None
    reporter_phone: str | None


class CaseReports(BaseModel):
    case_id: int
    personal_data_visible: bool = Field(
        description="是否显示个人信息（已记录查看）/ unmasked, and the read was recorded"
    )
    reports: list[ReportView]


class ActionBody(BaseModel):
    """What an action needs; each action reads only its own fields (docs/api.md lists them)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"evidence": ["photo-1.jpg"], "reason": "垃圾已清运"}]},
    )
    reason: str | None = Field(None, max_length=2000, description="理由 / the actor's own words")
    evidence: list[Annotated[str, Field(max_length=500)]] | None = Field(
        None, max_length=50, description="处置反馈的照片或文件编号 / photo or file ids (handle)"
    )
    category_code: str | None = Field(None, max_length=32, description="立案分类 (file)")
    department: str | None = Field(
        None, max_length=128, description="部门编码 (dispatch, reassign)"
    )
    person: str | None = Field(None, max_length=128, description="处置人 (accept, reassign)")
    satisfaction: str | None = Field(
        None, max_length=32, description="satisfied, basically_satisfied, dissatisfied (evaluate)"
    )
    until: AwareDatetime | None = Field(None, description="申请延期至 (request_extension)")
    handle_due: AwareDatetime | None = Field(
        None, description="处置时限 (approve_extension; optional for accept, verify_fail, reopen)"
    )
    accept_due: AwareDatetime | None = Field(None, description="签收时限 (reassign, optional)")
    due: AwareDatetime | None = Field(None, description="督办针对的时限 (supervise, optional)")
    grounds: EscalationReason | None = Field(None, description="上报上级的理由类别 (escalate)")
    into: int | None = Field(None, ge=1, le=MAX_ROW_ID, description="并入的工单号 (merge)")


_ERRORS = error_responses(
    401,
    404,
    422,
    s404="无此工单，或不在管辖范围内（两者无法区分）/ no such case, or outside your scope "
    "(deliberately the same answer)",
)
_ACTION_ERRORS = {
    **_ERRORS,
    **error_responses(
        403,
        409,
        s403="只读账号，或此角色不能执行此操作 / a read-only account, or a role that may not "
        "take this action",
        s409="当前状态不允许 / the case's state forbids it",
    ),
}

AccountDep = Annotated[Account, Depends(current_account)]
AccountsDep = Annotated[AccountService, Depends(accounts_of)]
CaseId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="工单号 / case number")]


def cases_router(runtime: Runtime) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["cases 工单"])
    service = runtime.cases

    @router.get(
        "/cases",
        summary="工单列表 · The cases in your scope that match, newest first",
        responses=error_responses(401, 404, 422, s404="scope 不在管辖范围内 / scope not yours"),
    )
    def list_cases(
        account: AccountDep,
        accounts: AccountsDep,
        scope: Annotated[
            str | None,
            Query(pattern=GRID_CODE, description="范围内的网格 / a grid inside your scope"),
        ] = None,
        state: Annotated[
            list[CaseState] | None, Query(description="状态（可多选）/ states, any of")
        ] = None,
        category: Annotated[
            str | None,
            Query(max_length=32, description="分类，含其下小类 / a class and all below it"),
        ] = None,
        channel: Annotated[
            str | None, Query(pattern=r"^[a-z0-9_]{1,32}$", description="上报渠道 / channel")
        ] = None,
        overdue: Annotated[
            bool, Query(description="只看超期 / only past a running deadline")
        ] = False,
        created_from: Annotated[
            AwareDatetime | None, Query(description="上报时间起（含）/ reported at or after")
        ] = None,
        created_to: Annotated[
            AwareDatetime | None, Query(description="上报时间止（不含）/ reported before")
        ] = None,
        department: Annotated[
            str | None, Query(max_length=128, description="当前承办部门 / dispatched to now")
        ] = None,
        q: Annotated[
            str | None,
            Query(
                max_length=MAX_SEARCH,
                description="工单号、分类编码或上报内容 / case number, category code or words",
            ),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    ) -> CasePage:
        reader = accounts.reader(account)
        wanted = CaseFilter(
            scope_code=runtime.browse.scope(reader, scope) if scope is not None else None,
            states=tuple(state or ()),
            category_code=category,
            channel=channel,
            overdue=overdue,
            created_from=created_from,
            created_to=created_to,
            department=department,
            text=q,
        )
        page = service.search(
            reader,
            wanted,
            limit=limit,
            offset=offset,
            personal_data=accounts.may_see_personal_data(account),
        )
        return CasePage(
            items=[_summary(service, c) for c in page.cases],
            total=page.total,
            limit=limit,
            offset=offset,
            next_offset=page.next_offset,
        )

    @router.get(
        "/cases/{case_id}",
        summary="工单详情 · One case with its timeline and the actions open to you",
        responses=_ERRORS,
    )
    def case_detail(case_id: CaseId, account: AccountDep, accounts: AccountsDep) -> CaseDetail:
        reader = accounts.reader(account)
        with _hidden(case_id):
            case = service.case(case_id, reader)
            events = service.events(case_id, reader)
        unmasked = accounts.may_see_personal_data(account, case)
        shown = _shown(unmasked)
        pending = case.pending_extension
        return CaseDetail(
            **_summary(service, case).model_dump(),
            allowed_actions=_allowed(accounts, account, case),
            pending_extension=None
            if pending is None
            else {
                "requested_by": pending.requested_by,
                "requested_at": pending.requested_at.isoformat(),
                "until": pending.until.isoformat(),
                "reason": shown(pending.reason),
            },
            timeline=[_entry(e, shown) for e in events],
        )

    @router.get(
        "/cases/{case_id}/reports",
        summary="工单的上报 · The reports that make up a case (personal data by role, audited)",
        responses=_ERRORS,
    )
    def case_reports(
        case_id: CaseId,
        account: AccountDep,
        accounts: AccountsDep,
        purpose: Annotated[
            str | None,
            Query(max_length=200, description="查看个人信息的理由（记入审计）/ why, for the audit"),
        ] = None,
    ) -> CaseReports:
        reader = accounts.reader(account)
        with _hidden(case_id):
            case = service.case(case_id, reader)
            stored = service.reports(case_id, reader)
        unmasked = accounts.may_see_personal_data(account, case)
        if unmasked:
            # Recorded before the data leaves: a read that cannot be audited is not served.
            accounts.record_personal_data_access(
                account,
                f"case:{case_id}",
                purpose or f"查看工单上报 / read the reports of case {case_id} (API)",
            )
        reports = [
            ReportView(**runtime.intake.report(int(r["id"]), may_see_personal_data=unmasked))
            for r in stored
        ]
        return CaseReports(case_id=case_id, personal_data_visible=unmasked, reports=reports)

    @router.post(
        "/cases/{case_id}/actions/{action}",
        summary="办理工单 · Take one workflow action; answers the case as it now stands",
        responses=_ACTION_ERRORS,
    )
    def act(
        case_id: CaseId,
        action: Annotated[Action, Path(description="workflow action (not report or absorb)")],
        body: ActionBody,
        account: AccountDep,
        accounts: AccountsDep,
        acting_as: Annotated[
            str | None,
            Header(alias=ACTING_ROLE_HEADER, description="act as this workflow role"),
        ] = None,
    ) -> CaseWithActions:
        if action in NOT_ROUTED:
            raise InvalidInput(
                "action",
                f"「{action.label_zh}」不能直接执行 / {action.value} is not taken directly",
            )
        # Refuses read-only accounts and roles the account lacks before the case is looked up, so
        # that 403 is the same for every case number and says nothing about which exist.
        actor = accounts.actor(account, acting_as)
        with _hidden(case_id):
            case = service.case(case_id, actor)
            if acting_as is None:
                actor = accounts.actor_for_action(account, case.state, action)
            with _role_refusal():
                # The role is checked before the body so a role that may not act never learns
                # which fields the action needs; the workflow checks it again when deciding.
                transition_for(case.state, action, actor)
                done = _perform(service, case_id, action, body, actor)
        return CaseWithActions(
            **_summary(service, done).model_dump(),
            allowed_actions=_allowed(accounts, account, done),
        )

    @router.get(
        "/queue/manual",
        summary="人工派单队列 · Cases routing could not place, waiting for your centre",
        responses=error_responses(401),
    )
    def manual_queue(account: AccountDep, accounts: AccountsDep) -> list[CaseSummary]:
        return [_summary(service, c) for c in service.manual_queue(accounts.reader(account))]

    return router


@contextmanager
def _hidden(case_id: int) -> Iterator[None]:
    """Answer a case outside the actor's scope exactly as a case that does not exist."""
    try:
        yield
    except OutOfScope:
        # Same kind, key and message as the store's own NotFound: a 404 body must not reveal
        # that the case exists in someone else's part of the city.
        raise NotFound("case 工单", case_id) from None


@contextmanager
def _role_refusal() -> Iterator[None]:
    """A role the transition table does not allow is a 403; other refusals stay 409."""
    try:
        yield
    except RoleNotAllowed as exc:
        raise NotPermitted(exc.message_zh, exc.message_en) from None


def _perform(
    service: CaseService, case_id: int, action: Action, body: ActionBody, actor: Actor
) -> Case:
    if action in (Action.DISPATCH, Action.REASSIGN) and body.department:
        _known_department(service, body.department)
    if action is Action.FILE:
        return service.file(case_id, actor, category_code=body.category_code)
    if action is Action.DISPATCH:
        return service.dispatch(case_id, actor, department=body.department)
    return service.perform(case_id, _command(service, action, body, actor), actor)


def _command(service: CaseService, action: Action, body: ActionBody, actor: Actor) -> Command:
    """The command for `action` from the body; blank required text is left to the workflow."""
    reason = body.reason or ""
    match action:
        case Action.REJECT:
            return RejectCase(reason=reason)
        case Action.ACCEPT:
            return AcceptCase(handle_due=body.handle_due, person=body.person, reason=reason)
        case Action.RETURN:
            return ReturnCase(reason=reason)
        case Action.HANDLE:
            return HandleCase(evidence=tuple(body.evidence or ()), reason=reason)
        case Action.VERIFY_PASS:
            return PassVerification(reason=reason)
        case Action.VERIFY_FAIL:
            return FailVerification(reason=reason, handle_due=body.handle_due)
        case Action.CLOSE:
            return CloseCase(reason=reason)
        case Action.EVALUATE:
            return EvaluateCase(satisfaction=body.satisfaction or "", reason=reason)
        case Action.REOPEN:
            return ReopenCase(reason=reason, handle_due=body.handle_due)
        case Action.REQUEST_EXTENSION:
            return RequestExtension(until=_required(body.until, "until", action), reason=reason)
        case Action.APPROVE_EXTENSION:
            due = _required(body.handle_due, "handle_due", action)
            return ApproveExtension(handle_due=due, reason=reason)
        case Action.DENY_EXTENSION:
            return DenyExtension(reason=reason)
        case Action.ESCALATE:
            grounds = body.grounds or EscalationReason.BEYOND_AUTHORITY
            return EscalateCase(reason=reason, grounds=grounds)
        case Action.SUPERVISE:
            return SuperviseCase(due=body.due, reason=reason)
        case Action.MERGE:
            into = _required(body.into, "into", action)
            with _hidden(into):
                return MergeCase(into=service.case(into, actor), reason=reason)
        case Action.REASSIGN:
            return ReassignCase(
                department=body.department or "",
                person=body.person,
                accept_due=body.accept_due,
                handle_due=body.handle_due,
                reason=reason,
            )
    raise InvalidInput("action", f"{action.value} is not taken directly")


def _known_department(service: CaseService, code: str) -> None:
    # A case sent to a department that does not exist would wait for nobody.
    try:
        service.responsibilities.department(code)
    except NotFound:
        raise InvalidInput(
            "department", f"未知的部门 {code!r} / unknown department {code!r}"
        ) from None


def _required(value: _T | None, name: str, action: Action) -> _T:
    if value is None:
        raise InvalidInput(name, f"「{action.label_zh}」必须填写 / required to {action.value}")
    return value


def _allowed(accounts: AccountService, account: Account, case: Case) -> list[Action]:
    """Every action one of the account's workflow roles may take on `case` now."""
    found: set[Action] = set()
    for role in account.role.powers:
        found.update(allowed_actions(case, accounts.actor(account, role)))
    return [a for a in Action if a in found]


def _summary(service: CaseService, case: Case) -> CaseSummary:
    category = service.taxonomy.get(case.category_code) if case.category_code else None
    return CaseSummary(
        id=int(case.id),
        state=case.state,
        state_zh=case.state.label_zh,
        category_code=case.category_code,
        category_name=category.name_zh if category else None,
        grid_path=dict(case.grid_codes),
        owning_level=case.owning_level.value,
        assignee_department=case.assignee_department,
        assignee_person=case.assignee_person,
        reported_at=case.reported_at,
        updated_at=case.updated_at,
        accept_due=case.accept_due,
        handle_due=case.handle_due,
        supervised=case.supervised,
        counts={
            "reports": len(case.report_ids),
            "returns": case.return_count,
            "reopens": case.reopen_count,
            "extensions_granted": case.extensions_granted,
            "supervisions": case.supervise_count,
            "escalations": len(case.escalations),
        },
    )


def _shown(unmasked: bool) -> Callable[[str], str]:
    """How staff notes are shown: as written, or with phone and ID numbers masked."""
    # Staff write reporters' numbers into reasons ("已电话联系 138…"), so the notes are personal
    # data too for roles that may not see it.
    if unmasked:
        return lambda text: text
    return lambda text: mask(text).text_masked


def _entry(event: CaseEvent, shown: Callable[[str], str]) -> TimelineEntry:
    return TimelineEntry(
        at=event.at,
        action=event.action,
        action_zh=event.action.label_zh,
        actor_id=event.actor_id,
        actor_role=event.role.value,
        actor_role_zh=event.role.label_zh,
        reason=shown(event.reason),
        details=_masked_values(dict(event.payload), shown),
    )


def _masked_values(value: Any, shown: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return shown(value)
    if isinstance(value, dict):
        return {k: _masked_values(v, shown) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked_values(v, shown) for v in value]
    return value
