"""What understanding a debtor's message yields: the contract between the
classifier and entity extractors and the dialogue that acts on them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal, get_args

from recaudo.contracts.records import Channel

Intent = Literal[
    "ask_balance",
    "pay_now",
    "promise_to_pay",
    "ask_plan",
    "cannot_pay_full",
    "hardship",
    "already_paid",
    "dispute",
    "not_my_debt",
    "wrong_person",
    "opt_out",
    "ask_human",
    "thanks_ack",
    "abusive",
    "unknown",
]
INTENTS: tuple[Intent, ...] = get_args(Intent)

Language = Literal["es", "pt", "en"]
LANGUAGES: tuple[Language, ...] = get_args(Language)

#: ``channel``: stop this channel only ("no me escriban más" on SMS); ``all``: stop every channel.
OptOutScope = Literal["channel", "all"]


@dataclass(frozen=True, slots=True)
class Amount:
    """An amount the debtor named: exact minor units in the debtor's currency,
    or a share of what is owed ("half", "la mitad") left for the dialogue to
    compute from the 360° view."""

    minor: int | None = None
    currency: str | None = None
    fraction: float | None = None


@dataclass(frozen=True, slots=True)
class Entities:
    dates: tuple[date, ...] = ()
    amounts: tuple[Amount, ...] = ()
    instalments: int | None = None
    opt_out_scope: OptOutScope | None = None
    #: With scope ``channel``: the channels the debtor named ("no me llamen" -> voice);
    #: empty means the channel the message came from.
    opt_out_channels: tuple[Channel, ...] = ()


@dataclass(frozen=True, slots=True)
class Understanding:
    intent: Intent
    confidence: float
    entities: Entities = field(default_factory=Entities)
    language: Language = "es"
    #: Every other intent with its probability, most likely first (mixed messages).
    alternatives: tuple[tuple[Intent, float], ...] = ()
