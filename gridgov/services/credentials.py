"""Secrets and their rules: the password policy, SHA-256 digests of random secrets, the lockout
rule, TOTP steps and recovery codes. Pure functions; `gridgov.services.accounts` applies them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

import pyotp

from gridgov.core.errors import InvalidInput

# A few passwords that every guessing list starts with, including the ones common in China.
COMMON_PASSWORDS = frozenset(
    {
        "0123456789",
        "1234567890",
        "12345678910",
        "1qaz2wsx3edc",
        "1q2w3e4r5t",
        "a123456789",
        "abc1234567",
        "abcd123456",
        "admin12345",
        "administrator",
        "iloveyou123",
        "password12",
        "password123",
        "qwertyuiop",
        "qwerty12345",
        "woaini1314",
        "woaini520",
        "zhang123456",
        "zxcvbnm123",
        "gridgov123",
        "p@ssw0rd123",
    }
)
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256


def digest(secret: str) -> str:
    """SHA-256 of a random secret; enough because the secrets have 256 bits (no slow hash needed)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def check_password_policy(username: str, password: str) -> None:
    """Refuse short, username-like and common passwords, naming the problem."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            "password",
            f"密码至少 {MIN_PASSWORD_LENGTH} 个字符 / must be at least "
            f"{MIN_PASSWORD_LENGTH} characters",
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(
            "password",
            f"密码最多 {MAX_PASSWORD_LENGTH} 个字符 / must be at most {MAX_PASSWORD_LENGTH} characters",
        )
    lowered = password.lower()
    if username.lower() in lowered:
        raise InvalidInput("password", "密码不能包含用户名 / must not contain the username")
    if lowered in COMMON_PASSWORDS or len(set(password)) <= 2:
        raise InvalidInput("password", "密码过于常见 / is too common; choose another")


def locked_until(
    failures: Sequence[datetime], threshold: int, window: timedelta, lock_for: timedelta
) -> datetime | None:
    """When the last lock triggered by `threshold` failures within `window` ends (None: no lock)."""
    until = None
    for i in range(threshold - 1, len(failures)):
        if failures[i] - failures[i - threshold + 1] <= window:
            until = failures[i] + lock_for
    return until


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The 30-second step whose code is `code`, allowing one step of clock drift either way."""
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // totp.interval
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


_RECOVERY_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L to misread


def new_recovery_code() -> str:
    # 16 characters from 31 is about 79 bits: a plain SHA-256 of it cannot be brute-forced.
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(16))
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def recovery_form(code: str) -> str:
    return code.replace("-", "").replace(" ", "").upper()
