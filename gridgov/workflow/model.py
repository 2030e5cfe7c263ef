"""The vocabulary of a case: states, actions, roles, actors, levels, the `Case`, and the commands.

A `Case` is never edited: it is what replaying its events yields (`Case.replay`). The lifecycle is
drawn in `docs/workflow.md`; which action leads where, and who may take it, lives only in
`gridgov.workflow.transitions.TRANSITIONS`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar, TypeAlias

if TYPE_CHECKING:
    from gridgov.workflow.events import PendingEvent


class CaseState(StrEnum):
    REPORTED = "reported"
    FILED = "filed"
    REJECTED = "rejected"
    DISPATCHED = "dispatched"
    ACCEPTED = "accepted"
    RETURNED = "returned"
    HANDLED = "handled"
    VERIFIED = "verified"
    REOPENED = "reopened"
    CLOSED = "closed"
    EVALUATED = "evaluated"
    MERGED = "merged"

    @property
    def label_zh(self) -> str:
        return _STATE_LABELS_ZH[self]


_STATE_LABELS_ZH = {
    CaseState.REPORTED: "已上报",
    CaseState.FILED: "已立案",
    CaseState.REJECTED: "不予立案",
    CaseState.DISPATCHED: "已派遣",
    CaseState.ACCEPTED: "已签收",
    CaseState.RETURNED: "已退单",
    CaseState.HANDLED: "已处置反馈",
    CaseState.VERIFIED: "核查通过",
    CaseState.REOPENED: "返工",
    CaseState.CLOSED: "已结案",
    CaseState.EVALUATED: "已回访",
    CaseState.MERGED: "已并单",
}

CLOSED_STATES = frozenset(
    {CaseState.REJECTED, CaseState.CLOSED, CaseState.EVALUATED, CaseState.MERGED}
)


class Action(StrEnum):
    """What an actor does to a case; each is recorded as one event (`absorb` only follows `merge`)."""

    REPORT = "report"
    FILE = "file"
    REJECT = "reject"
    DISPATCH = "dispatch"
    ACCEPT = "accept"
    RETURN = "return"
    HANDLE = "handle"
    VERIFY_PASS = "verify_pass"
    VERIFY_FAIL = "verify_fail"
    CLOSE = "close"
    EVALUATE = "evaluate"
    REOPEN = "reopen"
    REQUEST_EXTENSION = "request_extension"
    APPROVE_EXTENSION = "approve_extension"
    DENY_EXTENSION = "deny_extension"
    ESCALATE = "escalate"
    SUPERVISE = "supervise"
    MERGE = "merge"
    ABSORB = "absorb"
    REASSIGN = "reassign"

    @property
    def label_zh(self) -> str:
        return _ACTION_LABELS_ZH[self]


_ACTION_LABELS_ZH = {
    Action.REPORT: "上报",
    Action.FILE: "立案",
    Action.REJECT: "不予立案",
    Action.DISPATCH: "派遣",
    Action.ACCEPT: "签收",
    Action.RETURN: "退单",
    Action.HANDLE: "处置反馈",
    Action.VERIFY_PASS: "核查通过",
    Action.VERIFY_FAIL: "核查不通过",
    Action.CLOSE: "结案",
    Action.EVALUATE: "回访",
    Action.REOPEN: "重办",
    Action.REQUEST_EXTENSION: "申请延期",
    Action.APPROVE_EXTENSION: "批准延期",
    Action.DENY_EXTENSION: "驳回延期",
    Action.ESCALATE: "上报上级",
    Action.SUPERVISE: "督办",
    Action.MERGE: "并单",
    Action.ABSORB: "接收并单",
    Action.REASSIGN: "改派",
}


class Role(StrEnum):
    REPORTER = "reporter"
    INTAKE_OPERATOR = "intake_operator"
    SHIFT_LEADER = "shift_leader"
    DISPATCHER = "dispatcher"
    HANDLER = "handler"
    DEPARTMENT_HEAD = "department_head"
    GRID_WORKER = "grid_worker"
    SUPERVISOR = "supervisor"
    CENTRE_LEADER = "centre_leader"
    SYSTEM = "system"

    @property
    def label_zh(self) -> str:
        return _ROLE_LABELS_ZH[self]


_ROLE_LABELS_ZH = {
    Role.REPORTER: "上报人/市民",
    Role.INTAKE_OPERATOR: "受理员",
    Role.SHIFT_LEADER: "值班长",
    Role.DISPATCHER: "派遣员",
    Role.HANDLER: "处置人员",
    Role.DEPARTMENT_HEAD: "部门负责人",
    Role.GRID_WORKER: "网格员/监督员",
    Role.SUPERVISOR: "督查员",
    Role.CENTRE_LEADER: "城运中心负责人",
    Role.SYSTEM: "系统",
}


class OwningLevel(StrEnum):
    """The level that answers for a case; escalation moves it one step up `LADDER`."""

    GRID = "grid"
    COMMUNITY = "community"
    STREET = "street"
    DISTRICT = "district"
    CITY = "city"

    @property
    def label_zh(self) -> str:
        return _OWNING_LABELS_ZH[self]


_OWNING_LABELS_ZH = {
    OwningLevel.GRID: "网格",
    OwningLevel.COMMUNITY: "社区",
    OwningLevel.STREET: "街道",
    OwningLevel.DISTRICT: "区县",
    OwningLevel.CITY: "市",
}

LADDER: tuple[OwningLevel, ...] = (
    OwningLevel.GRID,
    OwningLevel.COMMUNITY,
    OwningLevel.STREET,
    OwningLevel.DISTRICT,
    OwningLevel.CITY,
)


class Satisfaction(StrEnum):
    SATISFIED = "satisfied"
    BASICALLY_SATISFIED = "basically_satisfied"
    DISSATISFIED = "dissatisfied"

    @property
    def label_zh(self) -> str:
        return {"satisfied": "满意", "basically_satisfied": "基本满意", "dissatisfied": "不满意"}[
            self.value
        ]


class EscalationReason(StrEnum):
    OVERDUE = "overdue"
    RETURNED_TWICE = "returned_twice"
    BEYOND_AUTHORITY = "beyond_authority"

    @property
    def label_zh(self) -> str:
        return {
            "overdue": "超期",
            "returned_twice": "两次退单",
            "beyond_authority": "超出本级职权",
        }[self.value]


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts; `scope_code` is the grid or org code whose subtree they act on (None: the city)."""

    id: str
    role: Role
    name: str = ""
    scope_code: str | None = None


