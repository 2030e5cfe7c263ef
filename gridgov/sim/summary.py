"""The rates of a simulated month, read back from the store, and the reality check beside them.

Every figure about cases comes from the cases as the service returns them after the run, not from
the simulation's own memory, so the summary says what the store holds. Only what a case does not
keep (extension requests and denials, each evaluation, each verification) is counted from the
actions the simulation saw succeed.

Rates, as the 数字城管 evaluation formulas define them (reference/mission-anchors.md §4.7):

    结案按期率 on-time closure   closed cases handled by their deadline / cases due (closed, or
                                 open with the deadline passed)
    退单率 return rate           returns / dispatches
    返工率 rework rate           failed verifications / verifications
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from gridgov.workflow.calendar import WorkingCalendar
from gridgov.workflow.model import Case, CaseState, EscalationReason, Satisfaction

# Reality-check figures from the shared data sets (their SOURCE.md files).
FJ4_REPLY_DAYS = {"p10": 1.9, "p50": 11.2, "p90": 41.0}
BALTIMORE_DAYS = {"p25": 0.33 / 24, "p50": 32.4 / 24, "p75": 167 / 24, "p90": 648 / 24}
BALTIMORE_ON_TIME = 0.836


@dataclass(frozen=True)
class Durations:
    """Reported → closed over closed cases: calendar days and working hours."""

    closed: int
    days: dict[str, float]
    working_hours: dict[str, float]


@dataclass(frozen=True)
class ChannelCounts:
    reports: int = 0
    filed: int = 0
    rejected: int = 0
    merged: int = 0
    closed: int = 0


@dataclass(frozen=True)
class Summary:
    start: str
    end: str
    days: int
    drain_days: int
    per_day: int
    seed: int
    seconds: float
    reports: int
    cases: int
    filed: int
    rejected: int
    merged: int
    manual_queue: int
    dispatches: int
    returns: int
    return_rate: float
    escalations: dict[str, int]
    warnings: int
    extension_requests: int
    extension_approvals: int
    extension_denials: int
    verifications: int
    verification_failures: int
    rework_rate: float
    reopened_after_evaluation: int
    closed: int
    open_at_end: int
    due: int
    closed_on_time: int
    on_time_rate: float
    evaluations: dict[str, int]
    satisfaction_shares: dict[str, float]
    time_to_close: Durations
    states: dict[str, int]
    channels: dict[str, ChannelCounts]
    refusals: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["reality_check"] = {
            "fj4_reply_days": FJ4_REPLY_DAYS,
            "baltimore_days": {k: round(v, 2) for k, v in BALTIMORE_DAYS.items()},
            "baltimore_on_time": BALTIMORE_ON_TIME,
        }
        return out


def summarise(
    cases: Iterable[tuple[Case, str]],
    counts: Mapping[str, int],
    refusals: Mapping[str, int],
    *,
    calendar: WorkingCalendar,
    start: datetime,
    end: datetime,
    days: int,
    drain_days: int,
    per_day: int,
    seed: int,
    seconds: float,
) -> Summary:
    """The summary of a run from its cases as stored (each with its channel) and its counters."""
    states: Counter[str] = Counter()
    channels: dict[str, Counter[str]] = {}
    escalations: Counter[str] = Counter()
    closed_days: list[float] = []
    closed_hours: list[float] = []
    total = filed = due = on_time = 0
    for case, channel in cases:
        total += 1
        states[case.state.value] += 1
        per_channel = channels.setdefault(channel, Counter())
        per_channel["reports"] += 1
        if case.filed_at is not None:
            filed += 1
            per_channel["filed"] += 1
        for escalation in case.escalations:
            escalations[escalation.grounds.value] += 1
        if case.state in (CaseState.REJECTED, CaseState.MERGED):
            per_channel[case.state.value] += 1
        closed = case.state in (CaseState.CLOSED, CaseState.EVALUATED)
        if closed and case.closed_at is not None:
            per_channel["closed"] += 1
            closed_days.append((case.closed_at - case.reported_at) / timedelta(days=1))
            worked = calendar.working_between(case.reported_at, case.closed_at)
            closed_hours.append(worked / timedelta(hours=1))
        if case.handle_due is None or case.state is CaseState.MERGED:
            continue
        if closed:
            due += 1
            if case.handled_at is not None and case.handled_at <= case.handle_due:
                on_time += 1
        elif case.is_open and case.handle_due < end:
            due += 1
    evaluations = {s.value: counts.get(f"evaluate:{s.value}", 0) for s in Satisfaction}
    evaluated = sum(evaluations.values())
    verifications = counts.get("verify_pass", 0) + counts.get("verify_fail", 0)
    dispatches = counts.get("dispatch", 0)
    return Summary(
        start=start.isoformat(),
        end=end.isoformat(),
        days=days,
        drain_days=drain_days,
        per_day=per_day,
        seed=seed,
        seconds=round(seconds, 1),
        reports=counts.get("report", 0),
        cases=total,
        filed=filed,
        rejected=states[CaseState.REJECTED.value],
        merged=states[CaseState.MERGED.value],
        manual_queue=counts.get("manual_queue", 0),
        dispatches=dispatches,
        returns=counts.get("return", 0),
        return_rate=_rate(counts.get("return", 0), dispatches),
        escalations={g.value: escalations[g.value] for g in EscalationReason},
        warnings=counts.get("sweep_warned", 0),
        extension_requests=counts.get("request_extension", 0),
        extension_approvals=counts.get("approve_extension", 0),
        extension_denials=counts.get("deny_extension", 0),
        verifications=verifications,
        verification_failures=counts.get("verify_fail", 0),
        rework_rate=_rate(counts.get("verify_fail", 0), verifications),
        reopened_after_evaluation=counts.get("reopen", 0),
        closed=states[CaseState.CLOSED.value] + states[CaseState.EVALUATED.value],
        open_at_end=sum(n for s, n in states.items() if CaseState(s) not in _ENDED),
        due=due,
        closed_on_time=on_time,
        on_time_rate=_rate(on_time, due),
        evaluations=evaluations,
        satisfaction_shares={k: _rate(v, evaluated) for k, v in evaluations.items()},
        time_to_close=Durations(
            len(closed_days),
            _percentiles(closed_days, 2),
            _percentiles(closed_hours, 1),
        ),
        states=dict(sorted(states.items())),
        channels={
            name: ChannelCounts(**{k: c[k] for k in ChannelCounts.__dataclass_fields__})
            for name, c in sorted(channels.items())
        },
        refusals=dict(refusals),
    )


_ENDED = frozenset({CaseState.REJECTED, CaseState.CLOSED, CaseState.EVALUATED, CaseState.MERGED})


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _percentiles(values: list[float], digits: int) -> dict[str, float]:
    if not values:
        return {}
    marks = np.percentile(np.asarray(values), [10, 25, 50, 75, 90])
    return {
        f"p{q}": round(float(v), digits) for q, v in zip((10, 25, 50, 75, 90), marks, strict=True)
    }


def render(summary: Summary) -> str:
    """The summary as the CLI prints it: Chinese label first, English second."""
    s = summary
    pct = "{:.1%}".format
    t = s.time_to_close
    head = (
        f"模拟时段 / period: {s.start[:10]} → {s.end[:10]} ({s.days} 天 days"
        + (f" + {s.drain_days} 天收尾 drain days" if s.drain_days else "")
        + f"), 每工作日约 {s.per_day:,} 件 / reports per workday, seed {s.seed}, "
        f"用时 {s.seconds:.0f} s"
    )
    rows = [
        ("上报 reports", f"{s.reports:,}"),
        ("工单 cases", f"{s.cases:,}"),
        ("立案 filed", f"{s.filed:,}"),
        ("不予立案 rejected", f"{s.rejected:,} ({pct(_rate(s.rejected, s.cases))})"),
        ("并单 merged", f"{s.merged:,} ({pct(_rate(s.merged, s.cases))})"),
        ("人工派单 manual dispatch queue", f"{s.manual_queue:,}"),
        ("派遣 dispatches", f"{s.dispatches:,}"),
        ("退单 returns", f"{s.returns:,} (退单率 return rate {pct(s.return_rate)})"),
        (
            "上报上级 escalations",
            ", ".join(
                f"{EscalationReason(k).label_zh} {k} {v:,}" for k, v in s.escalations.items()
            ),
        ),
        ("督办预警 warnings at 80%", f"{s.warnings:,}"),
        (
            "延期 extensions",
            f"申请 requested {s.extension_requests:,}, 批准 approved "
            f"{s.extension_approvals:,}, 驳回 denied {s.extension_denials:,}",
        ),
        (
            "核查 verifications",
            f"{s.verifications:,}, 不通过 failed {s.verification_failures:,} "
            f"(返工率 rework rate {pct(s.rework_rate)})",
        ),
        ("回访不满意重办 reopened", f"{s.reopened_after_evaluation:,}"),
        ("结案 closed", f"{s.closed:,}; 在办 open at end {s.open_at_end:,}"),
        (
            "结案按期率 on-time closure",
            f"{pct(s.on_time_rate)} ({s.closed_on_time:,} / {s.due:,} due)",
        ),
        (
            "满意度 satisfaction",
            ", ".join(
                f"{Satisfaction(k).label_zh} {k} {pct(v)}" for k, v in s.satisfaction_shares.items()
            )
            + f" (回访 {sum(s.evaluations.values()):,} evaluations)",
        ),
    ]
    if t.closed:
        rows += [
            (
                f"结案用时 time to close, {t.closed:,} closed",
                "自然日 days " + " ".join(f"{k} {v:g}" for k, v in t.days.items()),
            ),
            (
                "",
                "工作时 working hours "
                + " ".join(f"{k} {v:g}" for k, v in t.working_hours.items()),
            ),
            (
                "对照 reality check, days",
                "fj4 12345 留言答复 reply latency " + _marks(FJ4_REPLY_DAYS),
            ),
            ("", f"Baltimore 311 {_marks(BALTIMORE_DAYS)}, on time {pct(BALTIMORE_ON_TIME)}"),
        ]
    lines = [head, *(f"{_pad(label, 34)}{value}" for label, value in rows)]
    header = ("上报 reports", "立案 filed", "不予立案 rej.", "并单 merged", "结案 closed")
    lines.append((_pad("渠道 channel", 20) + "".join(_pad(h, 14) for h in header)).rstrip())
    for name, c in s.channels.items():
        cells = (c.reports, c.filed, c.rejected, c.merged, c.closed)
        lines.append((_pad(f"  {name}", 20) + "".join(_pad(f"{n:,}", 14) for n in cells)).rstrip())
    if s.refusals:
        lines.append(f"被拒绝的操作 refused actions: {sum(s.refusals.values()):,}")
        worst = sorted(s.refusals.items(), key=lambda item: -item[1])[:10]
        lines += [f"  {n:,} × {what}" for what, n in worst]
    return "\n".join(lines)


def _marks(values: Mapping[str, float]) -> str:
    return " ".join(f"{k} {v:.2f}" for k, v in values.items())


def _pad(text: str, width: int) -> str:
    """Left-justify for a terminal, where a Chinese character takes two columns."""
    used = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(width - used, 1)
