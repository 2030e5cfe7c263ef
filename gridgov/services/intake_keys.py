"""Per-channel API keys for pushing channels: created once, shown once, stored as a SHA-256.

Keys are 32 random bytes, so a plain SHA-256 is enough (no slow password hash is needed against
guessing), and the stored hash is compared in constant time.

A process remembers a key it found valid for `KEY_CACHE_S` seconds, sparing a channel that pushes
report by report a database read per push. A key revoked through this process stops working at
once; revoked through another, within those seconds. Unknown and revoked keys are never
remembered: each such push is checked against the store.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from gridgov.core.clock import Clock
from gridgov.core.errors import GridGovError
from gridgov.intake.channels import adapter
from gridgov.store.db import reading
from gridgov.store.intake import IntakeKey, IntakeRepository

KEY_PREFIX = "ggk_"
API_KEY_HEADER = "X-Api-Key"
KEY_CACHE_S = 5.0


class InvalidApiKey(GridGovError):
    """A push without a valid key for its channel (HTTP 401)."""

    def __init__(self, channel: str, zh: str, en: str) -> None:
        self.channel = channel
        super().__init__(f"{API_KEY_HEADER}: {zh} / {en}")


@dataclass(frozen=True, slots=True)
class NewKey:
    """A key just created; `token` is shown once and never stored."""

    id: int
    channel: str
    token: str
    created_at: datetime


def key_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class IntakeKeys:
    def __init__(
        self, session_factory: sessionmaker[Session], clock: Clock, *, cache_s: float = KEY_CACHE_S
    ) -> None:
        self._sessions = session_factory
        self._clock = clock
        self._cache_s = cache_s
        # Digest → (channel, monotonic time it was found valid): keys checked valid recently.
        self._valid: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def create(self, channel: str, *, label: str = "") -> NewKey:
        """A new key for `channel` (which must be registered)."""
        adapter(channel)
        token = KEY_PREFIX + secrets.token_urlsafe(32)
        now = self._clock.now()
        with self._sessions.begin() as session:
            key_id = IntakeRepository(session).add_key(channel, key_hash(token), label, now)
        return NewKey(key_id, channel, token, now)

    def list(self) -> list[IntakeKey]:
        with self._sessions() as session:
            return IntakeRepository(session).keys()

    def revoke(self, key_id: int) -> IntakeKey:
        """Revoke a key from now on; revoking twice keeps the first time."""
        with self._sessions.begin() as session:
            revoked = IntakeRepository(session).revoke_key(key_id, self._clock.now())
        with self._lock:
            self._valid.pop(revoked.key_hash, None)
        return revoked

    def check(self, channel: str, token: str | None) -> None:
        """Refuse a missing, unknown or revoked key, or a key of another channel."""
        if not token:
            raise InvalidApiKey(channel, "缺少接入密钥", f"missing; send the {channel} channel key")
        digest = key_hash(token)
        with self._lock:
            remembered = self._valid.get(digest)
        if (
            remembered is not None
            and remembered[0] == channel
            and time.monotonic() - remembered[1] < self._cache_s
        ):
            return
        with reading(self._sessions) as session:
            found = IntakeRepository(session).key_by_hash(digest)
        if found is None or not hmac.compare_digest(found.key_hash, digest):
            raise InvalidApiKey(channel, "接入密钥无效", "unknown key")
        if found.revoked_at is not None:
            raise InvalidApiKey(channel, "接入密钥已吊销", "this key was revoked")
        if found.channel != channel:
            raise InvalidApiKey(
                channel,
                f"该密钥属于渠道 {found.channel}，不能用于 {channel}",
                f"this key belongs to channel {found.channel}, not {channel}",
            )
        with self._lock:
            self._valid[digest] = (channel, time.monotonic())
