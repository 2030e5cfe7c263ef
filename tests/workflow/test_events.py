"""The audit chain: any edited, removed or reordered event is caught and named."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from gridgov.workflow.events import (
    GENESIS,
    GENESIS_HASH,
    CaseEvent,
    ChainHead,
    ChainProblem,
    PendingEvent,
    ProblemKind,
    chain_head,
    event_hash,
    seal,
    verify_chain,
)
from gridgov.workflow.model import (
    AcceptCase,
    Action,
    Actor,
    Case,
    Command,
    DispatchCase,
    FileCase,
    ReportCase,
    Role,
)
from gridgov.workflow.replay import apply
from gridgov.workflow.transitions import decide

T0 = datetime(2025, 10, 9, 8, 30, tzinfo=UTC)


def _log() -> list[CaseEvent]:
    """Two cases, interleaved, four events each, sealed on one chain as a store would."""
    cases: dict[str, Case | None] = {"A": None, "B": None}
    head = GENESIS
    log: list[CaseEvent] = []
    steps: list[tuple[Role, Command]] = [
        (Role.REPORTER, ReportCase(case_id="{}", report_id="r", grid_codes={"street": "S1"})),
        (Role.SHIFT_LEADER, FileCase(category_code="0101")),
        (
            Role.DISPATCHER,
            DispatchCase(
                department="城管局",
                accept_due=T0 + timedelta(days=1),
                handle_due=T0 + timedelta(days=3),
            ),
        ),
        (Role.HANDLER, AcceptCase()),
    ]
    now = T0
    for role, command in steps:
        for case_id in cases:
            now += timedelta(minutes=1)
            if isinstance(command, ReportCase):
                command = replace(command, case_id=case_id, report_id=f"r-{case_id}")
            pending = decide(cases[case_id], command, Actor(f"{role}-1", role), now)
            sealed = seal(pending, head)
            head = chain_head(sealed)
            cases[case_id] = apply(cases[case_id], sealed[0])
            log += sealed
    return log


LOG = _log()


def where(problems: list[ChainProblem]) -> list[tuple[ProblemKind, int, str | None, int | None]]:
    return [(p.kind, p.global_seq, p.case_id, p.seq) for p in problems]


def test_an_untouched_log_verifies_clean_and_links_back_to_genesis() -> None:
    assert [e.global_seq for e in LOG] == list(range(1, 9))
    assert [(e.case_id, e.seq) for e in LOG[:4]] == [("A", 1), ("B", 1), ("A", 2), ("B", 2)]
    assert LOG[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in pairwise(LOG))
    assert verify_chain(LOG) == []
    assert verify_chain(LOG, anchors=[chain_head(LOG)]) == []


def test_an_edited_reason_is_caught_naming_the_event() -> None:
    log = list(LOG)
    log[4] = replace(log[4], reason="已派遣（改）")
    assert where(verify_chain(log)) == [(ProblemKind.EDITED, 5, "A", 3)]


def test_an_edited_payload_is_caught_naming_the_event() -> None:
    log = list(LOG)
    log[5] = replace(log[5], payload={**log[5].payload, "department": "园林局"})
    problems = verify_chain(log)
    assert where(problems) == [(ProblemKind.EDITED, 6, "B", 3)]
    assert "case B seq 3" in str(problems[0])


def test_an_edited_and_rehashed_event_is_caught_by_the_next_link() -> None:
    log = list(LOG)
    forged = replace(log[2], actor_id="someone-else")
    log[2] = replace(forged, hash=event_hash(forged, forged.global_seq, forged.prev_hash))
    problems = verify_chain(log)
    assert where(problems) == [(ProblemKind.EDITED, 3, "A", 2)]
    assert "re-hashed" in problems[0].detail


def test_a_deleted_event_is_caught_naming_its_case_and_seq() -> None:
    log = [e for e in LOG if e.global_seq != 5]
    problems = verify_chain(log)
    assert where(problems) == [(ProblemKind.REMOVED, 5, "A", 3)]


def test_a_deleted_first_event_is_caught() -> None:
    assert where(verify_chain(LOG[1:])) == [(ProblemKind.REMOVED, 1, "A", 1)]


def test_a_case_deleted_as_a_whole_leaves_gaps_in_the_global_chain() -> None:
    log = [e for e in LOG if e.case_id != "B"]
    assert where(verify_chain(log)) == [(ProblemKind.REMOVED, g, None, None) for g in (2, 4, 6)]
    # Its last event was also the log's last: only the recorded head shows that one went too.
    assert (ProblemKind.TRUNCATED, 8) in {
        (p.kind, p.global_seq) for p in verify_chain(log, anchors=[chain_head(LOG)])
    }


def test_two_reordered_events_are_caught_naming_the_one_moved() -> None:
    log = list(LOG)
    log[3], log[4] = log[4], log[3]
    problems = verify_chain(log)
    assert where(problems) == [(ProblemKind.REORDERED, 4, "B", 2)]
    assert "stored after global_seq 5" in problems[0].detail


def test_swapping_the_positions_two_events_claim_is_caught_on_both() -> None:
    log = list(LOG)
    log[3], log[4] = replace(log[4], global_seq=4), replace(log[3], global_seq=5)
    kinds = {(p.kind, p.global_seq) for p in verify_chain(log)}
    assert {(ProblemKind.EDITED, 4), (ProblemKind.EDITED, 5)} <= kinds


def test_a_cut_tail_needs_the_recorded_head_to_be_caught() -> None:
    head = chain_head(LOG)
    cut = LOG[:-2]
    assert verify_chain(cut) == []  # the chain alone cannot tell
    problems = verify_chain(cut, anchors=[head])
    assert where(problems) == [(ProblemKind.TRUNCATED, 8, None, None)]
    assert "ends at global_seq 6" in problems[0].detail


def test_a_rewritten_tail_needs_the_recorded_head_to_be_caught() -> None:
    head = chain_head(LOG)
    rewritten = [
        PendingEvent(e.case_id, e.seq, e.action, e.actor_id, e.role, e.at, "forged", e.payload)
        for e in LOG[6:]
    ]
    forged = LOG[:6] + seal(rewritten, chain_head(LOG[:6]))
    assert verify_chain(forged) == []
    assert where(verify_chain(forged, anchors=[head])) == [(ProblemKind.EDITED, 8, "B", 4)]


def test_a_duplicated_position_is_caught() -> None:
    log = [*LOG[:5], LOG[4], *LOG[5:]]
    assert (ProblemKind.DUPLICATED, 5) in {(p.kind, p.global_seq) for p in verify_chain(log)}


def test_the_hash_ignores_payload_key_order_and_time_zone_notation() -> None:
    event = LOG[4]
    reordered = replace(event, payload=dict(reversed(list(event.payload.items()))))
    shifted = replace(event, at=event.at.astimezone(ZoneInfo("Asia/Shanghai")))
    assert event_hash(reordered, 5, event.prev_hash) == event.hash
    assert event_hash(shifted, 5, event.prev_hash) == event.hash


def test_the_hash_is_sha256_of_the_documented_canonical_json() -> None:
    # Stored logs were sealed with this exact encoding; any change would break their verification.
    event = replace(LOG[4], reason="派遣至 市政 / dispatched", payload={"b": [1, "二"], "a": None})
    canonical = json.dumps(
        {
            "case_id": event.case_id,
            "seq": event.seq,
            "global_seq": 5,
            "action": event.action.value,
            "actor": event.actor_id,
            "role": event.role.value,
            "at": event.at.astimezone(UTC).isoformat(timespec="microseconds"),
            "reason": event.reason,
            "payload": event.payload,
            "prev_hash": event.prev_hash,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )
    expected = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    assert event_hash(event, 5, event.prev_hash) == expected
    with pytest.raises(ValueError, match="JSON"):
        event_hash(replace(event, payload={"x": float("nan")}), 5, event.prev_hash)


def test_a_naive_event_time_cannot_be_hashed() -> None:
    with pytest.raises(ValueError, match="timezone"):
        event_hash(replace(LOG[0], at=datetime(2025, 1, 1)), 1, GENESIS_HASH)


def test_events_are_named_in_the_past_tense() -> None:
    assert [e.kind for e in LOG[::2]] == [
        "CaseReported",
        "CaseFiled",
        "CaseDispatched",
        "CaseAccepted",
    ]
    assert LOG[4].action is Action.DISPATCH


def test_the_head_of_an_empty_log_is_genesis() -> None:
    assert chain_head([]) == ChainHead(0, GENESIS_HASH)
