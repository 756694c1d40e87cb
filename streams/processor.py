"""What every recaudo stream processor shares: the quixstreams Application
wired to recaudo's settings, topics, Avro serde and dead-letter queue."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from quixstreams import Application
from quixstreams.kafka.configuration import ConnectionConfig
from quixstreams.models import Row, TopicConfig
from quixstreams.models.serializers import Deserializer, Serializer
from quixstreams.models.topics import Topic as QxTopic
from quixstreams.state.rocksdb import RocksDBOptions
from quixstreams.utils.json import dumps as json_dumps

from recaudo.contracts.records import Envelope
from recaudo.embedded.partition_end import FetchedEnds, read_changelog_ends_by_fetch
from recaudo.kafka.close_deadline import DEADLINE_S, close_or_exit
from recaudo.kafka.dead_letters import DeadLetterWriter
from recaudo.kafka.serde import DeadLetterError, Serde, read_record
from recaudo.kafka.topics import Topic, Topics
from recaudo.observability.instruments import ConsumerLag, EventCounts
from recaudo.settings import Settings
from streams import quixstreams_internals

log = logging.getLogger(__name__)


class Skipped:
    """What a message from a skipped source deserializes to: never decoded."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "SKIPPED"


#: The value of a message a processor reads past (see ``StreamProcessor.topic``).
SKIPPED = Skipped()


class AvroEventDeserializer(Deserializer):
    """Confluent-framed Avro to a validated event model; a bad message raises a
    DeadLetterError, which the Application's consumer-error hook dead-letters.

    With ``skip_source``, a message whose CloudEvents ``ce_source`` header is
    that source is not decoded at all: it comes through as :data:`SKIPPED`
    (still a processed message, so its offset is committed).
    """

    def __init__(self, serde: Serde, skip_source: str | None = None) -> None:
        self._serde = serde
        self._skip = None if skip_source is None else skip_source.encode()

    def __call__(self, value: bytes, ctx: Any) -> Envelope | Skipped:
        if self._skip is not None and ctx.headers:
            for name, header in ctx.headers:
                if name == "ce_source" and header == self._skip:
                    return SKIPPED
        return self._serde.deserialize(ctx.topic, value)


class AvroEventSerializer(Serializer):
    def __init__(self, serde: Serde) -> None:
        self._serde = serde

    def __call__(self, value: Envelope, ctx: Any) -> bytes:
        return self._serde.serialize(ctx.topic, value)


class RowMessage:
    """A processed row seen as the Kafka message it came from, for dead letters.

    The row holds the decoded event, so its value is re-encoded: the same
    Avro record, not necessarily the producer's exact bytes.
    """

    def __init__(self, row: Row, serde: Serde) -> None:
        self._row = row
        self._serde = serde

    def topic(self) -> str:
        return self._row.topic

    def partition(self) -> int:
        return self._row.partition

    def offset(self) -> int:
        return self._row.offset

    def key(self) -> bytes | None:
        key = self._row.key
        return key.encode() if isinstance(key, str) else key

    def value(self) -> bytes | None:
        value = self._row.value
        if isinstance(value, Envelope):
            return self._serde.serialize(self._row.topic, value)
        return None

    def headers(self) -> list[tuple[str, bytes | None]] | None:
        return list(self._row.headers or [])

    def timestamp(self) -> tuple[int, int]:
        return (1, self._row.timestamp)


def _read_record_first(topic: QxTopic) -> None:
    """Key and headers checked (:func:`recaudo.kafka.serde.read_record`) before
    quixstreams deserializes a message of ``topic``: a missing or non-UTF-8 key
    or a garbled header raises a DeadLetterError where the consumer's error hook
    dead-letters it. (quixstreams hands a missing key on as None without asking
    the key deserializer, so the check wraps the whole message's.)"""
    deserialize = topic.row_deserialize

    def row_deserialize(message: Any) -> Any:
        read_record(message)
        return deserialize(message)

    topic.row_deserialize = row_deserialize  # type: ignore[method-assign]


def _raw_bytes(value: Any) -> bytes:
    # State keys (strings) go through quixstreams' JSON; values are the bytes
    # each processor encodes itself and pass through untouched.
    if isinstance(value, bytes):
        return value
    encoded: bytes = json_dumps(value)
    return encoded


def _identity(value: bytes) -> bytes:
    return value


# Values are compact bytes each processor encodes itself (no JSON round trip:
# a processor must store bytes, which `loads` hands back as they are), and the
# embedded default must fit a laptop: RocksDB's defaults reserve a 1 GiB block
# cache and 192 MiB of write buffers per store.
STATE_OPTIONS = RocksDBOptions(
    dumps=_raw_bytes,
    loads=_identity,
    write_buffer_size=8 * 1024 * 1024,
    max_write_buffer_number=2,
    block_cache_size=64 * 1024 * 1024,
)


def _state_dir(settings: Settings, name: str) -> Path:
    # One directory per replica: two workers of one group on one machine must
    # not share a RocksDB directory.
    import os

    instance = os.environ.get("RECAUDO_INSTANCE_ID", "0")
    return settings.state_dir / "streams" / name / instance


