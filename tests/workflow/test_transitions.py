"""The case state machine: every (state, action) pair, every role, every required field."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gridgov.core.errors import Conflict, InvalidInput
from gridgov.workflow.events import PendingEvent, seal
from gridgov.workflow.model import (
    AcceptCase,
    Action,
    Actor,
    ApproveExtension,
    Case,
    CaseState,
    CloseCase,
    Command,
    DenyExtension,
    DispatchCase,
    EscalateCase,
    EvaluateCase,
    FailVerification,
    FileCase,
    HandleCase,
    MergeCase,
    OwningLevel,
    PassVerification,
    ReassignCase,
    RejectCase,
    ReopenCase,
    ReportCase,
    RequestExtension,
    ReturnCase,
    Role,
    Satisfaction,
    SuperviseCase,
)
from gridgov.workflow.replay import apply
from gridgov.workflow.transitions import (
    COMMAND_ACTIONS,
    TRANSITIONS,
    ConditionNotMet,
    HistoryInvalid,
    IllegalTransition,
    RoleNotAllowed,
    allowed_actions,
    decide,
    in_scope,
    transition_table_markdown,
)

S, A, R = CaseState, Action, Role
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
DOCS = Path(__file__).resolve().parents[2] / "docs"
GRID_PATH = {
    "district": "410102000000",
    "street": "410102001000",
    "community": "410102001001",
    "compound": "410102001001001",
}

# The specification, written out independently of gridgov.workflow.transitions.
EXPECTED: dict[tuple[CaseState | None, Action], CaseState] = {
    (None, A.REPORT): S.REPORTED,
    (S.REPORTED, A.FILE): S.FILED,
    (S.REPORTED, A.REJECT): S.REJECTED,
    (S.FILED, A.DISPATCH): S.DISPATCHED,
    (S.RETURNED, A.DISPATCH): S.DISPATCHED,
    (S.REOPENED, A.DISPATCH): S.DISPATCHED,
    (S.DISPATCHED, A.ACCEPT): S.ACCEPTED,
    (S.DISPATCHED, A.RETURN): S.RETURNED,
    (S.ACCEPTED, A.RETURN): S.RETURNED,
    (S.ACCEPTED, A.HANDLE): S.HANDLED,
    (S.REOPENED, A.HANDLE): S.HANDLED,
    (S.HANDLED, A.VERIFY_PASS): S.VERIFIED,
    (S.HANDLED, A.VERIFY_FAIL): S.REOPENED,
    (S.VERIFIED, A.CLOSE): S.CLOSED,
    (S.CLOSED, A.EVALUATE): S.EVALUATED,
    (S.EVALUATED, A.REOPEN): S.REOPENED,
    **{(s, a): s for s in (S.DISPATCHED, S.ACCEPTED, S.REOPENED) for a in (
        A.REQUEST_EXTENSION, A.APPROVE_EXTENSION, A.DENY_EXTENSION)},
    **{(s, A.ESCALATE): s for s in (S.FILED, S.DISPATCHED, S.ACCEPTED, S.RETURNED, S.REOPENED)},
    **{(s, A.SUPERVISE): s for s in CaseState if s not in {
        S.REJECTED, S.CLOSED, S.EVALUATED, S.MERGED}},
    **{(s, A.MERGE): S.MERGED for s in (
        S.REPORTED, S.FILED, S.DISPATCHED, S.ACCEPTED, S.RETURNED, S.REOPENED)},
    **{(s, A.REASSIGN): S.DISPATCHED for s in (S.DISPATCHED, S.ACCEPTED, S.RETURNED)},
}  # fmt: skip

EXPECTED_ROLES: dict[Action, set[Role]] = {
    A.REPORT: {R.REPORTER, R.GRID_WORKER, R.INTAKE_OPERATOR, R.SYSTEM},
    A.FILE: {R.SHIFT_LEADER, R.INTAKE_OPERATOR},
    A.REJECT: {R.SHIFT_LEADER, R.INTAKE_OPERATOR},
    A.DISPATCH: {R.DISPATCHER, R.SYSTEM},
    A.ACCEPT: {R.HANDLER, R.DEPARTMENT_HEAD},
    A.RETURN: {R.HANDLER, R.DEPARTMENT_HEAD},
    A.HANDLE: {R.HANDLER, R.DEPARTMENT_HEAD},
    A.VERIFY_PASS: {R.GRID_WORKER, R.INTAKE_OPERATOR},
    A.VERIFY_FAIL: {R.GRID_WORKER, R.INTAKE_OPERATOR},
    A.CLOSE: {R.SHIFT_LEADER},
    A.EVALUATE: {R.REPORTER, R.INTAKE_OPERATOR},
    A.REOPEN: {R.SHIFT_LEADER, R.SUPERVISOR, R.CENTRE_LEADER},
    A.REQUEST_EXTENSION: {R.HANDLER, R.DEPARTMENT_HEAD},
    A.APPROVE_EXTENSION: {R.SHIFT_LEADER, R.SUPERVISOR, R.CENTRE_LEADER},
    A.DENY_EXTENSION: {R.SHIFT_LEADER, R.SUPERVISOR, R.CENTRE_LEADER},
    A.ESCALATE: {
        R.GRID_WORKER, R.DISPATCHER, R.SHIFT_LEADER, R.DEPARTMENT_HEAD, R.CENTRE_LEADER, R.SYSTEM},
    A.SUPERVISE: {R.SUPERVISOR, R.CENTRE_LEADER, R.SYSTEM},
    A.MERGE: {R.INTAKE_OPERATOR, R.SHIFT_LEADER, R.DISPATCHER, R.SYSTEM},
    A.REASSIGN: {R.DISPATCHER, R.DEPARTMENT_HEAD, R.CENTRE_LEADER},
}  # fmt: skip

# The actions that take a case from a new report to each state.
PATHS: dict[CaseState, tuple[Action, ...]] = {
    S.REPORTED: (A.REPORT,),
    S.FILED: (A.REPORT, A.FILE),
    S.REJECTED: (A.REPORT, A.REJECT),
    S.DISPATCHED: (A.REPORT, A.FILE, A.DISPATCH),
    S.ACCEPTED: (A.REPORT, A.FILE, A.DISPATCH, A.ACCEPT),
    S.RETURNED: (A.REPORT, A.FILE, A.DISPATCH, A.RETURN),
    S.HANDLED: (A.REPORT, A.FILE, A.DISPATCH, A.ACCEPT, A.HANDLE),
    S.VERIFIED: (A.REPORT, A.FILE, A.DISPATCH, A.ACCEPT, A.HANDLE, A.VERIFY_PASS),
    S.REOPENED: (A.REPORT, A.FILE, A.DISPATCH, A.ACCEPT, A.HANDLE, A.VERIFY_FAIL),
    S.CLOSED: (A.REPORT, A.FILE, A.DISPATCH, A.ACCEPT, A.HANDLE, A.VERIFY_PASS, A.CLOSE),
    S.EVALUATED: (
        A.REPORT, A.FILE, A.DISPATCH, A.ACCEPT, A.HANDLE, A.VERIFY_PASS, A.CLOSE, A.EVALUATE),
    S.MERGED: (A.REPORT, A.MERGE),
}  # fmt: skip


def actor(role: Role, scope_code: str | None = None) -> Actor:
    return Actor(id=f"{role.value}-1", role=role, name=role.label_zh, scope_code=scope_code)


def a_role(action: Action) -> Role:
    return min(EXPECTED_ROLES[action], key=list(Role).index)


class Story:
    """Runs commands against one case at a clock that moves a minute per step, keeping the log."""

    def __init__(self, case_id: str = "C1") -> None:
        self.case_id = case_id
        self.case: Case | None = None
        self.now = T0
        self.events: list[PendingEvent] = []

    def command(self, action: Action, into: Case | None = None) -> Command:
        now = self.now
        samples: dict[Action, Command] = {
            A.REPORT: ReportCase(
                case_id=self.case_id,
                report_id=f"R-{self.case_id}",
                grid_codes=GRID_PATH,
                layer_id=1,
                category_code="0101",
            ),
            A.FILE: FileCase(category_code="0102"),
            A.REJECT: RejectCase(reason="不属于受理范围"),
            A.DISPATCH: DispatchCase(
                department="城管局",
                person="handler-1",
                accept_due=now + timedelta(hours=2),
                handle_due=now + timedelta(days=2),
            ),
            A.ACCEPT: AcceptCase(),
            A.RETURN: ReturnCase(reason="职能不符"),
            A.HANDLE: HandleCase(evidence=("photo-1",), reason="已清理"),
            A.VERIFY_PASS: PassVerification(),
            A.VERIFY_FAIL: FailVerification(reason="现场仍有垃圾"),
            A.CLOSE: CloseCase(),
            A.EVALUATE: EvaluateCase(satisfaction="dissatisfied"),
            A.REOPEN: ReopenCase(reason="市民不满意"),
            A.REQUEST_EXTENSION: RequestExtension(
                until=now + timedelta(days=10), reason="需采购配件"
            ),
            A.APPROVE_EXTENSION: ApproveExtension(handle_due=now + timedelta(days=9)),
            A.DENY_EXTENSION: DenyExtension(reason="理由不充分"),
            A.ESCALATE: EscalateCase(reason="超出本级职权"),
            A.SUPERVISE: SuperviseCase(reason="请加快办理"),
            A.REASSIGN: ReassignCase(department="园林局"),
        }
        if action is A.MERGE:
            return MergeCase(into=into if into is not None else other_open_case())
        return samples[action]

    def do(self, command: Command, role: Role | None = None) -> list[PendingEvent]:
        self.now += timedelta(minutes=1)
        who = actor(role or a_role(command.action))
        events = decide(self.case, command, who, self.now)
        for event in events:
            if event.case_id == self.case_id:
                self.case = apply(self.case, event)
                self.events.append(event)
        return events

    def act(self, action: Action, role: Role | None = None) -> Case:
        self.do(self.command(action), role)
        assert self.case is not None
        return self.case


def other_open_case() -> Case:
    return story_in(S.REPORTED, "C2").case  # type: ignore[return-value]


def story_in(state: CaseState, case_id: str = "C1") -> Story:
    story = Story(case_id)
    for action in PATHS[state]:
        story.act(action)
    return story


def ready_for(state: CaseState | None, action: Action) -> Story:
    """A story in `state` that also meets `action`'s condition, where it has one."""
    if state is None:
        return Story()
    story = story_in(state)
    if action in {A.APPROVE_EXTENSION, A.DENY_EXTENSION} and (state, action) in EXPECTED:
        story.act(A.REQUEST_EXTENSION)
    return story


