"""What the AI proposes for one case (智能辅助): categories, a description, the department, the
photo's hazard, and the check of the handling evidence (智能核查). A person decides every one.

    categories    intake's top 3 from the report's intake record, else the configured classifier
    description   the configured image analyzer's (chat-completions or ONNX) when it gave one,
                  else a template from the masked text and the photo's EXIF facts
    department    the responsibility list's where it decides (source "rule"); where it leaves the
                  case to the manual queue, smart dispatch's first proposal (source "learned")
    verification  once handled: the before photo (the report's, else the first evidence photo)
                  against the last evidence photo, by EXIF place and time and by scene

Image analysis takes seconds with a model service, so it runs when suggestions are first asked
for, not on intake's write path, and is kept in the report's intake record.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from gridgov.ai.classifier import TextClassifier
from gridgov.ai.verification import distance_m, verify_handling
from gridgov.ai.vision import (
    Analysis,
    AnalysisSource,
    CategoryChoice,
    HazardLevel,
    ImageAnalyzer,
    ModelError,
    PhotoFacts,
)
from gridgov.core.errors import InvalidInput, NotFound
from gridgov.intake.channels import adapters
from gridgov.intake.privacy import mask
from gridgov.services.briefing import BriefingService
from gridgov.services.cases import CaseService, OutOfScope, owning_level
from gridgov.services.dispatch_learning import DispatchLearning
from gridgov.services.insights_warnings import EarlyWarningService
from gridgov.services.intake_decisions import auto_file_confidence
from gridgov.store.files import FileStore
from gridgov.store.insights import InsightsRepository, ReportFacts
from gridgov.workflow.events import CaseEvent
from gridgov.workflow.model import Action, Actor, Case, Role
from gridgov.workflow.routing import Assignee, ManualDispatch

_FILE_ID = re.compile(r"(?:file:)?([0-9a-f]{64})")
_SNIPPET_CHARS = 120


@dataclass(frozen=True, slots=True)
class Insights:
    """The AI insight services the front doors call, built together by bootstrap."""

    suggestions: SuggestionService
    early_warning: EarlyWarningService
    briefing: BriefingService
    dispatch: DispatchLearning


@dataclass(frozen=True, slots=True)
class InsightsOptions:
    # None: the classifier's own calibrated threshold, as intake decides (`auto_file_confidence`).
    auto_file_min_confidence: float | None = None
    time_zone: tzinfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))


class SuggestionService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        cases: CaseService,
        *,
        classifier: TextClassifier,
        analyzer: ImageAnalyzer,
        files: FileStore,
        dispatch: DispatchLearning,
        options: InsightsOptions | None = None,
    ) -> None:
        self._sessions = sessions
        self._cases = cases
        self._classifier = classifier
        self.analyzer = analyzer
        self._files = files
        self.dispatch = dispatch
        self.options = options or InsightsOptions()
        self._choices = tuple(
            CategoryChoice(c.code, c.name_zh)
            for c in cases.taxonomy
            if cases.taxonomy.is_leaf(c.code)
        )

    def suggestions(self, case_id: int, actor: Actor) -> dict[str, Any]:
        """Everything proposed for a case the actor may see; NotFound for one outside the scope."""
        try:
            case = self._cases.case(case_id, actor)
            events = self._cases.events(case_id, actor)
        except OutOfScope:
            # Worded as the store words a missing case: the answer must not reveal it exists.
            raise NotFound("case 工单", case_id) from None
        with self._sessions() as session:
            reports = InsightsRepository(session).case_reports(case_id)
        warnings: list[str] = []
        first = reports[0] if reports else None
        text = _masked(first)
        categories = self._categories(first, text)
        analysis, photo_id = self._photo(reports, text, warnings)
        department, learned, manual = self._department(case, events, categories, text)
        return {
            "case_id": case_id,
            "categories": categories,
            "auto_filed": _auto_filed(events),
            "auto_file_proposed": first is not None
            and bool(categories)
            and categories[0]["confidence"] >= self._auto_file_confidence(first),
            "description": self._description(first, text, case, analysis),
            "description_source": (
                analysis.source.value
                if analysis is not None and analysis.description_zh
                else "template"
            ),
            "department": department,
            "learned_departments": learned,
            "manual_centre": manual,
            "hazard": None
            if analysis is None or analysis.hazard_level is None
            else analysis.hazard_level.value,
            "photo": _photo_view(photo_id, analysis),
            "verification": self._verification(case, events, reports, warnings),
            "warnings": warnings,
        }

    # Categories

    def _auto_file_confidence(self, report: ReportFacts) -> float:
        """The confidence intake required, or would require now, to file this report unaided."""
        if "auto_file_at" in report.intake:
            calibrated = report.intake["auto_file_at"]
        else:  # stored before intake recorded it: ask the classifier
            calibrated = self._classifier.auto_file_threshold(report.channel)
        return auto_file_confidence(self.options.auto_file_min_confidence, calibrated)

    def _categories(self, report: ReportFacts | None, text: str) -> list[dict[str, Any]]:
        if report is None:
            return []
        stored = report.intake.get("suggestions") or []
        pairs = [(s.get("code"), s.get("confidence")) for s in stored if isinstance(s, dict)]
        if not pairs:
            hint = report.category_code if report.category_code in self._cases.taxonomy else None
            found = self._classifier.suggest(text, channel=report.channel, hint=hint, k=3)
            pairs = [(s.category_code, s.confidence) for s in found]
        out = []
        for code, confidence in pairs[:3]:
            category = self._cases.taxonomy.get(str(code)) if code else None
            if category is None:
                continue
            out.append(
                {
                    "code": category.code,
                    "name": category.name_zh,
                    "confidence": round(float(confidence or 0.0), 3),
                }
            )
        return out

    # The photo

    def _photo(
        self, reports: Sequence[ReportFacts], text: str, warnings: list[str]
    ) -> tuple[Analysis | None, str | None]:
        for report in reports:
            for ref in report.intake.get("photos") or []:
                if isinstance(ref, dict) and ref.get("source") == "file" and ref.get("original"):
                    file_id = str(ref["original"])
                    return self._analysis(report, file_id, text, warnings), file_id
        return None, None

    def _analysis(
        self, report: ReportFacts, file_id: str, text: str, warnings: list[str]
    ) -> Analysis | None:
        cached = report.intake.get("photo_analysis")
        name = self.analyzer.name
        if isinstance(cached, dict) and cached.get("file") == file_id and cached.get("by") == name:
            return _analysis_from(cached)
        try:
            data = self._files.get(file_id)
            analysis = self.analyzer.analyze(data, text=text, categories=self._choices)
        except NotFound:
            warnings.append(f"照片文件缺失 / the photo file {file_id} is missing")
            return None
        except InvalidInput as exc:
            warnings.append(f"照片无法读取 / the photo cannot be read: {exc.problem}")
            return None
        except ModelError as exc:
            warnings.append(f"图像分析失败 / image analysis failed: {exc.reason}")
            return None
        warnings.extend(analysis.warnings)
        if analysis.source is not AnalysisSource.EXIF:
            with self._sessions.begin() as session:
                InsightsRepository(session).put_photo_analysis(
                    report.id, _analysis_record(analysis, file_id, name)
                )
        return analysis

    def _description(
        self, report: ReportFacts | None, text: str, case: Case, analysis: Analysis | None
    ) -> str:
        if analysis is not None and analysis.description_zh:
            return analysis.description_zh
        if report is None:
            return ""
        channel = _channel_names().get(report.channel, report.channel)
        snippet = " ".join(text.split())
        if len(snippet) > _SNIPPET_CHARS:
            snippet = snippet[:_SNIPPET_CHARS] + "…"
        snippet = snippet.rstrip("。.！!；;，, ")
        parts = [f"【{channel}】{snippet}"]
        category = self._cases.taxonomy.get(case.category_code) if case.category_code else None
        if category is not None:
            parts.append(f"事件分类：{category.name_zh}")
        if analysis is not None:
            parts.extend(_photo_sentences(analysis.facts, report, self.options.time_zone))
        return "；".join(parts) + "。"

    # The department

    def _department(
        self,
        case: Case,
        events: Sequence[CaseEvent],
        categories: Sequence[Mapping[str, Any]],
        text: str,
    ) -> tuple[dict[str, Any] | None, list[dict[str, Any]], dict[str, Any] | None]:
        taxonomy = self._cases.taxonomy
        code = case.category_code or next(
            (c["code"] for c in categories if taxonomy.is_leaf(c["code"])), None
        )
        if code is None or not taxonomy.is_leaf(code):
            return None, [], None
        returned = {
            str(e.payload.get("department"))
            for e in events
            if e.action is Action.RETURN and e.payload.get("department")
        }
        path = dict(case.grid_codes)
        learned = [
            {
                "code": p.department,
                "name": self.dispatch.department_name(p.department),
                "confidence": p.confidence,
                "explanation": f"{p.explanation_zh} / {p.explanation_en}",
            }
            for p in self.dispatch.propose(text, code, path, exclude=returned)
        ]
        probe = replace(case, category_code=code, owning_level=owning_level(taxonomy.get(code)))
        try:
            decision = self._cases.route(probe)
        except InvalidInput:
            decision = None
        if isinstance(decision, Assignee):
            rule = {
                "code": decision.department.code,
                "name": decision.department.name_zh,
                "confidence": 1.0,
                "source": "rule",
                "explanation": f"{decision.explanation_zh} / {decision.explanation_en}",
            }
            return rule, learned, None
        manual = None
        if isinstance(decision, ManualDispatch):
            manual = {
                "code": decision.centre_code,
                "level": decision.centre_level.value,
                "reason": f"{decision.reason_zh} / {decision.reason_en}",
            }
        if not learned:
            return None, learned, manual
        best = learned[0]
        return {**best, "source": "learned"}, learned, manual

    # Verification of the handling evidence

    def _verification(
        self,
        case: Case,
        events: Sequence[CaseEvent],
        reports: Sequence[ReportFacts],
        warnings: list[str],
    ) -> dict[str, Any] | None:
        handled = [e for e in events if e.action is Action.HANDLE]
        if not handled or case.dispatched_at is None:
            return None
        items = handled[-1].payload.get("evidence")
        evidence = [
            match.group(1)
            for item in (items if isinstance(items, list) else [])
            if (match := _FILE_ID.fullmatch(str(item))) and self._files.exists(match.group(1))
        ]
        before = next(
            (
                str(ref["original"])
                for report in reports
                for ref in report.intake.get("photos") or []
                if isinstance(ref, dict) and ref.get("original")
            ),
            None,
        )
        if before is None and len(evidence) >= 2:
            before = evidence[0]
        if before is None or not evidence:
            return None
        after = evidence[-1]
        projection = self._cases.projection(int(case.id))
        if projection.get("lon") is None or projection.get("lat") is None:
            return None
        try:
            check = verify_handling(
                self._files.get(before),
                self._files.get(after),
                case_lon=float(projection["lon"]),
                case_lat=float(projection["lat"]),
                dispatched_at=case.dispatched_at,
                handled_at=handled[-1].at,
                local_tz=self.options.time_zone,
            )
        except (InvalidInput, NotFound) as exc:
            warnings.append(f"核查照片无法读取 / the evidence photos cannot be checked: {exc}")
            return None
        facts = check.facts
        return {
            "ok": check.ok,
            "flags": [
                {"code": f.code, "severity": f.severity.value, "zh": f.zh, "en": f.en}
                for f in check.flags
            ],
            "before_photo": before,
            "after_photo": after,
            "photos_apart_m": _metres(facts.photos_apart_m),
            "before_from_case_m": _metres(facts.before_from_case_m),
            "after_from_case_m": _metres(facts.after_from_case_m),
            "scene_similarity": facts.scene_similarity,
        }


def _masked(report: ReportFacts | None) -> str:
    if report is None:
        return ""
    return report.text_masked if report.text_masked is not None else mask(report.text).text_masked


def _auto_filed(events: Sequence[CaseEvent]) -> bool:
    """Whether the case was filed without a person: by intake (trusted channels) or the system."""
    return any(
        e.action is Action.FILE and (e.actor_id.startswith("intake:") or e.role is Role.SYSTEM)
        for e in events
    )


def _channel_names() -> dict[str, str]:
    return {a.name: a.label_zh for a in adapters()}


def _photo_sentences(facts: PhotoFacts, report: ReportFacts, zone: tzinfo) -> list[str]:
    out = []
    if facts.taken_at is not None:
        taken = facts.taken_at if facts.taken_at.tzinfo is None else facts.taken_at.astimezone(zone)
        out.append(f"照片拍摄于 {taken:%Y-%m-%d %H:%M}")
    if facts.gps is not None and report.lon is not None and report.lat is not None:
        distance = distance_m(facts.gps, (report.lon, report.lat))
        if distance is not None:
            out.append(f"拍摄位置距上报位置约 {distance:.0f} 米")
    elif facts.gps is None:
        out.append("照片无定位信息")
    return out


def _photo_view(file_id: str | None, analysis: Analysis | None) -> dict[str, Any] | None:
    if file_id is None:
        return None
    facts = analysis.facts if analysis is not None else None
    return {
        "file": file_id,
        "analyzed_by": None if analysis is None else analysis.source.value,
        "category_code": None if analysis is None else analysis.category_code,
        "category_confidence": None if analysis is None else analysis.category_confidence,
        "taken_at": None if facts is None or facts.taken_at is None else facts.taken_at.isoformat(),
        "gps": None if facts is None or facts.gps is None else list(facts.gps),
    }


def _analysis_record(analysis: Analysis, file_id: str, by: str) -> dict[str, Any]:
    facts = analysis.facts
    return {
        "file": file_id,
        "by": by,
        "source": analysis.source.value,
        "description": analysis.description_zh,
        "category_code": analysis.category_code,
        "category_confidence": analysis.category_confidence,
        "hazard_level": None if analysis.hazard_level is None else analysis.hazard_level.value,
        "width": facts.width,
        "height": facts.height,
        "taken_at": None if facts.taken_at is None else facts.taken_at.isoformat(),
        "gps": None if facts.gps is None else list(facts.gps),
        "warnings": list(analysis.warnings),
    }


def _analysis_from(record: Mapping[str, Any]) -> Analysis:
    taken = record.get("taken_at")
    gps = record.get("gps")
    hazard = record.get("hazard_level")
    return Analysis(
        description_zh=str(record.get("description") or ""),
        category_code=record.get("category_code"),
        category_confidence=record.get("category_confidence"),
        hazard_level=HazardLevel(hazard) if hazard else None,
        source=AnalysisSource(record.get("source", "exif")),
        facts=PhotoFacts(
            int(record.get("width") or 0),
            int(record.get("height") or 0),
            datetime.fromisoformat(taken) if taken else None,
            (float(gps[0]), float(gps[1])) if gps else None,
        ),
        warnings=tuple(record.get("warnings") or ()),
    )


def _metres(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
