"""A small in-process rate limiter: one token bucket per key (client address + route, or a case).

In-process on purpose: public endpoints and sign-in need a first line of defence that works
without Redis. Several workers each keep their own buckets, so the effective limit is the number
of workers times the configured one (docs/security.md); a city that runs many workers should also
limit at its reverse proxy. Sign-in is protected beyond this by the lockout, which counts failures
in the database and so holds across workers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI, Request, Response

from gridgov.api.errors import error


@dataclass(frozen=True, slots=True)
class Rate:
    """`capacity` requests at once, refilled evenly over `per_seconds`."""

    capacity: int
    per_seconds: float

    @property
    def refill_per_second(self) -> float:
        return self.capacity / self.per_seconds


class RateLimiter:
    """Token buckets by key; `take` spends one token, `allows` only looks."""

    def __init__(
        self, rate: Rate, *, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000
    ) -> None:
        self.rate = rate
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}  # key → (tokens, at)
        self._lock = threading.Lock()

    def _level(self, key: str, now: float) -> float:
        tokens, at = self._buckets.get(key, (float(self.rate.capacity), now))
        return min(float(self.rate.capacity), tokens + (now - at) * self.rate.refill_per_second)

    def allows(self, key: str) -> bool:
        """Whether `key` has a token left, without spending it."""
        with self._lock:
            return self._level(key, self._clock()) >= 1.0

    def take(self, key: str) -> bool:
        """Spend one token of `key`; False (and nothing spent) when the bucket is empty."""
        with self._lock:
            now = self._clock()
            level = self._level(key, now)
            if level < 1.0:
                self._buckets[key] = (level, now)
                return False
            if len(self._buckets) >= self._max_keys and key not in self._buckets:
                self._forget_full(now)
            self._buckets[key] = (level - 1.0, now)
            return True

    def retry_after(self, key: str) -> int:
        """Whole seconds until `key` has a token again."""
        with self._lock:
            missing = 1.0 - self._level(key, self._clock())
        return max(1, int(missing / self.rate.refill_per_second + 0.999))

    def _forget_full(self, now: float) -> None:
        # Bounded memory under a flood of addresses: full buckets carry no information.
        for key in [k for k in self._buckets if self._level(k, now) >= self.rate.capacity]:
            del self._buckets[key]
        if len(self._buckets) >= self._max_keys:
            self._buckets.clear()


class TooManyRequests(Exception):
    """A client spent its tokens; answered 429 with Retry-After (see `install_rate_limits`)."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(
            f"请求过于频繁，请 {retry_after} 秒后再试 / too many requests; retry in {retry_after} s"
        )


def per_address(limiter: RateLimiter) -> Callable[[Request], None]:
    """A route dependency spending one token per request of a client address on this route."""

    def spend(request: Request) -> None:
        host = request.client.host if request.client else "unknown"
        # The route's template, not the path: a client cannot dodge by varying a path parameter.
        route = request.scope.get("route")
        key = f"{host} {getattr(route, 'path', request.url.path)}"
        if not limiter.take(key):
            raise TooManyRequests(limiter.retry_after(key))

    return spend


def install_rate_limits(app: FastAPI) -> None:
    """Answer `TooManyRequests` with the API's error body and Retry-After."""

    @app.exception_handler(TooManyRequests)
    async def too_many(_: Request, exc: TooManyRequests) -> Response:
        return error(429, str(exc), Retry_After=str(exc.retry_after))
