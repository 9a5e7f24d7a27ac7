"""Requests-per-minute and tokens-per-minute limiting with reserving token buckets.

A caller *reserves* capacity and is told how long to wait before sending; the bucket may go into
debt, so concurrent callers queue up fairly in reservation order without polling. The clock is
injectable, which lets tests check the arithmetic without sleeping.

Limits are per process: a pickled bucket (a judge sent to a process pool) starts full in the new
process, so N processes may together send up to N times the configured rate.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

Clock = Callable[[], float]


class TokenBucket:
    """Capacity refilled at ``rate_per_minute / 60`` units per second, holding at most ``burst`` units."""

    def __init__(self, rate_per_minute: float, *, burst_seconds: float = 10.0, clock: Clock = time.monotonic) -> None:
        if rate_per_minute <= 0:
            raise ValueError(f"rate_per_minute must be positive, got {rate_per_minute}")
        if burst_seconds <= 0:
            raise ValueError(f"burst_seconds must be positive, got {burst_seconds}")
        self.rate_per_s = rate_per_minute / 60.0
        self.capacity = max(1.0, self.rate_per_s * burst_seconds)
        self._clock = clock
        self._level = self.capacity
        self._last = clock()
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, object]:
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._level = self.capacity  # a fresh bucket: another process's clock and debt do not carry over
        self._last = self._clock()

    def _refill(self) -> None:
        now = self._clock()
        self._level = min(self.capacity, self._level + (now - self._last) * self.rate_per_s)
        self._last = now

    def reserve(self, amount: float) -> float:
        """Take ``amount`` units (clamped to the capacity) and return the seconds to wait before using them."""
        with self._lock:
            self._refill()
            self._level -= min(max(amount, 0.0), self.capacity)
            return 0.0 if self._level >= 0 else -self._level / self.rate_per_s

    def adjust(self, delta: float) -> None:
        """Charge (positive) or refund (negative) units after the fact, e.g. actual minus estimated tokens."""
        with self._lock:
            self._refill()
            self._level = min(self.capacity, self._level - delta)


class RateLimiter:
    """Both limits at once; ``None`` disables a limit."""

    def __init__(
        self,
        rpm: float | None = None,
        tpm: float | None = None,
        *,
        burst_seconds: float = 10.0,
        clock: Clock = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.requests = TokenBucket(rpm, burst_seconds=burst_seconds, clock=clock) if rpm else None
        self.tokens = TokenBucket(tpm, burst_seconds=burst_seconds, clock=clock) if tpm else None
        self._sleep = sleep
        self.total_wait_s = 0.0  # seconds callers were told to wait (for reports)

    def reserve(self, est_tokens: int) -> float:
        """Reserve one request of ``est_tokens`` tokens; return the seconds to wait."""
        wait = 0.0
        if self.requests is not None:
            wait = max(wait, self.requests.reserve(1))
        if self.tokens is not None:
            wait = max(wait, self.tokens.reserve(est_tokens))
        self.total_wait_s += wait
        return wait

    def acquire(self, est_tokens: int) -> None:
        """Reserve, then sleep until the reservation is due."""
        wait = self.reserve(est_tokens)
        if wait > 0:
            self._sleep(wait)

    def record_usage(self, est_tokens: int, actual_tokens: int) -> None:
        """Correct the token bucket by the difference between the estimate and the reported usage."""
        if self.tokens is not None and actual_tokens > 0:
            self.tokens.adjust(actual_tokens - est_tokens)
