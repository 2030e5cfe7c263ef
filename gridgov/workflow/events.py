"""Case events and the hash chain that makes the log tamper-evident.

Every event of every case sits on ONE global chain, in append order: it carries `global_seq`
(1, 2, 3 … with no gaps) and the hash of the event before it, globally (`prev_hash`; the first
event links to `GENESIS_HASH`). It also carries `seq`, its position within its own case. The
global chain is what reveals a case removed as a whole; the per-case `seq` is what lets a removed
event be named by case.

What the chain alone can and cannot show:

- an edited field (reason, payload, time, actor …) no longer matches the event's own hash;
- an edited field whose hash was recomputed no longer matches the next event's `prev_hash`;
- a removed event leaves a gap in `global_seq` (and usually in its case's `seq`);
- events out of order show `global_seq` going backwards;
- but a removed TAIL, or a rewrite of everything from some event to the end, leaves a valid
  shorter or different chain. Only an anchor kept outside the log catches those: record
  `chain_head(events)` elsewhere (another database, a signed daily report) and pass the recorded
  heads to `verify_chain(events, anchors=…)`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from itertools import pairwise
from typing import TypeAlias

from gridgov.workflow.model import Action, Role

JSONValue: TypeAlias = str | int | float | bool | list["JSONValue"] | dict[str, "JSONValue"] | None
Payload: TypeAlias = Mapping[str, JSONValue]

GENESIS_HASH = "0" * 64

EVENT_KINDS: dict[Action, str] = {
    Action.REPORT: "CaseReported",
    Action.FILE: "CaseFiled",
    Action.REJECT: "CaseRejected",
    Action.DISPATCH: "CaseDispatched",
    Action.ACCEPT: "CaseAccepted",
    Action.RETURN: "CaseReturned",
    Action.HANDLE: "CaseHandled",
    Action.VERIFY_PASS: "CaseVerified",
    Action.VERIFY_FAIL: "CaseVerificationFailed",
    Action.CLOSE: "CaseClosed",
    Action.EVALUATE: "CaseEvaluated",
    Action.REOPEN: "CaseReopened",
    Action.REQUEST_EXTENSION: "ExtensionRequested",
    Action.APPROVE_EXTENSION: "ExtensionApproved",
    Action.DENY_EXTENSION: "ExtensionDenied",
    Action.ESCALATE: "CaseEscalated",
    Action.SUPERVISE: "CaseSupervised",
    Action.MERGE: "CaseMerged",
    Action.ABSORB: "DuplicateAbsorbed",
    Action.REASSIGN: "CaseReassigned",
}


@dataclass(frozen=True)
class PendingEvent:
    """An event `decide` has produced but that is not yet on the chain; `seal` puts it there."""

    case_id: str
    seq: int
    action: Action
    actor_id: str
    role: Role
    at: datetime
    reason: str
    payload: Payload

    @property
    def kind(self) -> str:
        """The past-tense name of what happened, e.g. `CaseDispatched`."""
        return EVENT_KINDS[self.action]


@dataclass(frozen=True)
class CaseEvent(PendingEvent):
    """An event on the log: its global position, the previous event's hash, and its own."""

    global_seq: int
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The last position and hash of a log; keep a copy outside the log to detect a cut tail."""

    global_seq: int
    hash: str


GENESIS = ChainHead(global_seq=0, hash=GENESIS_HASH)


def _iso_utc(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("event times must be timezone-aware")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def event_hash(event: PendingEvent, global_seq: int, prev_hash: str) -> str:
    """sha256 of the canonical JSON of the event's content, its global position and `prev_hash`."""
    content = {
        "case_id": event.case_id,
        "seq": event.seq,
        "global_seq": global_seq,
        "action": event.action.value,
        "actor": event.actor_id,
        "role": event.role.value,
        "at": _iso_utc(event.at),
        "reason": event.reason,
        "payload": event.payload,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(_CANONICAL.encode(content).encode("utf-8")).hexdigest()


# sort_keys and fixed separators make the bytes independent of dict order and formatting;
# allow_nan=False because NaN is not JSON and would not survive a round trip through a store.
# One encoder for every event: `json.dumps` with options builds a new one per call, which cost
# as much as encoding a small event.
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def seal(pending: Sequence[PendingEvent], head: ChainHead = GENESIS) -> list[CaseEvent]:
    """Chain `pending` after `head`; the caller must hold the log's append lock while it does."""
    sealed: list[CaseEvent] = []
    global_seq, prev_hash = head.global_seq, head.hash
    for event in pending:
        global_seq += 1
        digest = event_hash(event, global_seq, prev_hash)
        sealed.append(
            CaseEvent(
                case_id=event.case_id,
                seq=event.seq,
                action=event.action,
                actor_id=event.actor_id,
                role=event.role,
                at=event.at,
                reason=event.reason,
                payload=event.payload,
                global_seq=global_seq,
                prev_hash=prev_hash,
                hash=digest,
            )
        )
        prev_hash = digest
    return sealed


def chain_head(events: Sequence[CaseEvent]) -> ChainHead:
    """The head to record outside the log: the last event's position and hash."""
    if not events:
        return GENESIS
    last = max(events, key=lambda e: e.global_seq)
    return ChainHead(global_seq=last.global_seq, hash=last.hash)


class ProblemKind(StrEnum):
    EDITED = "edited"
    REMOVED = "removed"
    REORDERED = "reordered"
    DUPLICATED = "duplicated"
    TRUNCATED = "truncated"


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """One thing wrong with the log, naming the event by global position and by case and seq."""

    kind: ProblemKind
    global_seq: int
    case_id: str | None
    seq: int | None
    detail: str

    def __str__(self) -> str:
        where = f"global_seq {self.global_seq}"
        if self.case_id is not None:
            where += f" (case {self.case_id} seq {self.seq})"
        return f"{self.kind.value}: {where}: {self.detail}"


def verify_chain(
    events: Sequence[CaseEvent], anchors: Sequence[ChainHead] = ()
) -> list[ChainProblem]:
    """Every problem in `events` (in the order the log holds them), checked against `anchors`."""
    problems: list[ChainProblem] = []
    problems += _out_of_order(events)
    by_position = sorted(events, key=lambda e: e.global_seq)
    problems += _duplicates(by_position)
    intact = {id(e) for e in events if event_hash(e, e.global_seq, e.prev_hash) == e.hash}
    for event in events:
        if id(event) not in intact:
            problems.append(
                _problem(ProblemKind.EDITED, event, "its content no longer matches its hash")
            )
    problems += _links(by_position, intact)
    problems += _gaps(by_position)
    problems += _anchors(by_position, anchors)
    return sorted(problems, key=lambda p: (p.global_seq, p.kind.value))


def _problem(kind: ProblemKind, event: CaseEvent, detail: str) -> ChainProblem:
    return ChainProblem(kind, event.global_seq, event.case_id, event.seq, detail)


def _out_of_order(events: Sequence[CaseEvent]) -> list[ChainProblem]:
    problems = []
    highest: CaseEvent | None = None
    for event in events:
        if highest is not None and event.global_seq < highest.global_seq:
            problems.append(
                _problem(
                    ProblemKind.REORDERED,
                    event,
                    f"stored after global_seq {highest.global_seq} "
                    f"(case {highest.case_id} seq {highest.seq})",
                )
            )
        if highest is None or event.global_seq > highest.global_seq:
            highest = event
    return problems


def _duplicates(by_position: Sequence[CaseEvent]) -> list[ChainProblem]:
    return [
        _problem(ProblemKind.DUPLICATED, later, "another event holds the same global position")
        for earlier, later in pairwise(by_position)
        if later.global_seq == earlier.global_seq
    ]


def _links(by_position: Sequence[CaseEvent], intact: set[int]) -> list[ChainProblem]:
    """Breaks between neighbours that are each self-consistent: the earlier one was re-hashed."""
    problems = []
    previous: CaseEvent | None = None
    for event in by_position:
        if previous is None:
            if event.global_seq == 1 and id(event) in intact and event.prev_hash != GENESIS_HASH:
                problems.append(
                    _problem(ProblemKind.EDITED, event, "the first event does not link to genesis")
                )
        elif (
            event.global_seq == previous.global_seq + 1
            and id(event) in intact
            and id(previous) in intact
            and event.prev_hash != previous.hash
        ):
            # The later event's prev_hash is covered by its own intact hash, so it still records
            # what the earlier event hashed to when it was appended: the earlier one changed.
            problems.append(
                _problem(
                    ProblemKind.EDITED,
                    previous,
                    f"edited and re-hashed: global_seq {event.global_seq} recorded a different hash",
                )
            )
        previous = event
    return problems


def _gaps(by_position: Sequence[CaseEvent]) -> list[ChainProblem]:
    problems: list[ChainProblem] = []
    case_gaps = _case_gaps(by_position)
    previous_seq = 0
    for event in by_position:
        for missing in range(previous_seq + 1, event.global_seq):
            case_id, seq = case_gaps.pop(missing, (None, None))
            detail = f"missing before global_seq {event.global_seq} (case {event.case_id} seq {event.seq})"
            problems.append(ChainProblem(ProblemKind.REMOVED, missing, case_id, seq, detail))
        previous_seq = max(previous_seq, event.global_seq)
    return problems


def _case_gaps(by_position: Sequence[CaseEvent]) -> dict[int, tuple[str, int]]:
    """Missing global positions that a gap in one case's `seq` pins down to that case and seq."""
    present = {e.global_seq for e in by_position}
    last_of_case: dict[str, CaseEvent] = {}
    named: dict[int, tuple[str, int]] = {}
    for event in by_position:
        before = last_of_case.get(event.case_id)
        start_seq, start_global = (before.seq, before.global_seq) if before else (0, 0)
        missing_seqs = list(range(start_seq + 1, event.seq))
        holes = [g for g in range(start_global + 1, event.global_seq) if g not in present]
        # Only when every hole in between belongs to this case can each be named by its seq.
        if missing_seqs and len(holes) == len(missing_seqs):
            for hole, seq in zip(holes, missing_seqs, strict=True):
                named.setdefault(hole, (event.case_id, seq))
        last_of_case[event.case_id] = event
    return named


def _anchors(by_position: Sequence[CaseEvent], anchors: Sequence[ChainHead]) -> list[ChainProblem]:
    problems = []
    at_position = {e.global_seq: e for e in by_position}
    last = by_position[-1].global_seq if by_position else 0
    for anchor in anchors:
        if anchor.global_seq == 0:
            continue
        event = at_position.get(anchor.global_seq)
        if anchor.global_seq > last:
            problems.append(
                ChainProblem(
                    ProblemKind.TRUNCATED,
                    anchor.global_seq,
                    None,
                    None,
                    f"the log ends at global_seq {last} but a head was recorded at "
                    f"{anchor.global_seq}: events after {last} were removed",
                )
            )
        elif event is not None and event.hash != anchor.hash:
            problems.append(
                _problem(
                    ProblemKind.EDITED,
                    event,
                    "differs from the recorded head: the log was rewritten at or before this event",
                )
            )
    return problems
