"""Holding a dispatch until its ``not_before``, on a real or a scaled clock."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime

Clock = Callable[[], datetime]


async def hold_until(
    not_before: datetime, clock: Clock, *, speed: float = 1.0, max_hold_s: float = 300.0
) -> bool:
    """Wait until ``clock()`` reaches ``not_before``; True if it did, False when
    ``max_hold_s`` real seconds ran out first.

    ``speed`` is how many of the clock's seconds pass per real second, so a
    scaled simulation clock is waited for in the right real time. The clock is
    read again after each wait: a scaled clock may run unevenly or stand still
    (a simulation that has ended), and then the cap decides.
    """
    if speed <= 0:
        raise ValueError(f"clock speed must be positive, got {speed}")
    deadline = time.monotonic() + max_hold_s
    while (hold := (not_before - clock()).total_seconds()) > 0:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        await asyncio.sleep(min(max(hold / speed, 0.01), left))
    return True
