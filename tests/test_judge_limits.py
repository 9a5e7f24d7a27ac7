"""RPM/TPM token buckets, checked with a fake clock (no sleeping, no wall time)."""

from __future__ import annotations

import pytest
from medzero_rewards.judge.limits import RateLimiter, TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_a_burst_then_spaces_requests() -> None:
    clock = FakeClock()
    bucket = TokenBucket(60, burst_seconds=5, clock=clock)  # 1 per second, 5 in reserve
    waits = [bucket.reserve(1) for _ in range(8)]
    assert waits[:5] == [0.0] * 5
    assert waits[5:] == pytest.approx([1.0, 2.0, 3.0])  # queued in reservation order
    clock.now = 10.0
    assert bucket.reserve(1) == 0.0


def test_oversized_request_is_clamped_to_capacity() -> None:
    clock = FakeClock()
    bucket = TokenBucket(600, burst_seconds=1, clock=clock)  # capacity 10 units
    assert bucket.reserve(1000) == 0.0  # would otherwise never be satisfiable
    assert bucket.reserve(10) == pytest.approx(1.0)


def test_limiter_takes_the_stricter_limit_and_corrects_tokens() -> None:
    clock = FakeClock()
    slept: list[float] = []
    limiter = RateLimiter(rpm=600, tpm=6000, burst_seconds=1, clock=clock, sleep=slept.append)
    # capacities: 10 requests, 100 tokens
    limiter.acquire(60)
    limiter.acquire(60)  # token bucket in debt by 20 -> 0.2 s at 100 tokens/s
    assert slept == [pytest.approx(0.2)]
    limiter.record_usage(est_tokens=60, actual_tokens=10)  # refund 50
    assert limiter.reserve(30) == 0.0


def test_disabled_limits_never_wait() -> None:
    limiter = RateLimiter(None, None)
    assert all(limiter.reserve(10**6) == 0.0 for _ in range(1000))


@pytest.mark.parametrize("rate", [0, -5])
def test_bad_rates_are_rejected(rate: float) -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate)
