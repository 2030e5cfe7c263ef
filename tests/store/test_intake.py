"""Intake's write path on both dialects: ids reserved before rows are written, new cases inserted
finished, reports inserted many at a time, stored reports found among many keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from gridgov.core.errors import NotFound
from gridgov.store.cases import CaseRepository, ConcurrentChange, NewCase, ReportExists
from gridgov.store.intake import IntakeRepository
from gridgov.store.tables import AuditHeadRow, CaseRow, ReportRow
from gridgov.workflow.events import verify_chain
from gridgov.workflow.model import Actor, Case, FileCase, ReportCase, Role
from gridgov.workflow.transitions import decide
from tests.databases import assert_locked

NOW = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)
INTAKE = Actor("intake:test", Role.INTAKE_OPERATOR)


def report_row(
    report_id: int, external_id: str, case_id: int | None, **changes: Any
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": report_id,
        "channel": "hotline_12345",
        "external_id": external_id,
        "received_at": NOW,
        "reported_at": NOW,
        "text": "金水路路灯不亮",
        "text_masked": "金水路路灯不亮",
        "address": None,
        "lon": 113.6,
        "lat": 34.7,
        "crs": "wgs84",
        "reporter_name": None,
        "reporter_phone": None,
        "category_code": None,
        "payload": {"内容": "金水路路灯不亮", "nested": {"n": [1, None]}},
        "case_id": case_id,
        "location_status": "located",
        "intake": {"warnings": ["一条"], "duplicate": None},
    }
    row.update(changes)
    return row


def decided(case_id: int, report_id: int) -> tuple[Case, list[Any]]:
    """A case reported and filed, and its events, before anything is stored."""
    report = ReportCase(
        case_id=str(case_id),
        report_id=str(report_id),
        grid_codes={"district": "D1", "street": "S1", "special.1": "SP1"},
        layer_id=1,
    )
    events = decide(None, report, INTAKE, NOW)
    case = Case.replay(events)
    filed = decide(case, FileCase(category_code="C0105"), INTAKE, NOW)
    return Case.replay([*events, *filed]), [*events, *filed]


def test_reserved_ids_come_after_the_stored_ones_and_are_never_handed_out_twice(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as s:
        repo = IntakeRepository(s)
        repo.cases.begin_write()
        existing = repo.cases.open_case(NOW, 113.6, 34.7)
        case_ids = repo.cases.reserve_case_ids(3)
        report_ids = repo.reserve_report_ids(2)
        assert repo.cases.reserve_case_ids(0) == []
        assert case_ids == sorted(case_ids) and min(case_ids) > existing
        assert len(set(report_ids)) == 2
        repo.cases.insert_cases([NewCase(i, 113.6, 34.7, NOW) for i in case_ids])
    with sessions.begin() as s:
        repo = IntakeRepository(s)
        repo.cases.begin_write()
        assert min(repo.cases.reserve_case_ids(2)) > max(case_ids)


def test_the_intake_turn_begins_with_ids_and_the_reports_stored_since_a_given_one(
    sessions: sessionmaker[Session],
) -> None:
    since = NOW - timedelta(hours=72)
    with sessions.begin() as s:
        repo = IntakeRepository(s)
        repo.cases.begin_write()
        case_id = repo.cases.open_case(NOW, 113.6, 34.7)
        ids = repo.reserve_report_ids(6)
        repo.add_reports(
            [
                report_row(ids[0], "old", case_id),  # at or below `after_id`
                report_row(ids[1], "own", case_id, intake={"accuracy_m": 25.0}),
                report_row(ids[2], "joined", case_id, intake={"duplicate_of": 4242}),
                report_row(ids[3], "unlocated", None, lon=None, lat=None),
                report_row(ids[4], "stale", case_id, reported_at=since - timedelta(seconds=1)),
                report_row(ids[5], "no case", None),
            ]
        )
    with sessions.begin() as s:
        repo = IntakeRepository(s)
        case_ids = repo.new_case_ids(2)
        turn = repo.begin_intake(new_reports=3, since=since, after_id=ids[0])
    assert [(r.external_id, r.case_id, r.merged_into) for r in turn.caught_up] == [
        ("own", case_id, None),
        ("joined", case_id, 4242),
    ]
    own = turn.caught_up[0]
    assert (own.id, own.lon, own.lat, own.reported_at) == (ids[1], 113.6, 34.7, NOW)
    assert own.intake == {"accuracy_m": 25.0} and own.text == "金水路路灯不亮"
    assert len(case_ids) == 2 and min(case_ids) > case_id
    assert len(turn.report_ids) == 3 and min(turn.report_ids) > max(ids)
    assert turn.report_ids == sorted(turn.report_ids)
    assert turn.events == {} and turn.head is None


def test_the_intake_turn_locks_the_merge_targets_with_their_new_events_and_the_head(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as s:
        repo = IntakeRepository(s)
        repo.cases.begin_write()
        (case_id,) = repo.cases.reserve_case_ids(1)
        (report_id,) = repo.reserve_report_ids(1)
        case, events = decided(case_id, report_id)
        repo.cases.insert_cases([NewCase(case_id, 113.6, 34.7, NOW, case, NOW)])
        repo.cases.append(events)
        repo.add_reports([report_row(report_id, "H-1", case_id)])
    postgres = sessions.kw["bind"].dialect.name == "postgresql"
    for merging, head in (({case_id: 1}, False), ({}, True)):
        with sessions.begin() as s:
            repo = IntakeRepository(s)
            repo.new_case_ids(1)
            turn = repo.begin_intake(
                new_reports=1, since=NOW, after_id=report_id, merging=merging, head=head
            )
            assert turn.head == repo.cases.head() and turn.head.global_seq == 2
            assert {k: [e.seq for e in v] for k, v in turn.events.items()} == (
                {case_id: [2]} if merging else {}
            )
            if postgres:
                assert_locked(sessions, select(AuditHeadRow.id))
                if merging:
                    assert_locked(sessions, select(CaseRow.id).where(CaseRow.id == case_id))
    with pytest.raises(NotFound), sessions.begin() as s:
        repo = IntakeRepository(s)
        repo.new_case_ids(0)
        repo.begin_intake(new_reports=0, since=NOW, after_id=0, merging={9999: 0})


def test_a_new_case_is_inserted_with_its_projection_before_its_events(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as s:
        repo = IntakeRepository(s)
        repo.cases.begin_write()
        finished_id, placeholder_id = repo.cases.reserve_case_ids(2)
        (report_id,) = repo.reserve_report_ids(1)
        case, events = decided(finished_id, report_id)
        repo.cases.insert_cases(
            [
                NewCase(finished_id, 113.6, 34.7, NOW, case, NOW),
                NewCase(placeholder_id, 113.7, 34.8, NOW),
            ]
        )
        repo.cases.append(events)
        repo.add_reports([report_row(report_id, "H-1", finished_id)])
        repo.cases.record_anchor(NOW)
    with sessions() as s:
        repo = CaseRepository(s)
        finished = repo.projection(finished_id)
        assert finished["state"] == "filed" and finished["category_code"] == "C0105"
        assert finished["street_code"] == "S1" and finished["special_codes"] == ["SP1"]
        assert finished["last_seq"] == 2 and finished["sweep_at"] == NOW
        assert (finished["lon"], finished["lat"]) == (113.6, 34.7)
        placeholder = repo.projection(placeholder_id)
        assert placeholder["state"] == "reported" and placeholder["last_seq"] == 0
        assert placeholder["street_code"] is None and placeholder["special_codes"] == []
        assert repo.case(finished_id) == case
        assert verify_chain(repo.all_events(), repo.anchors()) == []


def test_reports_stored_in_one_statement_read_back_as_written(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as s:
        repo = IntakeRepository(s)
        repo.cases.begin_write()
        ids = repo.reserve_report_ids(2)
        repo.add_reports(
            [
                report_row(ids[0], "H-1", None, location_status="awaiting_manual"),
                report_row(ids[1], "H-2", None, intake=None),
            ]
        )
    with sessions() as s:
        first = IntakeRepository(s).report(ids[0])
        assert first.payload == {"内容": "金水路路灯不亮", "nested": {"n": [1, None]}}
        assert first.intake == {"warnings": ["一条"], "duplicate": None}
        assert first.received_at == NOW and first.location_status == "awaiting_manual"
        assert IntakeRepository(s).report(ids[1]).intake == {}
        stored = s.scalar(select(ReportRow.intake).where(ReportRow.id == ids[1]))
        assert stored is None
        raw = s.scalar(
            text("select cast(payload as text) from reports where id = :id"), {"id": ids[0]}
        )
        assert "金水路" in str(raw)  # kept as text, not \\u escapes


def test_a_report_stored_meanwhile_refuses_the_batch_as_report_exists(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as s:
        repo = IntakeRepository(s)
        repo.cases.begin_write()
        repo.add_reports([report_row(repo.reserve_report_ids(1)[0], "H-1", None)])
    with pytest.raises(ReportExists), sessions.begin() as s:
        repo = IntakeRepository(s)
        repo.cases.begin_write()
        first, second = repo.reserve_report_ids(2)
        repo.add_reports([report_row(first, "H-2", None), report_row(second, "H-1", None)])
    with sessions() as s:
        assert sorted(s.scalars(select(ReportRow.external_id))) == ["H-1"]
        assert s.scalars(select(CaseRow.id)).all() == []


def test_writes_sent_together_store_a_batch_and_name_a_key_taken_meanwhile(
    sessions: sessionmaker[Session],
) -> None:
    """On PostgreSQL the batch's writes go out as one pipeline, whose errors only show at its
    end: they must still come out as the statements' own refusals, with nothing stored."""
    with sessions.begin() as s:
        repo = IntakeRepository(s)
        repo.cases.begin_write()
        (case_id,) = repo.cases.reserve_case_ids(1)
        taken, clash = repo.reserve_report_ids(2)
        case, events = decided(case_id, taken)
        head = repo.cases.lock_head()
        with repo.writes_together([str(case_id)]):
            repo.cases.insert_cases([NewCase(case_id, 113.6, 34.7, NOW, case, NOW)])
            repo.cases.append(events, head)
            repo.cases.record_anchor(NOW)
            repo.add_reports([report_row(taken, "H-1", case_id)])
        if s.get_bind().dialect.name == "postgresql":  # committed with the writes
            with sessions() as other:
                assert IntakeRepository(other).report(taken).external_id == "H-1"
    with pytest.raises(ReportExists), sessions.begin() as s:
        repo = IntakeRepository(s)
        repo.cases.begin_write()
        with repo.writes_together([]):
            repo.add_reports([report_row(clash, "H-1", None)])
    with pytest.raises(ConcurrentChange) as refused, sessions.begin() as s:
        repo = IntakeRepository(s)
        repo.cases.begin_write()
        (report_id,) = repo.reserve_report_ids(1)
        head = repo.cases.lock_head()
        with repo.writes_together([str(case_id)]):
            repo.cases.append(events, head)  # its sequence numbers are taken
            repo.add_reports([report_row(report_id, "H-2", case_id)])
    assert refused.value.case_ids == (str(case_id),)
    with sessions() as s:
        repo = CaseRepository(s)
        assert sorted(s.scalars(select(ReportRow.external_id))) == ["H-1"]
        assert repo.case(case_id) == case
        assert verify_chain(repo.all_events(), repo.anchors()) == []


def test_stored_reports_are_found_among_many_keys_of_several_channels(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as s:
        repo = IntakeRepository(s)
        repo.cases.begin_write()
        ids = repo.reserve_report_ids(3)
        repo.add_reports(
            [
                report_row(ids[0], "X-1", None),
                report_row(ids[1], "X-700", None, channel="police_110"),
                report_row(ids[2], "X-2", None, channel="police_110"),
            ]
        )
    wanted = [("hotline_12345", f"X-{n}") for n in range(1, 1001)]
    wanted += [("police_110", f"X-{n}") for n in range(600, 800)] + [("citizen_app", "X-1")]
    with sessions() as s:
        found = IntakeRepository(s).by_keys(wanted)
    assert sorted(found) == [("hotline_12345", "X-1"), ("police_110", "X-700")]
    assert found[("police_110", "X-700")].id == ids[1]
