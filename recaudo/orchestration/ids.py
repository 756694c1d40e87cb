"""Deterministic identities: the same trigger, step and channel always make the
same ``dispatch_id``, whichever worker computes it, however often it is replayed."""

from __future__ import annotations

import uuid
from typing import Final

from recaudo.contracts.records import Channel

DISPATCH_NAMESPACE: Final = uuid.UUID("3f1d9c62-7b0e-4c55-9a8e-2d6b1f0e7c41")
DECISION_NAMESPACE: Final = uuid.UUID("a4e7f2c8-5b19-4d3e-8f60-9c1b2e7d5a33")


def dispatch_id(debtor_id: str, trigger_key: str, step: int, channel: Channel) -> str:
    """The provider idempotency key of one contact (debtor, trigger, step, channel)."""
    return str(
        uuid.uuid5(DISPATCH_NAMESPACE, f"{debtor_id}\x1f{trigger_key}\x1f{step}\x1f{channel}")
    )


def decision_id(debtor_id: str, trigger_key: str, step: int, what: str) -> uuid.UUID:
    """The event id of one decision record: a replay republishes the same id."""
    return uuid.uuid5(DECISION_NAMESPACE, f"{debtor_id}\x1f{trigger_key}\x1f{step}\x1f{what}")