ALL_PAIRS = [(s, a) for s in (None, *CaseState) for a in COMMAND_ACTIONS]


def test_the_table_holds_exactly_the_legal_pairs_of_the_specification() -> None:
    table = {k: t.next_state for k, t in TRANSITIONS.items() if k[1] is not A.ABSORB}
    assert table == EXPECTED


def test_the_table_gives_each_action_the_roles_of_the_specification() -> None:
    for (_, action), rule in TRANSITIONS.items():
        if action is not A.ABSORB:
            assert set(rule.roles) == EXPECTED_ROLES[action], action


@pytest.mark.parametrize(("state", "action"), ALL_PAIRS, ids=lambda v: str(v))
def test_every_pair_is_either_legal_for_its_roles_or_refused(
    state: CaseState | None, action: Action
) -> None:
    story = ready_for(state, action)
    command = story.command(action)
    expected = EXPECTED.get((state, action))
    if expected is None:
        for role in Role:
            with pytest.raises(IllegalTransition) as refused:
                decide(story.case, command, actor(role), story.now + timedelta(minutes=1))
            assert refused.value.action is action and refused.value.state is state
        return
    for role in set(Role) - EXPECTED_ROLES[action]:
        with pytest.raises(RoleNotAllowed):
            decide(story.case, command, actor(role), story.now + timedelta(minutes=1))
    for role in EXPECTED_ROLES[action]:
        events = decide(story.case, command, actor(role), story.now + timedelta(minutes=1))
        assert events[0].action is action and events[0].role is role
        assert apply(story.case, events[0]).state is expected


