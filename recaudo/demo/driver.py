"""Drives the demo's simulated month through the running pipeline.

The pipeline (stream workers, simulated connectors) runs as it would in
production, on a shared scaled clock. This side plays the bank: it publishes
the book's events as the clock reaches their time, reads the channel
responses the connectors emit and lets the debtors answer them (payments,
promises) through :class:`~recaudo.demo.bank.Bank`, then waits for every
consumer group to catch up so the KPIs it reports are final.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from recaudo.contracts.records import ChannelResponse, DebtEvent
from recaudo.dashboard.lag import LagProbe
from recaudo.demo.bank import Bank
from recaudo.kafka.producer import RecaudoProducer
from recaudo.kafka.serde import Serde
from recaudo.kpis.conversations import CONVERSATION_SOURCE
from recaudo.orchestration.clock import Clock
from recaudo.settings import Settings

log = logging.getLogger(__name__)

#: The month the demo simulates starts here (a Sunday night in the Americas).
DEFAULT_START = datetime(2026, 11, 1, 5, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class DemoPlan:
    """What to simulate and how fast."""

    debtors: int = 10_000
    days: int = 30
    #: Real seconds the simulated period takes.
    seconds: float = 150.0
    seed: int = 7
    start: datetime = DEFAULT_START
    #: Longest wait, after the period, for the pipeline to catch up.
    drain_timeout_s: float = 180.0
    #: Debtors' written replies are answered by the pipeline's conversation
    #: (RECAUDO_CONVERSATIONS), which negotiates the promises and plans.
    conversations: bool = True

    def __post_init__(self) -> None:
        if self.debtors < 1:
            raise ValueError("the demo needs at least one debtor")
        if self.days < 1 or self.seconds <= 0:
            raise ValueError("the simulated period must be at least a day, in positive time")

    @property
    def speed(self) -> float:
        """Simulated seconds per real second."""
        return self.days * 86_400 / self.seconds

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=self.days)


@dataclass(slots=True)
class DemoStats:
    """What the bank side saw (the KPIs come from the pipeline, not from here)."""

    published: int = 0
    #: Right-party contacts the debtor answered with a payment or a promise.
    conversations: int = 0
    #: Promises, plans and disputes the pipeline's conversations agreed or opened.
    agreements: int = 0
    #: Dispatches a connector reported on (sent, failed or bounced).
    sent: set[str] = field(default_factory=set)
    simulated_now: datetime | None = None
    phase: str = "starting"
    lag: int | None = None
    #: Consumer groups still behind while catching up, by name.
    lagging: dict[str, int] = field(default_factory=dict)

    @property
    def dispatches_reported(self) -> int:
        """Dispatches a connector reported on: the bank's count, not the KPI
        figure "Contacts" (dispatched decisions), which the pipeline computes."""
        return len(self.sent)


Progress = Callable[[DemoStats], None]


class _Agenda:
    """Events waiting for the clock to reach their time."""

    def __init__(self) -> None:
        self._heap: list[tuple[datetime, int, DebtEvent]] = []
        self._seq = itertools.count()

    def add(self, events: list[DebtEvent]) -> None:
        for event in events:
            heapq.heappush(self._heap, (event.occurred_at, next(self._seq), event))

    def due(self, now: datetime) -> list[DebtEvent]:
        out = []
        while self._heap and self._heap[0][0] <= now:
            out.append(heapq.heappop(self._heap)[2])
        return out


class _Responses:
    """Every channel response, and what the conversation agreed (its debt
    events), read without a consumer group (no join to wait for); notes in
    the stats which dispatches the connectors reported on."""

    def __init__(self, settings: Settings, serde: Serde, stats: DemoStats) -> None:
        self._serde = serde
        self._stats = stats
        topics = (serde.topics.channel_responses, serde.topics.debt_events)
        # Assigned, never subscribed: the group id is only a name librdkafka wants.
        self._consumer = Consumer(settings.consumer_config(f"{settings.topic_prefix}.demo-bank"))
        assigned = []
        for topic in topics:
            partitions = self._consumer.list_topics(topic, timeout=10).topics[topic]
            assigned += [TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions.partitions]
        self._consumer.assign(assigned)

    def poll(self, timeout_s: float) -> list[ChannelResponse | DebtEvent]:
        """Channel responses and the conversation's debt events (the bank's
        own, read back, are left out)."""
        out: list[ChannelResponse | DebtEvent] = []
        for msg in self._consumer.consume(500, timeout_s):
            if msg.error() is not None:
                log.warning("channel responses: %s", msg.error())
                continue
            try:
                event = self._serde.deserialize(msg.topic() or "", msg.value())
            except Exception as exc:  # a bad record is the pipeline's to dead-letter, not ours
                log.warning("%s: skipping an unreadable record: %s", msg.topic(), exc)
                continue
            if isinstance(event, ChannelResponse):
                if event.dispatch_id:
                    self._stats.sent.add(event.dispatch_id)
                out.append(event)
            elif isinstance(event, DebtEvent) and event.source == CONVERSATION_SOURCE:
                out.append(event)
        return out

    def close(self) -> None:
        self._consumer.close()


def run_month(
    settings: Settings,
    plan: DemoPlan,
    clock: Clock,
    stop: threading.Event,
    progress: Progress = lambda _stats: None,
    tick_s: float = 0.05,
    start_clock: Callable[[], None] | None = None,
) -> DemoStats:
    """Publish the book, answer contacts until the period ends, then drain.

    With ``start_clock`` the clock is started by calling it once the workers
    have taken in the book (else it starts on its own, and the book gets
    until then). Returns early (with what was done) when ``stop`` is set.
    """
    stats = DemoStats()
    bank = Bank(plan.debtors, plan.start, plan.days, plan.seed, plan.conversations)
    agenda = _Agenda()
    responses = _Responses(settings, Serde(settings), stats)
    lag = _LagWatch(settings, stats)
    try:
        with RecaudoProducer(settings) as producer:
            # The book as it stands before the period (profiles, openings, days
            # past due at the start) goes out at once, so the view has taken it
            # in by the time the clock reaches the start.
            stats.phase = "publishing the book"
            for event in bank.opening():
                producer.publish(event)
                stats.published += 1
            producer.flush()
            stats.phase = "the workers take in the book"
            progress(stats)
            _wait_until_caught_up(
                lag,
                stats,
                stop,
                progress,
                plan.drain_timeout_s,
                give_up=(lambda: False) if start_clock else (lambda: clock.now() > plan.start),
            )
            if start_clock is not None:
                start_clock()
            stats.phase = "waiting for the clock"
            progress(stats)
            while clock.now() <= plan.start and not stop.wait(0.05):
                pass
            stats.phase = "simulating"
            while not stop.is_set():
                lag.sample_every(3.0)
                now = clock.now()
                stats.simulated_now = now
                agenda.add(bank.advance(min(now, plan.end)))
                for event in agenda.due(min(now, plan.end)):
                    producer.publish(event)
                    stats.published += 1
                for response in responses.poll(tick_s):
                    if isinstance(response, DebtEvent):
                        bank.on_agreement(response)
                        stats.agreements += 1
                        continue
                    answer = bank.on_contact(response)
                    if answer:
                        stats.conversations += 1
                        agenda.add(answer)
                progress(stats)
                if now >= plan.end:
                    break
            producer.flush()
        if not stop.is_set():
            # The world has stopped; what the debtors would still answer is after it.
            stats.phase = "catching up"
            done = _wait_until_caught_up(
                lag, stats, stop, progress, plan.drain_timeout_s, responses
            )
            stats.phase = "done" if done else "timed out catching up"
            progress(stats)
    finally:
        lag.close()
        responses.close()
    return stats


class _LagWatch:
    """Consumer lag of the pipeline's groups, for the progress line and the catch-up."""

    def __init__(self, settings: Settings, stats: DemoStats) -> None:
        self._probe = LagProbe(settings)
        self._stats = stats
        self._last = 0.0

    def sample(self) -> dict[str, int]:
        """Lag by group now (also shown on the progress line)."""
        self._last = time.monotonic()
        report = self._probe.sample()
        groups = {g.group: g.lag for g in report.groups}
        self._stats.lag = report.total_lag if report.error is None else None
        self._stats.lagging = {g: n for g, n in groups.items() if n}
        return groups

    def sample_every(self, seconds: float) -> None:
        if time.monotonic() - self._last >= seconds:
            self.sample()

    def close(self) -> None:
        self._probe.close()


#: The stream workers' groups: they must have taken in everything before a
#: figure is final (a group that has committed nothing is not caught up).
#: Connectors are not waited for: after the period they may hold dispatches
#: whose time never comes in the stopped world; the responses still arriving
#: tell whether they are at work.
STREAM_GROUPS = ("view", "kpis")


def _wait_until_caught_up(
    lag: _LagWatch,
    stats: DemoStats,
    stop: threading.Event,
    progress: Progress,
    timeout_s: float,
    responses: _Responses | None = None,
    give_up: Callable[[], bool] = lambda: False,
) -> bool:
    """Until the stream workers have committed everything, three quiet samples
    in a row (and, with ``responses``, no channel response arriving: connectors
    still at work). False on timeout, on ``give_up()`` or on stop."""
    deadline = time.monotonic() + timeout_s
    quiet = 0
    while quiet < 3 and time.monotonic() < deadline and not stop.is_set() and not give_up():
        groups = lag.sample()
        if responses is None:
            arriving = False
            stop.wait(0.5)
        else:
            arriving = bool(responses.poll(1.0))
        settled = all(groups.get(g, 1) == 0 for g in STREAM_GROUPS) and not arriving
        quiet = quiet + 1 if settled else 0
        progress(stats)
    return quiet >= 3
