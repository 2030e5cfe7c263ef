"""The intake pipeline: every channel's report into one case loop, exactly once.

    validate (channel adapter, photos) → locate (coordinates, else address) → classify
    → deduplicate → route (a proposal; trusted channels are filed and dispatched) → store → audit

The stages before the store run outside any transaction (`intake_decisions`); the store is one
transaction per batch (`intake_batch`). Single reports arriving together are a batch
(`intake_group`: group commit); a channel that pushes many (`receive_many`, `submit_many`: the
HTTP batch push) gets one transaction per `batch_size` reports, which is what lets intake keep up
with a city's day in seconds.

Exactly once: a report is acknowledged only after its transaction committed, and a channel's
retry with the same (channel, external id) returns the stored report and creates nothing. Two
concurrent first deliveries race on the unique key; the loser's transaction is undone and its
batch runs again, now finding the winner's row.

A report that cannot be located waits in the manual location queue (`manual_queue`,
`locate_manually`); it has no case until a person places it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from gridgov.ai.classifier import TextClassifier
from gridgov.ai.duplicates import DuplicateFinder
from gridgov.ai.text import load_segmenter
from gridgov.core.clock import Clock
from gridgov.core.errors import InvalidInput
from gridgov.core.geo import Crs
from gridgov.intake.channels import adapter
from gridgov.intake.model import IntakeReport
from gridgov.intake.privacy import mask
from gridgov.services.cases import CaseService, OutOfScope, grid_path
from gridgov.services.intake_batch import AlreadyLocated, IntakeWriter
from gridgov.services.intake_decisions import (
    DEFAULT_TRUSTED,
    IntakeOptions,
    ReportInProgress,
    auto_files,
    classify,
    decisions,
    intake_actor,
    route,
    sign,
)
from gridgov.services.intake_group import GroupCommit
from gridgov.services.intake_keys import IntakeKeys
from gridgov.services.intake_locate import Placer, PlacesProvider
from gridgov.services.intake_photos import check_photos, photo_warnings, store_photos
from gridgov.services.intake_receipts import (
    IntakeReceipt,
    parsed_again,
    stored_receipt,
    visible_report,
)
from gridgov.store.cases import ConcurrentChange, ReportExists
from gridgov.store.db import reading
from gridgov.store.files import FileStore
from gridgov.store.intake import AWAITING_MANUAL, IntakeRepository
from gridgov.workflow.model import Actor

STAGES = ("validate", "locate", "classify", "deduplicate", "route", "store", "audit")
_RACE_RETRIES = 3

Answer = IntakeReceipt | InvalidInput


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
        self._writer = IntakeWriter(session_factory, cases, finder, clock, self.options)
        # Single reports arriving together share a transaction (see intake_group).
        self.group_commit: GroupCommit[IntakeReport, Answer] = GroupCommit(
            self._submit, max_group=self.options.batch_size
        )
        # Seconds spent in each stage since start (or since a benchmark reset it).
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
        """Run one parsed report through the pipeline; acknowledged once stored (in one
        transaction with the other single reports that arrived while the last one committed)."""
        answer = self.group_commit.submit(report)
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
        answers: list[Answer | None] = [None] * len(payloads)
        parsed: list[tuple[int, IntakeReport]] = []
        with self._stage("validate"):
            for slot, payload in enumerate(payloads):
                try:
                    parsed.append((slot, parser.parse(payload, received_at=now)))
                except InvalidInput as exc:
                    answers[slot] = InvalidInput(f"[{slot}].{exc.field}", exc.problem)
        stored = self._submit_batches([report for _, report in parsed])
        for (slot, _), answer in zip(parsed, stored, strict=True):
            answers[slot] = _in_slot(slot, answer)
        return [a for a in answers if a is not None]

    def submit_many(self, reports: Sequence[IntakeReport]) -> list[IntakeReceipt | InvalidInput]:
        """Parsed reports, one transaction per `batch_size`; each answered in its slot (a bad
        photo refuses only its own report, the slot prefixed to its field path)."""
        return [_in_slot(slot, a) for slot, a in enumerate(self._submit_batches(reports))]

    def warm_up(self) -> None:
        """Build now what the first report would wait for: the active layer's locate index and
        gazetteer, the duplicate index, the word segmenter (NotFound without an active layer)."""
        self._placer.warm_up()
        self._writer.index()
        load_segmenter()

    @property
    def batches_decided_again(self) -> int:
        """Batches whose duplicates were decided again in the intake turn, because a report
        another process stored meanwhile lay near them (intake_batch)."""
        return self._writer.decided_again

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
        return visible_report(record, may_see_personal_data)

    def receipt(self, report_id: int) -> IntakeReceipt:
        with self._sessions() as session:
            record = IntakeRepository(session).report(report_id)
        return stored_receipt(record, created=False)

    def manual_queue(
        self, *, limit: int = 100, may_see_personal_data: bool = False
    ) -> list[dict[str, Any]]:
        """Reports waiting for a person to locate them, oldest first."""
        with self._sessions() as session:
            records = IntakeRepository(session).awaiting_location(limit)
        return [visible_report(r, may_see_personal_data) for r in records]

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
        item = ReportInProgress(parsed_again(record), [], placement)
        item.category_code = record.category_code
        item.category_confidence = record.intake.get("category_confidence")
        item.category_source = record.intake.get("category_source")
        item.auto_file_at = record.intake.get("auto_file_at")
        item.suggestions = list(record.intake.get("suggestions", []))
        item.photo_refs = list(record.intake.get("photos", []))
        item.warnings = list(record.intake.get("warnings", []))
        sign(item)
        route(item, self._cases)
        return self._writer.locate(report_id, item, actor)

    def preview(self, channel: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """What `receive` would decide for a payload, without storing anything."""
        report = adapter(channel).parse(payload, received_at=self._clock.now())
        with reading(self._sessions) as session:
            stored = IntakeRepository(session).by_keys([(report.channel, report.external_id)])
        if stored:
            record = next(iter(stored.values()))
            return {"stored": True, "receipt": stored_receipt(record, created=False).as_dict()}
        item = ReportInProgress(report, check_photos(report, self.options.photo_max_bytes))
        item.placement = self._placer.place([report])[0]
        classify(item, self._classifier, self._cases)
        route(item, self._cases)
        sign(item)
        p = item.placement
        if item.signature is not None:
            sig = item.signature
            item.decision = self._finder.find(sig, self._writer.index().near(sig.lon, sig.lat))
        item.warnings = [*p.warnings, *photo_warnings(item.photos, report, p.lon, p.lat)]
        decided = decisions(item)
        merges = item.decision is not None and item.decision.same_as is not None
        decided["auto_file"] = not merges and auto_files(item, self.options, self._cases)
        return {
            "stored": False,
            "external_id": report.external_id,
            "text_masked": mask(report.text).text_masked,
            "decisions": decided,
            "duplicate_of": None if item.decision is None else item.decision.same_as,
        }

    # The pipeline

    def _submit_batches(self, reports: Sequence[IntakeReport]) -> list[Answer]:
        size = self.options.batch_size
        answers: list[Answer] = []
        for start in range(0, len(reports), size):
            answers += self._submit(reports[start : start + size])
        return answers

    def _submit(self, reports: Sequence[IntakeReport]) -> list[Answer]:
        for attempt in range(_RACE_RETRIES):
            try:
                return self._submit_once(reports)
            except (ReportExists, ConcurrentChange):
                # Another writer stored one of these keys (or touched a merge target) first; the
                # batch was undone as a whole and runs again against what is now stored.
                if attempt == _RACE_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def _submit_once(self, reports: Sequence[IntakeReport]) -> list[Answer]:
        answers: list[Answer | None] = [None] * len(reports)
        with reading(self._sessions) as session:
            stored = IntakeRepository(session).by_keys(
                [(r.channel, r.external_id) for r in reports]
            )
        first: dict[tuple[str, str], int] = {}
        fresh: list[tuple[int, ReportInProgress]] = []
        with self._stage("validate"):
            for slot, report in enumerate(reports):
                key = (report.channel, report.external_id)
                if key in stored:
                    answers[slot] = stored_receipt(stored[key], created=False)
                    continue
                if key in first:
                    continue  # a repeat inside the batch: answered with the first one below
                try:
                    photos = check_photos(report, self.options.photo_max_bytes)
                except InvalidInput as exc:
                    answers[slot] = exc
                    continue
                first[key] = slot
                fresh.append((slot, ReportInProgress(report, photos)))
        items = [item for _, item in fresh]
        if items:
            self._prepare(items)
            receipts = self._writer.store(items, self.stage_seconds)
            for (slot, _), receipt in zip(fresh, receipts, strict=True):
                answers[slot] = receipt
        for slot, report in enumerate(reports):
            if answers[slot] is None:
                done = answers[first[(report.channel, report.external_id)]]
                assert isinstance(done, IntakeReceipt)
                answers[slot] = replace(done, created=False)
        return [a for a in answers if a is not None]

    def _prepare(self, items: list[ReportInProgress]) -> None:
        """Everything before the transaction: locate, classify, signatures, route, photo files."""
        with self._stage("locate"):
            placements = self._placer.place([i.report for i in items])
            for item, placement in zip(items, placements, strict=True):
                item.placement = placement
        with self._stage("classify"):
            for item in items:
                classify(item, self._classifier, self._cases)
        with self._stage("deduplicate"):
            for item in items:
                sign(item)
        with self._stage("route"):
            for item in items:
                route(item, self._cases)
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

    @contextmanager
    def _stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.stage_seconds[name] += time.perf_counter() - started


def _in_slot(slot: int, answer: Answer) -> Answer:
    if isinstance(answer, InvalidInput):
        return InvalidInput(f"[{slot}].{answer.field}", answer.problem)
    return answer


__all__ = [
    "DEFAULT_TRUSTED",
    "STAGES",
    "AlreadyLocated",
    "IntakeOptions",
    "IntakeReceipt",
    "IntakeService",
    "PlacesProvider",
    "intake_actor",
]