@dataclass(frozen=True, slots=True)
class ExtensionRequest:
    """A pending 延期 request: the handler asks for `handle_due` to become `until`."""

    requested_by: str
    requested_at: datetime
    until: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class Escalation:
    """One step up the ladder; `return_count` is kept so 'returned twice' fires once per two returns."""

    from_level: OwningLevel
    to_level: OwningLevel
    grounds: EscalationReason
    at: datetime
    actor_id: str
    return_count: int


# Finest first: a case owned at grid level belongs to the finest regular grid it was located in.
_OWNER_GRID_KEYS: dict[OwningLevel, tuple[str, ...]] = {
    OwningLevel.GRID: ("micro", "compound"),
    OwningLevel.COMMUNITY: ("community",),
    OwningLevel.STREET: ("street",),
    OwningLevel.DISTRICT: ("district",),
    OwningLevel.CITY: (),
}


@dataclass(frozen=True)
class Case:
    """A case as its events left it. Build it with `Case.replay`; never construct it by hand."""

    id: str
    state: CaseState
    seq: int
    reported_at: datetime
    updated_at: datetime
    report_ids: tuple[str, ...] = ()
    category_code: str | None = None
    grid_codes: Mapping[str, str] = field(default_factory=dict)
    layer_id: int | None = None
    owning_level: OwningLevel = OwningLevel.GRID
    assignee_department: str | None = None
    assignee_person: str | None = None
    accept_due: datetime | None = None
    handle_due: datetime | None = None
    pending_extension: ExtensionRequest | None = None
    extensions_granted: int = 0
    supervised: bool = False
    supervise_count: int = 0
    last_supervised_due: datetime | None = None
    escalations: tuple[Escalation, ...] = ()
    return_count: int = 0
    reopen_count: int = 0
    merged_into: str | None = None
    merged_from: tuple[str, ...] = ()
    satisfaction: Satisfaction | None = None
    filed_at: datetime | None = None
    rejected_at: datetime | None = None
    dispatched_at: datetime | None = None
    accepted_at: datetime | None = None
    returned_at: datetime | None = None
    handled_at: datetime | None = None
    verified_at: datetime | None = None
    reopened_at: datetime | None = None
    closed_at: datetime | None = None
    evaluated_at: datetime | None = None
    merged_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.state not in CLOSED_STATES

    @property
    def owning_code(self) -> str | None:
        """The grid code of the owning level in this case's path (None for the city or unknown)."""
        for key in _OWNER_GRID_KEYS[self.owning_level]:
            if key in self.grid_codes:
                return self.grid_codes[key]
        return None

    @classmethod
    def replay(cls, events: Iterable[PendingEvent]) -> Case:
        """The case its events describe, oldest first; raises `HistoryInvalid` if they do not fit."""
        # Imported here because replay imports this module for the vocabulary above.
        from gridgov.workflow.replay import replay

        return replay(events)


