"""The daily briefing (城市运行日报) of a scope: figures from the store, text from a template, and
optionally reworded by the configured language model.

Every number the text states must be one of the facts: a model's rewording that states any
other number (`untraceable_figures`) is refused and the template text kept, and so is one that
no longer names the scope or is under half the template's length, and one the service could not
give. The answer says which text it is (`rewritten_by`: "model" or null) and,
when a rewording was refused, why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from gridgov.ai.llm import untraceable_figures
from gridgov.ai.vision import ModelError
from gridgov.core.clock import Clock
from gridgov.core.errors import InvalidInput, NotFound
from gridgov.intake.channels import adapters
from gridgov.services.insights_scope import Scope, child_level, resolve_scope
from gridgov.store.cases import PATH_COLUMNS
from gridgov.store.insights import InsightsRepository, ScopeFilter
from gridgov.store.layers import LayerRepository
from gridgov.workflow.categories import Taxonomy
from gridgov.workflow.model import Actor

TOP = 3
EARLIEST_DAY = date(1970, 1, 1)
_LEVEL_ZH = {
    "city": "市",
    "district": "区县",
    "street": "街道",
    "community": "社区",
    "compound": "小区",
    "micro": "微网格",
}


class BriefingWriter(Protocol):
    """Rewords a draft; `gridgov.ai.llm.ChatCompletionsWriter` is one."""

    @property
    def label(self) -> str: ...

    def draft(self, prompt: str, facts: Mapping[str, Any]) -> str: ...


@dataclass(frozen=True, slots=True)
class BriefingOptions:
    time_zone: tzinfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))


class BriefingService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        *,
        taxonomy: Taxonomy,
        writer: BriefingWriter | None = None,
        options: BriefingOptions | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self.taxonomy = taxonomy
        self.writer = writer
        self.options = options or BriefingOptions()

    def today(self) -> date:
        """Today in the city's time zone."""
        return self._clock.now().astimezone(self.options.time_zone).date()

    def daily(self, scope_code: str | None, day: date, actor: Actor) -> dict[str, Any]:
        """The briefing of `day` (local) for the scope; a day after today is refused."""
        zone = self.options.time_zone
        now = self._clock.now()
        if day > now.astimezone(zone).date():
            raise InvalidInput("day", f"{day} 尚未到来 / {day} is in the future")
        if day < EARLIEST_DAY:
            # Year-one days cannot even be turned into UTC; no city kept cases before this one.
            raise InvalidInput(
                "day", f"不能早于 {EARLIEST_DAY} / must not be before {EARLIEST_DAY}"
            )
        scope = resolve_scope(self._sessions, scope_code, actor)
        facts = self.facts(scope, day, now, scope.cases_for(actor))
        template, template_en = render_zh(facts), render_en(facts)
        text, rewritten_by, note = template, None, None
        if self.writer is not None:
            text, rewritten_by, note = self._rewrite(template, facts)
        return {
            "day": day.isoformat(),
            "scope": scope.as_dict(),
            "text": text,
            "text_en": template_en,
            "template": template,
            "facts": facts,
            "rewritten_by": rewritten_by,
            "writer": None if self.writer is None else self.writer.label,
            "rewrite_refused": note,
        }

    def facts(
        self, scope: Scope, day: date, now: datetime, where: ScopeFilter | None = None
    ) -> dict[str, Any]:
        """The figures of the day, as plain JSON values; every number of the text is one of them."""
        zone = self.options.time_zone
        start = datetime.combine(day, time(0), zone)
        end = start + timedelta(days=1)
        where = where or ScopeFilter(scope.level.value, scope.code)
        below = child_level(scope.level)
        with self._sessions() as session:
            repo = InsightsRepository(session)
            channels = repo.reports_by_channel(where, start, end)
            actions = repo.actions(where, start, end)
            on_time = repo.handled_on_time(where, start, end)
            answers = repo.satisfaction(where, start, end)
            categories = repo.created_by(where, start, end, "category_code")[:TOP]
            areas = (
                repo.created_by(where, start, end, PATH_COLUMNS[below.value])[:TOP]
                if below is not None and below.value in PATH_COLUMNS
                else []
            )
            open_now, overdue_now = repo.backlog(where, now)
            area_names = _grid_names(session, scope.layer_id, [c for c, _ in areas])
        handled = actions.get("handle", 0)
        evaluated = sum(answers.values())
        content = answers.get("satisfied", 0) + answers.get("basically_satisfied", 0)
        names = _channel_names()
        return {
            "day": day.isoformat(),
            "scope": scope.as_dict(),
            "as_of": now.astimezone(zone).isoformat(timespec="minutes"),
            "reports": sum(channels.values()),
            "by_channel": [
                {"channel": c, "name": names.get(c, c), "count": n}
                for c, n in sorted(channels.items(), key=lambda item: (-item[1], item[0]))
            ],
            "cases_created": actions.get("report", 0),
            "filed": actions.get("file", 0),
            "rejected": actions.get("reject", 0),
            "merged": actions.get("merge", 0),
            "dispatched": actions.get("dispatch", 0),
            "returned": actions.get("return", 0),
            "handled": handled,
            "handled_on_time": on_time,
            "handled_on_time_pct": _percent(on_time, handled),
            "verify_failed": actions.get("verify_fail", 0),
            "closed": actions.get("close", 0),
            "supervised": actions.get("supervise", 0),
            "escalated": actions.get("escalate", 0),
            "reopened": actions.get("reopen", 0),
            "evaluated": evaluated,
            "satisfied": answers.get("satisfied", 0),
            "basically_satisfied": answers.get("basically_satisfied", 0),
            "dissatisfied": answers.get("dissatisfied", 0),
            "satisfaction_pct": _percent(content, evaluated),
            "top_categories": [
                {"code": c, "name": self._category_name(c), "count": n} for c, n in categories
            ],
            "area_level": None if below is None else below.value,
            "top_areas": [{"code": c, "name": area_names.get(c, c), "count": n} for c, n in areas],
            "open_now": open_now,
            "overdue_now": overdue_now,
        }

    def _category_name(self, code: str) -> str:
        category = self.taxonomy.get(code)
        return category.name_zh if category is not None else code

    def _rewrite(
        self, template: str, facts: Mapping[str, Any]
    ) -> tuple[str, str | None, str | None]:
        assert self.writer is not None
        try:
            text = self.writer.draft(template, facts)
        except ModelError as exc:
            return template, None, f"改写失败，已用模板 / the rewrite failed: {exc.reason}"
        scope_name = facts["scope"]["name"]
        if scope_name not in text or len(text) < len(template) // 2:
            # Figures alone do not make a briefing: an answer that lost the subject or most of
            # the content (a refusal, a stray JSON object) is not one.
            return (
                template,
                None,
                f"改写未提及{scope_name}或过短，已用模板 / the rewrite does not name {scope_name} "
                "or is under half the template's length; the template text is kept",
            )
        untraceable = untraceable_figures(text, facts, template)
        if untraceable:
            figures = ", ".join(untraceable)
            return (
                template,
                None,
                f"改写含数据中没有的数字（{figures}），已用模板 / the rewrite stated figures not "
                f"in the data ({figures}); the template text is kept",
            )
        return text, "model", None


