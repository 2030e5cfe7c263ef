"""What intake decides about one report before storing it: category, route, duplicate signature,
whether a trusted channel files it at once, and the record of all that kept on the report.

These run outside the batch's transaction (`intake_batch` stores what they decided), so the
database is held only for the writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from gridgov.ai.classifier import TextClassifier
from gridgov.ai.duplicates import DuplicateDecision, ReportSignature
from gridgov.core.errors import InvalidInput
from gridgov.core.geo import Crs
from gridgov.intake.model import IntakeReport
from gridgov.intake.privacy import mask
from gridgov.services.cases import CaseService, grid_path, owning_level, routing_level
from gridgov.services.intake_locate import LOCATED_BY_MANUAL, Placement
from gridgov.services.intake_photos import CheckedPhoto, without_inline_photos
from gridgov.store.intake import AWAITING_MANUAL, LOCATED
from gridgov.workflow.model import Actor, Role
from gridgov.workflow.routing import Assignee, SpecialGridRef

DEFAULT_TRUSTED = frozenset({"city_management", "grid_patrol", "iot_sensor"})
# How sure a classifier without a calibrated threshold (the keyword list) must be to auto-file.
UNCALIBRATED_AUTO_FILE = 0.8


@dataclass(frozen=True, slots=True)
class IntakeOptions:
    trusted_channels: frozenset[str] = DEFAULT_TRUSTED
    address_min_confidence: float = 0.6
    # None: the classifier's own calibrated threshold, else UNCALIBRATED_AUTO_FILE.
    auto_file_min_confidence: float | None = None
    photo_max_bytes: int = 10 * 1024 * 1024
    batch_size: int = 500


@dataclass(slots=True)
class ReportInProgress:
    """One new report on its way through the stages."""

    report: IntakeReport
    photos: list[CheckedPhoto]
    placement: Placement = field(default_factory=lambda: Placement(LOCATED_BY_MANUAL))
    category_code: str | None = None
    category_confidence: float | None = None
    category_source: str | None = None
    # The classifier's calibrated auto-filing confidence for this report's channel, if it has one.
    auto_file_at: float | None = None
    suggestions: list[dict[str, Any]] = field(default_factory=list)
    signature: ReportSignature | None = None
    decision: DuplicateDecision | None = None
    routing: dict[str, Any] | None = None
    department: str | None = None
    photo_refs: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    case_id: int | None = None
    duplicate_of: int | None = None
    _path: tuple[Placement, dict[str, str]] | None = field(default=None, repr=False)

    @property
    def located(self) -> bool:
        return self.placement.location is not None

    def grid_codes(self) -> dict[str, str] | None:
        """The grid path of the placement (None while unlocated); worked out once, as both the
        case's first event and the report's record name it."""
        location = self.placement.location
        if location is None:
            return None
        if self._path is None or self._path[0] is not self.placement:
            self._path = (self.placement, grid_path(location))
        return self._path[1]


@lru_cache(maxsize=64)
def intake_actor(channel: str) -> Actor:
    """Who reports, merges and files for a channel in the audit trail: the intake itself."""
    return Actor(f"intake:{channel}", Role.INTAKE_OPERATOR, f"自动受理 / intake ({channel})")


def classify(item: ReportInProgress, classifier: TextClassifier, cases: CaseService) -> None:
    """The channel's own leaf category if it sent one, else the classifier's best suggestion."""
    report = item.report
    taxonomy = cases.taxonomy
    code = report.category_code if report.category_code in taxonomy else None
    suggestions = classifier.suggest(report.text, channel=report.channel, hint=code)
    item.suggestions = [
        {"code": s.category_code, "confidence": s.confidence, "explanation": s.explanation}
        for s in suggestions
    ]
    if code is not None and taxonomy.is_leaf(code):
        item.category_code, item.category_confidence, item.category_source = code, 1.0, "channel"
    elif suggestions:
        best = suggestions[0]
        item.category_code = best.category_code
        item.category_confidence = best.confidence
        item.category_source = "classifier"
        item.auto_file_at = classifier.auto_file_threshold(report.channel)
    elif code is not None:
        item.category_code, item.category_source = code, "channel"


def route(item: ReportInProgress, cases: CaseService) -> None:
    """Who the responsibility list sends a located, classified report to (a proposal)."""
    location = item.placement.location
    code = item.category_code
    if location is None or code is None or not cases.taxonomy.is_leaf(code):
        return
    category = cases.taxonomy[code]
    path = {level: grid.code for level, grid in location.grids.items()}
    specials = [
        SpecialGridRef(g.code, g.special_kind, g.responsible_unit) for g in location.specials
    ]
    try:
        decision = cases.responsibilities.route(
            code, path, specials, routing_level(owning_level(category))
        )
    except InvalidInput:
        return
    if isinstance(decision, Assignee):
        item.department = decision.department.code
        item.routing = {
            "department": decision.department.code,
            "department_name": decision.department.name_zh,
            "decided_by": decision.decided_by,
            "explanation": f"{decision.explanation_zh} / {decision.explanation_en}",
        }
    else:
        item.routing = {
            "manual_centre": decision.centre_code,
            "centre_level": decision.centre_level.value,
            "explanation": f"{decision.reason_zh} / {decision.reason_en}",
        }


def sign(item: ReportInProgress) -> None:
    """The duplicate signature of a located report (its text read once, here, off the lock)."""
    p, r = item.placement, item.report
    if p.location is None or p.lon is None or p.lat is None:
        return
    item.signature = ReportSignature.of(
        signature_id(r), "", r.channel, p.lon, p.lat, r.reported_at,
        item.category_code, r.text, p.accuracy_m,
    )  # fmt: skip


def signature_id(report: IntakeReport) -> str:
    return f"{report.channel}:{report.external_id}"


def auto_files(item: ReportInProgress, options: IntakeOptions, cases: CaseService) -> bool:
    """A trusted channel's report with a sure leaf category is filed (and dispatched) at once."""
    code = item.category_code
    if item.report.channel not in options.trusted_channels or code is None:
        return False
    if not cases.taxonomy.is_leaf(code):
        return False
    confidence = item.category_confidence or 0.0
    return confidence >= auto_file_confidence(options.auto_file_min_confidence, item.auto_file_at)


