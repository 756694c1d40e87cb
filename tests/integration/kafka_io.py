"""Writing and reading topics in integration tests."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from confluent_kafka import (
    Consumer,
    ConsumerGroupTopicPartitions,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic

from recaudo.contracts.records import CHANNELS, Timer
from recaudo.embedded.partition_end import FetchedEnds, Partition
from recaudo.kafka.serde import Serde
from recaudo.kafka.topics import Topics
from recaudo.settings import Settings
from tests.integration import waiting


def consume_all(
    settings: Settings, topic: str, expected: int, timeout_s: float = 30.0
) -> list[Message]:
    """Read ``topic`` from the beginning until ``expected`` messages or the timeout.

    Uses partition assignment, not a consumer group: no join to wait for.
    """
    consumer = Consumer(
        {
            **settings.kafka_config(),
            "group.id": f"reader-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
        }
    )
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        consumer.assign([TopicPartition(topic, p, 0) for p in meta.partitions])
        out: list[Message] = []
        deadline = time.monotonic() + timeout_s
        while len(out) < expected and time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is None or msg.error():
                continue
            out.append(msg)
        # A short grace period catches duplicates beyond what was expected.
        grace = time.monotonic() + 0.5
        while time.monotonic() < grace:
            msg = consumer.poll(0.1)
            if msg is not None and not msg.error():
                out.append(msg)
        return out
    finally:
        consumer.close()


def batches(settings: Settings, topic: str, sizes: list[int]) -> None:
    """Create ``topic`` (one partition) and write ``sizes[i]`` records in its
    i-th record batch (a flush between batches)."""
    admin = AdminClient(settings.kafka_config())
    config = {"retention.ms": "-1", "cleanup.policy": "delete"}
    for future in admin.create_topics([NewTopic(topic, 1, 1, config=config)]).values():
        future.result(10)
    # A long linger: each flush sends what was queued as one batch.
    producer = Producer({**settings.producer_config(), "linger.ms": 1000})
    for size in sizes:
        for i in range(size):
            producer.produce(topic, key=b"k", value=str(i).encode())
        assert producer.flush(10) == 0


def _partitions(consumer: Consumer, topics: Sequence[str]) -> list[TopicPartition]:
    out: list[TopicPartition] = []
    for topic in topics:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        out += [TopicPartition(topic, p) for p in sorted(meta.partitions)]
    return out


def _bounds(
    settings: Settings, consumer: Consumer, partitions: list[TopicPartition]
) -> dict[Partition, tuple[int, int]]:
    """Each partition's first offset and its true end now (read from a fetch
    on the embedded broker, whose listed ends can be short)."""
    bounds = {
        (tp.topic, tp.partition): consumer.get_watermark_offsets(tp, timeout=10)
        for tp in partitions
    }
    if settings.embedded_broker:
        fetched = FetchedEnds(settings.kafka_config())
        try:
            ends = fetched.ends({key: high for key, (_, high) in bounds.items()})
        finally:
            fetched.close()
        bounds = {key: (low, max(ends[key], low)) for key, (low, _) in bounds.items()}
    return bounds


def _reader(settings: Settings) -> Consumer:
    return Consumer(
        {
            **settings.kafka_config(),
            "group.id": f"reader-{uuid.uuid4().hex[:8]}",  # never joined: assigned
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            # The embedded broker answers a fetch when its wait runs out.
            "fetch.wait.max.ms": 10,
        }
    )


def read_to_end(settings: Settings, *topics: str, timeout_s: float = 30.0) -> list[Message]:
    """Every record of ``topics`` from the beginning to where each partition
    ends when called: no wait for records that may never come."""
    consumer = _reader(settings)
    try:
        bounds = _bounds(settings, consumer, _partitions(consumer, topics))
        pending = {key for key, (low, end) in bounds.items() if end > low}
        consumer.assign([TopicPartition(t, p, bounds[(t, p)][0]) for t, p in sorted(pending)])
        out: list[Message] = []
        deadline = time.monotonic() + timeout_s
        while pending:
            assert time.monotonic() < deadline, f"{sorted(pending)} not read to their end"
            msg = consumer.poll(0.2)
            if msg is None:
                continue
            key = (msg.topic() or "", msg.partition() or 0)
            offset = msg.offset() or 0
            if msg.error() is None and key in pending and offset < bounds[key][1]:
                out.append(msg)
            if offset + (msg.error() is None) >= bounds[key][1]:
                pending.discard(key)
        return out
    finally:
        consumer.close()


def caught_up(settings: Settings, groups: Mapping[str, Sequence[str]]) -> bool:
    """True when each consumer group (name -> its input topics) has committed
    every input partition to its end: all it read is done and its outputs
    flushed (recaudo commits only after that).

    The committed offsets are read before the ends, so a record its work
    wrote back to an input after the first read still holds the barrier."""
    admin = AdminClient(settings.kafka_config())
    consumer = _reader(settings)
    try:
        committed: dict[tuple[str, str, int], int] = {}
        wanted: dict[str, list[TopicPartition]] = {
            group: _partitions(consumer, topics) for group, topics in groups.items()
        }
        for group, partitions in wanted.items():
            request = [ConsumerGroupTopicPartitions(group, partitions)]
            answer: Any = admin.list_consumer_group_offsets(request)[group].result(10)
            for tp in answer.topic_partitions:
                committed[(group, tp.topic, tp.partition)] = tp.offset
        everything = {(tp.topic, tp.partition): tp for ps in wanted.values() for tp in ps}
        bounds = _bounds(settings, consumer, list(everything.values()))
        for group, partitions in wanted.items():
            for tp in partitions:
                low, end = bounds[(tp.topic, tp.partition)]
                at = committed.get((group, tp.topic, tp.partition), -1)
                if max(at, low) < end:
                    return False
        return True
    finally:
        consumer.close()


def wait_caught_up(
    settings: Settings, groups: Mapping[str, Sequence[str]], timeout_s: float = 90.0
) -> None:
    """Until :func:`caught_up` (an offset barrier): what the groups will ever
    make of what is on their inputs now is on their outputs."""
    assert waiting.wait_until(lambda: caught_up(settings, groups), timeout_s, every_s=0.2), (
        f"{sorted(groups)} did not commit their inputs to the end within {timeout_s:.0f} s"
    )


def worker_groups(settings: Settings) -> dict[str, list[str]]:
    """The consumer groups of `recaudo up`'s view worker, view publisher and
    connectors, each with its input topics (for :func:`caught_up`)."""
    t = Topics.from_settings(settings)
    prefix = settings.topic_prefix
    view = [t.debt_events, t.debtor_profiles, t.contact_decisions, t.channel_responses]
    if settings.timers:
        view.append(t.wakeups)
    if settings.conversations:
        view.append(t.agent_tasks)
    return {
        f"{prefix}.view": view,
        f"{prefix}.view-publisher": [t.debtor_states],
        **{f"{prefix}.connector.{c}": [t.dispatch(c)] for c in CHANNELS},
    }


def no_timer_due(settings: Settings, now: datetime) -> bool:
    """No debtor's latest timer is due at ``now``: each one that came due was
    woken (and the wake-up decided on, once the view is :func:`caught_up`)."""
    serde = Serde(settings)
    topic = serde.topics.timers
    due: dict[str, datetime | None] = {}
    for m in read_to_end(settings, topic):
        timer = serde.deserialize(topic, m.value())
        assert isinstance(timer, Timer)
        due[timer.debtor_id] = timer.due_at
    return not any(at is not None and at <= now for at in due.values())
