"""A simulated provider for every channel: the default on the embedded runtime,
and what the demo and the learning work run on.

Each debtor gets a persona, derived from a seed and the debtor id (so the
same debtor behaves the same in every run): how much they favour each channel,
the local hour they are most responsive, how likely they are to pay, and their
language. A send is accepted after a realistic latency or fails at the
channel's failure and bounce rates; then delivery, reads, replies (in es, en or
pt), call outcomes and opt-outs follow on the injected clock, and the
connector collects them with :meth:`SimulatedProvider.due`.

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
from recaudo.events import CHANNELS, Channel, ResponseStatus

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

REPLIES: dict[str, dict[str, tuple[str, ...]]] = {
    "es": {
        "paid": ("ya pagué", "ya realicé el pago", "pagué ayer"),
        "cant_pay": ("no puedo pagar este mes", "ahora no tengo dinero"),
        "plan": ("quiero un plan", "¿puedo pagar en cuotas?", "necesito un acuerdo de pago"),
        "promise": ("pago el viernes", "el lunes pago"),
        "stop": ("STOP", "BAJA", "no me escriban más"),
    },
    "en": {
        "paid": ("I already paid", "paid yesterday"),
        "cant_pay": ("I can't pay this month", "no money right now"),
        "plan": ("I want a payment plan", "can I pay in instalments?"),
        "promise": ("I'll pay on Friday", "will pay Monday"),
        "stop": ("STOP", "UNSUBSCRIBE"),
    },
    "pt": {
        "paid": ("já paguei", "paguei ontem"),
        "cant_pay": ("não consigo pagar este mês", "estou sem dinheiro"),
        "plan": ("quero um parcelamento", "posso pagar em parcelas?"),
        "promise": ("pago na sexta", "pago segunda-feira"),
        "stop": ("PARAR", "SAIR"),
    },
}


@dataclass(frozen=True, slots=True)
class Persona:
    affinity: dict[Channel, float]
    best_hour_utc: int
    propensity_to_pay: float
    language: str
    opt_out_risk: float


def persona_for(debtor_id: str, locale: str, seed: int = 0) -> Persona:
    digest = hashlib.blake2b(f"{seed}/{debtor_id}".encode(), digest_size=16).digest()
    rng = random.Random(digest)
    weights = {c: rng.random() ** 2 for c in CHANNELS}
    total = sum(weights.values()) or 1.0
    language = locale.split("-")[0] if locale.split("-")[0] in REPLIES else "es"
    return Persona(
        affinity={c: w / total for c, w in weights.items()},
        best_hour_utc=rng.randrange(24),
        propensity_to_pay=rng.betavariate(2, 3),
        language=language,
        opt_out_risk=rng.uniform(0.0, 0.03),
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
        read_p = min(0.95, (0.55 if self.channel != "email" else 0.3) * affinity * timing)
        if rng.random() < read_p:
            read_after = rng.expovariate(1 / 1800)
            self._later(
                msg,
                message_id,
                story,
                30 + read_after,
                "READ" if self.channel != "email" else "CLICKED",
            )
            if rng.random() < min(0.8, 0.3 * affinity):
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
        rng = story.rng
        if rng.random() < persona.opt_out_risk * 3:
            text = rng.choice(REPLIES[persona.language]["stop"])
            self._later(msg, message_id, story, delay_s, "REPLIED", text)
            self._later(msg, message_id, story, delay_s + 1, "OPTED_OUT")
            return
        p = persona.propensity_to_pay
        kind = rng.choices(
            ("paid", "promise", "plan", "cant_pay"), (p * 0.5, p * 0.5, 0.3, (1 - p) * 0.6)
        )[0]
        if self.channel == "voice":
            return  # a call's reply is its outcome; promises come from the agent desk
        self._later(
            msg, message_id, story, delay_s, "REPLIED", rng.choice(REPLIES[persona.language][kind])
        )
