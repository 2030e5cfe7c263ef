"""How the simulated people behave: their chances, the shapes of their durations, their words.

The defaults are calibrated against the shared real data (docs/simulation.md, "Simulated month").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Behaviour:
    """Chances and duration shapes of the simulated people; the defaults are the calibrated ones.

    A duration is a share of the working time allowed, drawn from a log-normal (median, sigma): a
    share above 1 is late. The defaults put ~9 % of acceptances and ~12 % of handlings past their
    limit before extensions; over a simulated October that gives ~92 % on-time closure, a ~6 %
    return rate and ~6 % rework (docs/simulation.md has the measured month).
    """

    reject: Mapping[str, float] = field(
        default_factory=lambda: {
            "hotline_12345": 0.08,
            "police_110": 0.06,
            "citizen_app": 0.07,
            "heating": 0.03,
            "iot_sensor": 0.05,
        }
    )
    reject_other: float = 0.02
    intake_minutes: tuple[float, float] = (8.0, 0.8)  # the centre works 7×24
    manual_dispatch_minutes: tuple[float, float] = (45.0, 0.7)
    redispatch_minutes: tuple[float, float] = (40.0, 0.7)
    accept_share: tuple[float, float] = (0.25, 1.0)
    return_first: float = 0.06
    return_again: float = 0.02
    handle_share: tuple[float, float] = (0.4, 0.85)
    extension_ask: float = 0.55  # of handlers who will run late, on limits of a working day or more
    extension_approve: float = 0.7
    extension_answer_hours: tuple[float, float] = (2.0, 0.6)
    verify_hours: tuple[float, float] = (1.5, 0.8)
    verify_fail_first: float = 0.06
    verify_fail_again: float = 0.02
    rework_share: tuple[float, float] = (0.45, 0.7)
    close_minutes: tuple[float, float] = (40.0, 0.8)
    callback_reached: float = 0.85
    satisfaction_on_time: tuple[float, float, float] = (0.84, 0.11, 0.05)
    satisfaction_late: tuple[float, float, float] = (0.60, 0.22, 0.18)
    reopen_dissatisfied: float = 0.5


REJECT_REASONS = (
    "诉求不属于本市管辖范围，已告知诉求人 / outside the city's jurisdiction",
    "诉求内容不明确且无法联系诉求人 / unclear and the reporter cannot be reached",
    "属咨询类诉求，已当场答复 / a question, answered on the call",
    "属110紧急警情，已转110处理 / an emergency, passed to 110",
    "经核实问题不存在 / checked on site: no such problem",
)
RETURN_REASONS = (
    "属地不符：事发地不在本单位辖区 / not our territory",
    "职能不符：不属本单位职责 / not our function",
    "权属不清，需中心协调 / ownership unclear",
)
EXTENSION_REASONS = (
    "需协调多个部门联合处置 / several departments must act together",
    "涉及维修采购，需走程序 / repairs need procurement",
    "当事人暂时联系不上 / the party cannot be reached yet",
)
DENY_REASONS = ("延期理由不充分，请按时办结 / not sufficient: finish on time",)
VERIFY_FAIL_REASONS = (
    "现场复查问题仍然存在 / the problem is still there",
    "处置不彻底，需返工 / only partly fixed",
)
REOPEN_REASONS = ("回访不满意，问题未解决，重新办理 / dissatisfied: not solved",)
HANDLE_NOTES = ("已到现场处置完毕", "已联系诉求人并答复", "已维修恢复", "已清理干净")
