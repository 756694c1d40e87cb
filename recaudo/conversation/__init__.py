"""Two-way conversations with a debtor, as pure logic: the state of one
conversation (:mod:`.state`), the offers the bank's bounds allow
(:mod:`.negotiation`) and the dialogue that answers each understood message
(:mod:`.dialogue`). No Kafka here: the stream worker holds the state and
sends what :func:`respond` returns."""

from recaudo.conversation.dialogue import (
    Handoff,
    Limits,
    Reply,
    Turn,
    answer_expires_at,
    answer_moot,
    close_handoff,
    deadline,
    lapse,
    on_silence,
    respond,
    silence_due,
)
from recaudo.conversation.negotiation import Offer
from recaudo.conversation.replies import REPLY_KINDS, load_replies
from recaudo.conversation.state import ConversationState, HeldAnswer, TurnRecord

__all__ = [
    "REPLY_KINDS",
    "ConversationState",
    "Handoff",
    "HeldAnswer",
    "Limits",
    "Offer",
    "Reply",
    "Turn",
    "TurnRecord",
    "answer_expires_at",
    "answer_moot",
    "close_handoff",
    "deadline",
    "lapse",
    "load_replies",
    "on_silence",
    "respond",
    "silence_due",
]
