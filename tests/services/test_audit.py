"""The audit chain over the stored log: each kind of tampering by direct SQL is caught and named."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from gridgov.workflow.events import ProblemKind
from gridgov.workflow.model import AcceptCase, HandleCase
from tests.case_world import HANDLER, CaseWorld, build_world

CASES = 8  # 8 cases × 5 events = 40 events


@pytest.fixture
def world(sessions: sessionmaker[Session], tmp_path: Path) -> CaseWorld:
    built = build_world(sessions, tmp_path)
    for _ in range(CASES):
        case_id = built.dispatched_case()
        built.clock.advance(timedelta(minutes=1))
        built.service.perform(case_id, AcceptCase(), HANDLER)
        built.service.perform(case_id, HandleCase(evidence=("photo",)), HANDLER)
    return built


def unlock_log(conn: Connection) -> None:
    """What an intruder with the owner's rights would do first: switch the append-only guard off."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("alter table case_events disable trigger case_events_append_only"))
    else:
        conn.execute(text("drop trigger case_events_no_update"))
        conn.execute(text("drop trigger case_events_no_delete"))


def edit_reason(conn: Connection) -> None:
    conn.execute(text("update case_events set reason = '已处理' where global_seq = 12"))


def delete_middle(conn: Connection) -> None:
    conn.execute(text("delete from case_events where global_seq = 17"))


def swap_two(conn: Connection) -> None:
    conn.execute(text("update case_events set global_seq = -1 where global_seq = 20"))
    conn.execute(text("update case_events set global_seq = 20 where global_seq = 21"))
    conn.execute(text("update case_events set global_seq = 21 where global_seq = -1"))


def delete_last(conn: Connection) -> None:
    conn.execute(
        text("delete from case_events where global_seq = (select max(global_seq) from case_events)")
    )


@pytest.mark.parametrize(
    "tamper, kind, global_seq",
    [
        (edit_reason, ProblemKind.EDITED, 12),
        (delete_middle, ProblemKind.REMOVED, 17),
        (swap_two, ProblemKind.REORDERED, 20),
        (delete_last, ProblemKind.TRUNCATED, CASES * 5),
    ],
)
def test_tampering_with_the_stored_log_is_caught_and_named(
    world: CaseWorld, tamper: Callable[[Connection], None], kind: ProblemKind, global_seq: int
) -> None:
    report = world.service.verify_audit()
    assert report.intact and report.events == CASES * 5
    assert "audit chain intact: 40 events" in report.render()
    with world.sessions.begin() as session:
        conn = session.connection()
        unlock_log(conn)
        tamper(conn)
    report = world.service.verify_audit()
    assert not report.intact
    assert (kind, global_seq) in {(p.kind, p.global_seq) for p in report.problems}
    assert f"global_seq {global_seq}" in report.render()


def test_a_removed_event_is_named_by_its_case_and_seq(world: CaseWorld) -> None:
    with world.sessions.begin() as session:
        conn = session.connection()
        unlock_log(conn)
        delete_middle(conn)
    removed = [p for p in world.service.verify_audit().problems if p.kind is ProblemKind.REMOVED]
    # Events 16–20 are the fourth case's report, file, dispatch, accept, handle.
    assert [(p.case_id, p.seq) for p in removed] == [("4", 2)]


@pytest.mark.parametrize(
    "statement",
    ["update case_events set reason = 'x' where global_seq = 1", "delete from case_events"],
)
def test_the_database_refuses_to_change_the_log(world: CaseWorld, statement: str) -> None:
    with pytest.raises(DBAPIError, match="append-only"), world.sessions.begin() as session:
        session.execute(text(statement))
    assert world.service.verify_audit().intact
