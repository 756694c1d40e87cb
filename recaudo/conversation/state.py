"""The state of one conversation with a debtor about one account: what was
said (turns), asked (the slot still missing), offered and accepted, and where
it stands. Kept by the stream worker next to the debtor's view, so it
serialises to a compact JSON document (:meth:`ConversationState.to_bytes`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from typing import Any, Final, Literal

from recaudo.conversation.negotiation import Offer

Direction = Literal["in", "out"]
Status = Literal["open", "waiting", "handed_off", "closed"]
#: what the dialogue asked and waits for
Slot = Literal["promise_date", "plan_instalments", "offer_acceptance"]

#: turns kept for the transcript (the oldest are dropped past it)
MAX_TURNS_KEPT: Final = 40
#: inbound message ids remembered, so a redelivered message is answered once
MAX_SEEN: Final = 20
FORMAT: Final = 1


@dataclass(frozen=True, slots=True)
class TurnRecord:
    direction: Direction
    channel: str
    #: UTC milliseconds
    at: int
    text: str | None = None
    intent: str | None = None
    confidence: float | None = None
    #: what it caused: events ("PROMISE_TO_PAY:<id>"), the reply's template, a handoff
    caused: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class HeldAnswer:
    """An answer the allowed hours refused when it was decided: sent at
    ``not_before`` (by the worker's timer) unless something newer made it moot."""

    #: the answer's run key, from which its dispatch id is derived
    key: str
    template: str
    channel: str
    language: str
    #: UTC milliseconds: the next moment the rules allow it
    not_before: int
    variables: dict[str, str] = field(default_factory=dict)
    #: UTC milliseconds: gone by then (None: the strategy's expiry only)
    expires_at: int | None = None
    account_id: str | None = None
    #: the inbound message it answers (None for a reminder)
    message_id: str | None = None
    #: the dispatch that message answered, when known
    answers_dispatch: str | None = None
    #: a reminder the dialogue sent of its own: frequency caps apply to it
    reminder: bool = False


@dataclass(frozen=True, slots=True)
class ConversationState:
    debtor_id: str
    #: the debtor and the message that opened the conversation
    conversation_id: str | None = None
    #: the account negotiated about (None until a message needs one)
    account_id: str | None = None
    status: Status = "open"
    language: str = "es"
    turns: tuple[TurnRecord, ...] = ()
    pending: Slot | None = None
    #: times each slot was asked in the current negotiation
    asked: dict[str, int] = field(default_factory=dict)
    #: a promise amount waiting for its date (the promise_date slot)
    draft_minor: int | None = None
    offers: tuple[Offer, ...] = ()
    accepted: str | None = None
    #: consecutive messages not understood (unknown or low confidence)
    not_understood: int = 0
    #: inbound messages since the conversation (re)opened
    inbound: int = 0
    last_inbound_at: int | None = None
    last_outbound_at: int | None = None
    handoff_reason: str | None = None
    #: inbound messages answered, for ids of what they cause (never reused)
    seq: int = 0
    seen: tuple[str, ...] = ()
    #: the one reminder of what the dialogue waits for was sent (reset by the next message)
    reminded: bool = False
    #: an answer waiting for the hours to allow it
    held: HeldAnswer | None = None

    def current_offer(self) -> Offer | None:
        """The offer waiting for the debtor's yes, if any."""
        if self.pending != "offer_acceptance" or not self.offers:
            return None
        return self.offers[-1]

    def with_turn(self, turn: TurnRecord) -> ConversationState:
        return replace(self, turns=(*self.turns, turn)[-MAX_TURNS_KEPT:])

    # --- serialisation -----------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["v"] = FORMAT
        data["turns"] = [_compact(asdict(t)) for t in self.turns]
        data["offers"] = [_compact({**asdict(o), "due": o.due.isoformat()}) for o in self.offers]
        if self.held is not None:
            data["held"] = _compact(asdict(self.held))
        return _compact(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConversationState:
        data = dict(data)
        version = data.pop("v", FORMAT)
        if version != FORMAT:
            raise ValueError(
                f"conversation state format {version} is not {FORMAT}: upgrade recaudo to read it"
            )
        turns = tuple(
            TurnRecord(**{**t, "caused": tuple(t.get("caused", ()))}) for t in data.pop("turns", [])
        )
        offers = tuple(
            Offer(**{**o, "due": date.fromisoformat(o["due"])}) for o in data.pop("offers", [])
        )
        seen = tuple(data.pop("seen", ()))
        held = data.pop("held", None)
        return cls(
            **data,
            turns=turns,
            offers=offers,
            seen=seen,
            held=HeldAnswer(**held) if held is not None else None,
        )

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> ConversationState:
        return cls.from_dict(json.loads(raw))


def _compact(data: dict[str, Any]) -> dict[str, Any]:
    """Without the fields at their empty value: most turns set few of them."""
    return {k: v for k, v in data.items() if v not in (None, (), [], {})}