def test_an_illegal_action_is_refused_in_chinese_and_english_naming_state_action_and_roles() -> (
    None
):
    story = story_in(S.DISPATCHED)
    with pytest.raises(IllegalTransition) as refused:
        story.do(CloseCase(), R.SHIFT_LEADER)
    text = str(refused.value)
    for part in ("已派遣", "结案", "核查通过", "值班长", "dispatched", "close", "verified"):
        assert part in text
    assert isinstance(refused.value, Conflict)


def test_a_role_refusal_names_the_roles_that_may_act() -> None:
    story = story_in(S.FILED)
    with pytest.raises(RoleNotAllowed) as refused:
        story.do(story.command(A.DISPATCH), R.HANDLER)
    assert "派遣员" in str(refused.value) and "dispatcher, system" in str(refused.value)


def test_only_report_can_start_a_case_and_it_cannot_be_repeated() -> None:
    with pytest.raises(IllegalTransition, match="no case yet"):
        Story().do(FileCase(category_code="0101"), R.SHIFT_LEADER)
    story = story_in(S.REPORTED)
    with pytest.raises(IllegalTransition):
        story.act(A.REPORT)


@pytest.mark.parametrize(
    ("state", "command"),
    [
        (S.REPORTED, RejectCase(reason="")),
        (S.DISPATCHED, ReturnCase(reason="   ")),
        (S.HANDLED, FailVerification(reason="")),
        (S.EVALUATED, ReopenCase(reason="")),
        (S.FILED, EscalateCase(reason=" ")),
        (S.ACCEPTED, RequestExtension(until=T0 + timedelta(days=30), reason="")),
    ],
    ids=lambda v: getattr(v, "action", v),
)
def test_an_action_that_needs_a_reason_is_refused_without_one(
    state: CaseState, command: Command
) -> None:
    story = story_in(state)
    with pytest.raises(InvalidInput) as refused:
        story.do(command)
    assert refused.value.field == "reason"


