"""Which of a debtor's sends the view has not yet heard the outcome of.

A send's outcome is the connector's answer to the dispatch: accepted (or
sent), failed, bounced, expired, or unknown after a crash. Every dispatch
gets one, so a debtor with none missing has heard all there is to hear about
what was sent to them (until delivery reports, reads and replies follow).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, NamedTuple

from recaudo.contracts.records import Channel
from recaudo.view.contacts import FAILED_MASK, SENT_MASK, STATUS_BIT
from recaudo.view.state import DebtorState
from recaudo.view.timebase import key64

OUTCOME_MASK: Final = SENT_MASK | FAILED_MASK | STATUS_BIT["OUTCOME_UNKNOWN"]


class Send(NamedTuple):
    #: when it was decided (ms)
    at: int
    channel: Channel
    dispatch_id: str


def awaiting_outcome(state: DebtorState, sends: Iterable[Send], after: int) -> list[Send]:
    """The sends decided after ``after`` whose outcome ``state`` has not
    folded in. A send the view has dropped (older than every dispatch it
    still holds on its channel, once it holds no more) counts as heard."""
    return [s for s in sends if s.at > after and not _heard(state, s)]


def _heard(state: DebtorState, send: Send) -> bool:
    facts = state.channel(send.channel)
    if facts is None:
        return False
    held = facts.records.get(key64(send.dispatch_id))
    if held is not None:
        return bool(held[1] & OUTCOME_MASK)
    return bool(facts.folded and facts.records) and send.at < min(
        first for first, _ in facts.records.values()
    )