# Commands: what an actor asks for. Each names its action; `reason` is the actor's own words, which
# the transition table makes compulsory for some actions. Datetimes must be timezone-aware and are
# computed by the caller in working time (gridgov.workflow.deadlines).


@dataclass(frozen=True, kw_only=True)
class ReportCase:
    """Open a case for a located report; `grid_codes` maps a grid level to its code."""

    action: ClassVar[Action] = Action.REPORT
    case_id: str
    report_id: str
    grid_codes: Mapping[str, str]
    layer_id: int | None = None
    category_code: str | None = None
    owning_level: OwningLevel = OwningLevel.GRID
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class FileCase:
    """立案: confirm the category and, if given, the level that owns the case."""

    action: ClassVar[Action] = Action.FILE
    category_code: str
    owning_level: OwningLevel | None = None
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class RejectCase:
    action: ClassVar[Action] = Action.REJECT
    reason: str


@dataclass(frozen=True, kw_only=True)
class DispatchCase:
    action: ClassVar[Action] = Action.DISPATCH
    department: str
    accept_due: datetime
    handle_due: datetime
    person: str | None = None
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class AcceptCase:
    """签收; `handle_due` restarts the handling clock where the city counts it from acceptance."""

    action: ClassVar[Action] = Action.ACCEPT
    handle_due: datetime | None = None
    person: str | None = None
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class ReturnCase:
    action: ClassVar[Action] = Action.RETURN
    reason: str


@dataclass(frozen=True, kw_only=True)
class HandleCase:
    """处置反馈; `evidence` holds photo or file ids, or text, at least one."""

    action: ClassVar[Action] = Action.HANDLE
    evidence: tuple[str, ...]
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class PassVerification:
    action: ClassVar[Action] = Action.VERIFY_PASS
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class FailVerification:
    """核查不通过 → 返工; `handle_due` is the rework deadline, if the rules set a new one."""

    action: ClassVar[Action] = Action.VERIFY_FAIL
    reason: str
    handle_due: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class CloseCase:
    action: ClassVar[Action] = Action.CLOSE
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class EvaluateCase:
    """回访; `satisfaction` is a `Satisfaction` value, taken as text straight from a front door."""

    action: ClassVar[Action] = Action.EVALUATE
    satisfaction: str
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class ReopenCase:
    """重办 after a dissatisfied evaluation."""

    action: ClassVar[Action] = Action.REOPEN
    reason: str
    handle_due: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class RequestExtension:
    action: ClassVar[Action] = Action.REQUEST_EXTENSION
    until: datetime
    reason: str


@dataclass(frozen=True, kw_only=True)
class ApproveExtension:
    """`handle_due` is the deadline granted, which may be earlier than the one asked for."""

    action: ClassVar[Action] = Action.APPROVE_EXTENSION
    handle_due: datetime
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class DenyExtension:
    action: ClassVar[Action] = Action.DENY_EXTENSION
    reason: str


@dataclass(frozen=True, kw_only=True)
class EscalateCase:
    action: ClassVar[Action] = Action.ESCALATE
    reason: str
    grounds: EscalationReason = EscalationReason.BEYOND_AUTHORITY


@dataclass(frozen=True, kw_only=True)
class SuperviseCase:
    """督办; `due` names the deadline a warning is about, so the sweeper sends it only once."""

    action: ClassVar[Action] = Action.SUPERVISE
    due: datetime | None = None
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class MergeCase:
    """并单: this case joins `into`, which must be the current state of another open case."""

    action: ClassVar[Action] = Action.MERGE
    into: Case
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class ReassignCase:
    """改派; new deadlines only if given, otherwise the current ones still run."""

    action: ClassVar[Action] = Action.REASSIGN
    department: str
    person: str | None = None
    accept_due: datetime | None = None
    handle_due: datetime | None = None
    reason: str = ""


Command: TypeAlias = (
    ReportCase
    | FileCase
    | RejectCase
    | DispatchCase
    | AcceptCase
    | ReturnCase
    | HandleCase
    | PassVerification
    | FailVerification
    | CloseCase
    | EvaluateCase
    | ReopenCase
    | RequestExtension
    | ApproveExtension
    | DenyExtension
    | EscalateCase
    | SuperviseCase
    | MergeCase
    | ReassignCase
)
