"""The accounts repository on both dialects: unique usernames, one-time codes, revocation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect
from sqlalchemy.orm import Session, sessionmaker

from gridgov.store.accounts import AccountRepository, StoredAccount, UsernameTaken

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
TABLES = {
    "accounts",
    "sign_in_attempts",
    "web_sessions",
    "api_tokens",
    "totp_recovery_codes",
    "account_events",
    "personal_data_access",
}


def add(repo: AccountRepository, username: str = "wang.li") -> StoredAccount:
    return repo.add(
        username=username,
        display_name="王丽",
        role="street_operator",
        scope_code="410102001000",
        department_code=None,
        password_hash="$argon2id$placeholder",
        at=AT,
    )


def test_the_migration_builds_the_account_tables(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        assert set(inspect(session.connection()).get_table_names()) >= TABLES


def test_a_username_is_taken_once_and_the_transaction_survives(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        repo = AccountRepository(session)
        add(repo)
        with pytest.raises(UsernameTaken):
            add(repo)
        add(repo, "li.si")
    with sessions() as session:
        assert [a.username for a in AccountRepository(session).list()] == ["li.si", "wang.li"]


def test_a_totp_step_is_claimed_once_and_never_an_older_one(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        repo = AccountRepository(session)
        account = add(repo)
        assert repo.claim_totp_step(account.id, 100)
        assert not repo.claim_totp_step(account.id, 100)
        assert not repo.claim_totp_step(account.id, 99)
        assert repo.claim_totp_step(account.id, 101)


def test_a_recovery_code_is_used_once(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        repo = AccountRepository(session)
        account = add(repo)
        repo.replace_recovery_codes(account.id, ["a" * 64, "b" * 64])
        assert repo.use_recovery_code(account.id, "a" * 64, AT)
        assert not repo.use_recovery_code(account.id, "a" * 64, AT)
        assert repo.unused_recovery_codes(account.id) == 1
        repo.replace_recovery_codes(account.id, ["c" * 64])
        assert not repo.use_recovery_code(account.id, "b" * 64, AT)


def test_ending_everything_ends_only_live_sessions_and_tokens(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        repo = AccountRepository(session)
        account = add(repo)
        other = add(repo, "li.si")
        later = AT + timedelta(hours=1)
        for owner, n in ((account, 1), (account, 2), (other, 3)):
            repo.add_session(
                owner.id,
                id_hash=f"{n}" * 64,
                csrf_hash="c" * 64,
                at=AT,
                expires_at=later,
                source="10.0.0.5",
            )
            repo.add_token(owner.id, name="t", token_hash=f"{n}" * 64, at=AT, expires_at=later)
        first = repo.session_by_hash("1" * 64)
        assert first is not None
        repo.end_session(first.id, AT, "signed_out")
        assert repo.end_everything(account.id, later, "disabled") == (1, 2)
        ended = repo.session_by_hash("1" * 64)
        assert ended is not None and ended.end_reason == "signed_out"
        still = repo.token_by_hash("3" * 64)
        assert still is not None and still.revoked_at is None
