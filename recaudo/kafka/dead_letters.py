"""Dead letters, shared by every consumer.

A message that cannot be decoded or validated is written to the DLQ topic with
its original key, value and headers, where it came from (topic, partition,
offset) and why; the consumer then moves on. The write is confirmed before the
consumer commits past the message, so nothing is lost. A message is unreadable
when its key, its headers (:func:`recaudo.kafka.serde.read_record`) or its value
cannot be read: every consumer checks all three.

A dead letter's id is derived from the consumer group and the message's
position, so the same message given up on again (a redelivery, the timer
service re-reading its compacted topic) is the same dead letter.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Protocol

from confluent_kafka import Producer

from recaudo.contracts.records import DeadLetter, DeadLetterErrorType, Header
from recaudo.kafka.cloudevents import ce_headers
from recaudo.kafka.serde import DeadLetterError, Serde
from recaudo.settings import Settings

log = logging.getLogger(__name__)

_ERROR_TYPES: frozenset[str] = frozenset(
    {"DECODE_ERROR", "UNKNOWN_SCHEMA", "VALIDATION_ERROR", "PROCESSING_ERROR"}
)


class KafkaMessage(Protocol):
    """The parts of ``confluent_kafka.Message`` a dead letter needs."""

    def topic(self) -> str | None: ...
    def partition(self) -> int | None: ...
    def offset(self) -> int | None: ...
    def key(self) -> bytes | None: ...
    def value(self) -> bytes | None: ...
    def headers(self) -> list[tuple[str, bytes | None]] | None: ...
    def timestamp(self) -> tuple[int, int]: ...


def error_type_of(error: BaseException) -> DeadLetterErrorType:
    kind = error.error_type if isinstance(error, DeadLetterError) else "PROCESSING_ERROR"
    assert kind in _ERROR_TYPES
    return kind  # type: ignore[return-value]


#: Namespace of dead-letter ids (uuid5 of group, topic, partition, offset).
DEAD_LETTER_NAMESPACE = uuid.UUID("5b0c4c8e-7d52-4f7e-9c3a-0d6f2a1e9b47")


def dead_letter_id(consumer: str, topic: str, partition: int, offset: int) -> uuid.UUID:
    return uuid.uuid5(DEAD_LETTER_NAMESPACE, f"{consumer}/{topic}/{partition}/{offset}")


def _headers_of(message: KafkaMessage) -> tuple[list[Header], str]:
    """The message's headers, or none and why, when the client cannot read them."""
    try:
        headers = message.headers() or []
    except Exception as exc:  # e.g. a header name that is not UTF-8
        return [], f" (headers not kept: {type(exc).__name__}: {exc})"
    return [Header(key=k, value=v) for k, v in headers], ""


def dead_letter_for(
    message: KafkaMessage,
    error: BaseException,
    source: str,
    consumer_group: str | None = None,
) -> DeadLetter:
    _, ts = message.timestamp()
    topic, partition, offset = (
        message.topic() or "",
        message.partition() or 0,
        message.offset() or 0,
    )
    headers, unkept = _headers_of(message)
    return DeadLetter(
        event_id=dead_letter_id(consumer_group or source, topic, partition, offset),
        occurred_at=datetime.now(UTC),
        source=source,
        consumer_group=consumer_group,
        source_topic=topic,
        source_partition=partition,
        source_offset=offset,
        source_timestamp=datetime.fromtimestamp(ts / 1000, UTC) if ts > 0 else None,
        key=message.key(),
        value=message.value(),
        headers=headers,
        error_type=error_type_of(error),
        error_message=(str(error) or type(error).__name__) + unkept,
    )


class DeadLetterWriter:
    """Writes dead letters for one consumer, synchronously (they are rare, and a
    confirmed write is what lets the consumer commit past the bad message)."""

    def __init__(
        self,
        settings: Settings,
        serde: Serde,
        source: str,
        consumer_group: str | None = None,
    ) -> None:
        self.source = source
        self.consumer_group = consumer_group
        self._serde = serde
        self._topic = serde.topics.dlq
        self._producer = Producer(settings.producer_config(**{"linger.ms": 0}))
        self.written = 0

    def send(self, message: KafkaMessage, error: BaseException) -> DeadLetter:
        letter = dead_letter_for(message, error, self.source, self.consumer_group)
        value = self._serde.serialize(self._topic, letter)
        failures: list[str] = []
        self._producer.produce(
            self._topic,
            key=letter.key,
            value=value,
            headers=ce_headers(letter),
            on_delivery=lambda err, _msg: failures.append(err.str()) if err else None,
        )
        remaining = self._producer.flush(30)
        if remaining or failures:
            # Refusing to go on is the only way not to lose the message: the
            # consumer will see it again after a restart.
            raise RuntimeError(
                f"dead letter for {letter.source_topic}[{letter.source_partition}]"
                f"@{letter.source_offset} not written: {failures or 'timeout'}"
            )
        self.written += 1
        log.warning(
            "dead-lettered %s[%d]@%d: %s: %s",
            letter.source_topic,
            letter.source_partition,
            letter.source_offset,
            letter.error_type,
            letter.error_message,
        )
        return letter

    def close(self) -> None:
        self._producer.flush(10)
