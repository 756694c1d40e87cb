"""Reading whole topics once, from the beginning to where they end now.

For the commands that show what the pipeline did (``recaudo decisions``,
``dispatches``, ``dlq``): a consumer assigned every partition (no group to
join, nothing committed) that stops at the end each partition had when the
read began, so a command always finishes however busy the topic is. On the
embedded broker the listed ends can come up short; they are read from a fetch
instead (:mod:`recaudo.embedded.partition_end`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

from confluent_kafka import Consumer, Message, TopicPartition

from recaudo.embedded.partition_end import FetchedEnds, Partition
from recaudo.kafka.librdkafka_codes import PARTITION_EOF
from recaudo.settings import Settings


class TopicMissingError(LookupError):
    """A topic the read needs is not on the broker."""


def _consumer(settings: Settings) -> Consumer:
    return Consumer(
        {
            **settings.kafka_config(),
            # Required by the client; never joined (partitions are assigned).
            "group.id": f"{settings.topic_prefix}.cli-reader",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": True,
        }
    )


def partition_bounds(
    consumer: Consumer, settings: Settings, topics: Sequence[str]
) -> dict[Partition, tuple[int, int]]:
    """Each partition's first offset and its end now."""
    bounds: dict[Partition, tuple[int, int]] = {}
    for topic in topics:
        meta = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if meta is None or meta.error is not None or not meta.partitions:
            raise TopicMissingError(
                f"topic {topic!r} does not exist on the broker: is this the right "
                "RECAUDO_TOPIC_PREFIX, and were the topics created (`recaudo topics create`)?"
            )
        for partition in meta.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            bounds[(topic, partition)] = (low, high)
    if settings.embedded_broker:
        fetched = FetchedEnds(settings.kafka_config())
        try:
            ends = fetched.ends({key: high for key, (_, high) in bounds.items()})
        finally:
            fetched.close()
        bounds = {key: (low, max(ends[key], low)) for key, (low, _) in bounds.items()}
    return bounds


def read_topics(
    settings: Settings, topics: Sequence[str], timeout_s: float = 60.0
) -> Iterator[Message]:
    """Every record of ``topics`` up to where they end when called, each
    partition in offset order (partitions interleaved)."""
    consumer = _consumer(settings)
    try:
        bounds = partition_bounds(consumer, settings, topics)
        ends = {key: high for key, (_, high) in bounds.items()}
        pending = {key for key, (low, high) in bounds.items() if high > low}
        if not pending:
            return
        consumer.assign([TopicPartition(t, p, bounds[(t, p)][0]) for t, p in sorted(pending)])
        deadline = time.monotonic() + timeout_s
        while pending:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"the broker did not deliver {sorted(pending)} to their end within "
                    f"{timeout_s:.0f} s; is it overloaded or gone?"
                )
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            key = (msg.topic() or "", msg.partition() or 0)
            error = msg.error()
            if error is not None:
                if error.code() != PARTITION_EOF:
                    raise RuntimeError(f"reading {key[0]}[{key[1]}]: {error.str()}")
                if (msg.offset() or 0) >= ends.get(key, 0):
                    pending.discard(key)
                continue
            offset = msg.offset() or 0
            if key not in pending or offset >= ends[key]:
                pending.discard(key)  # written after the read began
                continue
            yield msg
            if offset + 1 >= ends[key]:
                pending.discard(key)
    finally:
        consumer.close()