def test_deny_extension_without_a_reason_is_refused_naming_the_reason() -> None:
    story = story_in(S.ACCEPTED)
    story.act(A.REQUEST_EXTENSION)
    with pytest.raises(InvalidInput) as refused:
        story.do(DenyExtension(reason=""))
    assert refused.value.field == "reason"


@pytest.mark.parametrize("evidence", [(), ("",), (" ", "")])
def test_handling_without_evidence_is_refused_naming_the_evidence(
    evidence: tuple[str, ...],
) -> None:
    story = story_in(S.ACCEPTED)
    with pytest.raises(InvalidInput) as refused:
        story.do(HandleCase(evidence=evidence))
    assert refused.value.field == "evidence"


@pytest.mark.parametrize("satisfaction", ["", "very happy"])
def test_evaluation_without_a_known_satisfaction_is_refused_naming_it(satisfaction: str) -> None:
    story = story_in(S.CLOSED)
    with pytest.raises(InvalidInput) as refused:
        story.do(EvaluateCase(satisfaction=satisfaction))
    assert refused.value.field == "satisfaction"


def test_a_dispatch_with_a_naive_or_past_or_inverted_deadline_is_refused_naming_it() -> None:
    story = story_in(S.FILED)
    naive = DispatchCase(
        department="城管局",
        accept_due=datetime(2025, 3, 3, 12),
        handle_due=T0 + timedelta(days=2),
    )
    past = DispatchCase(department="城管局", accept_due=T0, handle_due=T0 + timedelta(days=2))
    inverted = DispatchCase(
        department="城管局",
        accept_due=T0 + timedelta(days=3),
        handle_due=T0 + timedelta(days=2),
    )
    blank = DispatchCase(
        department=" ", accept_due=T0 + timedelta(hours=1), handle_due=T0 + timedelta(days=1)
    )
    for command, field in [
        (naive, "accept_due"),
        (past, "accept_due"),
        (inverted, "accept_due"),
        (blank, "department"),
    ]:
        with pytest.raises(InvalidInput) as refused:
            story.do(command)
        assert refused.value.field == field
    assert story.case is not None and story.case.state is S.FILED


def test_the_happy_path_runs_from_report_to_evaluation_recording_each_milestone() -> None:
    story = Story()
    for action in (A.REPORT, A.FILE, A.DISPATCH, A.ACCEPT, A.HANDLE, A.VERIFY_PASS, A.CLOSE):
        story.act(action)
    story.do(EvaluateCase(satisfaction="satisfied"))
    case = story.case
    assert case is not None
    assert case.state is S.EVALUATED and not case.is_open
    assert case.satisfaction is Satisfaction.SATISFIED
    assert case.category_code == "0102" and case.report_ids == ("R-C1",)
    assert case.assignee_department == "城管局" and case.assignee_person == "handler-1"
    assert case.handle_due == T0 + timedelta(minutes=2, days=2)
    milestones = [
        case.reported_at,
        case.filed_at,
        case.dispatched_at,
        case.accepted_at,
        case.handled_at,
        case.verified_at,
        case.closed_at,
        case.evaluated_at,
    ]
    assert milestones == [T0 + timedelta(minutes=i) for i in range(1, 9)]
    assert case.seq == 8 and case.return_count == 0 and case.reopen_count == 0


