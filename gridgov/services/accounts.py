"""Staff accounts: sign-in with lockout and an optional TOTP second factor, web sessions, API
tokens, account administration, and the mapping from an account to the workflow `Actor`.

Errors:

    NotAuthenticated        no valid credentials: HTTP 401
    ├── SignInRefused       a sign-in that did not succeed (`outcome` says why; recorded)
    │   ├── AccountLocked   too many failures for this username or source address
    │   └── TotpRequired    the password was right; the second factor is missing
    NotPermitted            authenticated, but this account may not do this (CSRF, read-only): 403

Every sign-in attempt is recorded with its outcome; lockout is computed from those records, per
username (known or not, so a lock says nothing about whether an account exists) and per source.
"""

from __future__ import annotations

import builtins
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cached_property

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session, sessionmaker

from gridgov.core.clock import Clock
from gridgov.core.errors import GridGovError, InvalidInput, NotFound
from gridgov.services.case_scope import DepartmentActor
from gridgov.services.credentials import (
    MAX_PASSWORD_LENGTH,
    check_password_policy,
    digest,
    locked_until,
    matching_step,
    new_recovery_code,
    recovery_form,
)
from gridgov.store.accounts import (
    AccountRepository,
    PersonalDataAccess,
    SignInAttempt,
    StoredAccount,
    StoredToken,
)
from gridgov.store.layers import LayerRepository
from gridgov.workflow.model import Action, Actor, Case, CaseState, Role
from gridgov.workflow.transitions import TRANSITIONS, in_scope

TOKEN_PREFIX = "ggt_"
TOTP_ISSUER = "gridgov"
CONSOLE = "console"  # who `by` is when an account is changed from the CLI


class AccountRole(StrEnum):
    CITY_ADMIN = "city_admin"
    DISTRICT_OPERATOR = "district_operator"
    STREET_OPERATOR = "street_operator"
    COMMUNITY_WORKER = "community_worker"
    GRID_WORKER = "grid_worker"
    DEPARTMENT_HANDLER = "department_handler"
    POLICE_LIAISON = "police_liaison"
    AUDITOR = "auditor"
    RESIDENT = "resident"

    @property
    def label_zh(self) -> str:
        return _ACCOUNT_ROLE_LABELS_ZH[self]

    @property
    def powers(self) -> tuple[Role, ...]:
        """The workflow roles this account may act as, its default first (none: read only)."""
        return ROLE_POWERS[self]


_ACCOUNT_ROLE_LABELS_ZH = {
    AccountRole.CITY_ADMIN: "市级管理员",
    AccountRole.DISTRICT_OPERATOR: "区城运中心",
    AccountRole.STREET_OPERATOR: "街道城运中心",
    AccountRole.COMMUNITY_WORKER: "社区工作者",
    AccountRole.GRID_WORKER: "网格员",
    AccountRole.DEPARTMENT_HANDLER: "部门处置人员",
    AccountRole.POLICE_LIAISON: "公安联络员",
    AccountRole.AUDITOR: "审计员",
    AccountRole.RESIDENT: "居民",
}

_CENTRE = (
    Role.DISPATCHER,
    Role.SHIFT_LEADER,
    Role.INTAKE_OPERATOR,
    Role.CENTRE_LEADER,
    Role.SUPERVISOR,
)

# docs/security.md shows this table; change both together.
ROLE_POWERS: Mapping[AccountRole, tuple[Role, ...]] = {
    AccountRole.CITY_ADMIN: (
        Role.CENTRE_LEADER,
        *(r for r in _CENTRE if r is not Role.CENTRE_LEADER),
    ),
    AccountRole.DISTRICT_OPERATOR: _CENTRE,
    AccountRole.STREET_OPERATOR: _CENTRE,
    AccountRole.COMMUNITY_WORKER: (Role.GRID_WORKER,),
    AccountRole.GRID_WORKER: (Role.GRID_WORKER,),
    AccountRole.DEPARTMENT_HANDLER: (Role.HANDLER,),
    AccountRole.POLICE_LIAISON: (Role.GRID_WORKER,),
    AccountRole.AUDITOR: (),
    AccountRole.RESIDENT: (),
}

