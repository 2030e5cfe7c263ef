"""A small in-process rate limiter: one token bucket per key (client address + route, or a case).

In-process on purpose: public endpoints need a first line of defence that works without Redis.
Several workers each keep their own buckets, so the effective limit is per worker; a city that
runs many workers behind one address should also limit at its reverse proxy.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


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