def auto_file_confidence(configured: float | None, calibrated: float | None) -> float:
    """How sure the classifier must be to file without a person: the configured value when set,
    else the classifier's calibrated threshold, else UNCALIBRATED_AUTO_FILE."""
    if configured is not None:
        return configured
    return calibrated if calibrated is not None else UNCALIBRATED_AUTO_FILE


def decisions(item: ReportInProgress) -> dict[str, Any]:
    """What the pipeline decided, kept on the report for the operator and for retries."""
    r, p, d = item.report, item.placement, item.decision
    return {
        "title": r.title,
        "title_masked": mask(r.title).text_masked,
        "reporter_kind": r.reporter_kind.value,
        "urgent": r.urgent,
        "category_hint": r.category_hint,
        "worker_id": r.worker_id,
        "grid_code": r.grid_code,
        "device_id": r.device_id,
        "deadline_hint": r.deadline_hint.isoformat() if r.deadline_hint else None,
        "callback": None
        if r.callback is None
        else {"order_id": r.callback.order_id, "url": r.callback.url},
        "details": dict(r.details),
        "located_by": p.located_by,
        "location_confidence": p.confidence,
        "location_explanation": p.explanation,
        "candidates": p.candidates,
        "accuracy_m": p.accuracy_m,
        "layer_id": p.layer_id,
        "grid_codes": item.grid_codes(),
        "category_code": item.category_code,
        "category_confidence": item.category_confidence,
        "category_source": item.category_source,
        "auto_file_at": item.auto_file_at,
        "suggestions": item.suggestions,
        "duplicate_of": item.duplicate_of,
        "duplicate": None
        if d is None
        else {
            "score": d.score,
            "same_as": d.same_as,
            "review_case": d.review_case,
            "matched_report": d.matched_report_id,
            "reasons": [f"{x.zh} / {x.en}" for x in d.reasons],
        },
        "routing": item.routing,
        "photos": item.photo_refs,
        "warnings": item.warnings,
    }


def report_row(item: ReportInProgress, report_id: int) -> dict[str, Any]:
    """The `reports` row of a new report, under the id reserved for it."""
    r, p = item.report, item.placement
    return {
        "id": report_id,
        "channel": r.channel,
        "external_id": r.external_id,
        "received_at": r.received_at,
        "reported_at": r.reported_at,
        "text": r.text,
        "text_masked": mask(r.text).text_masked,
        "address": r.address,
        "lon": p.lon,
        "lat": p.lat,
        "crs": (r.crs or Crs.WGS84).value,
        "reporter_name": r.reporter_name,
        "reporter_phone": r.reporter_phone,
        "category_code": item.category_code,
        "payload": without_inline_photos(dict(r.raw), item.photo_refs),
        "case_id": item.case_id,
        "location_status": LOCATED if p.location is not None else AWAITING_MANUAL,
        "intake": decisions(item),
    }
