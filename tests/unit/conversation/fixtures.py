"""A debtor's view built by the real reducer, understandings built by hand,
and a chat that folds what the dialogue causes back into the view."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from recaudo.contracts.records import Channel, DebtorView, Event
from recaudo.conversation import ConversationState, Turn, respond
from recaudo.conversation.dialogue import Limits
from recaudo.orchestration.strategy import Strategy, load_strategy
from recaudo.understanding.types import Amount, Entities, Intent, Language, Understanding
from recaudo.view import DebtorState, apply, snapshot
from tests.unit.view.builders import DEBTOR, at, opened, profile

STRATEGY = load_strategy()
PHONE = {"es": "+573001112233", "pt": "+5511987654321", "en": "+14155550123"}
COUNTRY = {"es": ("CO", "America/Bogota", "co_ley_2300", "COP")}
COUNTRY["pt"] = ("BR", "America/Sao_Paulo", "br_sp", "BRL")
COUNTRY["en"] = ("US", "America/New_York", "us_reg_f", "USD")


def u(
    intent: Intent,
    confidence: float = 0.95,
    language: Language = "es",
    *,
    dates: tuple[date, ...] = (),
    amounts: tuple[Amount, ...] = (),
    instalments: int | None = None,
    scope: Any = None,
    channels: tuple[Channel, ...] = (),
    alternatives: tuple[tuple[Intent, float], ...] = (),
) -> Understanding:
    return Understanding(
        intent=intent,
        confidence=confidence,
        entities=Entities(dates, amounts, instalments, scope, channels),
        language=language,
        alternatives=alternatives,
    )


def debtor_events(language: str, dpd: int, balance: int, instalment: int) -> list[Event]:
    country, zone, jurisdiction, currency = COUNTRY[language]
    phone = PHONE[language]
    return [
        profile(
            -40,
            preferred_language=language,
            time_zone=zone,
            country=country,
            jurisdiction=jurisdiction,
            contact_points=[
                {"channel": "sms", "address": phone, "consent": True},
                {"channel": "whatsapp", "address": phone, "consent": True},
                {"channel": "email", "address": "d1@example.com", "consent": True},
            ],
        ),
        opened(-30, balance=balance, dpd=dpd, instalment=instalment, currency=currency),
    ]


@dataclass
class Chat:
    """One debtor talking to the dialogue; each turn's events are folded into
    the view the way the stream worker does."""

    language: Language = "es"
    dpd: int = 45
    balance: int = 1_200_000
    instalment: int = 200_000
    strategy: Strategy = STRATEGY
    channel: Channel = "whatsapp"
    now: datetime = field(default_factory=lambda: at(0.5))
    limits: Limits = field(default_factory=Limits)
    state: ConversationState | None = None
    view_state: DebtorState | None = None
    turns: list[Turn] = field(default_factory=list)

    def __post_init__(self) -> None:
        for event in debtor_events(self.language, self.dpd, self.balance, self.instalment):
            self.view_state = apply(self.view_state, event).state

    @property
    def view(self) -> DebtorView:
        assert self.view_state is not None
        return snapshot(self.view_state, DEBTOR)

    def say(
        self, understanding: Understanding, *, after: timedelta = timedelta(minutes=2), **kw: Any
    ) -> Turn:
        self.now += after
        turn = respond(
            self.state,
            understanding,
            self.view,
            self.strategy,
            self.now,
            self.channel,
            limits=self.limits,
            **kw,
        )
        self.state = turn.state
        for event in turn.events:
            self.view_state = apply(self.view_state, event).state
        self.turns.append(turn)
        return turn

    def today(self) -> date:
        return self.now.date()
