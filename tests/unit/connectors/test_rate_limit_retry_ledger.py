from __future__ import annotations

import random
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from connectors.rate_limit import TokenBucket
from connectors.retry import RetryPolicy
from connectors.sent_ledger import LedgerEntry, SentLedger


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@given(
    rate=st.floats(min_value=0.5, max_value=500),
    burst=st.integers(min_value=1, max_value=50),
    gaps=st.lists(st.floats(min_value=0, max_value=0.5), min_size=1, max_size=300),
)
def test_token_bucket_never_exceeds_rate_plus_burst(
    rate: float, burst: int, gaps: list[float]
) -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate, burst, clock=clock)
    taken: list[float] = []
    for gap in gaps:
        clock.now += gap
        while bucket.try_take() == 0.0:
            taken.append(clock.now)
    # In any window [t0, t1], sends <= burst + rate * (t1 - t0).
    for i, start in enumerate(taken):
        for j in range(i, len(taken)):
            assert j - i + 1 <= burst + rate * (taken[j] - start) + 1e-6


def test_token_bucket_says_how_long_to_wait() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=10, burst=1, clock=clock)
    assert bucket.try_take() == 0.0
    wait = bucket.try_take()
    assert 0.09 < wait <= 0.1
    clock.now += wait
    assert bucket.try_take() == 0.0


@given(
    attempt=st.integers(min_value=1, max_value=30),
    seed=st.integers(0, 1000),
    retry_after=st.none() | st.floats(min_value=0, max_value=60),
)
def test_backoff_is_bounded_and_honours_retry_after(
    attempt: int, seed: int, retry_after: float | None
) -> None:
    policy = RetryPolicy(max_attempts=5, base_s=0.1, cap_s=10)
    delay = policy.delay(attempt, random.Random(seed), retry_after)
    assert delay >= (retry_after or 0.0)
    assert delay <= max(min(10, 0.1 * 2 ** (attempt - 1)), retry_after or 0.0)


def test_retry_stops_at_max_attempts() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert [policy.should_retry(a) for a in (1, 2, 3)] == [True, True, False]


def test_ledger_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    ledger = SentLedger(path)
    entry = LedgerEntry("d-1", "SENT", "SM123", None, None)
    ledger.record_many([entry])
    ledger.close()
    again = SentLedger(path)
    assert again.get("d-1") == entry
    assert again.get("d-2") is None
    assert len(again) == 1