class StreamProcessor:
    """A quixstreams Application with recaudo's conventions.

    - consumer group ``<prefix>.<name>``; the embedded broker's client quirks
      applied from ``Settings.consumer_config`` (one place);
    - every catalogue topic declared with its explicit configs;
    - undecodable or invalid input dead-lettered with its original bytes, and
      processing goes on;
    - messages handled and consumer lag counted for ``/metrics`` and OTLP.
    """

    def __init__(
        self,
        settings: Settings,
        name: str,
        *,
        commit_interval: float = 1.0,
        group: str | None = None,
        low_latency: bool = False,
        on_processed: Callable[[str, int, int], None] | None = None,
    ) -> None:
        self.settings = settings
        self.name = name
        self.group = group or f"{settings.topic_prefix}.{name}"
        self.serde = Serde(settings)
        self.topics: Topics = self.serde.topics
        self.dead_letters = DeadLetterWriter(settings, self.serde, f"recaudo.{name}", self.group)
        self.events = EventCounts(self.group)
        self.lag = ConsumerLag(self.group)
        conn = settings.kafka_config()
        consumer_conf = settings.consumer_config(
            self.group, low_latency=low_latency, **self.lag.config()
        )
        # Application sets these itself; everything else (quirks, TLS) passes through.
        for key in (*conn, "group.id", "auto.offset.reset", "enable.auto.commit"):
            consumer_conf.pop(key, None)
        self.app = Application(
            broker_address=ConnectionConfig.from_librdkafka_dict(conn, ignore_extras=True),
            consumer_group=self.group,
            auto_offset_reset="earliest",
            commit_interval=commit_interval,
            consumer_extra_config=consumer_conf,
            producer_extra_config={"enable.idempotence": True, "acks": "all"},
            state_dir=_state_dir(settings, name),
            rocksdb_options=STATE_OPTIONS,
            on_consumer_error=self._on_consumer_error,
            on_processing_error=self._on_processing_error,
            loglevel=settings.log_level,
            processing_guarantee="at-least-once",
            # Concatenated inputs are read in batches merged in timestamp order,
            # each read waiting until full or this passes: it bounds the
            # latency before a message is processed (docs/performance.md).
            consumer_poll_timeout=0.005,
            on_message_processed=self._counted(on_processed),
        )
        self._deserializer = AvroEventDeserializer(self.serde)
        self._serializer = AvroEventSerializer(self.serde)
        self._changelog_ends: FetchedEnds | None = None
        if settings.embedded_broker:
            # Its ListOffsets reads ends short: see recaudo.embedded.partition_end.
            self._changelog_ends = FetchedEnds(conn)
            read_changelog_ends_by_fetch(
                quixstreams_internals.consumer(self.app), self._changelog_ends
            )

    def _counted(
        self, on_processed: Callable[[str, int, int], None] | None
    ) -> Callable[[str, int, int], None]:
        if on_processed is None:
            return self.events
        count = self.events

        def both(topic: str, partition: int, offset: int) -> None:
            count(topic, partition, offset)
            on_processed(topic, partition, offset)

        return both

    def _on_processing_error(self, exc: Exception, row: Row | None, logger: logging.Logger) -> bool:
        """An event that decoded but the processor failed on: dead-letter it and
        go on, instead of crash-looping on it. (Checkpoint failures, such as an
        unreachable Postgres, are not this: they stop the worker, which the
        supervisor restarts, and the batch is retried.)"""
        if row is None:
            return False
        self.dead_letters.send(RowMessage(row, self.serde), exc)
        return True

    def _on_consumer_error(self, exc: Exception, message: Any, logger: logging.Logger) -> bool:
        """A message that cannot be read (key, headers or value: a
        DeadLetterError raised while quixstreams deserializes it) is
        dead-lettered, and the consumer reads on, its offset committed with the
        checkpoint like a processed message's: quixstreams stores none for a
        message its error hook suppressed, so a dead letter last on its
        partition would hold the group's lag above zero and be read again at
        every restart."""
        if message is None or not isinstance(exc, DeadLetterError):
            return False  # broker or programming errors are not the message's fault
        self.dead_letters.send(message, exc)
        quixstreams_internals.store_offset(
            self.app, message.topic(), message.partition(), message.offset()
        )
        return True

    def topic(self, key: str, *, skip_source: str | None = None) -> QxTopic:
        """A catalogue topic as a quixstreams Topic with recaudo's serde.

        ``skip_source``: messages whose ``ce_source`` is this arrive as
        :data:`SKIPPED`, undecoded (a processor's own outputs read back).
        """
        spec: Topic = self.topics.get(key)
        deserializer = (
            self._deserializer
            if skip_source is None
            else AvroEventDeserializer(self.serde, skip_source)
        )
        topic = self.app.topic(
            spec.name,
            key_deserializer="str",
            value_deserializer=deserializer,
            key_serializer="str",
            value_serializer=self._serializer,
            config=TopicConfig(
                num_partitions=spec.partitions,
                replication_factor=spec.replication_factor,
                extra_config=spec.config,
            ),
        )
        _read_record_first(topic)
        return topic

    def is_assigned(self, partition: object) -> bool:
        """Whether a store partition (see ``streams.debtor_view._partition_of``)
        is still one of this worker's: quixstreams drops and closes a store
        partition when its topic partition is revoked or lost, and opens a new
        object when it is assigned again."""
        return any(partition is live for live in quixstreams_internals.store_partitions(self.app))

    def exit_if_close_hangs(self, deadline_s: float = DEADLINE_S) -> None:
        """For a process that is this worker alone (``recaudo streams run``):
        should its Kafka consumer's close not return within ``deadline_s``,
        the process exits to be restarted (:mod:`recaudo.kafka.close_deadline`)."""
        quixstreams_internals.wrap_consumer_close(
            self.app,
            lambda close: close_or_exit(close, deadline_s, f"stream processor {self.name}"),
        )

    def run(self) -> None:
        log.info("stream processor %s starting (group %s)", self.name, self.group)
        try:
            self.app.run()
        finally:
            self.dead_letters.close()
            if self._changelog_ends is not None:
                self._changelog_ends.close()

    def stop(self) -> None:
        self.app.stop()