def render_zh(facts: Mapping[str, Any]) -> str:
    """The template text in Chinese: one paragraph per topic, figures only from `facts`."""
    day = date.fromisoformat(facts["day"])
    scope = facts["scope"]
    lines = [f"{scope['name']}城市运行日报（{day.year}年{day.month}月{day.day}日）"]
    if facts["reports"]:
        channels = "、".join(f"{c['name']}{c['count']}件" for c in facts["by_channel"])
        lines.append(
            f"一、受理：当日接收上报{facts['reports']}件（{channels}），"
            f"新建工单{facts['cases_created']}件。"
        )
    else:
        lines.append(f"一、受理：当日无上报，新建工单{facts['cases_created']}件。")
    handling = (
        f"二、办理：立案{facts['filed']}件，不予立案{facts['rejected']}件，并单{facts['merged']}件；"
        f"派遣{facts['dispatched']}件，退单{facts['returned']}件；处置反馈{facts['handled']}件"
    )
    if facts["handled_on_time_pct"] is not None:
        handling += (
            f"，其中按时{facts['handled_on_time']}件，按时率{_pct(facts['handled_on_time_pct'])}%"
        )
    lines.append(handling + f"；核查不通过{facts['verify_failed']}件；结案{facts['closed']}件。")
    lines.append(
        f"三、督办：督办{facts['supervised']}件，上报上级{facts['escalated']}件，"
        f"重办{facts['reopened']}件。"
    )
    if facts["evaluated"]:
        lines.append(
            f"四、回访：回访{facts['evaluated']}件，满意{facts['satisfied']}件、基本满意"
            f"{facts['basically_satisfied']}件、不满意{facts['dissatisfied']}件，"
            f"满意率{_pct(facts['satisfaction_pct'])}%。"
        )
    else:
        lines.append("四、回访：当日无回访。")
    hot = []
    if facts["top_categories"]:
        hot.append(
            "新建工单最多的事件分类为"
            + "、".join(f"{c['name']}（{c['count']}件）" for c in facts["top_categories"])
        )
    if facts["top_areas"]:
        level = _LEVEL_ZH.get(facts["area_level"] or "", "网格")
        hot.append(
            f"最多的{level}为"
            + "、".join(f"{a['name']}（{a['count']}件）" for a in facts["top_areas"])
        )
    lines.append("五、热点：" + ("；".join(hot) if hot else "当日无新建工单") + "。")
    as_of = datetime.fromisoformat(facts["as_of"])
    lines.append(
        f"六、当前：截至{as_of.month}月{as_of.day}日{as_of:%H:%M}，在办工单{facts['open_now']}件，"
        f"其中超过处置时限{facts['overdue_now']}件。"
    )
    return "\n".join(lines)


