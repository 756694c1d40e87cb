"""The 360-degree debtor view as pure logic: state, reducer, snapshot. No Kafka."""

from recaudo.view.accounts import AccountSummary, summarize
from recaudo.view.buckets import bucket_for
from recaudo.view.reducer import ApplyResult, apply, tick
from recaudo.view.snapshot import snapshot
from recaudo.view.state import DebtorState

__all__ = [
    "AccountSummary",
    "ApplyResult",
    "DebtorState",
    "apply",
    "bucket_for",
    "snapshot",
    "summarize",
    "tick",
]
