"""Exponential backoff with full jitter for transient provider errors."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    base_s: float = 0.2
    cap_s: float = 30.0

    def delay(self, attempt: int, rng: random.Random, retry_after_s: float | None = None) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (attempts count from 1).

        Full jitter (uniform in [0, min(cap, base * 2^(attempt-1))]) keeps a
        fleet of connectors from retrying in lockstep; a provider's Retry-After
        is a floor.
        """
        ceiling = min(self.cap_s, self.base_s * (2 ** (attempt - 1)))
        wait = rng.uniform(0, ceiling)
        return max(wait, retry_after_s or 0.0)

    def should_retry(self, attempt: int) -> bool:
        return attempt < self.max_attempts
