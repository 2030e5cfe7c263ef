"""The dashboard indicators: what each rate counts, in both languages, and how it is computed.

Every rate is a count of cases over a count of cases of the same cohort (the cases created in the
period, in the scope, as they stand now); a rate with nothing to count is None, never 0 or 1.
docs/analytics.md is the long version of this table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# Channels through which the public reports (公众举报): a case first reported through one of these
# is a problem the grid's own patrols and sensors did not find first. The others — grid patrols,
# 数字城管 supervisors, 文明创建 inspectors and IoT sensors — are the city's own discovery.
PUBLIC_CHANNELS: tuple[str, ...] = ("hotline_12345", "police_110", "heating", "citizen_app")

OPEN_STATES: tuple[str, ...] = (
    "reported",
    "filed",
    "dispatched",
    "accepted",
    "returned",
    "handled",
    "verified",
    "reopened",
)
DONE_STATES: tuple[str, ...] = ("closed", "evaluated")
# Once handled, a case stays in one of these unless it is reworked and dispatched again (and a
# reworked case counts as handled anyway), so "was it ever handled" needs no event lookup.
HANDLED_STATES: tuple[str, ...] = ("handled", "verified", "reopened", "closed", "evaluated")
SATISFIED: tuple[str, ...] = ("satisfied", "basically_satisfied")
REWORK_ACTIONS: tuple[str, ...] = ("verify_fail", "reopen")


@dataclass(frozen=True, slots=True)
class Indicator:
    key: str
    name_zh: str
    name_en: str
    formula_zh: str
    formula_en: str

    @property
    def formula(self) -> str:
        return f"{self.name_zh} = {self.formula_zh} / {self.name_en} = {self.formula_en}"


INDICATORS: Mapping[str, Indicator] = {
    i.key: i
    for i in (
        Indicator(
            "close_rate",
            "结案率",
            "close rate",
            "结案数 / 应结案数（已结案或处置时限已过的立案工单）",
            "closed / due to close (filed cases closed or past their handling deadline)",
        ),
        Indicator(
            "on_time_close_rate",
            "按期结案率",
            "on-time close rate",
            "处置时限内结案数 / 应结案数",
            "closed by the handling deadline / due to close",
        ),
        Indicator(
            "satisfaction_rate",
            "满意率",
            "satisfaction rate",
            "满意及基本满意数 / 已回访数",
            "satisfied or basically satisfied / evaluated",
        ),
        Indicator(
            "return_rate",
            "退单率",
            "return rate",
            "有退单的工单数 / 已派遣工单数",
            "cases returned at least once / cases dispatched",
        ),
        Indicator(
            "rework_rate",
            "返工率",
            "rework rate",
            "返工（核查不通过或重办）的工单数 / 已处置反馈的工单数",
            "cases reworked (failed verification or reopened) / cases handled",
        ),
        Indicator(
            "supervision_rate",
            "监督举报率",
            "supervision rate",
            "公众举报（12345、110、供暖、市民App）立案数 / 立案数",
            "filed cases first reported by the public (12345, 110, heating, residents' app) / "
            "filed cases",
        ),
        Indicator(
            "on_time_handle_rate",
            "按期处置率",
            "on-time handling rate",
            "处置时限内处置反馈数 / 应处置数（已处置或处置时限已过的派遣工单）",
            "handled by the deadline / due to handle (dispatched cases handled or past deadline)",
        ),
    )
}


def rate(numerator: int, denominator: int) -> float | None:
    """numerator / denominator, or None when there is nothing to count."""
    if denominator < 0 or numerator < 0 or numerator > denominator:
        raise ValueError(f"a rate needs 0 <= {numerator} <= {denominator}")
    return None if denominator == 0 else numerator / denominator


@dataclass(frozen=True, slots=True)
class CohortFigures:
    """Counts over one cohort of cases (created in a period, in a scope, optionally one group)."""

    created: int = 0
    filed: int = 0
    due: int = 0
    closed: int = 0
    closed_on_time: int = 0
    public_filed: int = 0
    dispatched: int = 0
    returned: int = 0
    handled: int = 0
    reworked: int = 0
    evaluated: int = 0
    satisfied: int = 0
    handle_due: int = 0
    handled_on_time: int = 0

    @property
    def close_rate(self) -> float | None:
        return rate(self.closed, self.due)

    @property
    def on_time_close_rate(self) -> float | None:
        return rate(self.closed_on_time, self.due)

    @property
    def satisfaction_rate(self) -> float | None:
        return rate(self.satisfied, self.evaluated)

    @property
    def return_rate(self) -> float | None:
        return rate(self.returned, self.dispatched)

    @property
    def rework_rate(self) -> float | None:
        return rate(self.reworked, self.handled)

    @property
    def supervision_rate(self) -> float | None:
        return rate(self.public_filed, self.filed)

    @property
    def on_time_handle_rate(self) -> float | None:
        return rate(self.handled_on_time, self.handle_due)
