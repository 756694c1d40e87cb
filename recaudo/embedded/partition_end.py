"""The end of a partition on the embedded broker, read from a fetch.

Tansu answers ListOffsets with the last record batch's base offset + 1, not
the last offset + 1: after a batch of n records the end of a partition reads
n - 1 short. Its Fetch answers carry the right high watermark. Against the
embedded broker, whatever needs the true end reads it from a fetch at the
listed end - 1 (the last batch's first record) until the broker reports the
end of the partition: one short fetch for any number of partitions.

Who needs it:

* stream processors, for their changelogs: quixstreams reads a changelog's
  end when a processor is assigned the partition and compares the RocksDB
  store's recorded changelog offset with it. A store at or past that end is
  refused (``InvalidStoreChangelogOffset``: every restart of a worker whose
  last changelog batch held several records failed, so a supervised worker
  crash-looped), and a store behind it by records of the last batch would not
  recover them (:func:`read_changelog_ends_by_fetch`);
* the consumer-lag probe (the dashboard, and the demo, which waits for lag 0
  before it reports): a group with records left in a partition's last batch
  read as caught up;
* ``recaudo rebuild``, which replays each input partition to its end.

Real Kafka clusters do not need it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Protocol

from confluent_kafka import Consumer, TopicPartition

from recaudo.kafka.librdkafka_codes import PARTITION_EOF

#: quixstreams names its changelog topics ``changelog__<group>--<topic>--<store>``.
CHANGELOG_PREFIX = "changelog__"
#: The embedded broker answers a fetch when its wait runs out (see quirks).
FETCH_WAIT_MS = 10

Partition = tuple[str, int]


class WatermarkSource(Protocol):
    def get_watermark_offsets(
        self, partition: TopicPartition, timeout: float | None = None, cached: bool = False
    ) -> tuple[int, int]: ...


class FetchedEnds:
    """Reads where partitions end from a fetch, with a consumer of its own
    (assigned, never in a group, never committing), made at the first
    question; :meth:`close` it when done. Not thread-safe."""

    def __init__(self, kafka_config: dict[str, Any]) -> None:
        self._config = {
            **kafka_config,
            "group.id": "recaudo.partition-end",  # required by the client, never joined
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": True,
            "fetch.wait.max.ms": FETCH_WAIT_MS,
        }
        self._consumer: Consumer | None = None

    def end(self, topic: str, partition: int, listed: int, timeout_s: float = 10.0) -> int:
        """The offset after the last record of ``topic[partition]``, whose
        ListOffsets end was ``listed``."""
        return self.ends({(topic, partition): listed}, timeout_s)[(topic, partition)]

    def ends(
        self, listed: Mapping[Partition, int], timeout_s: float = 10.0
    ) -> dict[Partition, int]:
        """:meth:`end` of each partition, from one read of them all."""
        out = dict(listed)
        pending = {key for key, end in listed.items() if end > 0}  # empty: nothing to be short of
        if not pending:
            return out
        if self._consumer is None:
            self._consumer = Consumer(self._config)
        consumer = self._consumer
        consumer.assign([TopicPartition(t, p, listed[(t, p)] - 1) for t, p in sorted(pending)])
        try:
            deadline = time.monotonic() + timeout_s
            while pending and (left := deadline - time.monotonic()) > 0:
                msg = consumer.poll(min(left, 1.0))
                if msg is None:
                    continue
                error = msg.error()
                if error is None:
                    continue  # a record of a last batch: that end is past it
                topic, partition = msg.topic(), msg.partition()
                if error.code() != PARTITION_EOF:
                    raise RuntimeError(f"reading the end of {topic}[{partition}]: {error.str()}")
                key = (topic or "", partition if partition is not None else -1)
                if key in pending:
                    pending.discard(key)
                    out[key] = msg.offset()
        finally:
            consumer.unassign()
        if pending:
            raise TimeoutError(
                f"the broker did not report the end of {sorted(pending)} within {timeout_s} s; "
                "is it overloaded or gone?"
            )
        return out

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None


def read_changelog_ends_by_fetch(consumer: WatermarkSource, ends: FetchedEnds) -> None:
    """Make ``consumer`` (quixstreams' own, which its recovery asks) answer the
    high watermark of changelog partitions from ``ends``; other topics, and
    cached answers, as before."""
    listed = consumer.get_watermark_offsets

    def get_watermark_offsets(
        partition: TopicPartition, timeout: float | None = None, cached: bool = False
    ) -> tuple[int, int]:
        low, high = listed(partition, timeout, cached)
        if cached or not partition.topic.startswith(CHANGELOG_PREFIX):
            return low, high
        wait = 10.0 if timeout is None or timeout < 0 else timeout
        return low, ends.end(partition.topic, partition.partition, high, wait)

    # An instance attribute: this consumer only, the class untouched.
    setattr(consumer, "get_watermark_offsets", get_watermark_offsets)  # noqa: B010
