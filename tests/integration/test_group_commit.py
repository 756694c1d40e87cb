"""commit_offsets on the real broker: what it says for each way a commit ends."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Consumer

from recaudo.kafka.group_commit import commit_offsets
from recaudo.kafka.producer import RecaudoProducer
from recaudo.settings import Settings

pytestmark = pytest.mark.integration


def test_a_commit_says_whether_anything_was_committed(topics_ready: Settings) -> None:
    topic = topics_ready.topic_prefix + ".debtor-states"
    consumer = Consumer(topics_ready.consumer_config(topics_ready.topic_prefix + ".commit-probe"))
    try:
        consumer.subscribe([topic])
        assert commit_offsets(consumer) == "nothing to commit"
        with RecaudoProducer(topics_ready) as producer:
            producer.produce_raw(topic, b"D-1", b"state", [])
        deadline = time.monotonic() + 60
        message = None
        while message is None and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is not None:
                message = None
        assert message is not None and message.value() == b"state"
        assert commit_offsets(consumer) == "committed"
        assert commit_offsets(consumer) == "nothing to commit"  # nothing read since
    finally:
        consumer.close()
