"""Partition ends read from a fetch, on the real embedded broker."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer, TopicPartition
from quixstreams.kafka import BaseConsumer

from recaudo.embedded.partition_end import (
    CHANGELOG_PREFIX,
    FetchedEnds,
    read_changelog_ends_by_fetch,
)
from recaudo.settings import Settings
from tests.integration.kafka_io import batches

pytestmark = pytest.mark.integration


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

    try:
        assert consumer.get_watermark_offsets(TopicPartition(changelog, 0), timeout=10) == (0, 7)
        assert consumer.get_watermark_offsets(TopicPartition(other, 0), timeout=10) == listed[other]
    finally:
        consumer.close()


def test_many_partitions_are_read_at_once(
    kafka_settings: Settings, ends: FetchedEnds, consumer: Consumer
) -> None:
    first, second, empty = (f"{kafka_settings.topic_prefix}.{n}" for n in ("a", "b", "c"))
    batches(kafka_settings, first, [5, 2])
    batches(kafka_settings, second, [3, 3, 3])
    batches(kafka_settings, empty, [])
    listed = {
        (t, 0): consumer.get_watermark_offsets(TopicPartition(t, 0), timeout=10)[1]
        for t in (first, second, empty)
    }
    assert ends.ends(listed) == {(first, 0): 7, (second, 0): 9, (empty, 0): 0}
