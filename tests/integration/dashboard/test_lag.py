"""Consumer lag on the real embedded broker: a group with records left in a
partition's last batch is not caught up."""

from __future__ import annotations

import pytest
from confluent_kafka import Consumer, TopicPartition

from recaudo.dashboard.lag import LagProbe
from recaudo.settings import Settings
from tests.integration.kafka_io import batches

pytestmark = pytest.mark.integration


def test_lag_counts_every_record_of_the_last_batch(kafka_settings: Settings) -> None:
    topic = f"{kafka_settings.topic_prefix}.inputs"
    group = f"{kafka_settings.topic_prefix}.view"
    batches(kafka_settings, topic, [6, 4])  # records 0-9: the last batch starts at 6
    committer = Consumer({**kafka_settings.kafka_config(), "group.id": group})
    try:
        # The group has read the first batch and one record of the second.
        committer.commit(offsets=[TopicPartition(topic, 0, 7)], asynchronous=False)
    finally:
        committer.close()

    probe = LagProbe(kafka_settings)
    try:
        report = probe.sample()
    finally:
        probe.close()

    assert report.error is None
    assert {g.group: g.lag for g in report.groups} == {"view": 3}