def render_en(facts: Mapping[str, Any]) -> str:
    """The same briefing in English, from the same facts (never reworded by the model)."""
    scope = facts["scope"]
    lines = [f"Daily operations briefing, {scope['name']} ({scope['code']}), {facts['day']}"]
    channels = ", ".join(f"{c['channel']} {c['count']}" for c in facts["by_channel"]) or "none"
    lines.append(
        f"1. Intake: {facts['reports']} reports ({channels}); {facts['cases_created']} new cases."
    )
    on_time = (
        ""
        if facts["handled_on_time_pct"] is None
        else f", {facts['handled_on_time']} on time ({_pct(facts['handled_on_time_pct'])}%)"
    )
    lines.append(
        f"2. Handling: {facts['filed']} filed, {facts['rejected']} rejected, {facts['merged']} "
        f"merged; {facts['dispatched']} dispatched, {facts['returned']} returned; "
        f"{facts['handled']} handled{on_time}; {facts['verify_failed']} failed verification; "
        f"{facts['closed']} closed."
    )
    lines.append(
        f"3. Supervision: {facts['supervised']} supervised, {facts['escalated']} escalated, "
        f"{facts['reopened']} reopened."
    )
    if facts["evaluated"]:
        lines.append(
            f"4. Call-backs: {facts['evaluated']}, of which {facts['satisfied']} satisfied, "
            f"{facts['basically_satisfied']} basically satisfied, {facts['dissatisfied']} "
            f"dissatisfied ({_pct(facts['satisfaction_pct'])}% satisfied)."
        )
    else:
        lines.append("4. Call-backs: none.")
    top = ", ".join(f"{c['code']} {c['count']}" for c in facts["top_categories"]) or "none"
    areas = ", ".join(f"{a['code']} {a['count']}" for a in facts["top_areas"]) or "none"
    lines.append(f"5. Most new cases by category: {top}; by {facts['area_level']}: {areas}.")
    lines.append(
        f"6. Now ({facts['as_of']}): {facts['open_now']} open cases, {facts['overdue_now']} "
        "past their handling deadline."
    )
    return "\n".join(lines)


def _grid_names(session: Session, layer_id: int, codes: Sequence[str]) -> dict[str, str]:
    layers = LayerRepository(session)
    names = {}
    for code in codes:
        try:
            names[code] = layers.grid(layer_id, code).name
        except NotFound:
            continue
    return names


def _channel_names() -> dict[str, str]:
    return {a.name: a.label_zh for a in adapters()}


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _pct(value: float) -> str:
    """A percentage as the facts hold it, without a trailing .0 (95.0 → 95)."""
    return f"{value:g}"
