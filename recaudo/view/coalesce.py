"""Which changed debtors to snapshot now: each once its burst of events is over.

A debtor's events come in bursts (a payment, the cure it causes, the decision
that reacts to it, read back a moment later). Building every changed debtor's
snapshot at the checkpoint coalesces each burst into one snapshot, but stops
processing for as long as the building takes: about a millisecond a debtor on
a small machine, so a second's worth of changes paused every contact decision
behind it. The view instead builds a debtor's snapshot once it has been quiet
for a short while, a few between messages; the checkpoint builds only what is
still settling, and publishes them all at once.

Pure bookkeeping, no Kafka: keys kept in the order of their last change.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Coalescer(Generic[K, V]):
    """The latest value of each changed key, held until it settles.

    ``mark`` a change with the time it happened (a monotonic clock, in
    seconds); ``settled`` hands out, oldest change first, the keys unchanged
    for ``quiet_s``; ``drain`` hands out the rest. Each key comes out once per
    change, with its latest value.
    """

    def __init__(self, quiet_s: float) -> None:
        if quiet_s < 0:
            raise ValueError(f"quiet_s must be >= 0, got {quiet_s}")
        self.quiet_s = quiet_s
        self._pending: dict[K, tuple[V, float]] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def mark(self, key: K, value: V, now: float) -> None:
        # Re-inserted, not updated in place: the dict's order stays the order
        # of last changes, so `settled` stops at the first key still settling.
        self._pending.pop(key, None)
        self._pending[key] = (value, now)

    def settled(self, now: float, limit: int) -> list[tuple[K, V]]:
        """Up to ``limit`` keys unchanged since ``now - quiet_s``, removed."""
        out: list[tuple[K, V]] = []
        for key, (value, changed_at) in self._pending.items():
            if len(out) >= limit or now - changed_at < self.quiet_s:
                break
            out.append((key, value))
        for key, _ in out:
            del self._pending[key]
        return out

    def drain(self) -> list[tuple[K, V]]:
        """Every pending key, settled or not, removed."""
        out = [(key, value) for key, (value, _) in self._pending.items()]
        self._pending.clear()
        return out
