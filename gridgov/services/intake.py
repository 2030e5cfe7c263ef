"""The intake pipeline: every channel's report into one case loop, exactly once.

    validate (channel adapter, photos) → locate (coordinates, else address) → classify
    → deduplicate → route (a proposal; trusted channels are filed and dispatched) → store → audit

Exactly once: a report is acknowledged only after its transaction committed, and a channel's
retry with the same (channel, external id) returns the stored report and creates nothing. Two
concurrent first deliveries race on the unique key; the loser's transaction is undone and its
batch runs again, now finding the winner's row.

Batches are the fast path: one transaction per batch, cases and reports inserted in one statement
each, every event sealed under one hold of the audit head (`CaseService.apply_batch`). A single
report is a batch of one.

A report that cannot be located waits in the manual location queue (`manual_queue`,
`locate_manually`); it has no case until a person places it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal, cast

from sqlalchemy.orm import Session, sessionmaker

from gridgov.ai.classifier import TextClassifier
from gridgov.ai.duplicates import DuplicateDecision, DuplicateFinder, RecentIndex, ReportSignature
from gridgov.core.clock import Clock
from gridgov.core.errors import Conflict, InvalidInput
from gridgov.core.geo import Crs
from gridgov.intake.channels import adapter
from gridgov.intake.model import IntakeReport, ReporterKind
from gridgov.intake.privacy import mask, mask_name, mask_phone
from gridgov.services.cases import (
    SYSTEM_ACTOR,
    CaseService,
    OutOfScope,
    grid_path,
    owning_level,
    routing_level,
)
from gridgov.services.intake_keys import IntakeKeys
from gridgov.services.intake_locate import LOCATED_BY_MANUAL, Placement, Placer, PlacesProvider
from gridgov.services.intake_photos import (
    CheckedPhoto,
    check_photos,
    photo_warnings,
    store_photos,
    without_inline_photos,
)
from gridgov.store.cases import ConcurrentChange, ReportExists
from gridgov.store.files import FileStore
from gridgov.store.intake import AWAITING_MANUAL, LOCATED, IntakeRecord, IntakeRepository
from gridgov.workflow.model import (
    Actor,
    Case,
    CaseState,
    Command,
    DispatchCase,
    FileCase,
    MergeCase,
    ReportCase,
    Role,
)
from gridgov.workflow.routing import Assignee, SpecialGridRef

DEFAULT_TRUSTED = frozenset({"city_management", "grid_patrol", "iot_sensor"})
STAGES = ("validate", "locate", "classify", "deduplicate", "route", "store", "audit")
_RACE_RETRIES = 3

LocatedBy = Literal["coordinates", "address", "manual"]


@dataclass(frozen=True)
class IntakeReceipt:
    """What a channel is told once its report is durably stored."""

    report_id: int
    case_id: int | None
    created: bool  # False when a retry returned the stored report
    located_by: LocatedBy
    location_confidence: float | None
    category_code: str | None
    category_confidence: float | None
    duplicate_of: int | None  # the case this report joined
    warnings: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "report_id": self.report_id,
            "case_id": self.case_id,
            "created": self.created,
            "located_by": self.located_by,
            "location_confidence": self.location_confidence,
            "category_code": self.category_code,
            "category_confidence": self.category_confidence,
            "duplicate_of": self.duplicate_of,
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True, slots=True)
class IntakeOptions:
    trusted_channels: frozenset[str] = DEFAULT_TRUSTED
    address_min_confidence: float = 0.6
    auto_file_min_confidence: float = 0.8
    photo_max_bytes: int = 10 * 1024 * 1024
    batch_size: int = 500


@dataclass(slots=True)
class _Item:
    """One new report on its way through the stages."""

    report: IntakeReport
    photos: list[CheckedPhoto]
    placement: Placement = field(default_factory=lambda: Placement(LOCATED_BY_MANUAL))
    category_code: str | None = None
    category_confidence: float | None = None
    category_source: str | None = None
    suggestions: list[dict[str, Any]] = field(default_factory=list)
    signature: ReportSignature | None = None
    decision: DuplicateDecision | None = None
    routing: dict[str, Any] | None = None
    department: str | None = None
    photo_refs: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    case_id: int | None = None
    duplicate_of: int | None = None


class IntakeService:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        cases: CaseService,
        placer: Placer,
        clock: Clock,
        *,
        classifier: TextClassifier,
        finder: DuplicateFinder,
        files: FileStore,
        options: IntakeOptions | None = None,
    ) -> None:
        self._sessions = session_factory
        self._cases = cases
        self._placer = placer
        self._clock = clock
        self._classifier = classifier
        self._finder = finder
        self._files = files
        self.options = options or IntakeOptions()
        self.keys = IntakeKeys(session_factory, clock)
        self._index: RecentIndex | None = None
        # The dedup index is shared by every request of this process; its updates must follow
        # the order the transactions commit in, so writers take turns here.
        self._writing = threading.RLock()
        self.stage_seconds: dict[str, float] = dict.fromkeys(STAGES, 0.0)

    # Front doors

    def receive(
        self, channel: str, payload: Mapping[str, Any], *, received_at: datetime | None = None
    ) -> IntakeReceipt:
        """Parse a channel's payload with its adapter, then `submit` it."""
        with self._stage("validate"):
            report = adapter(channel).parse(payload, received_at=received_at or self._clock.now())
        return self.submit(report)

    def submit(self, report: IntakeReport) -> IntakeReceipt:
        """Run one parsed report through the pipeline; acknowledged once stored."""
        answer = self._submit([report])[0]
        if isinstance(answer, InvalidInput):
            raise answer
        return answer

    def receive_many(
        self, channel: str, payloads: Sequence[Mapping[str, Any]]
    ) -> list[IntakeReceipt | InvalidInput]:
        """A batch: one transaction per `batch_size` reports; a bad payload gets its error in its
        slot (its field path prefixed with the slot) and the others are stored."""
        parser = adapter(channel)
        now = self._clock.now()
        answers: list[IntakeReceipt | InvalidInput | None] = [None] * len(payloads)
        parsed: list[tuple[int, IntakeReport]] = []
        with self._stage("validate"):
            for slot, payload in enumerate(payloads):
                try:
                    parsed.append((slot, parser.parse(payload, received_at=now)))
                except InvalidInput as exc:
                    answers[slot] = InvalidInput(f"[{slot}].{exc.field}", exc.problem)
        size = self.options.batch_size
        for start in range(0, len(parsed), size):
            chunk = parsed[start : start + size]
            for (slot, _), answer in zip(chunk, self._submit([r for _, r in chunk]), strict=True):
                if isinstance(answer, InvalidInput):
                    answer = InvalidInput(f"[{slot}].{answer.field}", answer.problem)
                answers[slot] = answer
        return [a for a in answers if a is not None]

    def check_channel(self, channel: str) -> None:
        """Refuse a channel no adapter is registered for."""
        adapter(channel)

    def check_key(self, channel: str, key: str | None) -> None:
        """Refuse an unknown channel (InvalidInput), or a missing, unknown, revoked or other
        channel's key (`InvalidApiKey`)."""
        adapter(channel)
        self.keys.check(channel, key)

    # Reading

    def report(self, report_id: int, *, may_see_personal_data: bool) -> dict[str, Any]:
        """A stored report as a role may see it: without the right, masked text and reporter."""
        with self._sessions() as session:
            record = IntakeRepository(session).report(report_id)
        return _visible(record, may_see_personal_data)

    def receipt(self, report_id: int) -> IntakeReceipt:
        with self._sessions() as session:
            record = IntakeRepository(session).report(report_id)
        return _receipt(record, created=False)

    def manual_queue(
        self, *, limit: int = 100, may_see_personal_data: bool = False
    ) -> list[dict[str, Any]]:
        """Reports waiting for a person to locate them, oldest first."""
        with self._sessions() as session:
            records = IntakeRepository(session).awaiting_location(limit)
        return [_visible(r, may_see_personal_data) for r in records]

    def locate_manually(
        self, report_id: int, lon: float, lat: float, actor: Actor, *, crs: Crs = Crs.WGS84
    ) -> IntakeReceipt:
        """Place a report from the manual location queue by hand and open its case."""
        placement = self._placer.at_point(lon, lat, crs)
        assert placement.location is not None
        path = grid_path(placement.location)
        if actor.scope_code is not None and actor.scope_code not in path.values():
            raise OutOfScope(actor, f"（上报 / report {report_id}）")
        with self._sessions() as session:
            record = IntakeRepository(session).report(report_id)
        if record.location_status != AWAITING_MANUAL:
            raise AlreadyLocated(report_id, record.case_id)
        item = _Item(_report_of(record), [], placement)
        item.category_code = record.category_code
        item.category_confidence = record.intake.get("category_confidence")
        item.category_source = record.intake.get("category_source")
        item.suggestions = list(record.intake.get("suggestions", []))
        item.photo_refs = list(record.intake.get("photos", []))
        item.warnings = list(record.intake.get("warnings", []))
        r = item.report
        item.signature = ReportSignature.of(
            _signature_id(r), "", r.channel, placement.lon or 0.0, placement.lat or 0.0,
            r.reported_at, item.category_code, r.text, placement.accuracy_m,
        )  # fmt: skip
        self._route(item)
        with self._writing:
            return self._locate_locked(report_id, item, placement, actor)

    def _locate_locked(
        self, report_id: int, item: _Item, placement: Placement, actor: Actor
    ) -> IntakeReceipt:
        index = self._recent_index()
        now = self._clock.now()
        added: list[str] = []
        try:
            with self._sessions.begin() as session:
                repo = IntakeRepository(session)
                repo.cases.begin_write()
                if repo.lock_report(report_id).location_status != AWAITING_MANUAL:
                    raise AlreadyLocated(report_id, None)
                item.case_id = repo.cases.open_cases(
                    now, [(placement.lon or 0.0, placement.lat or 0.0)]
                )[0]
                known = self._deduplicate(repo, index, [item], now, added)
                steps = self._steps([item], [report_id], known, now, reporter=actor)
                _, refused = self._cases.apply_batch(repo.cases, known, steps, now)
                self._undo_refused_merges(repo, [item], [report_id], steps, refused, index)
                repo.set_located(
                    report_id, placement.lon or 0.0, placement.lat or 0.0, item.case_id,
                    self._decisions(item),
                )  # fmt: skip
                repo.cases.record_anchor(now)
        except BaseException:
            for signature_id in added:
                index.discard(signature_id)
            raise
        return IntakeReceipt(
            report_id, item.case_id, False, "manual", 1.0, item.category_code,
            item.category_confidence, item.duplicate_of, tuple(item.warnings),
        )  # fmt: skip

    def preview(self, channel: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """What `receive` would decide for a payload, without storing anything."""
        report = adapter(channel).parse(payload, received_at=self._clock.now())
        with self._sessions() as session:
            stored = IntakeRepository(session).by_keys([(report.channel, report.external_id)])
        if stored:
            record = next(iter(stored.values()))
            return {"stored": True, "receipt": _receipt(record, created=False).as_dict()}
        item = _Item(report, check_photos(report, self.options.photo_max_bytes))
        item.placement = self._placer.place([report])[0]
        self._classify(item)
        self._route(item)
        p = item.placement
        decision = None
        if p.location is not None and p.lon is not None and p.lat is not None:
            sig = ReportSignature.of(
                _signature_id(report), "", channel, p.lon, p.lat, report.reported_at,
                item.category_code, report.text, p.accuracy_m,
            )  # fmt: skip
            item.decision = self._finder.find(sig, self._recent_index().near(p.lon, p.lat))
            decision = item.decision
        item.warnings = [*p.warnings, *photo_warnings(item.photos, report, p.lon, p.lat)]
        decided = self._decisions(item)
        decided["auto_file"] = item.decision is None or item.decision.same_as is None
        decided["auto_file"] = decided["auto_file"] and self._auto_files(item)
        return {
            "stored": False,
            "external_id": report.external_id,
            "text_masked": mask(report.text).text_masked,
            "decisions": decided,
            "duplicate_of": None if decision is None else decision.same_as,
        }

    # The pipeline

    def _submit(self, reports: Sequence[IntakeReport]) -> list[IntakeReceipt | InvalidInput]:
        for attempt in range(_RACE_RETRIES):
            try:
                return self._submit_once(reports)
            except (ReportExists, ConcurrentChange):
                # Another writer stored one of these keys (or touched a merge target) first; the
                # batch was undone as a whole and runs again against what is now stored.
                if attempt == _RACE_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def _submit_once(self, reports: Sequence[IntakeReport]) -> list[IntakeReceipt | InvalidInput]:
        answers: list[IntakeReceipt | InvalidInput | None] = [None] * len(reports)
        with self._sessions() as session:
            stored = IntakeRepository(session).by_keys(
                [(r.channel, r.external_id) for r in reports]
            )
        first: dict[tuple[str, str], int] = {}
        fresh: list[tuple[int, _Item]] = []
        with self._stage("validate"):
            for slot, report in enumerate(reports):
                key = (report.channel, report.external_id)
                if key in stored:
                    answers[slot] = _receipt(stored[key], created=False)
                    continue
                if key in first:
                    continue  # a repeat inside the batch: answered with the first one below
                try:
                    photos = check_photos(report, self.options.photo_max_bytes)
                except InvalidInput as exc:
                    answers[slot] = exc
                    continue
                first[key] = slot
                fresh.append((slot, _Item(report, photos)))
        items = [item for _, item in fresh]
        if items:
            self._prepare(items)
            receipts = self._store(items)
            for (slot, _), receipt in zip(fresh, receipts, strict=True):
                answers[slot] = receipt
        for slot, report in enumerate(reports):
            if answers[slot] is None:
                done = answers[first[(report.channel, report.external_id)]]
                assert isinstance(done, IntakeReceipt)
                answers[slot] = replace(done, created=False)
        return [a for a in answers if a is not None]

    def _prepare(self, items: list[_Item]) -> None:
        """Everything before the transaction: locate, classify, signatures, route, photo files."""
        with self._stage("locate"):
            for item, placement in zip(
                items, self._placer.place([i.report for i in items]), strict=True
            ):
                item.placement = placement
        with self._stage("classify"):
            for item in items:
                self._classify(item)
        with self._stage("deduplicate"):
            for item in items:
                p = item.placement
                if p.location is not None and p.lon is not None and p.lat is not None:
                    r = item.report
                    item.signature = ReportSignature.of(
                        _signature_id(r), "", r.channel, p.lon, p.lat, r.reported_at,
                        item.category_code, r.text, p.accuracy_m,
                    )  # fmt: skip
        with self._stage("route"):
            for item in items:
                self._route(item)
        with self._stage("validate"):
            for item in items:
                p = item.placement
                item.photo_refs = store_photos(
                    item.report, item.photos, self._files, self.options.photo_max_bytes
                )
                item.warnings = [
                    *p.warnings,
                    *photo_warnings(item.photos, item.report, p.lon, p.lat),
                ]

    def _classify(self, item: _Item) -> None:
        report = item.report
        taxonomy = self._cases.taxonomy
        code = report.category_code if report.category_code in taxonomy else None
        suggestions = self._classifier.suggest(report.text, channel=report.channel, hint=code)
        item.suggestions = [
            {"code": s.category_code, "confidence": s.confidence, "explanation": s.explanation}
            for s in suggestions
        ]
        if code is not None and taxonomy.is_leaf(code):
            item.category_code, item.category_confidence, item.category_source = (
                code,
                1.0,
                "channel",
            )
        elif suggestions:
            best = suggestions[0]
            item.category_code = best.category_code
            item.category_confidence = best.confidence
            item.category_source = "classifier"
        elif code is not None:
            item.category_code, item.category_source = code, "channel"

    def _route(self, item: _Item) -> None:
        location = item.placement.location
        code = item.category_code
        if location is None or code is None or not self._cases.taxonomy.is_leaf(code):
            return
        category = self._cases.taxonomy[code]
        path = {level: grid.code for level, grid in location.grids.items()}
        specials = [
            SpecialGridRef(g.code, g.special_kind, g.responsible_unit) for g in location.specials
        ]
        try:
            decision = self._cases.responsibilities.route(
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

    def _store(self, items: list[_Item]) -> list[IntakeReceipt]:
        """One transaction: cases, dedup decisions, reports, events, projections."""
        with self._writing:
            return self._store_locked(items)

    def _store_locked(self, items: list[_Item]) -> list[IntakeReceipt]:
        index = self._recent_index()
        now = self._clock.now()
        added: list[str] = []
        started = time.perf_counter()
        audit_seconds = dedup_seconds = 0.0
        try:
            with self._sessions.begin() as session:
                repo = IntakeRepository(session)
                repo.cases.begin_write()
                located = [i for i in items if i.placement.location is not None]
                points = [(i.placement.lon or 0.0, i.placement.lat or 0.0) for i in located]
                for item, case_id in zip(located, repo.cases.open_cases(now, points), strict=True):
                    item.case_id = case_id
                dedup_started = time.perf_counter()
                known = self._deduplicate(repo, index, located, now, added)
                dedup_seconds = time.perf_counter() - dedup_started
                report_ids = repo.add_reports([self._row(i, now) for i in items])
                steps = self._steps(items, report_ids, known, now)
                audit_started = time.perf_counter()
                final, refused = self._cases.apply_batch(repo.cases, known, steps, now)
                audit_seconds = time.perf_counter() - audit_started
                self._undo_refused_merges(repo, items, report_ids, steps, refused, index)
                if final:
                    repo.cases.record_anchor(now)
        except BaseException:
            for signature_id in added:
                index.discard(signature_id)
            raise
        finally:
            total = time.perf_counter() - started
            self.stage_seconds["audit"] += audit_seconds
            self.stage_seconds["deduplicate"] += dedup_seconds
            self.stage_seconds["store"] += total - audit_seconds - dedup_seconds
        return [
            IntakeReceipt(
                report_id=report_id,
                case_id=item.case_id,
                created=True,
                located_by=cast(LocatedBy, item.placement.located_by),
                location_confidence=item.placement.confidence,
                category_code=item.category_code,
                category_confidence=item.category_confidence,
                duplicate_of=item.duplicate_of,
                warnings=tuple(item.warnings),
            )
            for item, report_id in zip(items, report_ids, strict=True)
        ]

    def _deduplicate(
        self,
        repo: IntakeRepository,
        index: RecentIndex,
        located: list[_Item],
        now: datetime,
        added: list[str],
    ) -> dict[str, Case]:
        """Decide each report's duplicate against the index (and the batch before it); returns the
        current state of the existing cases that reports will merge into, locked."""
        index.evict(now)
        ours = {str(i.case_id) for i in located}
        for item in located:
            assert item.signature is not None and item.case_id is not None
            sig = item.signature
            decision = self._finder.find(sig, index.near(sig.lon, sig.lat))
            item.decision = decision
            joined = decision.same_as
            if joined is not None:
                item.duplicate_of = int(joined)
            index.add(replace(sig, case_id=joined or str(item.case_id)))
            added.append(sig.id)
        targets = sorted(
            {i.duplicate_of for i in located if i.duplicate_of is not None} - {int(c) for c in ours}
        )
        if not targets:
            return {}
        repo.cases.lock_cases(targets)
        events = repo.cases.events_of(targets)
        return {str(t): Case.replay(events[t]) for t in targets if events.get(t)}

    def _row(self, item: _Item, now: datetime) -> dict[str, Any]:
        r, p = item.report, item.placement
        return {
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
            "intake": self._decisions(item),
        }

    def _decisions(self, item: _Item) -> dict[str, Any]:
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
            "grid_codes": grid_path(p.location) if p.location is not None else None,
            "category_code": item.category_code,
            "category_confidence": item.category_confidence,
            "category_source": item.category_source,
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

    def _steps(
        self,
        items: list[_Item],
        report_ids: list[int],
        known: Mapping[str, Case],
        now: datetime,
        reporter: Actor | None = None,
    ) -> list[tuple[str, Command, Actor]]:
        """The case loop's commands for the batch, in order: report, then merge or file/dispatch."""
        steps: list[tuple[str, Command, Actor]] = []
        for item, report_id in zip(items, report_ids, strict=True):
            p = item.placement
            if item.case_id is None or p.location is None:
                continue
            case_id = str(item.case_id)
            actor = reporter or intake_actor(item.report.channel)
            category = self._cases.taxonomy.get(item.category_code or "")
            steps.append(
                (
                    case_id,
                    ReportCase(
                        case_id=case_id,
                        report_id=str(report_id),
                        grid_codes=grid_path(p.location),
                        layer_id=p.layer_id,
                        category_code=item.category_code,
                        owning_level=owning_level(category),
                        reason=f"{item.report.channel} {item.report.external_id}",
                    ),
                    actor,
                )
            )
            if item.duplicate_of is not None:
                target = str(item.duplicate_of)
                into = known.get(target) or Case(target, CaseState.REPORTED, 1, now, now)
                reason = "自动并单 / merged as a duplicate"
                if item.decision is not None:
                    reason += f" (score {item.decision.score:.2f})"
                steps.append((case_id, MergeCase(into=into, reason=reason), actor))
                continue
            if not self._auto_files(item):
                continue
            assert item.category_code is not None
            steps.append(
                (
                    case_id,
                    FileCase(
                        category_code=item.category_code,
                        owning_level=owning_level(category),
                        reason="可信渠道自动立案 / filed automatically for a trusted channel",
                    ),
                    actor,
                )
            )
            if item.department is not None:
                accept_due, handle_due = self._cases.deadlines(item.category_code, now)
                dispatch = DispatchCase(
                    department=item.department,
                    accept_due=accept_due,
                    handle_due=handle_due,
                    reason=(item.routing or {}).get("explanation", ""),
                )
                steps.append((case_id, dispatch, SYSTEM_ACTOR))
        return steps

    def _auto_files(self, item: _Item) -> bool:
        code = item.category_code
        if item.report.channel not in self.options.trusted_channels or code is None:
            return False
        if not self._cases.taxonomy.is_leaf(code):
            return False
        confidence = item.category_confidence or 0.0
        return confidence >= self.options.auto_file_min_confidence

    def _undo_refused_merges(
        self,
        repo: IntakeRepository,
        items: list[_Item],
        report_ids: list[int],
        steps: list[tuple[str, Command, Actor]],
        refused: list[Any],
        index: RecentIndex,
    ) -> None:
        """A merge target that closed meanwhile: the report keeps its own case, noted on it."""
        by_case = {str(i.case_id): (i, rid) for i, rid in zip(items, report_ids, strict=True)}
        for (case_id, command, _), problem in zip(steps, refused, strict=True):
            if problem is None or not isinstance(command, MergeCase):
                continue
            item, report_id = by_case[case_id]
            index.remove_case(command.into.id)
            item.duplicate_of = None
            item.warnings.append(f"merge_refused: {problem}")
            repo.set_intake(report_id, self._decisions(item))

    def _recent_index(self) -> RecentIndex:
        """The dedup index, warmed on first use from the located reports of open cases."""
        with self._writing:
            if self._index is None:
                self._index = self._warm_index()
            return self._index

    def _warm_index(self) -> RecentIndex:
        index = RecentIndex.for_finder(self._finder)
        since = self._clock.now() - self._finder.window
        open_states = [s.value for s in CaseState if s.value not in _NOT_OPEN]
        with self._sessions() as session:
            rows = IntakeRepository(session).open_case_signatures(since, open_states)
        for row in rows:
            accuracy = (row.intake or {}).get("accuracy_m", 0.0)
            case_id = row.merged_into or row.case_id
            index.add(
                ReportSignature.of(
                    f"{row.channel}:{row.external_id}",
                    str(case_id),
                    row.channel,
                    row.lon,
                    row.lat,
                    row.reported_at,
                    row.category_code,
                    row.text,
                    accuracy or 0.0,
                )
            )
        return index

    @contextmanager
    def _stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.stage_seconds[name] += time.perf_counter() - started


class AlreadyLocated(Conflict):
    """Manual location asked for a report that is located already."""

    def __init__(self, report_id: int, case_id: int | None) -> None:
        super().__init__(
            f"上报 {report_id} 已定位（工单 {case_id}） / report {report_id} is located already "
            f"(case {case_id})"
        )


def _report_of(record: IntakeRecord) -> IntakeReport:
    """The parsed report again, from what was stored (for manual location)."""
    decided = record.intake
    return IntakeReport(
        channel=record.channel,
        external_id=record.external_id,
        received_at=record.received_at,
        reported_at=record.reported_at,
        title=decided.get("title") or record.text[:30],
        text=record.text,
        reporter_kind=ReporterKind(decided.get("reporter_kind", "citizen")),
        address=record.address,
        category_code=record.category_code,
        urgent=bool(decided.get("urgent", False)),
        reporter_name=record.reporter_name,
        reporter_phone=record.reporter_phone,
        details=dict(decided.get("details") or {}),
    )


_NOT_OPEN = frozenset({"rejected", "closed", "evaluated", "merged"})


def intake_actor(channel: str) -> Actor:
    """Who reports, merges and files for a channel in the audit trail: the intake itself."""
    return Actor(f"intake:{channel}", Role.INTAKE_OPERATOR, f"自动受理 / intake ({channel})")


def _signature_id(report: IntakeReport) -> str:
    return f"{report.channel}:{report.external_id}"


def _receipt(record: IntakeRecord, *, created: bool) -> IntakeReceipt:
    decided = record.intake
    return IntakeReceipt(
        report_id=record.id,
        case_id=record.case_id,
        created=created,
        located_by=cast(LocatedBy, decided.get("located_by", "coordinates")),
        location_confidence=decided.get("location_confidence"),
        category_code=decided.get("category_code", record.category_code),
        category_confidence=decided.get("category_confidence"),
        duplicate_of=decided.get("duplicate_of"),
        warnings=tuple(decided.get("warnings", ())),
    )


def _visible(record: IntakeRecord, may_see_personal_data: bool) -> dict[str, Any]:
    decided = dict(record.intake)
    out: dict[str, Any] = {
        "id": record.id,
        "channel": record.channel,
        "external_id": record.external_id,
        "received_at": record.received_at.isoformat(),
        "reported_at": record.reported_at.isoformat(),
        "case_id": record.case_id,
        "location_status": record.location_status,
        "lon": record.lon,
        "lat": record.lat,
        "category_code": record.category_code,
        "intake": decided,
    }
    if may_see_personal_data:
        out.update(
            title=decided.get("title"),
            text=record.text,
            address=record.address,
            reporter_name=record.reporter_name,
            reporter_phone=record.reporter_phone,
            payload=dict(record.payload),
        )
        return out
    decided.pop("title", None)
    out.update(
        title=decided.get("title_masked"),
        text=record.text_masked
        if record.text_masked is not None
        else mask(record.text).text_masked,
        address=None if record.address is None else mask(record.address).text_masked,
        reporter_name=None if record.reporter_name is None else mask_name(record.reporter_name),
        reporter_phone=None if record.reporter_phone is None else mask_phone(record.reporter_phone),
    )
    return out


__all__ = ["IntakeOptions", "IntakeReceipt", "IntakeService", "PlacesProvider", "intake_actor"]
