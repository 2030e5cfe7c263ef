"""Checking the case event log: the hash chain, the recorded heads, and what each problem names."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from gridgov.store.cases import CaseRepository
from gridgov.workflow.events import ChainHead, ChainProblem, verify_chain


@dataclass(frozen=True)
class AuditReport:
    """The verdict on the log: how many events were read and every problem found, in order."""

    events: int
    head: ChainHead
    problems: tuple[ChainProblem, ...]

    @property
    def intact(self) -> bool:
        return not self.problems

    def render(self) -> str:
        if self.intact:
            return f"审计链完整 / audit chain intact: {self.events} events"
        lines = [
            f"审计链被破坏 / audit chain broken: {len(self.problems)} problems in "
            f"{self.events} events"
        ]
        lines += [f"  {problem}" for problem in self.problems]
        return "\n".join(lines)


def verify_audit(session_factory: sessionmaker[Session]) -> AuditReport:
    """Read the whole log in storage order and check it against every recorded head."""
    with session_factory() as session:
        repo = CaseRepository(session)
        events = repo.all_events()
        anchors = repo.anchors()
    problems = verify_chain(events, anchors)
    return AuditReport(events=len(events), head=anchors[-1], problems=tuple(problems))
