"""Storing intake: one transaction per batch, and this process's index of recent reports.

Inside the transaction, in this order (the store's lock order: write lock, case rows, audit head):

    case ids → deduplicate against this process's index → take the turn (`begin_intake`): the
    turn itself, the reports other processes stored meanwhile, report ids, the merge targets
    locked with their events since this process last saw them, the audit head locked → add the
    others' reports to the index, deciding the batch's duplicates again if any lies where its
    lookups read (and locking a target newly chosen) → decide the case loop's commands → write:
    the new cases with their projection, the sealed events, the head, the other projections, an
    anchor, the reports → commit

Reserving the ids first lets everything be decided before anything is written: each new case is
inserted once, finished, rather than as a placeholder updated later, and each report is inserted
with the final record of what happened to it (a merge refused because its target closed
meanwhile included). Every process's batches wait for the one holding the turn, so on PostgreSQL
the statements of each arrow above go as one round trip (psycopg pipelines: `read_together`,
`IntakeRepository.writes_together`, which also commits): two round trips in the turn where
there were fifteen. For the same reason the duplicate search, whose cost grows with the reports
around (in a city's dense core a lookup reads ~90 neighbours), runs before the turn: the
decisions it takes are the ones it would take in the turn unless a report another process
stored meanwhile lies in the cells a lookup reads (`RecentIndex.would_read`), and then the batch
decides again in the turn. A failure anywhere undoes the whole batch, the index's additions too.

The duplicate index lives in this process. It is built on first use from the located reports of
the store's open cases within the finder's window, so a restarted process knows what came before,
and then follows every batch: its own as it decides them, and those of the other processes
writing to the same store as each batch begins. Batches of all processes take turns from
`IntakeRepository.begin_intake` on and reserve report ids in that order, so the
reports above the highest id this index has seen are exactly the ones it missed; reading them is
one query on the primary key (each names the case its batch joined, `duplicate_of`). What it
still misses, each a missed merge (a second dispatch, never a wrong merge): reports placed by
hand in another process (their ids are old) and reports stored by the case loop's own path
(`CaseService.report`, which does not take the intake lock). Cases closed since their reports
were indexed stay in it until those age out; a merge finds such a target closed when it locks
it, and the report keeps its own case.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, MutableMapping
from dataclasses import replace
from datetime import datetime
from typing import cast

from sqlalchemy.orm import Session, sessionmaker

from gridgov.ai.duplicates import DuplicateFinder, RecentIndex, ReportSignature
from gridgov.core.clock import Clock
from gridgov.core.errors import Conflict
from gridgov.services.cases import SYSTEM_ACTOR, CaseService, owning_level
from gridgov.services.intake_decisions import (
    IntakeOptions,
    ReportInProgress,
    auto_files,
    decisions,
    intake_actor,
    report_row,
)
from gridgov.services.intake_receipts import IntakeReceipt, LocatedBy
from gridgov.store.intake import AWAITING_MANUAL, IntakeRepository, StoredSignature, Turn
from gridgov.workflow.model import (
    Actor,
    Case,
    CaseState,
    Command,
    DispatchCase,
    FileCase,
    MergeCase,
    ReportCase,
)
from gridgov.workflow.replay import apply
from gridgov.workflow.transitions import ActionRefused

Step = tuple[str, Command, Actor]

_NOT_OPEN = frozenset({"rejected", "closed", "evaluated", "merged"})
# Merge targets whose replayed state is kept: the cases of a day's bursts, a few MB at most.
_TARGETS_KEPT = 4096


class AlreadyLocated(Conflict):
    """Manual location asked for a report that is located already."""

    def __init__(self, report_id: int, case_id: int | None) -> None:
        super().__init__(
            f"上报 {report_id} 已定位（工单 {case_id}） / report {report_id} is located already "
            f"(case {case_id})"
        )


class IntakeWriter:
    """Stores batches of decided reports; writers take turns, in commit order, over the index."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        cases: CaseService,
        finder: DuplicateFinder,
        clock: Clock,
        options: IntakeOptions,
    ) -> None:
        self._sessions = session_factory
        self._cases = cases
        self._finder = finder
        self._clock = clock
        self._options = options
        self._index: RecentIndex | None = None
        # The highest report id the index has accounted for (stored, or seen and skipped).
        self._seen_id = 0
        # The index is shared by every request of this process; its updates must follow the
        # order the transactions commit in, so writers take turns here.
        self._writing = threading.RLock()
        # Merge targets' states as last seen, least recently used first (`_merge_targets`).
        self._targets: OrderedDict[int, Case] = OrderedDict()
        # Batches whose duplicates were decided again in the turn (`_catch_up`).
        self.decided_again = 0

    def store(
        self, items: list[ReportInProgress], seconds: MutableMapping[str, float]
    ) -> list[IntakeReceipt]:
        """One transaction for the batch; adds the time spent to `seconds` by stage."""
        with self._writing:
            return self._store_locked(items, seconds)

    def _store_locked(
        self, items: list[ReportInProgress], seconds: MutableMapping[str, float]
    ) -> list[IntakeReceipt]:
        index = self.index()
        now = self._clock.now()
        added: list[str] = []
        known: dict[str, Case] = {}
        started = time.perf_counter()
        audit_seconds = dedup_seconds = 0.0
        try:
            with self._sessions.begin() as session:
                repo = IntakeRepository(session)
                located = [i for i in items if i.located]
                for item, case_id in zip(located, repo.new_case_ids(len(located)), strict=True):
                    item.case_id = case_id
                dedup_started = time.perf_counter()
                self._decide(index, located, now, added)
                dedup_seconds = time.perf_counter() - dedup_started
                merging = self._merging(located)
                turn = self._begin(
                    repo, now, new_reports=len(items), merging=merging, head=bool(located)
                )
                report_ids = turn.report_ids
                dedup_started = time.perf_counter()
                seen_id = self._catch_up(turn, index, located, now, added)
                known = self._merge_targets(repo, located, merging, turn)
                dedup_seconds += time.perf_counter() - dedup_started
                steps = self._steps(items, report_ids, known, now)
                new_cases = {str(i.case_id): (i.placement.lon, i.placement.lat) for i in located}
                audit_started = time.perf_counter()
                with repo.writes_together(new_cases.keys() | known.keys()):
                    final, refused = self._cases.apply_batch(
                        repo.cases, known, steps, now, new_cases=new_cases, head=turn.head
                    )
                    audit_seconds = time.perf_counter() - audit_started
                    self._keep_refused_apart(items, steps, refused, index)
                    if final:
                        repo.cases.record_anchor(now)
                    repo.add_reports(
                        [report_row(i, rid) for i, rid in zip(items, report_ids, strict=True)]
                    )
            self._seen_id = max(seen_id, *report_ids)
            self._remember_targets(final, known)
        except BaseException:
            self._forget(added, known)
            raise
        finally:
            total = time.perf_counter() - started
            seconds["audit"] += audit_seconds
            seconds["deduplicate"] += dedup_seconds
            seconds["store"] += total - audit_seconds - dedup_seconds
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

    def locate(self, report_id: int, item: ReportInProgress, actor: Actor) -> IntakeReceipt:
        """Open the case of a report placed by hand; `AlreadyLocated` if someone was first."""
        placement = item.placement
        lon, lat = placement.lon or 0.0, placement.lat or 0.0
        with self._writing:
            index = self.index()
            now = self._clock.now()
            added: list[str] = []
            known: dict[str, Case] = {}
            try:
                with self._sessions.begin() as session:
                    repo = IntakeRepository(session)
                    (item.case_id,) = repo.new_case_ids(1)
                    self._decide(index, [item], now, added)
                    merging = self._merging([item])
                    turn = self._begin(repo, now, new_reports=0, merging=merging, head=True)
                    if repo.lock_report(report_id).location_status != AWAITING_MANUAL:
                        raise AlreadyLocated(report_id, None)
                    seen_id = self._catch_up(turn, index, [item], now, added)
                    known = self._merge_targets(repo, [item], merging, turn)
                    steps = self._steps([item], [report_id], known, now, reporter=actor)
                    final, refused = self._cases.apply_batch(
                        repo.cases,
                        known,
                        steps,
                        now,
                        new_cases={str(item.case_id): (lon, lat)},
                        head=turn.head,
                    )
                    self._keep_refused_apart([item], steps, refused, index)
                    repo.set_located(report_id, lon, lat, item.case_id, decisions(item))
                    repo.cases.record_anchor(now)
                self._seen_id = seen_id
                self._remember_targets(final, known)
            except BaseException:
                self._forget(added, known)
                raise
        return IntakeReceipt(
            report_id, item.case_id, False, "manual", 1.0, item.category_code,
            item.category_confidence, item.duplicate_of, tuple(item.warnings),
        )  # fmt: skip

    def index(self) -> RecentIndex:
        """The duplicate index, built on first use from the located reports of open cases."""
        with self._writing:
            if self._index is None:
                self._index = self._warm_index()
            return self._index

    def _begin(
        self,
        repo: IntakeRepository,
        now: datetime,
        *,
        new_reports: int,
        merging: dict[int, int],
        head: bool,
    ) -> Turn:
        """Take the intake turn with report ids for the batch, the reports stored elsewhere
        since this index last looked, and the merge targets locked; the audit head too when
        the batch will append events (`head`: it opens a case)."""
        return repo.begin_intake(
            merging=merging,
            head=head,
            new_reports=new_reports,
            since=now - self._finder.window,
            after_id=self._seen_id,
        )

    def _catch_up(
        self,
        turn: Turn,
        index: RecentIndex,
        located: list[ReportInProgress],
        now: datetime,
        added: list[str],
    ) -> int:
        """Add the reports other processes stored since this index last looked (read as the
        turn began), and decide the batch's duplicates again if any of them lies where its
        lookups read; returns the highest report id now accounted for."""
        highest = self._seen_id
        arrived: list[ReportSignature] = []
        for row in turn.caught_up:
            highest = max(highest, row.id)
            signature = _signature(row)
            if signature.id not in index:
                arrived.append(signature)
        if not arrived:
            return highest
        points = [(i.signature.lon, i.signature.lat) for i in located if i.signature is not None]
        again = index.would_read(points, arrived)
        if again:
            # Taken out and decided again after the arrivals, as if decided only now.
            for item in located:
                assert item.signature is not None
                index.discard(item.signature.id)
                item.decision, item.duplicate_of = None, None
            self.decided_again += 1
        for signature in arrived:
            index.add(signature)
            added.append(signature.id)
        if again:
            self._decide(index, located, now, added)
        return highest

    def _decide(
        self, index: RecentIndex, located: list[ReportInProgress], now: datetime, added: list[str]
    ) -> None:
        """Decide each report's duplicate against the index (and the batch before it), adding it
        to the index under the case it joins or opens. Done before the batch takes the turn, so
        that other processes' batches store meanwhile; `_catch_up` decides again in the rare
        batch that their reports could change."""
        index.evict(now)
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

    def _merging(self, located: list[ReportInProgress]) -> dict[int, int]:
        """The existing cases the batch's reports merge into, each with the sequence number of
        the state this process keeps of it (0: none kept)."""
        ours = {i.case_id for i in located}
        targets = {i.duplicate_of for i in located if i.duplicate_of is not None} - ours
        return {t: self._targets[t].seq if t in self._targets else 0 for t in sorted(targets)}

    def _merge_targets(
        self,
        repo: IntakeRepository,
        located: list[ReportInProgress],
        locked: dict[int, int],
        turn: Turn,
    ) -> dict[str, Case]:
        """The current state of the existing cases that reports will merge into, locked.

        They were locked, and their events since the state kept here read, as the turn began
        (`locked`, decided before it); a batch that decided again in the turn locks the targets
        it newly chose now, behind the audit head it holds, so without waiting: a row held by a
        person's command makes the batch run again (`ConcurrentChange`).

        A case that many reports merge into (a burst main draws dozens of calls within the
        hour) would be replayed from all its events, more with each merge, for every one of
        them; so the state last seen is kept here, and only the events appended since (by
        another process, or a person) are read and applied."""
        merging = self._merging(located)
        events = dict(turn.events)
        more = {t: seq for t, seq in merging.items() if t not in locked}
        if more:
            events.update(repo.cases.lock_for_merge(more, wait=False)[0])
        known: dict[str, Case] = {}
        for target in merging:
            case = self._targets.get(target)
            for event in events.get(target, ()):
                case = apply(case, event)
            if case is not None:
                known[str(target)] = case
        return known

    def _forget(self, added: list[str], known: Mapping[str, Case]) -> None:
        """Undo what a failed batch told this process: its index additions, and the states of
        its merge targets (a batch refused for a change it did not see must read them again)."""
        index = self.index()
        for signature_id in added:
            index.discard(signature_id)
        for case_id in known:
            self._targets.pop(int(case_id), None)

    def _remember_targets(self, final: Mapping[str, Case], known: Mapping[str, Case]) -> None:
        """Keep the merge targets' states as this batch committed them."""
        for case_id in known:
            if case_id in final:
                self._targets[int(case_id)] = final[case_id]
                self._targets.move_to_end(int(case_id))
        while len(self._targets) > _TARGETS_KEPT:
            self._targets.popitem(last=False)

    def _steps(
        self,
        items: list[ReportInProgress],
        report_ids: list[int],
        known: Mapping[str, Case],
        now: datetime,
        reporter: Actor | None = None,
    ) -> list[Step]:
        """The case loop's commands for the batch, in order: report, then merge or file/dispatch."""
        steps: list[Step] = []
        # Every dispatch of a batch starts at `now`, so a category's deadlines are the same for
        # all its reports; working time on the calendar is worth computing once.
        deadlines: dict[str, tuple[datetime, datetime]] = {}
        for item, report_id in zip(items, report_ids, strict=True):
            p = item.placement
            grid_codes = item.grid_codes()
            if item.case_id is None or grid_codes is None:
                continue
            case_id = str(item.case_id)
            actor = reporter or intake_actor(item.report.channel)
            category = self._cases.taxonomy.get(item.category_code or "")
            report = ReportCase(
                case_id=case_id,
                report_id=str(report_id),
                grid_codes=grid_codes,
                layer_id=p.layer_id,
                category_code=item.category_code,
                owning_level=owning_level(category),
                reason=f"{item.report.channel} {item.report.external_id}",
            )
            steps.append((case_id, report, actor))
            if item.duplicate_of is not None:
                target = str(item.duplicate_of)
                into = known.get(target) or Case(target, CaseState.REPORTED, 1, now, now)
                reason = "自动并单 / merged as a duplicate"
                if item.decision is not None:
                    reason += f" (score {item.decision.score:.2f})"
                steps.append((case_id, MergeCase(into=into, reason=reason), actor))
                continue
            if not auto_files(item, self._options, self._cases):
                continue
            assert item.category_code is not None
            filing = FileCase(
                category_code=item.category_code,
                owning_level=owning_level(category),
                reason="可信渠道自动立案 / filed automatically for a trusted channel",
            )
            steps.append((case_id, filing, actor))
            if item.department is not None:
                due = deadlines.get(item.category_code)
                if due is None:
                    due = deadlines[item.category_code] = self._cases.deadlines(
                        item.category_code, now
                    )
                accept_due, handle_due = due
                dispatch = DispatchCase(
                    department=item.department,
                    accept_due=accept_due,
                    handle_due=handle_due,
                    reason=(item.routing or {}).get("explanation", ""),
                )
                steps.append((case_id, dispatch, SYSTEM_ACTOR))
        return steps

    def _keep_refused_apart(
        self,
        items: list[ReportInProgress],
        steps: list[Step],
        refused: list[ActionRefused | None],
        index: RecentIndex,
    ) -> None:
        """A merge target that closed meanwhile: the report keeps its own case, noted on it."""
        by_case = {str(i.case_id): i for i in items if i.case_id is not None}
        for (case_id, command, _), problem in zip(steps, refused, strict=True):
            if problem is None or not isinstance(command, MergeCase):
                continue
            item = by_case[case_id]
            index.remove_case(command.into.id)
            item.duplicate_of = None
            item.warnings.append(f"merge_refused: {problem}")

    def _warm_index(self) -> RecentIndex:
        index = RecentIndex.for_finder(self._finder)
        since = self._clock.now() - self._finder.window
        with self._sessions() as session:
            repo = IntakeRepository(session)
            # The highest id first: a report committed between the two reads is then read again
            # by the first catch-up, never missed.
            seen_id = repo.highest_report_id()
            rows = repo.open_case_signatures(since, _open_states())
        for row in rows:
            index.add(_signature(row))
        self._seen_id = seen_id
        return index


def _open_states() -> list[str]:
    return [s.value for s in CaseState if s.value not in _NOT_OPEN]


def _signature(row: StoredSignature) -> ReportSignature:
    """The signature of a stored report, as `open_case_signatures` or `reports_since` read it."""
    accuracy = (row.intake or {}).get("accuracy_m", 0.0)
    return ReportSignature.of(
        f"{row.channel}:{row.external_id}",
        str(row.merged_into or row.case_id),
        row.channel,
        row.lon,
        row.lat,
        row.reported_at,
        row.category_code,
        row.text,
        accuracy or 0.0,
    )
