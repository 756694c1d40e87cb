"""A simulated provider for every channel: the default on the embedded runtime,
and what the demo and the learning work run on.

Each debtor gets a persona, derived from a seed and the debtor id (so the
same debtor behaves the same in every run): how much they favour each channel,
the local hour they are most responsive, how likely they are to pay, and their
language. A send is accepted after a realistic latency or fails at the
channel's failure and bounce rates; then delivery, reads, replies, call
outcomes and opt-outs follow on the injected clock, and the connector collects
them with :meth:`SimulatedProvider.due`.

Each persona also has a hidden disposition (will pay, wants a plan, hardship,
disputes, wrong person, wants to be left alone, abusive, asks for a person,
silent) and a capacity to pay; its replies are written by
:mod:`connectors.simulator_replies` in the debtor's language (es, pt, en),
varied, and in reaction to what the dispatch said: a question of the dialogue
gets an answer, an offer within the capacity an acceptance, one above it a
counter-request or a request for a person. A reply that is a carrier opt-out
keyword (STOP, BAJA, SAIR...) is followed by the provider's OPTED_OUT.

What happens to a message is drawn from a generator seeded by the seed and
its dispatch id, not from one shared by the process: replicas that split a
channel's partitions, or a send redelivered to another replica, tell the same
story about the same dispatch, with the same follow-up ids.

Follow-ups are held in memory: a restarted simulator forgets the ones it had
not yet reported (a real provider would have them; a simulation can lose them).
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import itertools
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from connectors.providers.base import (
    ClosesAsync,
    OutboundMessage,
    PermanentProviderError,
    SendResult,
)
from connectors.simulator_replies import (
    DISPOSITIONS,
    OUTREACH,
    REPLY_LANGUAGES,
    Disposition,
    Language,
    Speaker,
    kind_of,
    reply_to,
)
from recaudo.contracts.records import CHANNELS, Channel, ResponseStatus
from recaudo.view.contacts import is_opt_out

Clock = Callable[[], datetime]

#: (permanent failure, bounce) probabilities of a send, per channel.
FAILURE_RATES: dict[Channel, tuple[float, float]] = {
    "sms": (0.02, 0.01),
    "email": (0.01, 0.04),
    "whatsapp": (0.015, 0.005),
    "voice": (0.01, 0.0),
}
#: Median provider latency per channel, seconds.
LATENCY_S: dict[Channel, float] = {"sms": 0.08, "email": 0.12, "whatsapp": 0.1, "voice": 0.25}

#: Chance that a read outreach message is answered, times the channel affinity (capped).
REPLY_RATE = 0.3
#: Chance that a debtor in a conversation reads and answers a question or an offer.
CONVERSATION_REPLY_RATE = 0.85

#: Disposition weights: ``p`` is the persona's propensity to pay, ``r`` its opt-out risk.
DISPOSITION_WEIGHTS: dict[Disposition, Callable[[float, float], float]] = {
    "will_pay": lambda p, r: p,
    "wants_plan": lambda p, r: 0.3,
    "hardship": lambda p, r: 0.25 * (1 - p),
    "disputes": lambda p, r: 0.04,
    "wrong_person": lambda p, r: 0.03,
    "leave_alone": lambda p, r: 0.02 + 3 * r,
    "abusive": lambda p, r: 0.02,
    "asks_human": lambda p, r: 0.04,
    "silent": lambda p, r: 0.05,
}


@dataclass(frozen=True, slots=True)
class Persona:
    affinity: dict[Channel, float]
    best_hour_utc: int
    propensity_to_pay: float
    language: Language
    opt_out_risk: float
    #: What they mean to do, whatever they are sent (hidden from the pipeline).
    disposition: Disposition = "will_pay"
    #: The share of what they owe they can pay per period.
    capacity: float = 1.0

    @property
    def speaker(self) -> Speaker:
        return Speaker(self.language, self.disposition, self.capacity)


def persona_for(debtor_id: str, locale: str, seed: int = 0) -> Persona:
    digest = hashlib.blake2b(f"{seed}/{debtor_id}".encode(), digest_size=16).digest()
    rng = random.Random(digest)
    weights = {c: rng.random() ** 2 for c in CHANNELS}
    total = sum(weights.values()) or 1.0
    prefix = locale.split("-")[0]
    language: Language = next((lang for lang in REPLY_LANGUAGES if lang == prefix), "es")
    affinity = {c: w / total for c, w in weights.items()}
    best_hour_utc = rng.randrange(24)
    propensity = rng.betavariate(2, 3)
    opt_out_risk = rng.uniform(0.0, 0.03)
    disposition = rng.choices(
        DISPOSITIONS, [DISPOSITION_WEIGHTS[d](propensity, opt_out_risk) for d in DISPOSITIONS]
    )[0]
    # Only the share of the debt per instalment matters: amounts differ per account.
    capacity = 1.0 if disposition == "will_pay" else 0.5
    if disposition == "wants_plan":
        capacity = rng.uniform(0.17, 0.55)
    elif disposition == "hardship":
        capacity = rng.uniform(0.08, 0.3)
    return Persona(
        affinity=affinity,
        best_hour_utc=best_hour_utc,
        propensity_to_pay=propensity,
        language=language,
        opt_out_risk=opt_out_risk,
        disposition=disposition,
        capacity=capacity,
    )


@dataclass(order=True, frozen=True, slots=True)
class SimulatedEvent:
    at: datetime
    #: the follow-up's number within its dispatch (part of its response id)
    seq: int
    dispatch_id: str = field(compare=False)
    debtor_id: str = field(compare=False)
    channel: Channel = field(compare=False)
    status: ResponseStatus = field(compare=False)
    provider_message_id: str = field(compare=False)
    text: str | None = field(default=None, compare=False)


@dataclass(slots=True)
class _Story:
    """What happens to one dispatch: its own generator and follow-up numbers."""

    rng: random.Random
    seq: Iterator[int] = field(default_factory=lambda: itertools.count(1))


class SimulatedProvider(ClosesAsync):
    """A provider adapter for one channel that behaves like the real thing."""

    def __init__(
        self,
        channel: Channel,
        *,
        clock: Clock = lambda: datetime.now(UTC),
        seed: int = 0,
        latency_scale: float = 1.0,
        time_scale: float = 1.0,
    ) -> None:
        """``latency_scale`` scales the real seconds a send takes (0: instant);
        ``time_scale`` scales how long follow-ups take on the injected clock."""
        self.name = "simulator"
        self.channel = channel
        self.clock = clock
        self.seed = seed
        self.latency_scale = latency_scale
        self.time_scale = time_scale
        self.sent = 0
        self._pending: list[SimulatedEvent] = []

    async def aclose(self) -> None:
        self._pending.clear()

    def _story(self, dispatch_id: str) -> _Story:
        digest = hashlib.blake2b(
            f"{self.seed}/{self.channel}/{dispatch_id}".encode(), digest_size=16
        ).digest()
        return _Story(random.Random(digest))

    async def send(self, msg: OutboundMessage) -> SendResult:
        story = self._story(msg.dispatch_id)
        # Drawn whatever the scale: a dispatch's fate must not depend on how fast
        # the simulation runs.
        latency = story.rng.lognormvariate(0, 0.5) * LATENCY_S[self.channel]
        if self.latency_scale > 0:
            await asyncio.sleep(latency * self.latency_scale)
        failure, bounce = FAILURE_RATES[self.channel]
        roll = story.rng.random()
        if roll < bounce:
            raise PermanentProviderError("recipient address rejected", "SIM_BOUNCE", bounced=True)
        if roll < bounce + failure:
            raise PermanentProviderError("unreachable recipient", "SIM_UNREACHABLE")
        self.sent += 1
        message_id = "sim-" + hashlib.blake2b(msg.dispatch_id.encode(), digest_size=8).hexdigest()
        self._follow_up(msg, message_id, story)
        return SendResult(status="ACCEPTED", provider_message_id=message_id)

    def due(self, now: datetime | None = None) -> list[SimulatedEvent]:
        """Follow-up events whose time has come, oldest first."""
        now = now or self.clock()
        out = []
        while self._pending and self._pending[0].at <= now:
            out.append(heapq.heappop(self._pending))
        return out

    @property
    def pending(self) -> int:
        return len(self._pending)

    # --- behaviour ------------------------------------------------------------------

    def _later(
        self,
        msg: OutboundMessage,
        message_id: str,
        story: _Story,
        delay_s: float,
        status: ResponseStatus,
        text: str | None = None,
    ) -> None:
        at = self.clock() + timedelta(seconds=delay_s * self.time_scale)
        event = SimulatedEvent(
            at,
            next(story.seq),
            msg.dispatch_id,
            msg.debtor_id,
            self.channel,
            status,
            message_id,
            text,
        )
        heapq.heappush(self._pending, event)

    def _follow_up(self, msg: OutboundMessage, message_id: str, story: _Story) -> None:
        persona = persona_for(msg.debtor_id or msg.address, msg.locale, self.seed)
        rng = story.rng
        affinity = persona.affinity[self.channel] * len(CHANNELS)  # 1.0 = indifferent
        hour = self.clock().hour
        timing = 1.0 if abs(hour - persona.best_hour_utc) % 24 in (0, 1, 23) else 0.6
        if self.channel == "voice":
            roll = rng.random()
            answered = min(0.9, 0.35 * affinity * timing)
            if roll < answered:
                self._later(msg, message_id, story, 20, "CALL_ANSWERED")
                if rng.random() < 0.8:
                    self._later(msg, message_id, story, 25, "CALL_RIGHT_PARTY")
                    self._reply(msg, message_id, story, persona, 90)
            elif roll < answered + 0.25:
                self._later(msg, message_id, story, 30, "CALL_VOICEMAIL")
            else:
                self._later(msg, message_id, story, 30, "CALL_NO_ANSWER")
            return
        self._later(msg, message_id, story, rng.uniform(1, 30), "DELIVERED")
        conversation = kind_of(msg.template) != OUTREACH
        read_p = min(0.95, (0.55 if self.channel != "email" else 0.3) * affinity * timing)
        if conversation:
            read_p = CONVERSATION_REPLY_RATE  # they wrote first: they are watching the thread
        if rng.random() < read_p:
            read_after = rng.expovariate(1 / (300 if conversation else 1800))
            self._later(
                msg,
                message_id,
                story,
                30 + read_after,
                "READ" if self.channel != "email" else "CLICKED",
            )
            answer_p = CONVERSATION_REPLY_RATE if conversation else min(0.8, REPLY_RATE * affinity)
            if rng.random() < answer_p:
                self._reply(
                    msg, message_id, story, persona, 60 + read_after + rng.expovariate(1 / 900)
                )

    def _reply(
        self,
        msg: OutboundMessage,
        message_id: str,
        story: _Story,
        persona: Persona,
        delay_s: float,
    ) -> None:
        if self.channel == "voice":
            return  # a call's reply is its outcome; promises come from the agent desk
        # A generator of its own: how many draws a text takes must not move the
        # dispatch's other draws.
        words = random.Random(story.rng.getrandbits(64))
        # No history: a dispatch's story must not depend on what this replica
        # sent before (see the module's docstring).
        reply = reply_to(persona.speaker, msg.template, msg.variables, (), words)
        if reply is None:
            return
        self._later(msg, message_id, story, delay_s, "REPLIED", reply.text)
        if is_opt_out(reply.text):
            # The provider's own keyword handling (STOP, BAJA, SAIR...), as carriers do.
            self._later(msg, message_id, story, delay_s + 1, "OPTED_OUT")
