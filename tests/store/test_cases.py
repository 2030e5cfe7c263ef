"""The case store on both dialects: the chain it appends, the head and anchors, exactly-once reports."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gridgov.core.errors import NotFound
from gridgov.store.cases import CaseRepository, ConcurrentChange, ReportExists
from gridgov.store.tables import AuditHeadRow, CaseEventRow, CaseRow, ReportRow
from gridgov.workflow.events import GENESIS, CaseEvent, verify_chain
from gridgov.workflow.model import Actor, Case, FileCase, ReportCase, Role
from gridgov.workflow.transitions import decide
from tests.databases import assert_locked

NOW = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)
INTAKE = Actor("i", Role.INTAKE_OPERATOR)
REPORT_FIELDS = {
    "channel": "hotline_12345",
    "external_id": "X-1",
    "received_at": NOW,
    "reported_at": NOW,
    "text": "路灯不亮",
    "crs": "wgs84",
    "payload": {"raw": "…"},
}


def _open(repo: CaseRepository, report_id: int) -> Case:
    case_id = repo.open_case(NOW, 113.6, 34.7)
    command = ReportCase(
        case_id=str(case_id), report_id=str(report_id), grid_codes={"street": "S1"}, layer_id=1
    )
    events = repo.append(decide(None, command, INTAKE, NOW))
    case = Case.replay(events)
    repo.save_projection(case_id, case, None)
    return case


def test_appended_events_form_one_chain_and_move_the_head(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as s:
        repo = CaseRepository(s)
        assert repo.head() == GENESIS
        repo.begin_write()
        first = _open(repo, repo.add_report(**REPORT_FIELDS))
        second = _open(repo, repo.add_report(**{**REPORT_FIELDS, "external_id": "X-2"}))
        filed = repo.append(decide(first, FileCase(category_code="C0105"), INTAKE, NOW))
        repo.record_anchor(NOW)
    with sessions() as s:
        repo = CaseRepository(s)
        events = repo.all_events()
        assert [(e.case_id, e.seq, e.global_seq) for e in events] == [
            (first.id, 1, 1),
            (second.id, 1, 2),
            (first.id, 2, 3),
        ]
        assert repo.head().hash == filed[-1].hash
        assert verify_chain(events, repo.anchors()) == []
        assert repo.case(int(first.id)).category_code == "C0105"
        assert repo.projection(int(first.id))["state"] == "reported"  # not yet rebuilt
        rebuilt = repo.rebuild_projection(int(first.id), lambda case: None)
        assert repo.projection(int(first.id))["state"] == rebuilt.state.value == "filed"


def test_a_second_report_with_the_same_channel_and_external_id_is_refused_cleanly(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as s:
        repo = CaseRepository(s)
        report_id = repo.add_report(**REPORT_FIELDS)
        with pytest.raises(ReportExists):
            repo.add_report(**REPORT_FIELDS)
        # The transaction is still usable: only the refused insert was undone.
        assert repo.report_by_key("hotline_12345", "X-1") == repo.report(report_id)
    with sessions() as s:
        assert CaseRepository(s).count(ReportRow) == 1


def test_an_event_with_a_taken_case_seq_is_refused_and_the_head_stays(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as s:
        repo = CaseRepository(s)
        case = _open(repo, repo.add_report(**REPORT_FIELDS))
    stale = decide(case, FileCase(category_code="C0105"), INTAKE, NOW)
    with sessions.begin() as s:
        CaseRepository(s).append(stale)
    with pytest.raises(ConcurrentChange, match="changed at the same time"), sessions.begin() as s:
        CaseRepository(s).append(stale)
    with sessions() as s:
        repo = CaseRepository(s)
        assert repo.count(CaseEventRow) == 2
        assert repo.head().global_seq == 2


def _two_cases_one_filed(sessions: sessionmaker[Session]) -> tuple[Case, Case, list[CaseEvent]]:
    """Two reported cases, the first filed since (its projection rebuilt): both, and the filing."""
    with sessions.begin() as s:
        repo = CaseRepository(s)
        first = _open(repo, repo.add_report(**REPORT_FIELDS))
        second = _open(repo, repo.add_report(**{**REPORT_FIELDS, "external_id": "X-2"}))
        filed = repo.append(decide(first, FileCase(category_code="C0105"), INTAKE, NOW))
        repo.save_projection(int(first.id), Case.replay([*repo.events(int(first.id))]), None)
    return first, second, filed


def test_locked_cases_stay_locked_until_commit_and_their_events_read_back(
    sessions: sessionmaker[Session],
) -> None:
    first, second, filed = _two_cases_one_filed(sessions)
    ids = [int(second.id), int(first.id), int(second.id)]
    with sessions() as s:
        repo = CaseRepository(s)
        repo.lock_cases(ids)
        read = repo.events_of(ids)
        assert {k: [e.seq for e in v] for k, v in read.items()} == {
            int(first.id): [1, 2],
            int(second.id): [1],
        }
        assert Case.replay(read[int(second.id)]) == second
        after = repo.events_after({int(first.id): 1, int(second.id): 0, 9999: 0})
        assert {k: [e.seq for e in v] for k, v in after.items()} == {
            int(first.id): [2],
            int(second.id): [1],
        }
        assert after[int(first.id)] == filed
        if s.get_bind().dialect.name == "postgresql":
            assert_locked(sessions, select(CaseRow.id).where(CaseRow.id == int(first.id)))
        with pytest.raises(NotFound):
            repo.lock_cases([int(first.id), 9999])


def test_cases_locked_for_a_merge_answer_their_new_events_and_hold_the_head(
    sessions: sessionmaker[Session],
) -> None:
    first, second, filed = _two_cases_one_filed(sessions)
    with sessions.begin() as s:
        repo = CaseRepository(s)
        events, head = repo.lock_for_merge({int(first.id): 1, int(second.id): 0})
        assert events[int(first.id)] == filed
        assert Case.replay(events[int(second.id)]) == second
        assert head == repo.head() and head.global_seq == 3
        if s.get_bind().dialect.name == "postgresql":
            assert_locked(sessions, select(CaseRow.id).where(CaseRow.id == int(second.id)))
            assert_locked(sessions, select(AuditHeadRow.id))
    with pytest.raises(NotFound), sessions.begin() as s:
        CaseRepository(s).lock_for_merge({int(first.id): 0, 9999: 0})


def test_a_merge_lock_that_may_not_wait_is_refused_at_once_by_a_held_row(
    sessions: sessionmaker[Session],
) -> None:
    first, second, _ = _two_cases_one_filed(sessions)
    with sessions.begin() as holder:
        CaseRepository(holder).lock_cases([int(second.id)])
        with sessions.begin() as s:
            events, _ = CaseRepository(s).lock_for_merge({int(first.id): 1}, wait=False)
            assert [e.seq for e in events[int(first.id)]] == [2]
        if holder.get_bind().dialect.name != "postgresql":
            return  # SQLite's write lock serialises the two transactions instead
        for after in (
            {int(second.id): 0},
            {n: 0 for n in range(int(second.id), 600 + int(second.id))},
        ):
            with pytest.raises(ConcurrentChange, match=str(second.id)), sessions.begin() as s:
                CaseRepository(s).lock_for_merge(after, wait=False)
