"""The escalation ladder (grid → community → street → district → city) and when a case climbs it.

These are questions the sweeper asks of one case at a time; its answers turn into `EscalateCase`
and `SuperviseCase` commands that go through `decide` like any other, so the transition table and
the role check still apply. Each answer looks at what the case already records, which is what
makes a sweeper that runs twice, or catches up after downtime, act once per cause.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from gridgov.workflow.model import LADDER, Case, CaseState, EscalationReason, OwningLevel

ElapsedFraction = Callable[[datetime, datetime, datetime], float]
"""(start, due, now) → share of the span from start to due that has passed, in working time."""

WARNING_FRACTION = 0.8

# States in which the case waits on someone below the city who could be escalated past.
ESCALATABLE_STATES = frozenset(
    {
        CaseState.FILED,
        CaseState.DISPATCHED,
        CaseState.ACCEPTED,
        CaseState.RETURNED,
        CaseState.REOPENED,
    }
)

_RUNNING_HANDLE_CLOCK = frozenset({CaseState.DISPATCHED, CaseState.ACCEPTED, CaseState.REOPENED})


def next_level(level: OwningLevel) -> OwningLevel | None:
    """The level above `level`, or None at the city."""
    index = LADDER.index(level)
    return LADDER[index + 1] if index + 1 < len(LADDER) else None


def passed_dues(case: Case, now: datetime) -> list[datetime]:
    """The deadlines the case has missed in its current state."""
    dues = []
    if case.state is CaseState.DISPATCHED and case.accept_due is not None and now > case.accept_due:
        dues.append(case.accept_due)
    if (
        case.state in _RUNNING_HANDLE_CLOCK
        and case.handle_due is not None
        and now > case.handle_due
    ):
        dues.append(case.handle_due)
    return dues


def escalation_due(case: Case, now: datetime) -> EscalationReason | None:
    """Why the sweeper should escalate `case` now, or None; each cause fires once.

    Overdue fires once per missed deadline: an overdue escalation recorded after the latest missed
    deadline answers it, and a new deadline (extension, re-dispatch) can fire again. While an
    extension request waits for the centre, the handler is not escalated for the centre's delay.
    Returned-twice fires once per two returns.
    """
    if case.state not in ESCALATABLE_STATES or next_level(case.owning_level) is None:
        return None
    dues = passed_dues(case, now)
    if dues and case.pending_extension is None:
        latest = max(dues)
        if not any(
            e.grounds is EscalationReason.OVERDUE and e.at >= latest for e in case.escalations
        ):
            return EscalationReason.OVERDUE
    returns_answered = max(
        (e.return_count for e in case.escalations if e.grounds is EscalationReason.RETURNED_TWICE),
        default=0,
    )
    if case.return_count - returns_answered >= 2:
        return EscalationReason.RETURNED_TWICE
    return None


def warning_due(
    case: Case,
    now: datetime,
    start: datetime,
    due: datetime,
    elapsed_fraction: ElapsedFraction,
    threshold: float = WARNING_FRACTION,
) -> bool:
    """Whether to send the 80% warning (a `SuperviseCase` naming `due`) for this deadline now.

    True from `threshold` of the working span up to the deadline itself (past it, escalation takes
    over), and only if no supervision notice about this same `due` is recorded yet.
    """
    if not case.is_open or case.last_supervised_due == due:
        return False
    fraction = elapsed_fraction(start, due, now)
    return threshold <= fraction < 1.0
