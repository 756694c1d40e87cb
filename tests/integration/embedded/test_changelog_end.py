"""Changelog ends read from a fetch, on the real embedded broker."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from quixstreams.kafka import BaseConsumer

from recaudo.embedded.changelog_end import (
    CHANGELOG_PREFIX,
    FetchedEnds,
    read_changelog_ends_by_fetch,
)
from recaudo.settings import Settings

pytestmark = pytest.mark.integration


def batches(settings: Settings, topic: str, sizes: list[int]) -> None:
    """``sizes[i]`` records in the i-th batch (a flush between batches)."""
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


@pytest.fixture
def ends(kafka_settings: Settings) -> Iterator[FetchedEnds]:
    fetched = FetchedEnds(kafka_settings.kafka_config())
    yield fetched
    fetched.close()


@pytest.fixture
def consumer(kafka_settings: Settings) -> Iterator[Consumer]:
    c = Consumer({**kafka_settings.kafka_config(), "group.id": f"g-{uuid.uuid4().hex[:6]}"})
    yield c
    c.close()


def test_the_end_is_after_the_last_record_whatever_the_batches(
    kafka_settings: Settings, ends: FetchedEnds, consumer: Consumer
) -> None:
    topic = f"{kafka_settings.topic_prefix}.batches"
    batches(kafka_settings, topic, [7, 7, 7, 5])
    _, listed = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    assert ends.end(topic, 0, listed) == 26
    # the same consumer serves the next question
    assert ends.end(topic, 0, listed) == 26


def test_an_empty_partition_ends_at_zero(kafka_settings: Settings, ends: FetchedEnds) -> None:
    topic = f"{kafka_settings.topic_prefix}.empty"
    batches(kafka_settings, topic, [])
    assert ends.end(topic, 0, 0) == 0


def test_only_changelog_ends_are_read_from_a_fetch(
    kafka_settings: Settings, ends: FetchedEnds
) -> None:
    # quixstreams' own consumer class, as its recovery holds it
    consumer = BaseConsumer(kafka_settings.kafka_bootstrap_servers, "g", "earliest")
    changelog = f"{CHANGELOG_PREFIX}{kafka_settings.topic_prefix}--view--default"
    other = f"{kafka_settings.topic_prefix}.other"
    batches(kafka_settings, changelog, [4, 3])
    batches(kafka_settings, other, [4, 3])
    listed = {
        t: consumer.get_watermark_offsets(TopicPartition(t, 0), timeout=10)
        for t in (changelog, other)
    }

    read_changelog_ends_by_fetch(consumer, ends)

    assert consumer.get_watermark_offsets(TopicPartition(changelog, 0), timeout=10) == (0, 7)
    assert consumer.get_watermark_offsets(TopicPartition(other, 0), timeout=10) == listed[other]
    consumer.close()
