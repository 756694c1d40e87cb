"""Avro in the Confluent wire format (magic byte, 4-byte schema id, Avro body)
through confluent-kafka's schema-registry serde, fastavro inside.

One :class:`Serde` per process: it owns the process's one registry client,
shared by every serializer and deserializer.
"""

from __future__ import annotations

import threading
from typing import Any

from confluent_kafka.schema_registry import (
    SchemaRegistryClient,
    SchemaRegistryError,
    topic_subject_name_strategy,
)
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from pydantic import ValidationError

from recaudo.events import RECORD_MODELS, Envelope
from recaudo.schemas import register_all, registry_schema
from recaudo.settings import Settings
from recaudo.topics import Topics


class DeadLetterError(Exception):
    """A message that cannot become an event: it belongs in the DLQ.

    ``error_type`` is the DeadLetter record's closed vocabulary.
    """

    error_type = "PROCESSING_ERROR"


class DecodeError(DeadLetterError):
    error_type = "DECODE_ERROR"


class UnknownSchemaError(DeadLetterError):
    error_type = "UNKNOWN_SCHEMA"


class InvalidEventError(DeadLetterError):
    error_type = "VALIDATION_ERROR"


def describe_validation_error(exc: ValidationError) -> str:
    """Pydantic's errors as one line: ``payload.amount_minor: amount -5 is negative; …``."""
    parts = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or "<root>"
        msg = str(err["msg"]).removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)


class Serde:
    """Serializers and deserializers for every catalogue topic."""

    def __init__(self, settings: Settings, topics: Topics | None = None) -> None:
        self.topics = topics or Topics.from_settings(settings)
        self.registry = SchemaRegistryClient.new_client(settings.schema_registry_config())
        self.schema_ids = register_all(self.registry, self.topics)
        self._lock = threading.Lock()
        self._serializers: dict[str, AvroSerializer] = {}
        self._deserializers: dict[str, AvroDeserializer] = {}

    def _serializer(self, topic: str) -> AvroSerializer:
        ser = self._serializers.get(topic)
        if ser is None:
            with self._lock:
                record = self.topics.by_name(topic).spec.record
                ser = AvroSerializer(
                    self.registry,
                    registry_schema(record),
                    to_dict=lambda obj, _ctx: obj.to_avro(),
                    conf={
                        # Schemas are registered up front (register_all), in a
                        # fixed order: never from whichever producer goes first.
                        "auto.register.schemas": False,
                        "subject.name.strategy": topic_subject_name_strategy,
                    },
                )
                self._serializers[topic] = ser
        return ser

    def _deserializer(self, topic: str) -> AvroDeserializer:
        de = self._deserializers.get(topic)
        if de is None:
            with self._lock:
                record = self.topics.by_name(topic).spec.record
                de = AvroDeserializer(
                    self.registry,
                    registry_schema(record),
                    conf={"subject.name.strategy": topic_subject_name_strategy},
                )
                self._deserializers[topic] = de
        return de

    def serialize(self, topic: str, event: Envelope) -> bytes:
        expected = self.topics.by_name(topic).spec.record
        if event.avro_name != expected:
            raise TypeError(f"{topic} carries {expected} records, not {event.avro_name}")
        ctx = SerializationContext(topic, MessageField.VALUE)
        data: bytes = self._serializer(topic)(event, ctx)
        return data

    def decode(self, topic: str, data: bytes | None) -> dict[str, Any]:
        """Wire bytes to the Avro record as a dict; raises DecodeError/UnknownSchemaError."""
        if data is None:
            raise DecodeError("message has no value (tombstone) where an event was expected")
        if len(data) < 6 or data[0] != 0:
            raise DecodeError(
                "not Confluent-framed Avro (expected magic byte 0 and a 4-byte schema id); "
                "produce with a schema-registry Avro serializer"
            )
        ctx = SerializationContext(topic, MessageField.VALUE)
        try:
            record = self._deserializer(topic)(data, ctx)
        except SchemaRegistryError as exc:
            schema_id = int.from_bytes(data[1:5], "big")
            raise UnknownSchemaError(
                f"schema id {schema_id} is not in the registry ({exc.error_message})"
            ) from exc
        except Exception as exc:  # fastavro raises a zoo of types on bad bytes
            raise DecodeError(f"Avro body does not decode: {type(exc).__name__}: {exc}") from exc
        if not isinstance(record, dict):
            raise DecodeError(f"expected an Avro record, got {type(record).__name__}")
        return record

    def deserialize(self, topic: str, data: bytes | None) -> Envelope:
        """Wire bytes to a validated event; raises a DeadLetterError subclass."""
        record = self.decode(topic, data)
        model = RECORD_MODELS[self.topics.by_name(topic).spec.record]
        try:
            return model.from_avro(record)
        except ValidationError as exc:
            raise InvalidEventError(describe_validation_error(exc)) from exc
