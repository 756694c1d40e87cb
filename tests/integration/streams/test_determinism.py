"""The same input decides the same, however the pipeline's parts are timed.

The real pipeline runs twice on the embedded broker (the view + orchestrator
worker with its timer service, and a connector per channel on the simulated
provider) over the same book, published before the workers start, with the
clock frozen (``RECAUDO_CLOCK_ORIGIN`` = ``RECAUDO_CLOCK_UNTIL``) on the
book's fourth day. Only the timing of the parts differs between the runs:
how soon the timer service sends a wake-up and how long each channel's
provider takes to answer a send (in the first run e-mail answers first, in
the second SMS, WhatsApp and calls do). Sends fail often (the simulator's
failure rates raised), so many debtors have two sends failing at once; what
the pipeline reads back of its own making then reaches a debtor in a
different order in each run. The decisions, and each debtor's send
outcomes, must not change.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from connectors import simulator
from connectors.service import Connector, ConnectorConfig
from connectors.simulator import SimulatedProvider
from recaudo.contracts.records import (
    CHANNELS,
    Channel,
    ChannelResponse,
    ContactDecision,
    DispatchCommand,
    Event,
)
from recaudo.demo.portfolio import generate
from recaudo.embedded.broker import EmbeddedBroker
from recaudo.kafka.producer import RecaudoProducer
from recaudo.kafka.serde import Serde
from recaudo.kafka.topics_admin import ensure_topics
from recaudo.orchestration.clock import clock_from_settings
from recaudo.settings import Settings
from streams.debtor_view import DebtorViewProcessor

pytestmark = pytest.mark.integration

DEBTORS = 150
PARTITIONS = 3
# A Wednesday, 16:00 UTC: inside allowed hours in every time zone of the
# book, on its fourth day (what happened before is history, what comes after
# is still to happen).
ORIGIN = datetime(2026, 11, 4, 16, tzinfo=UTC)
#: (permanent failure, bounce) rates of a send: high, so that many debtors
#: have several sends failing at once.
FAILURE_RATES: dict[Channel, tuple[float, float]] = {
    "sms": (0.3, 0.0),
    "email": (0.1, 0.3),
    "whatsapp": (0.3, 0.0),
    "voice": (0.3, 0.0),
}
SEND_OUTCOMES = frozenset({"ACCEPTED", "SENT", "FAILED", "BOUNCED", "EXPIRED"})
SETTLE_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Timing:
    #: how often the timer service looks for due timers
    timer_interval_s: float
    #: each channel's simulated send latency, as a multiple of the real one
    latency: dict[Channel, float]


FAST_EMAIL = Timing(0.02, {"sms": 4.0, "email": 0.0, "whatsapp": 2.0, "voice": 4.0})
FAST_PHONE = Timing(1.5, {"sms": 0.0, "email": 6.0, "whatsapp": 0.0, "voice": 0.0})


@dataclass
class Outcome:
    decisions: dict[str, ContactDecision] = field(default_factory=dict)
    responses: list[ChannelResponse] = field(default_factory=list)
    dispatches: list[DispatchCommand] = field(default_factory=list)

    def channel_data(self) -> dict[str, list[tuple[str, str, str]]]:
        """Per debtor, every send outcome: (dispatch, channel, status)."""
        out: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
        for r in self.responses:
            out[r.debtor_id].append((r.dispatch_id or "", r.channel, r.status))
        return {d: sorted(set(v)) for d, v in out.items()}


def book() -> list[Event]:
    """The portfolio as a feed sends it: every debtor's events in time order,
    the debtors interleaved (profiles first)."""
    events = list(generate(DEBTORS))
    return sorted(events, key=lambda e: (e.occurred_at, str(e.event_id)))


class Reader:
    """What the view reads and what the pipeline makes, from the start, as
    it fills (partition assignment: no group to join)."""

    def __init__(self, settings: Settings, serde: Serde) -> None:
        self.serde = serde
        t = serde.topics
        self.view_inputs = [
            t.debt_events,
            t.debtor_profiles,
            t.contact_decisions,
            t.channel_responses,
            t.wakeups,
        ]
        self.timers = t.timers
        names = [*self.view_inputs, self.timers, *(t.dispatch(c) for c in CHANNELS)]
        self.consumer = Consumer(
            {**settings.kafka_config(), "group.id": f"reader-{uuid.uuid4().hex[:8]}"}
        )
        self.consumer.assign(
            [TopicPartition(n, p, OFFSET_BEGINNING) for n in names for p in range(PARTITIONS)]
        )
        #: (topic, partition) -> the offset after the last record read
        self.ends: dict[tuple[str, int], int] = {}
        self.outcome = Outcome()

    def read(self) -> None:
        """Everything there is now (until a poll comes back empty)."""
        while (msg := self.consumer.poll(0.2)) is not None:
            topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
            if msg.error() is not None or topic is None or partition is None or offset is None:
                continue
            self.ends[(topic, partition)] = offset + 1
            if topic == self.timers:
                continue
            record = self.serde.deserialize(topic, msg.value())
            if isinstance(record, ContactDecision):
                self.outcome.decisions[str(record.event_id)] = record
            elif isinstance(record, ChannelResponse):
                self.outcome.responses.append(record)
            elif isinstance(record, DispatchCommand):
                self.outcome.dispatches.append(record)

    def close(self) -> None:
        self.consumer.close()


def run(broker: EmbeddedBroker, tmp: Path, events: list[Event], timing: Timing) -> Outcome:
    """One clean pipeline (a topic prefix and state of its own) over ``events``,
    until it has settled; what it decided and what came back."""
    settings = Settings(
        kafka_bootstrap_servers=broker.bootstrap_servers,
        embedded_broker=True,
        topic_prefix=f"det{uuid.uuid4().hex[:8]}",
        topic_partitions=PARTITIONS,
        state_dir=tmp,
        clock_origin=ORIGIN,
        clock_until=ORIGIN,
        timer_interval_s=timing.timer_interval_s,
    )
    ensure_topics(settings)
    serde = Serde(settings)
    with RecaudoProducer(settings, serde) as producer:
        producer.publish_many(events)
    clock = clock_from_settings(settings)
    processed: dict[tuple[str, int], int] = {}

    def on_processed(topic: str, partition: int, offset: int) -> None:
        processed[(topic, partition)] = offset + 1

    view = DebtorViewProcessor(
        settings,
        orchestrate=True,
        timers=True,
        snapshots="publisher",
        publish_views=False,
        commit_interval=0.5,
        on_processed=on_processed,
    )
    timers = view.timer_service
    assert timers is not None
    connectors = [
        Connector(
            settings,
            ConnectorConfig(channel),
            SimulatedProvider(channel, clock=clock.now, latency_scale=timing.latency[channel]),
            clock=clock.now,
        )
        for channel in CHANNELS
    ]
    threads = [threading.Thread(target=c.run, name=f"connector-{c.topic}") for c in connectors]
    reader = Reader(settings, serde)

    def settled() -> bool:
        """Every send answered, every record the view reads read by it, every
        timer read by the timer service and none of them due."""
        reader.read()
        outcome = reader.outcome
        answered = {r.dispatch_id for r in outcome.responses if r.status in SEND_OUTCOMES}
        if not outcome.dispatches or {d.dispatch_id for d in outcome.dispatches} - answered:
            return False
        for (topic, partition), end in reader.ends.items():
            if topic in reader.view_inputs and processed.get((topic, partition), 0) < end:
                return False
        read_to = timers.read_to()
        for (topic, partition), end in reader.ends.items():
            if topic == reader.timers and read_to.get(partition, 0) < end:
                return False
        return timers.due() == 0

    failure: list[str] = []

    def watch() -> None:
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        try:
            # Twice in a row: a wake-up or an answer on its way shows in between.
            streak = 0
            while streak < 2:
                if time.monotonic() > deadline:
                    failure.append(f"not settled after {SETTLE_TIMEOUT_S} s")
                    return
                streak = streak + 1 if settled() else 0
        finally:
            view.stop()

    for thread in threads:
        thread.start()
    watcher = threading.Thread(target=watch, name="watcher")
    watcher.start()
    try:
        view.run()  # the main thread: quixstreams installs signal handlers
    finally:
        watcher.join()
        for connector in connectors:
            connector.stop()
        for thread in threads:
            thread.join(30)
        reader.close()
    assert not failure, failure[0]
    return reader.outcome


def differences(a: Outcome, b: Outcome) -> dict[str, Any]:
    ids = set(a.decisions) ^ set(b.decisions)
    debtors = {(a.decisions.get(i) or b.decisions[i]).debtor_id for i in ids}
    data_a, data_b = a.channel_data(), b.channel_data()
    channel_debtors = {d for d in set(data_a) | set(data_b) if data_a.get(d) != data_b.get(d)}
    return {
        "decision ids": len(ids),
        "debtors deciding differently": sorted(debtors),
        "debtors with other channel data": sorted(channel_debtors),
    }


def test_two_runs_of_the_same_input_decide_the_same(
    broker: EmbeddedBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for channel, rates in FAILURE_RATES.items():
        monkeypatch.setitem(simulator.FAILURE_RATES, channel, rates)
    events = book()
    first = run(broker, tmp_path / "first", events, FAST_EMAIL)
    second = run(broker, tmp_path / "second", events, FAST_PHONE)
    assert first.decisions, "nothing was decided"
    # Debtors with two sends failing at once: the fallback of the one heard
    # first depends on the other's outcome (and its contact, on the caps).
    failing = Counter(r.debtor_id for r in first.responses if r.status in ("FAILED", "BOUNCED"))
    assert sum(n >= 2 for n in failing.values()) >= 10, dict(failing)
    found = differences(first, second)
    print(f"{len(first.decisions)} decisions, {len(first.responses)} responses: {found}")
    assert found == {
        "decision ids": 0,
        "debtors deciding differently": [],
        "debtors with other channel data": [],
    }
