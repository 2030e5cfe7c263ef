"""Accounts: passwords, lockout, sessions, tokens, TOTP, roles → actors and scope, on both dialects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyotp
import pytest
from argon2 import PasswordHasher
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from gridgov.core.clock import FixedClock
from gridgov.core.errors import InvalidInput, NotFound
from gridgov.services.accounts import (
    AccountLocked,
    AccountRole,
    AccountService,
    NotAuthenticated,
    NotPermitted,
    SecurityPolicy,
    SignInRefused,
    TotpRequired,
)
from gridgov.services.cases import OutOfScope
from gridgov.services.credentials import locked_until
from gridgov.store.accounts import AccountRepository
from gridgov.workflow.model import (
    AcceptCase,
    Action,
    CaseState,
    HandleCase,
    Role,
    SuperviseCase,
)
from tests.case_world import COMMUNITY_1, ERQI, STREET_1, ZHONGYUAN, build_world

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
PASSWORD = "green-tea-at-dawn"
# Cheap parameters keep the suite fast; production uses argon2-cffi's defaults (RFC 9106).
FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def accounts(sessions: sessionmaker[Session], clock: FixedClock) -> AccountService:
    return AccountService(sessions, clock, hasher=FAST)


def sign_in_fails(accounts: AccountService, username: str, password: str, source: str) -> str:
    with pytest.raises(SignInRefused) as refused:
        accounts.sign_in(username, password, source=source)
    return refused.value.outcome


# Passwords


def test_the_right_password_signs_in_and_the_attempt_is_recorded(accounts: AccountService) -> None:
    accounts.create("wang.li", PASSWORD, "street_operator", scope_code=STREET_1)
    account = accounts.sign_in("Wang.Li ", PASSWORD, source="10.0.0.5")
    assert account.username == "wang.li" and account.last_sign_in_at == START
    (attempt,) = accounts.attempts("wang.li")
    assert (attempt.outcome, attempt.source, attempt.account_id) == ("ok", "10.0.0.5", account.id)


def test_a_wrong_password_and_an_unknown_user_are_refused_alike(accounts: AccountService) -> None:
    accounts.create("wang.li", PASSWORD, "street_operator", scope_code=STREET_1)
    with pytest.raises(SignInRefused) as wrong:
        accounts.sign_in("wang.li", "not-the-password", source="10.0.0.5")
    with pytest.raises(SignInRefused) as unknown:
        accounts.sign_in("nobody", PASSWORD, source="10.0.0.5")
    # The caller sees one message; only the audit trail tells the two apart.
    assert str(wrong.value) == str(unknown.value)
    assert "用户名或密码错误" in str(wrong.value)
    assert [a.outcome for a in accounts.attempts()] == ["unknown_user", "bad_password"]


def test_an_unknown_user_is_checked_against_a_real_argon2_hash(
    sessions: sessionmaker[Session], clock: FixedClock
) -> None:
    class CountingHasher(PasswordHasher):
        verified: list[str] = []  # noqa: RUF012

        def verify(self, hash: str | bytes, password: str | bytes) -> bool:
            self.verified.append(str(hash))
            return super().verify(hash, password)

    hasher = CountingHasher(time_cost=1, memory_cost=1024, parallelism=1)
    service = AccountService(sessions, clock, hasher=hasher)
    with pytest.raises(SignInRefused):
        service.sign_in("nobody", PASSWORD, source="10.0.0.5")
    (checked,) = hasher.verified
    assert checked.startswith("$argon2id$")


@pytest.mark.parametrize(
    "password, problem",
    [
        ("short-pw", "at least 10"),
        ("zhao.gang-is-me", "username"),
        ("qwertyuiop", "too common"),
        ("aaaaaaaaaaaa", "too common"),
    ],
)
def test_weak_passwords_are_refused_naming_the_problem(
    accounts: AccountService, password: str, problem: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        accounts.create("zhao.gang", password, "city_admin")
    assert refused.value.field == "password" and problem in refused.value.problem
    assert accounts.list() == []


def test_passwords_are_stored_as_argon2id_and_rehashed_when_parameters_change(
    sessions: sessionmaker[Session], accounts: AccountService, clock: FixedClock
) -> None:
    created = accounts.create("zhao.gang", PASSWORD, "city_admin")
    stronger = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
    AccountService(sessions, clock, hasher=stronger).sign_in("zhao.gang", PASSWORD, source="x")
    with sessions() as session:
        stored = AccountRepository(session).get(created.id)
    assert stored.password_hash.startswith("$argon2id$v=19$m=2048,t=2,p=1$")
    assert PASSWORD not in stored.password_hash


# Lockout


def test_five_failures_lock_the_account_even_against_the_right_password(
    accounts: AccountService, clock: FixedClock
) -> None:
    accounts.create("wang.li", PASSWORD, "street_operator", scope_code=STREET_1)
    for _ in range(5):
        clock.advance(timedelta(minutes=1))
        assert sign_in_fails(accounts, "wang.li", "guess-guess-guess", "10.0.0.9") == "bad_password"
    with pytest.raises(AccountLocked) as locked:
        accounts.sign_in("wang.li", PASSWORD, source="10.0.0.5")
    assert locked.value.until == START + timedelta(minutes=5 + 15)
    clock.advance(timedelta(minutes=14))
    assert sign_in_fails(accounts, "wang.li", PASSWORD, "10.0.0.5") == "locked"
    clock.advance(timedelta(minutes=1))
    assert accounts.sign_in("wang.li", PASSWORD, source="10.0.0.5").username == "wang.li"


def test_failures_spread_wider_than_the_window_do_not_lock(
    accounts: AccountService, clock: FixedClock
) -> None:
    accounts.create("wang.li", PASSWORD, "street_operator", scope_code=STREET_1)
    for _ in range(8):
        sign_in_fails(accounts, "wang.li", "guess-guess-guess", "10.0.0.9")
        clock.advance(timedelta(minutes=4))
    assert accounts.sign_in("wang.li", PASSWORD, source="10.0.0.9").username == "wang.li"


def test_unknown_usernames_lock_too_so_a_lock_reveals_no_account(
    accounts: AccountService,
) -> None:
    for _ in range(5):
        sign_in_fails(accounts, "ghost", "guess-guess-guess", "10.0.0.9")
    assert sign_in_fails(accounts, "ghost", "guess-guess-guess", "10.0.0.9") == "locked"


def test_many_failures_from_one_address_lock_that_address_for_every_username(
    sessions: sessionmaker[Session], clock: FixedClock
) -> None:
    policy = SecurityPolicy(max_failures_per_source=6)
    service = AccountService(sessions, clock, hasher=FAST, policy=policy)
    service.create("wang.li", PASSWORD, "street_operator", scope_code=STREET_1)
    for n in range(6):
        sign_in_fails(service, f"user{n}", "guess-guess-guess", "10.9.9.9")
    assert sign_in_fails(service, "wang.li", PASSWORD, "10.9.9.9") == "source_locked"
    assert service.sign_in("wang.li", PASSWORD, source="10.0.0.5").username == "wang.li"


@pytest.mark.parametrize(
    "minutes, expected",
    [
        ((), None),
        ((0, 1, 2, 3), None),
        ((0, 1, 2, 3, 4), 4 + 15),
        ((0, 4, 8, 12, 16), None),
        ((0, 4, 8, 12, 15), 15 + 15),
        ((0, 1, 2, 3, 4, 40, 41), 4 + 15),
    ],
)
def test_the_lock_rule_counts_five_failures_within_fifteen_minutes(
    minutes: tuple[int, ...], expected: int | None
) -> None:
    failures = [START + timedelta(minutes=m) for m in minutes]
    until = locked_until(failures, 5, timedelta(minutes=15), timedelta(minutes=15))
    assert until == (START + timedelta(minutes=expected) if expected is not None else None)


# Disabling and resetting


def test_a_disabled_account_cannot_sign_in_and_loses_its_sessions_and_tokens(
    accounts: AccountService,
) -> None:
    account = accounts.create("wang.li", PASSWORD, "street_operator", scope_code=STREET_1)
    started = accounts.start_session(account, source="10.0.0.5")
    issued = accounts.issue_token(account, "dashboard")
    accounts.disable("wang.li")
    assert sign_in_fails(accounts, "wang.li", PASSWORD, "10.0.0.5") == "disabled"
    with pytest.raises(NotAuthenticated, match="ended"):
        accounts.authenticate_session(started.session_id)
    with pytest.raises(NotAuthenticated, match="revoked"):
        accounts.authenticate_token(issued.token)
    assert [e[2] for e in accounts.events("wang.li")] == ["create", "token_issue", "disable"]


def test_a_password_reset_revokes_every_session_and_token(accounts: AccountService) -> None:
    account = accounts.create("wang.li", PASSWORD, "street_operator", scope_code=STREET_1)
    started = accounts.start_session(account, source="10.0.0.5")
    issued = accounts.issue_token(account, "dashboard")
    accounts.reset_password("wang.li", "a-new-long-phrase")
    for check in (
        lambda: accounts.authenticate_session(started.session_id),
        lambda: accounts.authenticate_token(issued.token),
    ):
        with pytest.raises(NotAuthenticated):
            check()
    sign_in_fails(accounts, "wang.li", PASSWORD, "10.0.0.5")
    assert accounts.sign_in("wang.li", "a-new-long-phrase", source="10.0.0.5").active


def test_only_a_city_admin_manages_accounts(accounts: AccountService) -> None:
    admin = accounts.create("admin", PASSWORD, "city_admin")
    operator = accounts.create(
        "wang.li", PASSWORD, "street_operator", scope_code=STREET_1, by=admin
    )
    with pytest.raises(NotPermitted):
        accounts.create("li.si", PASSWORD, "city_admin", by=operator)
    with pytest.raises(NotPermitted):
        accounts.disable("admin", by=operator)


def test_residents_get_no_password_account(accounts: AccountService) -> None:
    with pytest.raises(InvalidInput) as refused:
        accounts.create("resident1", PASSWORD, "resident", scope_code=STREET_1)
    assert refused.value.field == "role"


# Sessions


def test_a_session_expires_after_idling_and_after_its_lifetime(
    accounts: AccountService, clock: FixedClock
) -> None:
    account = accounts.create("wang.li", PASSWORD, "street_operator", scope_code=STREET_1)
    started = accounts.start_session(account, source="10.0.0.5")
    assert len(started.session_id) >= 43  # 32 random bytes, URL-safe base64
    for _ in range(24):  # active every 29 minutes for ~11.6 hours
        clock.advance(timedelta(minutes=29))
        assert accounts.authenticate_session(started.session_id).account.id == account.id
    clock.advance(timedelta(minutes=29))
    with pytest.raises(NotAuthenticated, match="expired"):
        accounts.authenticate_session(started.session_id)
    idle = accounts.start_session(account, source="10.0.0.5")
    clock.advance(timedelta(minutes=30))
    with pytest.raises(NotAuthenticated, match="idle"):
        accounts.authenticate_session(idle.session_id)


def test_the_csrf_token_must_match_the_session(accounts: AccountService) -> None:
    account = accounts.create("wang.li", PASSWORD, "street_operator", scope_code=STREET_1)
    first = accounts.start_session(account, source="10.0.0.5")
    second = accounts.start_session(account, source="10.0.0.5")
    web_session = accounts.authenticate_session(first.session_id)
    accounts.check_csrf(web_session, first.csrf_token)
    for wrong in (None, "", second.csrf_token):
        with pytest.raises(NotPermitted, match="CSRF"):
            accounts.check_csrf(web_session, wrong)


def test_session_ids_and_csrf_tokens_are_stored_hashed(
    sessions: sessionmaker[Session], accounts: AccountService
) -> None:
    account = accounts.create("wang.li", PASSWORD, "street_operator", scope_code=STREET_1)
    started = accounts.start_session(account, source="10.0.0.5")
    with sessions() as session:
        dump = repr(session.execute(text("select * from web_sessions")).all())
    assert started.session_id not in dump and started.csrf_token not in dump


# Tokens


def test_a_token_works_until_it_expires(accounts: AccountService, clock: FixedClock) -> None:
    account = accounts.create("wang.li", PASSWORD, "street_operator", scope_code=STREET_1)
    issued = accounts.issue_token(account, "大屏 dashboard", days=7)
    assert issued.token.startswith("ggt_") and issued.expires_at == START + timedelta(days=7)
    found, token = accounts.authenticate_token(issued.token)
    assert found.id == account.id and token.name == "大屏 dashboard"
    clock.advance(timedelta(days=7))
    with pytest.raises(NotAuthenticated, match="expired"):
        accounts.authenticate_token(issued.token)


def test_a_revoked_or_forged_token_is_refused(accounts: AccountService) -> None:
    account = accounts.create("wang.li", PASSWORD, "street_operator", scope_code=STREET_1)
    issued = accounts.issue_token(account, "sync")
    forged = issued.token[:-4] + ("AAAA" if not issued.token.endswith("AAAA") else "BBBB")
    with pytest.raises(NotAuthenticated, match="invalid token"):
        accounts.authenticate_token(forged)
    accounts.revoke_token(issued.id, by=account)
    with pytest.raises(NotAuthenticated, match="revoked"):
        accounts.authenticate_token(issued.token)


def test_someone_elses_token_cannot_be_revoked(accounts: AccountService) -> None:
    owner = accounts.create("wang.li", PASSWORD, "street_operator", scope_code=STREET_1)
    other = accounts.create("li.si", PASSWORD, "street_operator", scope_code=STREET_1)
    issued = accounts.issue_token(owner, "sync")
    with pytest.raises(NotFound):
        accounts.revoke_token(issued.id, by=other)
    assert accounts.authenticate_token(issued.token)[0].id == owner.id


def test_token_lifetimes_are_bounded(accounts: AccountService) -> None:
    account = accounts.create("wang.li", PASSWORD, "street_operator", scope_code=STREET_1)
    for days in (0, 366):
        with pytest.raises(InvalidInput) as refused:
            accounts.issue_token(account, "sync", days=days)
        assert refused.value.field == "days"


# TOTP


def enrol(accounts: AccountService, clock: FixedClock, username: str) -> tuple[str, list[str]]:
    enrollment = accounts.begin_totp(username)
    assert enrollment.provisioning_uri.startswith("otpauth://totp/gridgov:")
    codes = accounts.confirm_totp(username, pyotp.TOTP(enrollment.secret).at(clock.now()))
    return enrollment.secret, codes


def test_once_enabled_totp_is_required_and_checked(
    accounts: AccountService, clock: FixedClock
) -> None:
    accounts.create("admin", PASSWORD, "city_admin")
    secret, _ = enrol(accounts, clock, "admin")
    assert accounts.totp_secret("admin") == secret
    clock.advance(timedelta(minutes=2))
    with pytest.raises(TotpRequired):
        accounts.sign_in("admin", PASSWORD, source="10.0.0.5")
    right = pyotp.TOTP(secret).at(clock.now())
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    with pytest.raises(SignInRefused) as refused:
        accounts.sign_in("admin", PASSWORD, source="10.0.0.5", totp_code=wrong)
    assert refused.value.outcome == "bad_totp"
    assert accounts.sign_in("admin", PASSWORD, source="10.0.0.5", totp_code=right).totp_enabled
    # The same code a second time is a replay.
    with pytest.raises(SignInRefused):
        accounts.sign_in("admin", PASSWORD, source="10.0.0.5", totp_code=right)


def test_a_recovery_code_works_once_in_place_of_a_totp_code(
    accounts: AccountService, clock: FixedClock
) -> None:
    accounts.create("admin", PASSWORD, "city_admin")
    _, codes = enrol(accounts, clock, "admin")
    assert len(codes) == 10 and len(set(codes)) == 10
    code = codes[3].lower()
    assert accounts.sign_in("admin", PASSWORD, source="x", totp_code=code).username == "admin"
    with pytest.raises(SignInRefused):
        accounts.sign_in("admin", PASSWORD, source="x", totp_code=code)


def test_enrolment_needs_a_correct_code(accounts: AccountService) -> None:
    accounts.create("admin", PASSWORD, "city_admin")
    accounts.begin_totp("admin")
    with pytest.raises(InvalidInput):
        accounts.confirm_totp("admin", "000000")
    assert not accounts.get("admin").totp_enabled
    assert accounts.sign_in("admin", PASSWORD, source="x").username == "admin"


# Roles, scope and actors


def test_every_account_role_but_city_admin_and_auditor_needs_a_scope(
    accounts: AccountService,
) -> None:
    for role in AccountRole:
        if role in (AccountRole.CITY_ADMIN, AccountRole.AUDITOR, AccountRole.RESIDENT):
            continue
        with pytest.raises(InvalidInput) as refused:
            accounts.create(f"user.{role.value}", PASSWORD, role, department_code="d")
        assert refused.value.field == "scope"


def test_a_department_handler_needs_a_department_and_inherits_its_area(
    sessions: sessionmaker[Session], clock: FixedClock
) -> None:
    departments = {f"{ZHONGYUAN}.urban_management": ZHONGYUAN}
    service = AccountService(sessions, clock, hasher=FAST, departments=departments)
    with pytest.raises(InvalidInput) as missing:
        service.create("handler", PASSWORD, "department_handler", scope_code=ZHONGYUAN)
    assert missing.value.field == "department"
    with pytest.raises(InvalidInput):
        service.create("handler", PASSWORD, "department_handler", department_code="nope")
    account = service.create(
        "handler", PASSWORD, "department_handler", department_code=f"{ZHONGYUAN}.urban_management"
    )
    assert account.scope_code == ZHONGYUAN


@pytest.mark.parametrize(
    "role, default, acts_as",
    [
        ("city_admin", Role.CENTRE_LEADER, {Role.DISPATCHER, Role.SHIFT_LEADER}),
        ("district_operator", Role.DISPATCHER, {Role.CENTRE_LEADER, Role.INTAKE_OPERATOR}),
        ("street_operator", Role.DISPATCHER, {Role.SHIFT_LEADER, Role.SUPERVISOR}),
        ("community_worker", Role.GRID_WORKER, set()),
        ("grid_worker", Role.GRID_WORKER, set()),
        ("department_handler", Role.HANDLER, set()),
        ("police_liaison", Role.GRID_WORKER, set()),
    ],
)
def test_each_account_role_maps_to_workflow_roles_within_its_scope(
    accounts: AccountService, role: str, default: Role, acts_as: set[Role]
) -> None:
    scope = None if role == "city_admin" else STREET_1
    account = accounts.create("someone", PASSWORD, role, scope_code=scope, department_code="d")
    actor = accounts.actor(account)
    assert (actor.id, actor.role, actor.scope_code) == ("someone", default, scope)
    for other in acts_as:
        assert accounts.actor(account, other).role is other
    with pytest.raises(NotPermitted):
        accounts.actor(account, Role.SYSTEM)


def test_an_auditor_reads_but_cannot_act(accounts: AccountService) -> None:
    auditor = accounts.create("audit", PASSWORD, "auditor")
    with pytest.raises(NotPermitted, match="reads only"):
        accounts.actor(auditor)
    reader = accounts.reader(auditor)
    assert reader.scope_code is None and reader.role is Role.REPORTER


def test_the_actor_for_an_action_is_the_power_the_transition_table_allows(
    accounts: AccountService,
) -> None:
    account = accounts.create("operator", PASSWORD, "district_operator", scope_code=ZHONGYUAN)
    assert accounts.actor_for_action(account, CaseState.VERIFIED, Action.CLOSE).role is (
        Role.SHIFT_LEADER
    )
    assert accounts.actor_for_action(account, CaseState.FILED, Action.DISPATCH).role is (
        Role.DISPATCHER
    )
    assert accounts.actor_for_action(account, CaseState.DISPATCHED, Action.SUPERVISE).role is (
        Role.CENTRE_LEADER
    )


def test_the_case_services_enforce_an_accounts_scope_unchanged(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    world = build_world(sessions, tmp_path)
    service = AccountService(sessions, world.clock, hasher=FAST)
    case_id = world.dispatched_case()
    street = service.create("street", PASSWORD, "street_operator", scope_code=STREET_1)
    community = service.create("grid", PASSWORD, "grid_worker", scope_code=COMMUNITY_1)
    other = service.create("erqi", PASSWORD, "district_operator", scope_code=ERQI)
    assert world.service.case(case_id, service.reader(street)).id == str(case_id)
    assert world.service.case(case_id, service.reader(community)).id == str(case_id)
    with pytest.raises(OutOfScope):
        world.service.case(case_id, service.reader(other))
    with pytest.raises(OutOfScope):
        world.service.perform(case_id, SuperviseCase(), service.actor(other, Role.SUPERVISOR))
    supervised = world.service.perform(
        case_id, SuperviseCase(), service.actor(street, Role.SUPERVISOR)
    )
    assert supervised.supervised


def test_an_unknown_scope_is_refused_when_grids_are_active(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    world = build_world(sessions, tmp_path)
    service = AccountService(sessions, world.clock, hasher=FAST)
    with pytest.raises(InvalidInput) as refused:
        service.create("street", PASSWORD, "street_operator", scope_code="999999999000")
    assert refused.value.field == "scope"


# Personal data


def test_who_sees_personal_data_unmasked(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    world = build_world(sessions, tmp_path)
    service = AccountService(sessions, world.clock, hasher=FAST)
    case = world.service.case(
        world.dispatched_case(), service.reader(service.create("admin", PASSWORD, "city_admin"))
    )
    department = case.assignee_department
    assert department is not None

    def sees(role: str, scope: str | None, dept: str | None = None) -> bool:
        account = service.create(
            f"user{len(service.list())}", PASSWORD, role, scope_code=scope, department_code=dept
        )
        return service.may_see_personal_data(account, case)

    assert sees("city_admin", None)
    assert sees("street_operator", STREET_1)
    assert not sees("district_operator", ERQI)
    assert sees("department_handler", ZHONGYUAN, department)
    assert not sees("department_handler", ZHONGYUAN, "other.department")
    assert not sees("grid_worker", COMMUNITY_1)
    assert not sees("police_liaison", STREET_1)
    assert not sees("auditor", None)


def test_reading_personal_data_is_recorded_with_a_reason(accounts: AccountService) -> None:
    account = accounts.create("wang.li", PASSWORD, "street_operator", scope_code=STREET_1)
    with pytest.raises(InvalidInput):
        accounts.record_personal_data_access(account, "case:12", " ")
    accounts.record_personal_data_access(account, "case:12", "回访市民 / call the reporter back")
    (access,) = accounts.personal_data_accesses("case:12")
    assert (access.username, access.at, access.reason) == (
        "wang.li",
        START,
        "回访市民 / call the reporter back",
    )


def test_a_department_handler_accepts_and_handles_as_itself(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    world = build_world(sessions, tmp_path)
    service = AccountService(sessions, world.clock, hasher=FAST)
    case_id = world.dispatched_case()
    admin = service.create("admin", PASSWORD, "city_admin")
    case = world.service.case(case_id, service.reader(admin))
    handler = service.create(
        "handler",
        PASSWORD,
        "department_handler",
        scope_code=ZHONGYUAN,
        department_code=case.assignee_department,
    )
    accepted = world.service.perform(
        case_id, AcceptCase(), service.actor_for_action(handler, case.state, Action.ACCEPT)
    )
    handled = world.service.perform(
        case_id,
        HandleCase(evidence=("photo-1",)),
        service.actor_for_action(handler, accepted.state, Action.HANDLE),
    )
    assert handled.state is CaseState.HANDLED
    last = world.service.events(case_id, service.reader(admin))[-1]
    assert (last.actor_id, last.role) == ("handler", Role.HANDLER)
