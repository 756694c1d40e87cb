"""A record no consumer can read (a missing or non-UTF-8 key, a garbled
trace or CloudEvents header, a value that is not ours) is dead-lettered with
its original bytes, where it came from and why, by every consumer in recaudo;
the valid record behind it on the same partition is processed, and the worker
is still running."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from confluent_kafka import KafkaError, Message, Producer

from connectors.service import Connector, ConnectorConfig
from connectors.simulator import SimulatedProvider
from connectors.webhooks.projection import CorrelationProjection
from connectors.webhooks.store import CorrelationStore
from recaudo.contracts.records import ChannelResponse, DeadLetter, DispatchCommand, Envelope, Timer
from recaudo.kafka.cloudevents import ce_headers
from recaudo.kafka.serde import Serde
from recaudo.orchestration.clock import clock_from_settings
from recaudo.settings import Settings
from recaudo.view import apply
from streams.debtor_view import DebtorViewProcessor
from streams.kpis import KpiProcessor
from streams.timers import TimerService
from streams.view_publisher import ViewPublisher
from tests.fixtures import debt_event
from tests.integration.kafka_io import consume_all
from tests.unit.view.builders import opened

pytestmark = pytest.mark.integration

Headers = list[tuple[str, bytes | None]]


@dataclass
class Worker:
    """A consumer under test: ``run`` blocks (in the test's main thread: a
    quixstreams Application sets signal handlers) until ``stop``."""

    run: Callable[[], None]
    stop: Callable[[], None]
    group: str
    #: whether the valid record (at this offset of partition 0) was handled
    handled: Callable[[int], bool]


Start = Callable[[Settings, Serde, pytest.FixtureRequest], AbstractContextManager[Worker]]


@dataclass(frozen=True)
class Consumer:
    name: str
    topic: Callable[[Serde], str]
    #: a valid record of the topic for a debtor: its value and headers
    record: Callable[[Serde, str], tuple[bytes, Headers]]
    start: Start


def _event(serde: Serde, topic: str, event: Envelope) -> tuple[bytes, Headers]:
    return serde.serialize(topic, event), list(ce_headers(event))


def _debt_event(serde: Serde, debtor_id: str) -> tuple[bytes, Headers]:
    return _event(serde, serde.topics.debt_events, debt_event(debtor_id=debtor_id))


def _debtor_state(serde: Serde, debtor_id: str) -> tuple[bytes, Headers]:
    state = apply(None, opened().model_copy(update={"debtor_id": debtor_id})).state
    return state.encode(), []


def _timer(serde: Serde, debtor_id: str) -> tuple[bytes, Headers]:
    now = datetime.now(UTC)
    timer = Timer(
        occurred_at=now, source="test", debtor_id=debtor_id, due_at=now - timedelta(minutes=1)
    )
    return _event(serde, serde.topics.timers, timer)


def _dispatch(serde: Serde, debtor_id: str) -> tuple[bytes, Headers]:
    now = datetime.now(UTC)
    command = DispatchCommand(
        occurred_at=now,
        source="test",
        debtor_id=debtor_id,
        dispatch_id=f"disp-{debtor_id}",
        channel="sms",
        address="+573001112233",
        template="reminder",
        locale="es",
        body="Hola, su cuota vence pronto",
        not_before=now - timedelta(seconds=1),
        expires_at=now + timedelta(hours=1),
        trigger="payment_missed",
        step=0,
    )
    return _event(serde, serde.topics.dispatch("sms"), command)


def _response(serde: Serde, debtor_id: str) -> tuple[bytes, Headers]:
    response = ChannelResponse(
        occurred_at=datetime.now(UTC),
        source="test",
        debtor_id=debtor_id,
        dispatch_id=f"disp-{debtor_id}",
        channel="sms",
        status="ACCEPTED",
        provider="simulator",
        provider_message_id=f"pm-{debtor_id}",
    )
    return _event(serde, serde.topics.channel_responses, response)


@contextmanager
def _view(settings: Settings, serde: Serde, _: pytest.FixtureRequest) -> Iterator[Worker]:
    processed: set[tuple[str, int, int]] = set()
    view = DebtorViewProcessor(
        settings,
        orchestrate=False,
        timers=False,
        snapshots="inline",
        on_processed=lambda *at: processed.add(at),
    )
    topic = serde.topics.debt_events
    yield Worker(view.run, view.stop, view.processor.group, lambda o: (topic, 0, o) in processed)


@contextmanager
def _kpis(settings: Settings, serde: Serde, _: pytest.FixtureRequest) -> Iterator[Worker]:
    processed: set[tuple[str, int, int]] = set()
    kpis = KpiProcessor(settings, on_processed=lambda *at: processed.add(at))
    topic = serde.topics.debt_events
    yield Worker(kpis.run, kpis.stop, kpis.processor.group, lambda o: (topic, 0, o) in processed)


@contextmanager
def _publisher(settings: Settings, serde: Serde, _: pytest.FixtureRequest) -> Iterator[Worker]:
    publisher = ViewPublisher(settings, interval_s=0.2)
    # The valid state is the only one a snapshot can be built from.
    yield Worker(
        publisher.run, publisher.stop, publisher.group, lambda _o: publisher.snapshots_written >= 1
    )


@contextmanager
def _timers(settings: Settings, serde: Serde, _: pytest.FixtureRequest) -> Iterator[Worker]:
    timers = TimerService(settings, serde, clock_from_settings(settings))
    # The valid timer is the only one due.
    yield Worker(
        timers.run,
        timers.stop,
        f"{settings.topic_prefix}.timers",
        lambda _o: timers.wakeups_sent >= 1,
    )


@contextmanager
def _connector(settings: Settings, serde: Serde, _: pytest.FixtureRequest) -> Iterator[Worker]:
    provider = SimulatedProvider("sms", latency_scale=0, seed=1)
    connector = Connector(settings, ConnectorConfig(channel="sms"), provider, seed=1)

    def sent_once(_offset: int) -> bool:
        return connector.stats.sent + connector.stats.failed >= 1

    yield Worker(connector.run, connector.stop, connector.group, sent_once)


@contextmanager
def _projection(
    settings: Settings, serde: Serde, request: pytest.FixtureRequest
) -> Iterator[Worker]:
    store = CorrelationStore(request.getfixturevalue("pg_dsn"))
    projection = CorrelationProjection(settings, serde, store)
    try:
        yield Worker(
            projection.run,
            projection.stop,
            f"{settings.topic_prefix}.webhooks.correlation",
            lambda _o: store.by_message("pm-D-valid") is not None,
        )
    finally:
        store.close()


CONSUMERS = [
    Consumer("view", lambda s: s.topics.debt_events, _debt_event, _view),
    Consumer("kpis", lambda s: s.topics.debt_events, _debt_event, _kpis),
    Consumer("view-publisher", lambda s: s.topics.debtor_states, _debtor_state, _publisher),
    Consumer("timers", lambda s: s.topics.timers, _timer, _timers),
    Consumer("connector", lambda s: s.topics.dispatch("sms"), _dispatch, _connector),
    Consumer("projection", lambda s: s.topics.channel_responses, _response, _projection),
]


@dataclass(frozen=True)
class Poison:
    key: bytes | None
    value: bytes
    headers: Headers
    #: what the dead letter's reason must say
    reason: str


def poison_records(consumer: Consumer, serde: Serde) -> list[Poison]:
    """Each unreadable in one way only: the rest of the record is valid."""
    out: list[Poison] = []
    value, headers = consumer.record(serde, "D-poison-1")
    out.append(Poison(b"\xff\x82", value, headers, "is not UTF-8 text"))
    value, headers = consumer.record(serde, "D-poison-2")
    out.append(Poison(None, value, headers, "has no key"))
    value, headers = consumer.record(serde, "D-poison-3")
    trace: Headers = [("traceparent", b"00-this-is-not-a-trace-01")]
    out.append(Poison(b"D-poison-3", value, [*headers, *trace], "'traceparent'"))
    value, headers = consumer.record(serde, "D-poison-4")
    garbled: Headers = [(k, b"\xff\xfe" if k == "ce_time" else v) for k, v in headers]
    garbled = garbled if headers else [("ce_time", b"\xff\xfe")]
    out.append(Poison(b"D-poison-4", value, garbled, "'ce_time'"))
    out.append(Poison(b"D-poison-5", b"\x13\x37 not ours", [("origin", b"test")], ""))
    return out


def produce(
    settings: Settings, topic: str, records: list[tuple[bytes | None, bytes, Headers]]
) -> list[int]:
    """Write ``records`` to partition 0 of ``topic``, in order; their offsets."""
    producer = Producer(settings.producer_config())
    offsets: list[int] = []
    errors: list[KafkaError] = []

    def delivered(err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            errors.append(err)
        else:
            offsets.append(msg.offset() or 0)

    for key, value, headers in records:
        # One at a time: the offsets come back in the records' order.
        producer.produce(
            topic, key=key, value=value, headers=headers, partition=0, on_delivery=delivered
        )
        producer.flush(30)
    assert not errors and len(offsets) == len(records)
    return offsets


@dataclass
class Seen:
    handled: bool = False
    alive: bool = False
    letters: list[Message] | None = None


def watch(
    worker: Worker, offset: int, ended: threading.Event, settings: Settings, dlq: str, expected: int
) -> Seen:
    """Runs the worker in this thread while another waits for the valid record
    to be handled (or the worker to end), reads the dead letters, notes whether
    the worker is still running, and stops it."""
    seen = Seen()

    def watcher() -> None:
        try:
            deadline = time.monotonic() + 90
            while not worker.handled(offset) and not ended.is_set() and time.monotonic() < deadline:
                time.sleep(0.1)
            seen.handled = worker.handled(offset)
            seen.letters = consume_all(settings, dlq, expected=expected)
            seen.alive = not ended.is_set()
        finally:
            worker.stop()

    thread = threading.Thread(target=watcher, name="watcher")
    thread.start()
    try:
        worker.run()  # raises if the worker crashed on a record
    finally:
        ended.set()
        thread.join(120)
    return seen


@pytest.mark.parametrize("consumer", CONSUMERS, ids=[c.name for c in CONSUMERS])
def test_unreadable_records_are_dead_lettered_and_the_consumer_goes_on(
    consumer: Consumer, topics_ready: Settings, request: pytest.FixtureRequest
) -> None:
    serde = Serde(topics_ready)
    topic = consumer.topic(serde)
    poison = poison_records(consumer, serde)
    valid_value, valid_headers = consumer.record(serde, "D-valid")
    offsets = produce(
        topics_ready,
        topic,
        [*((p.key, p.value, p.headers) for p in poison), (b"D-valid", valid_value, valid_headers)],
    )

    with consumer.start(topics_ready, serde, request) as worker:
        seen = watch(
            worker, offsets[-1], threading.Event(), topics_ready, serde.topics.dlq, len(poison)
        )
    assert seen.alive, f"the {consumer.name} worker stopped before it was told to"
    assert seen.handled, "the valid record behind the unreadable ones was not handled"
    assert seen.letters is not None
    letters: dict[int, DeadLetter] = {}
    for message in seen.letters:
        letter = serde.deserialize(serde.topics.dlq, message.value())
        assert isinstance(letter, DeadLetter)
        assert message.key() == letter.key  # the DLQ record keeps the original key too
        letters[letter.source_offset] = letter
    assert len(seen.letters) == len(poison)
    assert sorted(letters) == offsets[:-1]
    for offset, record in zip(offsets, poison, strict=False):
        letter = letters[offset]
        assert letter.key == record.key
        assert letter.value == record.value
        assert [(h.key, h.value) for h in letter.headers] == record.headers
        assert letter.source_topic == topic
        assert letter.source_partition == 0
        assert letter.error_type == "DECODE_ERROR"
        assert record.reason in letter.error_message and letter.error_message
        assert letter.consumer_group == worker.group
