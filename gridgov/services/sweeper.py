"""What the sweeper does to one case at one moment, and when it should next look at it.

The rules themselves live in `gridgov.workflow.escalation`: escalate once per missed deadline and
once per two returns, warn once per deadline at 80 % of its working span. This module turns them
into commands and into `sweep_at`, the projection column the sweeper queries, so a sweep reads only
the cases that may need something instead of every open case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from gridgov.workflow.calendar import WorkingCalendar
from gridgov.workflow.escalation import (
    ESCALATABLE_STATES,
    WARNING_FRACTION,
    escalation_due,
    next_level,
    warning_due,
)
from gridgov.workflow.model import (
    Case,
    CaseState,
    EscalateCase,
    EscalationReason,
    SuperviseCase,
)

# A case scheduled for a look that then needed nothing is looked at again this much later, so
# that one sweep never spins on it (rounding can put a warning instant a microsecond early).
RETRY_AFTER = timedelta(minutes=1)

_HANDLE_CLOCK = frozenset({CaseState.DISPATCHED, CaseState.ACCEPTED, CaseState.REOPENED})


@dataclass(frozen=True)
class SweepResult:
    warned: int
    escalated: int
    examined: int


@dataclass(frozen=True, slots=True)
class SweepItem:
    """One thing a sweep would do (or did): warn or escalate a case, and why."""

    case_id: int
    command: EscalateCase | SuperviseCase

    @property
    def action(self) -> str:
        return "escalate" if isinstance(self.command, EscalateCase) else "warn"


def running_deadlines(case: Case) -> list[tuple[datetime, datetime]]:
    """(start, due) of each deadline whose clock runs in the case's current state, earliest first."""
    start = max((t for t in (case.dispatched_at, case.reopened_at) if t is not None), default=None)
    if start is None:
        return []
    spans = []
    if case.state is CaseState.DISPATCHED and case.accept_due is not None:
        spans.append((start, case.accept_due))
    if case.state in _HANDLE_CLOCK and case.handle_due is not None:
        spans.append((start, case.handle_due))
    return sorted(spans, key=lambda span: span[1])


def warning_at(calendar: WorkingCalendar, start: datetime, due: datetime) -> datetime:
    """The instant at which `WARNING_FRACTION` of the working span from start to due has passed."""
    span = calendar.working_between(start, due)
    return calendar.add_working(start, span * WARNING_FRACTION)


def sweep_command(
    case: Case, now: datetime, calendar: WorkingCalendar
) -> EscalateCase | SuperviseCase | None:
    """The one command the sweeper should give this case now, escalation first."""
    grounds = escalation_due(case, now)
    if grounds is not None:
        return EscalateCase(grounds=grounds, reason=_ESCALATION_REASONS[grounds])
    upcoming = [(s, d) for s, d in running_deadlines(case) if d > now]
    if upcoming:
        start, due = upcoming[0]
        if warning_due(case, now, start, due, calendar.elapsed_fraction):
            local = due.astimezone(calendar.time_zone)
            return SuperviseCase(
                due=due,
                reason=f"临近办理时限 {local:%Y-%m-%d %H:%M}，已用时限 80% / "
                f"80% of the time to {local:%Y-%m-%d %H:%M} has passed",
            )
    return None


def next_check(case: Case, now: datetime, calendar: WorkingCalendar) -> datetime | None:
    """When the sweeper should next look at `case`: the earliest warning or escalation to come."""
    return min(_moments(case, now, calendar), default=None)


def retry_check(case: Case, now: datetime, calendar: WorkingCalendar) -> datetime | None:
    """`next_check` for a case the sweeper just looked at and found nothing to do.

    Only the moments already passed are put off by `RETRY_AFTER`: a warning moment outside
    working hours passes without a warning, and must not hold back a deadline due sooner.
    """
    moments = [m if m > now else now + RETRY_AFTER for m in _moments(case, now, calendar)]
    return min(moments, default=None)


def _moments(case: Case, now: datetime, calendar: WorkingCalendar) -> list[datetime]:
    """The warnings and escalations to come for `case` (some may lie in the past)."""
    if not case.is_open:
        return []
    moments: list[datetime] = []
    escalatable = case.state in ESCALATABLE_STATES and next_level(case.owning_level) is not None
    if escalatable:
        if _unanswered_returns(case) >= 2:
            moments.append(now)
        if case.pending_extension is None:
            moments += [d for _, d in running_deadlines(case) if not _overdue_answered(case, d)]
    upcoming = [(s, d) for s, d in running_deadlines(case) if d > now]
    if upcoming:
        start, due = upcoming[0]
        if case.last_supervised_due != due:
            moments.append(warning_at(calendar, start, due))
    return moments


def _overdue_answered(case: Case, due: datetime) -> bool:
    return any(e.grounds is EscalationReason.OVERDUE and e.at >= due for e in case.escalations)


def _unanswered_returns(case: Case) -> int:
    answered = max(
        (e.return_count for e in case.escalations if e.grounds is EscalationReason.RETURNED_TWICE),
        default=0,
    )
    return case.return_count - answered


_ESCALATION_REASONS = {
    EscalationReason.OVERDUE: "超过办理时限，自动上报上级 / past its deadline: escalated",
    EscalationReason.RETURNED_TWICE: "两次退单，自动上报上级 / returned twice: escalated",
    EscalationReason.BEYOND_AUTHORITY: "超出本级职权 / beyond the level's authority",
}
