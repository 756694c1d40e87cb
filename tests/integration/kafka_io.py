"""Writing and reading topics in integration tests."""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer, Message, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from recaudo.settings import Settings


def consume_all(
    settings: Settings, topic: str, expected: int, timeout_s: float = 30.0
) -> list[Message]:
    """Read ``topic`` from the beginning until ``expected`` messages or the timeout.

    Uses partition assignment, not a consumer group: no join to wait for.
    """
    from confluent_kafka import TopicPartition

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
