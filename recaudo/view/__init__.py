"""The 360-degree debtor view as pure logic: state, reducer, snapshot. No Kafka.

The stream processor, per debtor key: ``DebtorState.decode`` the stored bytes
(or None), ``apply`` each event, store ``result.state.encode()`` when
``result.changed``, publish ``result.derived``, and publish a coalesced
``snapshot(state, debtor_id)``; from a timer, ``tick(state, now)`` (when
``state.next_wakeup`` has come).
"""

from recaudo.view.buckets import bucket_for
from recaudo.view.contacts import ChannelEngagement
from recaudo.view.ledger import Ledger, fold
from recaudo.view.reducer import ApplyResult, apply, implied, tick
from recaudo.view.snapshot import snapshot
from recaudo.view.state import DebtorState

__all__ = [
    "ApplyResult",
    "ChannelEngagement",
    "DebtorState",
    "Ledger",
    "apply",
    "bucket_for",
    "fold",
    "implied",
    "snapshot",
    "tick",
]
