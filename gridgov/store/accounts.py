"""Staff accounts and what secures them: sign-in attempts, web sessions, API tokens, TOTP recovery
codes, the account audit trail and the log of who read personal data.

Secrets never reach the database in the clear except the TOTP seed (the authenticator app and the
server must share it): passwords are argon2id hashes made by the service, session ids, CSRF tokens,
API tokens and recovery codes are random and stored as their SHA-256. The caller owns the
transaction, as for the other repositories.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from gridgov.core.errors import Conflict, NotFound
from gridgov.store.tables import Base

ACCOUNT_ROLES = (
    "city_admin",
    "district_operator",
    "street_operator",
    "community_worker",
    "grid_worker",
    "department_handler",
    "police_liaison",
    "auditor",
    "resident",
)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} in ({', '.join(repr(v) for v in values)})"


class AccountRow(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    role: Mapped[str] = mapped_column(String(32))
    scope_code: Mapped[str | None] = mapped_column(String(64))
    department_code: Mapped[str | None] = mapped_column(String(128))
    password_hash: Mapped[str] = mapped_column(String(255))
    password_changed_at: Mapped[datetime]
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]
    last_sign_in_at: Mapped[datetime | None]
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[datetime | None]
    # The last 30-second step a code was accepted for: a code seen once is refused again.
    totp_last_step: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (CheckConstraint(_one_of("role", ACCOUNT_ROLES), name="role"),)


class SignInAttemptRow(Base):
    __tablename__ = "sign_in_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime]
    username: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    source: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(32))

    __table_args__ = (
        Index("ix_sign_in_attempts_username_at", "username", "at"),
        Index("ix_sign_in_attempts_source_at", "source", "at"),
    )


class WebSessionRow(Base):
    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    id_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(64))
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(32))


class ApiTokenRow(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class RecoveryCodeRow(Base):
    __tablename__ = "totp_recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None]


class AccountEventRow(Base):
    """Who changed which account how (created, disabled, password reset, token issued …)."""

    __tablename__ = "account_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime]
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    by: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")


class PersonalDataAccessRow(Base):
    __tablename__ = "personal_data_access"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    username: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)


# Values the repository hands out.


@dataclass(frozen=True, slots=True)
class StoredAccount:
    id: int
    username: str
    display_name: str
    role: str
    scope_code: str | None
    department_code: str | None
    password_hash: str
    password_changed_at: datetime
    created_at: datetime
    disabled_at: datetime | None
    last_sign_in_at: datetime | None
    totp_secret: str | None
    totp_enabled_at: datetime | None
    totp_last_step: int | None


@dataclass(frozen=True, slots=True)
class StoredSession:
    id: int
    account_id: int
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    csrf_hash: str
    ended_at: datetime | None
    end_reason: str | None


@dataclass(frozen=True, slots=True)
class StoredToken:
    id: int
    account_id: int
    name: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class SignInAttempt:
    at: datetime
    username: str
    account_id: int | None
    source: str
    outcome: str


@dataclass(frozen=True, slots=True)
class PersonalDataAccess:
    at: datetime
    account_id: int
    username: str
    subject: str
    reason: str


class UsernameTaken(Conflict):
    def __init__(self, username: str) -> None:
        self.username = username
        super().__init__(f"用户名 {username} 已存在 / username {username} is taken")


class AccountRepository:
    """Accounts, attempts, sessions, tokens and their audit rows; the caller owns the transaction."""

    def __init__(self, session: Session) -> None:
        self._session = session

    # Accounts

    def add(
        self,
        *,
        username: str,
        display_name: str,
        role: str,
        scope_code: str | None,
        department_code: str | None,
        password_hash: str,
        at: datetime,
    ) -> StoredAccount:
        row = AccountRow(
            username=username,
            display_name=display_name,
            role=role,
            scope_code=scope_code,
            department_code=department_code,
            password_hash=password_hash,
            password_changed_at=at,
            created_at=at,
        )
        try:
            with self._session.begin_nested():
                self._session.add(row)
                self._session.flush()
        except IntegrityError as exc:
            raise UsernameTaken(username) from exc
        return _account(row)

    def by_username(self, username: str) -> StoredAccount | None:
        row = self._session.scalar(select(AccountRow).where(AccountRow.username == username))
        return _account(row) if row is not None else None

    def get(self, account_id: int) -> StoredAccount:
        return _account(self._row(account_id))

    def list(self) -> builtins.list[StoredAccount]:
        rows = self._session.scalars(select(AccountRow).order_by(AccountRow.username))
        return [_account(r) for r in rows]

    def update(self, account_id: int, **values: object) -> StoredAccount:
        """Set columns of one account (password hash, disabled_at, TOTP fields, last sign-in)."""
        row = self._row(account_id)
        for name, value in values.items():
            if not hasattr(AccountRow, name) or name in ("id", "username"):
                raise ValueError(f"not an updatable account column: {name}")
            setattr(row, name, value)
        self._session.flush()
        return _account(row)

    def claim_totp_step(self, account_id: int, step: int) -> bool:
        """Record `step` as used unless it (or a later one) already was; False means a replay."""
        # One conditional UPDATE, so two requests racing with the same code cannot both win.
        result = self._session.execute(
            update(AccountRow)
            .where(AccountRow.id == account_id)
            .where((AccountRow.totp_last_step.is_(None)) | (AccountRow.totp_last_step < step))
            .values(totp_last_step=step)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    def _row(self, account_id: int) -> AccountRow:
        row = self._session.get(AccountRow, account_id)
        if row is None:
            raise NotFound("account", account_id)
        return row

    # Sign-in attempts

    def record_attempt(self, attempt: SignInAttempt) -> None:
        self._session.add(
            SignInAttemptRow(
                at=attempt.at,
                username=attempt.username,
                account_id=attempt.account_id,
                source=attempt.source,
                outcome=attempt.outcome,
            )
        )
        self._session.flush()

    def failure_times(
        self,
        outcomes: Sequence[str],
        since: datetime,
        *,
        username: str | None = None,
        source: str | None = None,
    ) -> builtins.list[datetime]:
        """When attempts with one of `outcomes` happened since `since`, by username or source."""
        query = select(SignInAttemptRow.at).where(
            SignInAttemptRow.at >= since, SignInAttemptRow.outcome.in_(list(outcomes))
        )
        if username is not None:
            query = query.where(SignInAttemptRow.username == username)
        if source is not None:
            query = query.where(SignInAttemptRow.source == source)
        return list(self._session.scalars(query.order_by(SignInAttemptRow.at)))

    def last_success(self, username: str) -> datetime | None:
        return self._session.scalar(
            select(func.max(SignInAttemptRow.at)).where(
                SignInAttemptRow.username == username, SignInAttemptRow.outcome == "ok"
            )
        )

    def attempts(
        self, *, username: str | None = None, limit: int = 100
    ) -> builtins.list[SignInAttempt]:
        query = select(SignInAttemptRow).order_by(SignInAttemptRow.id.desc()).limit(limit)
        if username is not None:
            query = query.where(SignInAttemptRow.username == username)
        return [
            SignInAttempt(r.at, r.username, r.account_id, r.source, r.outcome)
            for r in self._session.scalars(query)
        ]

    # Web sessions

    def add_session(
        self,
        account_id: int,
        *,
        id_hash: str,
        csrf_hash: str,
        at: datetime,
        expires_at: datetime,
        source: str,
    ) -> StoredSession:
        row = WebSessionRow(
            account_id=account_id,
            id_hash=id_hash,
            csrf_hash=csrf_hash,
            created_at=at,
            last_seen_at=at,
            expires_at=expires_at,
            source=source,
        )
        self._session.add(row)
        self._session.flush()
        return _web_session(row)

    def session_by_hash(self, id_hash: str) -> StoredSession | None:
        row = self._session.scalar(select(WebSessionRow).where(WebSessionRow.id_hash == id_hash))
        return _web_session(row) if row is not None else None

    def touch_session(self, session_id: int, at: datetime) -> None:
        self._session.execute(
            update(WebSessionRow).where(WebSessionRow.id == session_id).values(last_seen_at=at)
        )

    def end_session(self, session_id: int, at: datetime, reason: str) -> None:
        self._session.execute(
            update(WebSessionRow)
            .where(WebSessionRow.id == session_id, WebSessionRow.ended_at.is_(None))
            .values(ended_at=at, end_reason=reason)
        )

    # API tokens

    def add_token(
        self, account_id: int, *, name: str, token_hash: str, at: datetime, expires_at: datetime
    ) -> StoredToken:
        row = ApiTokenRow(
            account_id=account_id,
            name=name,
            token_hash=token_hash,
            created_at=at,
            expires_at=expires_at,
        )
        self._session.add(row)
        self._session.flush()
        return _token(row)

    def token_by_hash(self, token_hash: str) -> StoredToken | None:
        row = self._session.scalar(select(ApiTokenRow).where(ApiTokenRow.token_hash == token_hash))
        return _token(row) if row is not None else None

    def token(self, token_id: int) -> StoredToken | None:
        row = self._session.get(ApiTokenRow, token_id)
        return _token(row) if row is not None else None

    def tokens(self, account_id: int) -> builtins.list[StoredToken]:
        rows = self._session.scalars(
            select(ApiTokenRow).where(ApiTokenRow.account_id == account_id).order_by(ApiTokenRow.id)
        )
        return [_token(r) for r in rows]

    def touch_token(self, token_id: int, at: datetime) -> None:
        self._session.execute(
            update(ApiTokenRow).where(ApiTokenRow.id == token_id).values(last_used_at=at)
        )

    def revoke_token(self, token_id: int, at: datetime) -> StoredToken:
        row = self._session.get(ApiTokenRow, token_id)
        if row is None:
            raise NotFound("api token", token_id)
        if row.revoked_at is None:
            row.revoked_at = at
            self._session.flush()
        return _token(row)

    def end_everything(self, account_id: int, at: datetime, reason: str) -> tuple[int, int]:
        """End every live session and revoke every live token of an account: (sessions, tokens)."""
        ended = self._session.execute(
            update(WebSessionRow)
            .where(WebSessionRow.account_id == account_id, WebSessionRow.ended_at.is_(None))
            .values(ended_at=at, end_reason=reason)
        )
        revoked = self._session.execute(
            update(ApiTokenRow)
            .where(ApiTokenRow.account_id == account_id, ApiTokenRow.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        return int(getattr(ended, "rowcount", 0)), int(getattr(revoked, "rowcount", 0))

    # TOTP recovery codes

    def replace_recovery_codes(self, account_id: int, code_hashes: Sequence[str]) -> None:
        self._session.execute(
            delete(RecoveryCodeRow).where(RecoveryCodeRow.account_id == account_id)
        )
        self._session.add_all(
            RecoveryCodeRow(account_id=account_id, code_hash=h) for h in code_hashes
        )
        self._session.flush()

    def use_recovery_code(self, account_id: int, code_hash: str, at: datetime) -> bool:
        """Mark an unused recovery code as used; False when there is no such unused code."""
        result = self._session.execute(
            update(RecoveryCodeRow)
            .where(
                RecoveryCodeRow.account_id == account_id,
                RecoveryCodeRow.code_hash == code_hash,
                RecoveryCodeRow.used_at.is_(None),
            )
            .values(used_at=at)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    def unused_recovery_codes(self, account_id: int) -> int:
        return int(
            self._session.scalar(
                select(func.count()).where(
                    RecoveryCodeRow.account_id == account_id, RecoveryCodeRow.used_at.is_(None)
                )
            )
            or 0
        )

    # Audit

    def record_event(
        self, account_id: int, at: datetime, by: str, action: str, detail: str
    ) -> None:
        self._session.add(
            AccountEventRow(account_id=account_id, at=at, by=by, action=action, detail=detail)
        )
        self._session.flush()

    def events(self, account_id: int) -> builtins.list[tuple[datetime, str, str, str]]:
        rows = self._session.scalars(
            select(AccountEventRow)
            .where(AccountEventRow.account_id == account_id)
            .order_by(AccountEventRow.id)
        )
        return [(r.at, r.by, r.action, r.detail) for r in rows]

    def record_personal_data_access(self, access: PersonalDataAccess) -> None:
        self._session.add(
            PersonalDataAccessRow(
                at=access.at,
                account_id=access.account_id,
                username=access.username,
                subject=access.subject,
                reason=access.reason,
            )
        )
        self._session.flush()

    def personal_data_accesses(
        self, *, subject: str | None = None
    ) -> builtins.list[PersonalDataAccess]:
        query = select(PersonalDataAccessRow).order_by(PersonalDataAccessRow.id)
        if subject is not None:
            query = query.where(PersonalDataAccessRow.subject == subject)
        return [
            PersonalDataAccess(r.at, r.account_id, r.username, r.subject, r.reason)
            for r in self._session.scalars(query)
        ]


def _account(row: AccountRow) -> StoredAccount:
    return StoredAccount(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        role=row.role,
        scope_code=row.scope_code,
        department_code=row.department_code,
        password_hash=row.password_hash,
        password_changed_at=row.password_changed_at,
        created_at=row.created_at,
        disabled_at=row.disabled_at,
        last_sign_in_at=row.last_sign_in_at,
        totp_secret=row.totp_secret,
        totp_enabled_at=row.totp_enabled_at,
        totp_last_step=row.totp_last_step,
    )


def _web_session(row: WebSessionRow) -> StoredSession:
    return StoredSession(
        id=row.id,
        account_id=row.account_id,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        expires_at=row.expires_at,
        csrf_hash=row.csrf_hash,
        ended_at=row.ended_at,
        end_reason=row.end_reason,
    )


def _token(row: ApiTokenRow) -> StoredToken:
    return StoredToken(
        id=row.id,
        account_id=row.account_id,
        name=row.name,
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )
