"""Avro in the Confluent wire format (magic byte, 4-byte schema id, Avro body)
through confluent-kafka's schema-registry serde, fastavro inside.

One :class:`Serde` per process: it owns the process's one registry client,
shared by every serializer and deserializer.
"""

from __future__ import annotations

import io
import json
import threading
from functools import cache
from typing import Any

import fastavro
from confluent_kafka.schema_registry import (
    SchemaRegistryClient,
    SchemaRegistryError,
    topic_subject_name_strategy,
)
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from pydantic import ValidationError

from recaudo.avro_writer import Encoder, encoder_for
from recaudo.events import RECORD_MODELS, Envelope
from recaudo.schemas import register_all, registry_schema, schema_json, subject_for
from recaudo.settings import Settings
from recaudo.topics import Topics


@cache
def parsed_schema(record: str) -> Any:
    return fastavro.parse_schema(schema_json(record))


def fastavro_body(record: Envelope) -> bytes:
    """The record's Avro body written by fastavro from ``model_dump``: the
    generic path the compiled encoders replace, kept as the reference tests
    and ``bench/serde_bench.py`` measure them against."""
    out = io.BytesIO()
    fastavro.schemaless_writer(out, parsed_schema(record.avro_name), record.to_avro())
    return out.getvalue()


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
        self._readers: dict[tuple[str, int], tuple[Any, Any]] = {}
        self._writers: dict[str, tuple[Encoder, str]] = {}

    def _record_of(self, topic: str) -> str:
        record = self.topics.by_name(topic).spec.record
        if record is None:
            raise TypeError(f"{topic} is internal to recaudo and carries no Avro record")
        return record

    def _serializer(self, topic: str) -> AvroSerializer:
        ser = self._serializers.get(topic)
        if ser is None:
            with self._lock:
                record = self._record_of(topic)
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
                record = self._record_of(topic)
                de = AvroDeserializer(
                    self.registry,
                    registry_schema(record),
                    conf={"subject.name.strategy": topic_subject_name_strategy},
                )
                self._deserializers[topic] = de
        return de

    def serialize(self, topic: str, event: Envelope) -> bytes:
        """An event to Confluent-framed Avro under the topic's registered schema.

        Writes the framing itself and encodes with an encoder compiled from the
        record's schema (:mod:`recaudo.avro_writer`), reading the model's
        attributes: confluent-kafka's AvroSerializer produces the same bytes
        at several times the cost, and fastavro from ``model_dump`` at about
        three times (bench/serde_bench.py); every output of the view
        (snapshots at each checkpoint, dispatches, decisions) pays it.
        """
        writer = self._writers.get(topic)
        if writer is None:
            writer = self._writer(topic)
        encode, expected = writer
        if event.avro_name != expected:
            raise TypeError(f"{topic} carries {expected} records, not {event.avro_name}")
        return encode(event)

    def _writer(self, topic: str) -> tuple[Encoder, str]:
        record = self._record_of(topic)
        schema_id = self.schema_ids[subject_for(topic)]
        writer = (encoder_for(record, b"\x00" + schema_id.to_bytes(4, "big")), record)
        self._writers[topic] = writer
        return writer

    def serialize_with_confluent(self, topic: str, event: Envelope) -> bytes:
        """The same through confluent-kafka's AvroSerializer (reference path)."""
        ctx = SerializationContext(topic, MessageField.VALUE)
        data: bytes = self._serializer(topic)(event, ctx)
        return data

    def _reader(self, topic: str, schema_id: int) -> tuple[Any, Any]:
        """(writer schema, reader schema or None when they are the same) for an id."""
        key = (topic, schema_id)
        found = self._readers.get(key)
        if found is None:
            try:
                writer = self.registry.get_schema(schema_id)
            except SchemaRegistryError as exc:
                raise UnknownSchemaError(
                    f"schema id {schema_id} is not in the registry ({exc.error_message})"
                ) from exc
            record = self._record_of(topic)
            parsed_writer = fastavro.parse_schema(json.loads(writer.schema_str))
            same = json.loads(writer.schema_str) == schema_json(record)
            # Resolution against the topic's own schema only when the writer
            # used another version of it (schema evolution).
            found = (parsed_writer, None if same else parsed_schema(record))
            self._readers[key] = found
        return found

    def decode(self, topic: str, data: bytes | None) -> dict[str, Any]:
        """Wire bytes to the Avro record as a dict; raises DecodeError/UnknownSchemaError.

        Reads the Confluent framing itself and decodes with fastavro directly,
        writer schemas fetched from the registry client once per id: on this
        path confluent-kafka's AvroDeserializer costs ~50 µs a message against
        ~7 µs (bench/serde_bench.py), and decoding is the hot path of every
        consumer. The bytes are identical either way.
        """
        if data is None:
            raise DecodeError("message has no value (tombstone) where an event was expected")
        if len(data) < 6 or data[0] != 0:
            raise DecodeError(
                "not Confluent-framed Avro (expected magic byte 0 and a 4-byte schema id); "
                "produce with a schema-registry Avro serializer"
            )
        writer, reader = self._reader(topic, int.from_bytes(data[1:5], "big"))
        try:
            record = fastavro.schemaless_reader(io.BytesIO(data[5:]), writer, reader)
        except Exception as exc:  # fastavro raises a zoo of types on bad bytes
            raise DecodeError(f"Avro body does not decode: {type(exc).__name__}: {exc}") from exc
        if not isinstance(record, dict):
            raise DecodeError(f"expected an Avro record, got {type(record).__name__}")
        return record

    def decode_with_confluent(self, topic: str, data: bytes) -> dict[str, Any]:
        """The same through confluent-kafka's AvroDeserializer (reference path)."""
        ctx = SerializationContext(topic, MessageField.VALUE)
        record: dict[str, Any] = self._deserializer(topic)(data, ctx)
        return record

    def deserialize(self, topic: str, data: bytes | None) -> Envelope:
        """Wire bytes to a validated event; raises a DeadLetterError subclass."""
        record = self.decode(topic, data)
        model = RECORD_MODELS[self._record_of(topic)]
        try:
            return model.from_avro(record)
        except ValidationError as exc:
            raise InvalidEventError(describe_validation_error(exc)) from exc
