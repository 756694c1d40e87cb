"""The consume loop every non-stream consumer shares (recaudo.kafka.batch_consumer),
on the real broker: records decoded or dead-lettered in the order read,
offsets committed only after the batch is durable, and nothing committed when
making it durable fails."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from confluent_kafka import Consumer, Message, TopicPartition

from recaudo.contracts.records import DebtEvent
from recaudo.kafka.batch_consumer import BatchConsumer
from recaudo.kafka.cloudevents import ce_headers
from recaudo.kafka.producer import RecaudoProducer
from recaudo.kafka.serde import Serde
from recaudo.settings import Settings
from tests.fixtures import debt_event
from tests.integration.waiting import wait_until

pytestmark = pytest.mark.integration

KEY = "D-batch"


class Recorder(BatchConsumer[DebtEvent]):
    """Keeps what it handled; ``durable`` is what its flushes made durable."""

    def __init__(self, settings: Settings, *, fail_flush: bool = False) -> None:
        serde = Serde(settings)
        super().__init__(
            settings,
            topics=[serde.topics.debt_events],
            group=f"{settings.topic_prefix}.recorder",
            source="recaudo.test.recorder",
            serde=serde,
            poll_s=0.05,
        )
        self.fail_flush = fail_flush
        self.handled: list[str] = []
        self.durable: list[str] = []
        self.flushes = 0

    def record_type(self) -> type[DebtEvent]:
        return DebtEvent

    def handle(self, batch: list[tuple[DebtEvent, Message]]) -> None:
        self.handled.extend(event.account_id for event, _ in batch)

    def flush(self) -> None:
        self.flushes += 1
        if self.handled and self.fail_flush:
            raise RuntimeError("the store is down")
        self.durable = list(self.handled)


@contextmanager
def running(member: Recorder) -> Iterator[list[BaseException]]:
    failures: list[BaseException] = []

    def run() -> None:
        try:
            member.run()
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=run, name="recorder")
    thread.start()
    try:
        yield failures
    finally:
        member.stop()
        thread.join(30)
        assert not thread.is_alive()


def publish(settings: Settings, accounts: list[str], *, garbage_after: int | None = None) -> int:
    """The accounts' events, all on KEY's partition (a record that is not
    Avro after the ``garbage_after``-th); returns that partition."""
    serde = Serde(settings)
    topic = serde.topics.debt_events
    with RecaudoProducer(settings, serde) as producer:
        for i, account in enumerate(accounts):
            event = debt_event(debtor_id=KEY, account_id=account)
            producer.produce_raw(
                topic, KEY.encode(), serde.serialize(topic, event), ce_headers(event)
            )
            if garbage_after == i:
                producer.produce_raw(topic, KEY.encode(), b"not a debt event", [])
    return _partition_of(settings, topic)


def _partition_of(settings: Settings, topic: str) -> int:
    """The partition holding KEY's records: the only one not empty."""
    probe = Consumer({"bootstrap.servers": settings.kafka_bootstrap_servers, "group.id": "probe"})
    try:
        for p in probe.list_topics(topic, timeout=10).topics[topic].partitions:
            _, high = probe.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if high > 0:
                return p
    finally:
        probe.close()
    raise AssertionError("no partition holds the records")


def committed(settings: Settings, group: str, topic: str, partition: int) -> int:
    reader = Consumer({"bootstrap.servers": settings.kafka_bootstrap_servers, "group.id": group})
    try:
        [tp] = reader.committed([TopicPartition(topic, partition)], timeout=10)
        return tp.offset
    finally:
        reader.close()


def test_records_are_handled_in_order_bad_ones_dead_lettered_and_offsets_committed_after_flush(
    topics_ready: Settings,
) -> None:
    member = Recorder(topics_ready)
    partition = publish(topics_ready, ["A-1", "A-2", "A-3"], garbage_after=1)
    with running(member) as failures:
        assert wait_until(lambda: len(member.handled) == 3 and member.dead_letters_written == 1)
        assert wait_until(
            lambda: committed(topics_ready, member.group, member.topics[0], partition) == 4
        )
    assert failures == []
    assert member.handled == ["A-1", "A-2", "A-3"]
    assert member.durable == ["A-1", "A-2", "A-3"]


def test_nothing_is_committed_when_the_batch_cannot_be_made_durable(
    topics_ready: Settings,
) -> None:
    member = Recorder(topics_ready, fail_flush=True)
    partition = publish(topics_ready, ["A-1", "A-2"])
    with running(member) as failures:
        assert wait_until(lambda: bool(failures))
    assert [str(f) for f in failures] == ["the store is down"]
    assert member.durable == []
    # Nothing committed: the next member reads the batch again.
    assert committed(topics_ready, member.group, member.topics[0], partition) < 0
    again = Recorder(topics_ready)
    with running(again) as failures:
        assert wait_until(lambda: again.durable == ["A-1", "A-2"])
    assert failures == []
