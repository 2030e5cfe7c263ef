"""Replaying events into a `Case`: `apply` one event, `replay` a case's whole history.

Events are facts: roles and conditions were checked when they were decided, so replay checks only
that each event follows the last (same case, next seq) and that the table has its (state, action).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from gridgov.workflow.events import Payload, PendingEvent
from gridgov.workflow.model import (
    Action,
    Case,
    CaseState,
    Escalation,
    EscalationReason,
    ExtensionRequest,
    OwningLevel,
    Satisfaction,
)
from gridgov.workflow.transitions import TRANSITIONS, HistoryInvalid


def _dt(payload: Payload, key: str) -> datetime | None:
    value = payload.get(key)
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _text(payload: Payload, key: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str):
        raise HistoryInvalid(f"payload {key} should be text, not {value!r}")
    return value


def _texts(payload: Payload, key: str) -> tuple[str, ...]:
    value = payload.get(key)
    if not isinstance(value, list):
        raise HistoryInvalid(f"payload {key} should be a list, not {value!r}")
    return tuple(str(item) for item in value)


def _changes(case: Case, event: PendingEvent) -> dict[str, Any]:
    """The fields an event changes besides state, seq and updated_at."""
    p, at = event.payload, event.at
    match event.action:
        case Action.FILE:
            return {
                "category_code": p["category_code"],
                "owning_level": OwningLevel(_text(p, "owning_level")),
                "filed_at": at,
            }
        case Action.REJECT:
            return {"rejected_at": at}
        case Action.DISPATCH:
            return {
                "assignee_department": p["department"],
                "assignee_person": p.get("person"),
                "accept_due": _dt(p, "accept_due"),
                "handle_due": _dt(p, "handle_due"),
                "pending_extension": None,
                "dispatched_at": at,
            }
        case Action.ACCEPT:
            return {
                "assignee_person": p.get("person") or case.assignee_person,
                "handle_due": _dt(p, "handle_due") or case.handle_due,
                "accepted_at": at,
            }
        case Action.RETURN:
            return {
                "assignee_department": None,
                "assignee_person": None,
                "pending_extension": None,
                "return_count": case.return_count + 1,
                "returned_at": at,
            }
        case Action.HANDLE:
            return {"handled_at": at, "pending_extension": None}
        case Action.VERIFY_PASS:
            return {"verified_at": at}
        case Action.VERIFY_FAIL | Action.REOPEN:
            return {
                "reopen_count": case.reopen_count + 1,
                "handle_due": _dt(p, "handle_due") or case.handle_due,
                "reopened_at": at,
            }
        case Action.CLOSE:
            return {"closed_at": at}
        case Action.EVALUATE:
            return {"satisfaction": Satisfaction(_text(p, "satisfaction")), "evaluated_at": at}
        case Action.REQUEST_EXTENSION:
            until = _dt(p, "until")
            assert until is not None
            return {"pending_extension": ExtensionRequest(event.actor_id, at, until, event.reason)}
        case Action.APPROVE_EXTENSION:
            return {
                "handle_due": _dt(p, "handle_due"),
                "pending_extension": None,
                "extensions_granted": case.extensions_granted + 1,
            }
        case Action.DENY_EXTENSION:
            return {"pending_extension": None}
        case Action.ESCALATE:
            step = Escalation(
                OwningLevel(_text(p, "from_level")),
                OwningLevel(_text(p, "to_level")),
                EscalationReason(_text(p, "grounds")),
                at,
                event.actor_id,
                case.return_count,
            )
            return {"owning_level": step.to_level, "escalations": (*case.escalations, step)}
        case Action.SUPERVISE:
            return {
                "supervised": True,
                "supervise_count": case.supervise_count + 1,
                "last_supervised_due": _dt(p, "due") or case.last_supervised_due,
            }
        case Action.MERGE:
            return {"merged_into": p["into"], "merged_at": at}
        case Action.ABSORB:
            moved = tuple(r for r in _texts(p, "report_ids") if r not in case.report_ids)
            return {
                "report_ids": case.report_ids + moved,
                "merged_from": (*case.merged_from, p["from"]),
            }
        case Action.REASSIGN:
            return {
                "assignee_department": p["department"],
                "assignee_person": p.get("person"),
                "accept_due": _dt(p, "accept_due") or case.accept_due,
                "handle_due": _dt(p, "handle_due") or case.handle_due,
                "dispatched_at": at,
            }
    return {}


def _opened(event: PendingEvent) -> Case:
    p = event.payload
    grid_codes = p["grid_codes"]
    layer_id = p.get("layer_id")
    category = p.get("category_code")
    assert isinstance(grid_codes, dict)
    return Case(
        id=event.case_id,
        state=CaseState.REPORTED,
        seq=1,
        reported_at=event.at,
        updated_at=event.at,
        report_ids=(str(p["report_id"]),),
        category_code=category if isinstance(category, str) else None,
        grid_codes={str(k): str(v) for k, v in grid_codes.items()},
        layer_id=layer_id if isinstance(layer_id, int) else None,
        owning_level=OwningLevel(_text(p, "owning_level")),
    )


def apply(case: Case | None, event: PendingEvent) -> Case:
    """The case after `event`; events are facts, so roles are not checked again, only sequence."""
    if case is None:
        if event.action is not Action.REPORT or event.seq != 1:
            raise HistoryInvalid(
                f"case {event.case_id} must start with report at seq 1, not {event.action.value} at seq {event.seq}"
            )
        return _opened(event)
    if event.case_id != case.id or event.seq != case.seq + 1:
        raise HistoryInvalid(
            f"event for case {event.case_id} seq {event.seq} does not follow case {case.id} seq {case.seq}"
        )
    rule = TRANSITIONS.get((case.state, event.action))
    if rule is None:
        raise HistoryInvalid(
            f"case {case.id} seq {event.seq}: {event.action.value} is not possible from {case.state.value}"
        )
    return replace(
        case, state=rule.next_state, seq=event.seq, updated_at=event.at, **_changes(case, event)
    )


def replay(events: Iterable[PendingEvent]) -> Case:
    """The case that `events`, oldest first, describe."""
    case: Case | None = None
    for event in events:
        case = apply(case, event)
    if case is None:
        raise HistoryInvalid("no events to replay")
    return case