# Everyone but the city admin and the auditor works in part of the city and must say which.
_CITY_WIDE = frozenset({AccountRole.CITY_ADMIN, AccountRole.AUDITOR})

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")

# Attempt outcomes; the first three count towards a lockout.
BAD_PASSWORD = "bad_password"
UNKNOWN_USER = "unknown_user"
BAD_TOTP = "bad_totp"
FAILURES = (BAD_PASSWORD, UNKNOWN_USER, BAD_TOTP)
OK = "ok"
LOCKED = "locked"
SOURCE_LOCKED = "source_locked"
DISABLED = "disabled"
TOTP_REQUIRED = "totp_required"

_GENERIC_ZH = "用户名或密码错误"
_GENERIC_EN = "wrong username or password"


@dataclass(frozen=True, slots=True)
class SecurityPolicy:
    """How long things last and how many failures lock; the defaults suit a city operation centre."""

    max_failures: int = 5
    failure_window: timedelta = timedelta(minutes=15)
    lock_for: timedelta = timedelta(minutes=15)
    # Higher than per account: a street office signs in from one NAT address.
    max_failures_per_source: int = 30
    session_lifetime: timedelta = timedelta(hours=12)
    session_idle: timedelta = timedelta(minutes=30)
    token_days: int = 90
    max_token_days: int = 365
    recovery_codes: int = 10


class NotAuthenticated(GridGovError):
    """No valid credentials; `message_zh` / `message_en` are safe to show the caller."""

    def __init__(self, zh: str, en: str) -> None:
        self.message_zh = zh
        self.message_en = en
        super().__init__(f"{zh} / {en}")


class SignInRefused(NotAuthenticated):
    def __init__(self, outcome: str, zh: str = _GENERIC_ZH, en: str = _GENERIC_EN) -> None:
        self.outcome = outcome
        super().__init__(zh, en)


class AccountLocked(SignInRefused):
    def __init__(self, outcome: str, until: datetime) -> None:
        self.until = until
        at = until.strftime("%H:%M:%S UTC")
        super().__init__(
            outcome,
            f"登录失败次数过多，请于 {at} 后再试",
            f"too many failed sign-ins; try again after {at}",
        )


class TotpRequired(SignInRefused):
    def __init__(self) -> None:
        super().__init__(
            TOTP_REQUIRED,
            "请输入动态口令（或恢复码）",
            "enter the one-time code from your authenticator app (or a recovery code)",
        )


class NotPermitted(GridGovError):
    """Authenticated, but not allowed: HTTP 403."""

    def __init__(self, zh: str, en: str) -> None:
        self.message_zh = zh
        self.message_en = en
        super().__init__(f"{zh} / {en}")


@dataclass(frozen=True, slots=True)
class Account:
    """A staff account as the rest of gridgov sees it (no secrets)."""

    id: int
    username: str
    display_name: str
    role: AccountRole
    scope_code: str | None
    department_code: str | None
    created_at: datetime
    disabled_at: datetime | None
    last_sign_in_at: datetime | None
    totp_enabled: bool

    @property
    def active(self) -> bool:
        return self.disabled_at is None


@dataclass(frozen=True, slots=True)
class NewSession:
    """A web session just started; `session_id` and `csrf_token` are shown once, stored hashed."""

    session_id: str
    csrf_token: str
    expires_at: datetime
    account: Account


@dataclass(frozen=True, slots=True)
class WebSession:
    """An authenticated web session; check unsafe requests with `AccountService.check_csrf`."""

    id: int
    account: Account
    csrf_hash: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class NewToken:
    """An API token just issued; `token` is shown once and never stored."""

    id: int
    name: str
    token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class TotpEnrollment:
    secret: str
    provisioning_uri: str


