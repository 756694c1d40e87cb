"""Reading topics back in integration tests."""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer, Message

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