def test_a_returned_case_is_dispatched_again_to_another_department() -> None:
    story = story_in(S.RETURNED)
    assert story.case is not None
    assert story.case.return_count == 1 and story.case.assignee_department is None
    assert story.events[-1].payload["department"] == "城管局"
    story.do(
        DispatchCase(
            department="住建局",
            accept_due=T0 + timedelta(hours=3),
            handle_due=T0 + timedelta(days=3),
        )
    )
    assert story.case.state is S.DISPATCHED and story.case.assignee_department == "住建局"


def test_failed_verification_reopens_and_the_handler_handles_it_again_to_closure() -> None:
    story = story_in(S.REOPENED)
    case = story.case
    assert case is not None and case.state is S.REOPENED and case.reopen_count == 1
    assert story.events[-1].reason == "现场仍有垃圾"
    for action in (A.HANDLE, A.VERIFY_PASS, A.CLOSE):
        case = story.act(action)
    assert case.state is S.CLOSED and case.reopen_count == 1


def test_a_reopened_case_can_be_dispatched_again_instead() -> None:
    story = story_in(S.REOPENED)
    assert story.act(A.DISPATCH).state is S.DISPATCHED


def test_a_dissatisfied_evaluation_may_reopen_the_case_and_a_satisfied_one_may_not() -> None:
    story = story_in(S.EVALUATED)
    case = story.act(A.REOPEN)
    assert case.state is S.REOPENED and case.reopen_count == 1 and case.is_open

    happy = story_in(S.CLOSED)
    happy.do(EvaluateCase(satisfaction=Satisfaction.BASICALLY_SATISFIED))
    with pytest.raises(ConditionNotMet, match="dissatisfied"):
        happy.act(A.REOPEN)


def test_an_approved_extension_sets_the_granted_deadline_from_the_command() -> None:
    story = story_in(S.ACCEPTED)
    case = story.act(A.REQUEST_EXTENSION)
    assert case.pending_extension is not None
    assert case.pending_extension.until == T0 + timedelta(minutes=4, days=10)
    with pytest.raises(ConditionNotMet, match="already pending"):
        story.act(A.REQUEST_EXTENSION)
    granted = T0 + timedelta(days=8)
    story.do(ApproveExtension(handle_due=granted))
    assert story.case is not None
    assert story.case.handle_due == granted and story.case.pending_extension is None
    assert story.case.extensions_granted == 1 and story.case.state is S.ACCEPTED
    assert (
        story.events[-1].payload["previous_handle_due"]
        == (T0 + timedelta(minutes=2, days=2)).isoformat()
    )


def test_a_denied_extension_keeps_the_deadline_and_a_second_decision_is_refused() -> None:
    story = story_in(S.DISPATCHED)
    due = story.case.handle_due if story.case else None
    story.act(A.REQUEST_EXTENSION)
    case = story.act(A.DENY_EXTENSION)
    assert case.handle_due == due and case.pending_extension is None
    with pytest.raises(ConditionNotMet, match="no pending"):
        story.act(A.APPROVE_EXTENSION)


def test_an_extension_must_move_the_deadline_later() -> None:
    story = story_in(S.ACCEPTED)
    with pytest.raises(InvalidInput) as refused:
        story.do(RequestExtension(until=T0 + timedelta(days=1), reason="需要时间"))
    assert refused.value.field == "until"


def test_escalation_climbs_the_ladder_to_the_city_and_no_further() -> None:
    story = story_in(S.ACCEPTED)
    levels = [story.act(A.ESCALATE).owning_level for _ in range(4)]
    assert levels == [
        OwningLevel.COMMUNITY,
        OwningLevel.STREET,
        OwningLevel.DISTRICT,
        OwningLevel.CITY,
    ]
    assert story.case is not None and story.case.owning_code is None
    assert [e.to_level for e in story.case.escalations] == levels
    with pytest.raises(ConditionNotMet, match="city"):
        story.act(A.ESCALATE)
    assert story.case.state is S.ACCEPTED