def may_see_personal_data(account: Account, case: Case | None = None) -> bool:
    """Whether `account` sees reporters' phone numbers, ID numbers and names unmasked.

    City admins always; district and street operators within their scope (they call reporters
    back); department handlers only on cases dispatched to their department. Grid and community
    workers, police liaisons, auditors and residents see masked data: they act on site or read the
    trail, and the operation centre makes the calls. With no `case`, the answer is whether the
    role ever does (for list pages).
    """
    if not account.active:
        return False
    role = account.role
    if role is AccountRole.CITY_ADMIN:
        return True
    if role in (AccountRole.DISTRICT_OPERATOR, AccountRole.STREET_OPERATOR):
        return case is None or _in_scope(account, case)
    if role is AccountRole.DEPARTMENT_HANDLER:
        return (
            case is not None
            and case.assignee_department is not None
            and case.assignee_department == account.department_code
            and _in_scope(account, case)
        )
    return False


def _in_scope(account: Account, case: Case) -> bool:
    return in_scope(Actor(account.username, Role.REPORTER, scope_code=account.scope_code), case)


class AccountService:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        clock: Clock,
        *,
        policy: SecurityPolicy | None = None,
        hasher: PasswordHasher | None = None,
        departments: Mapping[str, str] | None = None,
    ) -> None:
        """`departments` maps a department code to the grid code it serves, to check and default."""
        self._sessions = session_factory
        self._clock = clock
        self.policy = policy or SecurityPolicy()
        self._hasher = hasher or PasswordHasher()
        self._departments = departments

    @cached_property
    def _dummy_hash(self) -> str:
        # Made with the same parameters as real hashes so an unknown username costs the same time.
        return self._hasher.hash(secrets.token_urlsafe(16))

    # Administration

    def create(
        self,
        username: str,
        password: str,
        role: AccountRole | str,
        *,
        scope_code: str | None = None,
        department_code: str | None = None,
        display_name: str = "",
        by: Account | None = None,
    ) -> Account:
        """A new account; scope and department are checked against the active grids and departments."""
        self._require_admin(by)
        name = _username(username)
        account_role = _role(role)
        if account_role is AccountRole.RESIDENT:
            raise InvalidInput(
                "role",
                "居民不使用密码登录，凭工单号和手机号后四位查询 / residents do not sign in with a "
                "password; they follow a case by its number and the last 4 digits of their phone",
            )
        check_password_policy(name, password)
        scope, department = self._check_scope(account_role, scope_code, department_code)
        password_hash = self._hasher.hash(password)
        now = self._clock.now()
        with self._sessions.begin() as session:
            repo = AccountRepository(session)
            if scope is not None:
                self._check_grid(session, scope)
            stored = repo.add(
                username=name,
                display_name=display_name.strip(),
                role=account_role.value,
                scope_code=scope,
                department_code=department,
                password_hash=password_hash,
                at=now,
            )
            detail = (
                f"role={account_role.value} scope={scope or '-'} department={department or '-'}"
            )
            repo.record_event(stored.id, now, _by(by), "create", detail)
        return _account(stored)

    def get(self, username: str) -> Account:
        with self._sessions() as session:
            stored = AccountRepository(session).by_username(_normalise(username))
        if stored is None:
            raise NotFound("account", username)
        return _account(stored)

    def list(self) -> builtins.list[Account]:
        with self._sessions() as session:
            return [_account(a) for a in AccountRepository(session).list()]

    def disable(self, username: str, *, by: Account | None = None) -> Account:
        """Stop an account from signing in and end all its sessions and tokens at once."""
        self._require_admin(by)
        now = self._clock.now()
        with self._sessions.begin() as session:
            repo = AccountRepository(session)
            stored = self._stored(repo, username)
            if stored.disabled_at is None:
                stored = repo.update(stored.id, disabled_at=now)
            sessions, tokens = repo.end_everything(stored.id, now, "disabled")
            repo.record_event(
                stored.id, now, _by(by), "disable", f"sessions={sessions} tokens={tokens}"
            )
        return _account(stored)

    def reset_password(self, username: str, password: str, *, by: Account | None = None) -> Account:
        """Set a new password; every session and token of the account stops working."""
        self._require_admin(by)
        name = _normalise(username)
        check_password_policy(name, password)
        password_hash = self._hasher.hash(password)
        now = self._clock.now()
        with self._sessions.begin() as session:
            repo = AccountRepository(session)
            stored = self._stored(repo, name)
            stored = repo.update(stored.id, password_hash=password_hash, password_changed_at=now)
            sessions, tokens = repo.end_everything(stored.id, now, "password_reset")
            repo.record_event(
                stored.id, now, _by(by), "reset_password", f"sessions={sessions} tokens={tokens}"
            )
        return _account(stored)

    def events(self, username: str) -> builtins.list[tuple[datetime, str, str, str]]:
        """The account's audit trail: (at, by, action, detail), oldest first."""
        with self._sessions() as session:
            repo = AccountRepository(session)
            return repo.events(self._stored(repo, username).id)

    def attempts(
        self, username: str | None = None, *, limit: int = 100
    ) -> builtins.list[SignInAttempt]:
        """Recent sign-in attempts, newest first."""
        with self._sessions() as session:
            name = _normalise(username) if username else None
            return AccountRepository(session).attempts(username=name, limit=limit)

    # Sign-in

    def sign_in(
        self, username: str, password: str, *, source: str, totp_code: str | None = None
    ) -> Account:
        """Check a password (and the second factor when enabled); every attempt is recorded."""
        name = _normalise(username)[:64]
        source = (source or "unknown")[:64]
        now = self._clock.now()
        with self._sessions.begin() as session:
            repo = AccountRepository(session)
            stored = repo.by_username(name)
            refusal, account = self._decide(repo, name, stored, password, totp_code, source, now)
            repo.record_attempt(
                SignInAttempt(
                    now,
                    name,
                    stored.id if stored else None,
                    source,
                    refusal.outcome if refusal else OK,
                )
            )
        # Raised after the commit, so that the refused attempt is on record.
        if refusal is not None:
            raise refusal
        assert account is not None
        return account

    def _decide(
        self,
        repo: AccountRepository,
        name: str,
        stored: StoredAccount | None,
        password: str,
        totp_code: str | None,
        source: str,
        now: datetime,
    ) -> tuple[SignInRefused | None, Account | None]:
        # The hash is verified on every path, known user or not, locked or not, so the time a
        # refusal takes tells nothing about which check failed.
        password_ok = self._verify(stored.password_hash if stored else self._dummy_hash, password)
        lock = self._lock(repo, name, source, now)
        if lock is not None:
            return lock, None
        if stored is None:
            return SignInRefused(UNKNOWN_USER), None
        if not password_ok:
            return SignInRefused(BAD_PASSWORD), None
        if stored.disabled_at is not None or stored.role == AccountRole.RESIDENT.value:
            return SignInRefused(DISABLED, "账号已停用", "this account is disabled"), None
        if stored.totp_enabled_at is not None:
            if not totp_code:
                return TotpRequired(), None
            if not self._second_factor(repo, stored, totp_code, now):
                return SignInRefused(BAD_TOTP, "动态口令错误", "wrong one-time code"), None
        updates: dict[str, object] = {"last_sign_in_at": now}
        if self._hasher.check_needs_rehash(stored.password_hash):
            # The hashing parameters were raised since this password was set: upgrade it now,
            # the only moment we hold the password.
            updates["password_hash"] = self._hasher.hash(password)
        return None, _account(repo.update(stored.id, **updates))

    def _verify(self, password_hash: str, password: str) -> bool:
        if len(password) > MAX_PASSWORD_LENGTH:
            password = password[:MAX_PASSWORD_LENGTH]  # still hashed: same time as any refusal
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def _lock(
        self, repo: AccountRepository, name: str, source: str, now: datetime
    ) -> AccountLocked | None:
        policy = self.policy
        horizon = now - policy.failure_window - policy.lock_for
        last_ok = repo.last_success(name)
        since = max(horizon, last_ok) if last_ok else horizon
        by_name = repo.failure_times(FAILURES, since, username=name)
        until = locked_until(by_name, policy.max_failures, policy.failure_window, policy.lock_for)
        if until is not None and now < until:
            return AccountLocked(LOCKED, until)
        by_source = repo.failure_times(FAILURES, horizon, source=source)
        until = locked_until(
            by_source, policy.max_failures_per_source, policy.failure_window, policy.lock_for
        )
        if until is not None and now < until:
            return AccountLocked(SOURCE_LOCKED, until)
        return None

    def _second_factor(
        self, repo: AccountRepository, stored: StoredAccount, code: str, now: datetime
    ) -> bool:
        assert stored.totp_secret is not None
        cleaned = code.replace(" ", "")
        if cleaned.isdigit() and len(cleaned) == 6:
            step = matching_step(stored.totp_secret, cleaned, now)
            # A code is good for one sign-in: someone watching over a shoulder cannot reuse it.
            return step is not None and repo.claim_totp_step(stored.id, step)
        return repo.use_recovery_code(stored.id, digest(recovery_form(code)), now)

    # Web sessions

    def start_session(self, account: Account, *, source: str) -> NewSession:
        """A session for the web pages, after `sign_in`; its id goes in an HttpOnly cookie."""
        session_id = secrets.token_urlsafe(32)
        csrf_token = secrets.token_urlsafe(32)
        now = self._clock.now()
        expires_at = now + self.policy.session_lifetime
        with self._sessions.begin() as session:
            AccountRepository(session).add_session(
                account.id,
                id_hash=digest(session_id),
                csrf_hash=digest(csrf_token),
                at=now,
                expires_at=expires_at,
                source=(source or "unknown")[:64],
            )
        return NewSession(session_id, csrf_token, expires_at, account)

    def authenticate_session(self, session_id: str) -> WebSession:
        """The live session with this id; refuses unknown, ended, expired and idle ones."""
        now = self._clock.now()
        with self._sessions.begin() as session:
            repo = AccountRepository(session)
            found = repo.session_by_hash(digest(session_id))
            if found is None:
                raise NotAuthenticated("会话无效，请登录", "unknown session; sign in")
            if found.ended_at is not None:
                raise NotAuthenticated(
                    "会话已结束，请重新登录", "this session has ended (signed out or revoked)"
                )
            if now >= found.expires_at:
                raise NotAuthenticated("会话已过期，请重新登录", "this session has expired")
            if now - found.last_seen_at >= self.policy.session_idle:
                repo.end_session(found.id, now, "idle")
                idle = int(self.policy.session_idle.total_seconds() // 60)
                raise NotAuthenticated(
                    f"超过 {idle} 分钟未操作，会话已过期，请重新登录",
                    f"the session expired after {idle} idle minutes; sign in again",
                )
            account = self._live_account(repo, found.account_id)
            # Written at most once a minute: each page load would otherwise be a write.
            if now - found.last_seen_at >= timedelta(minutes=1):
                repo.touch_session(found.id, now)
        return WebSession(found.id, account, found.csrf_hash, found.expires_at)

    def check_csrf(self, web_session: WebSession, csrf_token: str | None) -> None:
        """Refuse an unsafe request on a cookie session without the session's CSRF token."""
        if not csrf_token or not hmac.compare_digest(digest(csrf_token), web_session.csrf_hash):
            raise NotPermitted(
                "缺少或错误的 CSRF 令牌", "missing or wrong CSRF token (X-CSRF-Token header)"
            )

    def end_session(self, session_id: str) -> None:
        """Sign out: the session stops working now."""
        now = self._clock.now()
        with self._sessions.begin() as session:
            repo = AccountRepository(session)
            found = repo.session_by_hash(digest(session_id))
            if found is not None:
                repo.end_session(found.id, now, "signed_out")

    # API tokens

    def issue_token(
        self, account: Account, name: str, *, days: int | None = None, by: Account | None = None
    ) -> NewToken:
        """A named bearer token for `account`, expiring after `days`; shown once."""
        if by is not None and by.id != account.id:
            self._require_admin(by)
        label = name.strip()
        if not label or len(label) > 100:
            raise InvalidInput("name", "令牌名称须为 1–100 个字符 / must be 1–100 characters")
        lifetime = self.policy.token_days if days is None else days
        if not 1 <= lifetime <= self.policy.max_token_days:
            raise InvalidInput(
                "days",
                f"有效期须为 1–{self.policy.max_token_days} 天 / must be 1–"
                f"{self.policy.max_token_days} days",
            )
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = self._clock.now()
        with self._sessions.begin() as session:
            repo = AccountRepository(session)
            self._live_account(repo, account.id)
            stored = repo.add_token(
                account.id,
                name=label,
                token_hash=digest(token),
                at=now,
                expires_at=now + timedelta(days=lifetime),
            )
            repo.record_event(account.id, now, _by(by or account), "token_issue", label)
        return NewToken(stored.id, stored.name, token, stored.expires_at)

    def authenticate_token(self, token: str) -> tuple[Account, StoredToken]:
        """The account a bearer token belongs to; refuses forged, expired and revoked tokens."""
        now = self._clock.now()
        with self._sessions.begin() as session:
            repo = AccountRepository(session)
            found = repo.token_by_hash(digest(token)) if token.startswith(TOKEN_PREFIX) else None
            if found is None:
                raise NotAuthenticated("令牌无效", "invalid token")
            if found.revoked_at is not None:
                raise NotAuthenticated("令牌已吊销", "this token was revoked")
            if now >= found.expires_at:
                raise NotAuthenticated("令牌已过期", "this token has expired")
            account = self._live_account(repo, found.account_id)
            if found.last_used_at is None or now - found.last_used_at >= timedelta(minutes=1):
                repo.touch_token(found.id, now)
        return account, found

    def tokens(self, account: Account) -> builtins.list[StoredToken]:
        with self._sessions() as session:
            return AccountRepository(session).tokens(account.id)

    def revoke_token(self, token_id: int, *, by: Account | None = None) -> StoredToken:
        """Revoke a token from now on; its owner, a city admin or the console may."""
        now = self._clock.now()
        with self._sessions.begin() as session:
            repo = AccountRepository(session)
            found = repo.token(token_id)
            if found is None:
                raise NotFound("api token", token_id)
            owner = found.account_id
            if by is not None and by.id != owner and by.role is not AccountRole.CITY_ADMIN:
                # Someone else's token: answered as unknown, so token ids cannot be probed.
                raise NotFound("api token", token_id)
            revoked = repo.revoke_token(token_id, now)
            repo.record_event(owner, now, _by(by), "token_revoke", revoked.name)
        return revoked

    # Second factor

    def begin_totp(self, username: str) -> TotpEnrollment:
        """Store a new TOTP secret (not yet required) and return it with its provisioning URI."""
        secret = pyotp.random_base32()
        with self._sessions.begin() as session:
            repo = AccountRepository(session)
            stored = self._stored(repo, username)
            if stored.totp_enabled_at is not None:
                raise InvalidInput("totp", "动态口令已启用 / the second factor is already enabled")
            repo.update(stored.id, totp_secret=secret, totp_last_step=None)
        uri = pyotp.TOTP(secret).provisioning_uri(name=stored.username, issuer_name=TOTP_ISSUER)
        return TotpEnrollment(secret, uri)

    def confirm_totp(
        self, username: str, code: str, *, by: Account | None = None
    ) -> builtins.list[str]:
        """Require TOTP from now on, once a code proves the app has the secret; returns recovery
        codes, shown once."""
        now = self._clock.now()
        codes = [new_recovery_code() for _ in range(self.policy.recovery_codes)]
        with self._sessions.begin() as session:
            repo = AccountRepository(session)
            stored = self._stored(repo, username)
            if stored.totp_secret is None:
                raise InvalidInput("totp", "请先开始绑定 / begin enrolment first")
            step = matching_step(stored.totp_secret, code.replace(" ", ""), now)
            if step is None:
                raise InvalidInput("code", "动态口令错误 / wrong one-time code")
            repo.update(stored.id, totp_enabled_at=now, totp_last_step=step)
            repo.replace_recovery_codes(stored.id, [digest(recovery_form(c)) for c in codes])
            repo.record_event(stored.id, now, _by(by), "totp_enable", "")
        return codes

    def totp_secret(self, username: str) -> str | None:
        """The stored TOTP secret (for the CLI that shows it during enrolment)."""
        with self._sessions() as session:
            return self._stored(AccountRepository(session), username).totp_secret

    # Acting and reading

    def actor(self, account: Account, acting_as: Role | str | None = None) -> Actor:
        """The workflow actor for an account's action, as its default role or one of its powers."""
        if not account.active:
            raise NotPermitted("账号已停用", "this account is disabled")
        powers = account.role.powers
        if not powers:
            raise NotPermitted(
                f"「{account.role.label_zh}」只能查看，不能办理工单",
                f"a {account.role.value} account reads only; it cannot act on cases",
            )
        role = powers[0] if acting_as is None else _workflow_role(acting_as)
        if role not in powers:
            allowed = ", ".join(p.value for p in powers)
            raise NotPermitted(
                f"「{account.role.label_zh}」不能以「{role.label_zh}」身份办理",
                f"a {account.role.value} account cannot act as {role.value}; it may act as {allowed}",
            )
        return _actor(account, role)

    def actor_for_action(self, account: Account, state: CaseState | None, action: Action) -> Actor:
        """The actor for `action` in `state`: the first power the transition table allows."""
        rule = TRANSITIONS.get((state, action))
        for role in account.role.powers:
            if rule is not None and role in rule.roles:
                return self.actor(account, role)
        # None of its powers fit: the default actor lets the workflow refuse with its reason.
        return self.actor(account)

    def reader(self, account: Account) -> Actor:
        """An actor for reading only (lists, details): the account's scope, its default role.

        Auditors have no power to act; they read as `REPORTER`, the role with the least power,
        so a route that wrongly passes this actor to `perform` does the least harm. Use `actor`
        for every action.
        """
        if not account.active:
            raise NotPermitted("账号已停用", "this account is disabled")
        powers = account.role.powers
        return _actor(account, powers[0] if powers else Role.REPORTER)

    def may_see_personal_data(self, account: Account, case: Case | None = None) -> bool:
        return may_see_personal_data(account, case)

    def record_personal_data_access(self, account: Account, subject: str, reason: str) -> None:
        """Audit one read of unmasked personal data: who, when, what (e.g. "case:12"), and why."""
        if not subject.strip():
            raise InvalidInput("subject", "必须填写 / is required")
        if not reason.strip():
            raise InvalidInput(
                "reason", "查看个人信息须说明理由 / reading personal data needs a reason"
            )
        with self._sessions.begin() as session:
            AccountRepository(session).record_personal_data_access(
                PersonalDataAccess(
                    self._clock.now(), account.id, account.username, subject[:128], reason[:500]
                )
            )

    def personal_data_accesses(
        self, subject: str | None = None
    ) -> builtins.list[PersonalDataAccess]:
        with self._sessions() as session:
            return AccountRepository(session).personal_data_accesses(subject=subject)

    # Helpers

    def _require_admin(self, by: Account | None) -> None:
        # None is the console: whoever runs the CLI already holds the database credentials.
        if by is None:
            return
        if by.role is not AccountRole.CITY_ADMIN or not by.active:
            raise NotPermitted(
                "只有市级管理员可以管理账号", "only a city admin may manage accounts"
            )

    def _check_scope(
        self, role: AccountRole, scope_code: str | None, department_code: str | None
    ) -> tuple[str | None, str | None]:
        scope = (scope_code or "").strip() or None
        department = (department_code or "").strip() or None
        if role is AccountRole.DEPARTMENT_HANDLER:
            if department is None:
                raise InvalidInput(
                    "department", "部门处置人员须指定部门 / a department handler needs a department"
                )
            if self._departments is not None:
                if department not in self._departments:
                    raise InvalidInput(
                        "department", f"未知的部门 {department} / unknown department {department}"
                    )
                scope = scope or self._departments[department]
        if scope is None and role not in _CITY_WIDE:
            raise InvalidInput(
                "scope",
                f"「{role.label_zh}」须指定管辖网格 / a {role.value} account needs a scope (grid code)",
            )
        return scope, department

    def _check_grid(self, session: Session, code: str) -> None:
        layers = LayerRepository(session)
        active = layers.active()
        if active is None:
            return
        try:
            layers.grid(active.id, code)
        except NotFound:
            raise InvalidInput(
                "scope",
                f"当前网格图层中没有网格 {code} / no grid {code} in the active layer",
            ) from None

    def _stored(self, repo: AccountRepository, username: str) -> StoredAccount:
        stored = repo.by_username(_normalise(username))
        if stored is None:
            raise NotFound("account", username)
        return stored

    def _live_account(self, repo: AccountRepository, account_id: int) -> Account:
        account = _account(repo.get(account_id))
        if not account.active:
            raise NotAuthenticated("账号已停用", "this account is disabled")
        return account


def _normalise(username: str) -> str:
    return username.strip().lower()


def _username(username: str) -> str:
    name = _normalise(username)
    if not _USERNAME.match(name):
        raise InvalidInput(
            "username",
            "用户名为 3–64 位小写字母、数字或 . _ - / 3–64 lowercase letters, digits or . _ -",
        )
    return name


def _role(role: AccountRole | str) -> AccountRole:
    try:
        return AccountRole(role)
    except ValueError:
        choices = ", ".join(r.value for r in AccountRole)
        raise InvalidInput("role", f"须为 {choices} 之一 / must be one of {choices}") from None


def _workflow_role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise NotPermitted(f"未知的角色 {role}", f"unknown workflow role {role}") from None


def _by(account: Account | None) -> str:
    return account.username if account is not None else CONSOLE


def _actor(account: Account, role: Role) -> Actor:
    name = account.display_name or account.username
    if account.role is AccountRole.DEPARTMENT_HANDLER:
        # Narrowed by the case services to the cases dispatched to its department.
        return DepartmentActor(
            account.username,
            role,
            name,
            scope_code=account.scope_code,
            department=account.department_code or "",
        )
    return Actor(account.username, role, name, scope_code=account.scope_code)


def _account(stored: StoredAccount) -> Account:
    return Account(
        id=stored.id,
        username=stored.username,
        display_name=stored.display_name,
        role=AccountRole(stored.role),
        scope_code=stored.scope_code,
        department_code=stored.department_code,
        created_at=stored.created_at,
        disabled_at=stored.disabled_at,
        last_sign_in_at=stored.last_sign_in_at,
        totp_enabled=stored.totp_enabled_at is not None,
    )