def test_the_owning_code_follows_the_grid_path_up_the_ladder() -> None:
    story = story_in(S.FILED)
    assert story.case is not None and story.case.owning_code == GRID_PATH["compound"]
    assert story.act(A.ESCALATE).owning_code == GRID_PATH["community"]


def test_supervision_marks_and_counts_without_changing_state() -> None:
    story = story_in(S.HANDLED)
    story.act(A.SUPERVISE)
    case = story.act(A.SUPERVISE)
    assert case.supervised and case.supervise_count == 2 and case.state is S.HANDLED


def test_a_merged_case_hands_its_reports_to_the_open_case_it_joins() -> None:
    target = story_in(S.DISPATCHED, "C2")
    source = story_in(S.FILED, "C1")
    assert target.case is not None
    events = source.do(MergeCase(into=target.case, reason="同一问题"))
    assert [(e.case_id, e.seq, e.kind) for e in events] == [
        ("C1", 3, "CaseMerged"),
        ("C2", 4, "DuplicateAbsorbed"),
    ]
    joined = apply(target.case, events[1])
    assert source.case is not None and source.case.state is S.MERGED
    assert source.case.merged_into == "C2" and not source.case.is_open
    assert joined.report_ids == ("R-C2", "R-C1") and joined.merged_from == ("C1",)
    assert joined.state is S.DISPATCHED


def test_a_case_cannot_merge_into_itself_or_into_a_closed_case() -> None:
    source = story_in(S.REPORTED, "C1")
    assert source.case is not None
    with pytest.raises(ConditionNotMet, match="itself"):
        source.do(MergeCase(into=source.case))
    closed = story_in(S.CLOSED, "C3").case
    assert closed is not None
    with pytest.raises(ConditionNotMet, match="C3 is closed"):
        source.do(MergeCase(into=closed))


def test_reassigning_an_accepted_case_sends_it_back_for_acceptance_by_the_new_department() -> None:
    story = story_in(S.ACCEPTED)
    case = story.act(A.REASSIGN, R.DEPARTMENT_HEAD)
    assert case.state is S.DISPATCHED and case.assignee_department == "园林局"
    assert case.assignee_person is None and case.handle_due is not None


def test_replaying_the_log_gives_the_case_built_step_by_step() -> None:
    story = story_in(S.REOPENED)
    for action in (A.ESCALATE, A.SUPERVISE, A.REQUEST_EXTENSION, A.APPROVE_EXTENSION, A.HANDLE):
        story.act(action)
    for action in (A.VERIFY_PASS, A.CLOSE, A.EVALUATE, A.REOPEN, A.HANDLE):
        story.act(action)
    assert Case.replay(story.events) == story.case
    assert Case.replay(seal(story.events)) == story.case


def test_replay_refuses_a_history_with_a_missing_or_impossible_event() -> None:
    events = story_in(S.ACCEPTED).events
    with pytest.raises(HistoryInvalid, match="seq 3"):
        Case.replay([events[0], events[2]])
    with pytest.raises(HistoryInvalid, match="start with report"):
        Case.replay(events[1:])
    with pytest.raises(HistoryInvalid, match="not possible"):
        Case.replay([*events, replace(events[-1], seq=5, action=A.CLOSE)])


def test_an_actor_sees_a_case_only_within_their_scope() -> None:
    case = story_in(S.FILED).case
    assert case is not None
    assert in_scope(actor(R.CENTRE_LEADER), case)
    assert in_scope(actor(R.DISPATCHER, GRID_PATH["street"]), case)
    assert in_scope(actor(R.GRID_WORKER, GRID_PATH["compound"]), case)
    assert not in_scope(actor(R.DISPATCHER, "410102002000"), case)
    assert not in_scope(actor(R.DISPATCHER, "410103000000"), case)


def test_allowed_actions_lists_what_a_role_may_do_now() -> None:
    case = story_in(S.DISPATCHED).case
    assert allowed_actions(case, actor(R.HANDLER)) == [A.ACCEPT, A.RETURN, A.REQUEST_EXTENSION]
    assert allowed_actions(None, actor(R.REPORTER)) == [A.REPORT]


def test_the_workflow_doc_shows_the_current_transition_table() -> None:
    doc = (DOCS / "workflow.md").read_text(encoding="utf-8")
    assert transition_table_markdown() in doc
