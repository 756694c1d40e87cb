"""Avro in the Confluent wire format (magic byte, 4-byte schema id, Avro body)
through confluent-kafka's schema-registry serde, fastavro inside.

One :class:`Serde` per process: it owns the process's one registry client,
shared by every serializer and deserializer.
"""

from __future__ import annotations

import io
import json
import re
import threading
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any, Protocol

import fastavro
from confluent_kafka.schema_registry import (
    SchemaRegistryClient,
    SchemaRegistryError,
    topic_subject_name_strategy,
)
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from opentelemetry.trace import TraceState
from pydantic import ValidationError

from recaudo.contracts.records import RECORD_MODELS, Envelope
from recaudo.contracts.schemas import register_all, registry_schema, schema_json, subject_for
from recaudo.kafka.avro_writer import Encoder, encoder_for
from recaudo.kafka.topics import Topics
from recaudo.settings import Settings


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


#: Headers recaudo reads, and what each must hold (besides UTF-8 text).
CLOUDEVENTS_PREFIX = "ce_"
_TEXT_HEADERS = frozenset({"traceparent", "tracestate", "content-type"})
#: OpenTelemetry's TraceContextTextMapPropagator's rules, which read it, without
#: the context it builds (a fifth of the cost).
_TRACEPARENT = re.compile(
    r"^[ \t]*([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:(-.*)|[ \t]*)$"
)
_TRACEPARENT_MAX_LENGTH = 512


def valid_traceparent(text: str) -> bool:
    """Whether a W3C ``traceparent`` is one OpenTelemetry would continue."""
    if len(text) > _TRACEPARENT_MAX_LENGTH:
        return False
    match = _TRACEPARENT.search(text)
    if match is None:
        return False
    version, trace_id, span_id, _flags, rest = match.groups()
    if trace_id == "0" * 32 or span_id == "0" * 16 or version == "ff":
        return False
    return not (version == "00" and rest)


class RawRecord(Protocol):
    """The parts of a Kafka message read before its value."""

    def key(self) -> bytes | None: ...
    def headers(self) -> list[tuple[str, bytes | None]] | None: ...


def read_key(key: bytes | None) -> str:
    """A record's key as the debtor id it must be; a DecodeError if it is not one."""
    if key is None:
        raise DecodeError(
            "record has no key; recaudo topics are keyed by debtor_id: produce with it as the key"
        )
    if not key:
        raise DecodeError("record key is empty; produce with the debtor_id as the key")
    try:
        return key.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError(
            f"record key {key[:64]!r} is not UTF-8 text ({exc.reason} at byte {exc.start}); "
            "produce with the debtor_id, UTF-8 encoded, as the key"
        ) from exc


def _header_text(name: str, value: bytes | None) -> str:
    if value is None:
        raise DecodeError(f"header {name!r} has no value; drop it or give it one")
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError(
            f"header {name!r} value {value[:64]!r} is not UTF-8 text ({exc.reason})"
        ) from exc


def check_header(name: str, value: bytes | None) -> None:
    """A header recaudo reads must hold what its reader expects: CloudEvents
    attributes and ``content-type`` UTF-8 text (``ce_specversion`` 1.0,
    ``ce_time`` an RFC 3339 time), W3C trace context as the spec writes it.
    Other headers are carried as they are, unread."""
    if not (name.startswith(CLOUDEVENTS_PREFIX) or name in _TEXT_HEADERS):
        return
    text = _header_text(name, value)
    if name == "traceparent":
        if not valid_traceparent(text):
            raise DecodeError(
                f"header 'traceparent' {text[:100]!r} is not W3C trace context "
                "(version-traceid-spanid-flags in lowercase hex); fix or drop it"
            )
    elif name == "tracestate":
        members = [m for m in text.split(",") if m.strip(" \t")]
        if members and not TraceState.from_header([text]):
            raise DecodeError(
                f"header 'tracestate' {text[:100]!r} is not a W3C tracestate list; fix or drop it"
            )
    elif name == "ce_specversion":
        if text != "1.0":
            raise DecodeError(f"header 'ce_specversion' is {text[:40]!r}; CloudEvents 1.0 expected")
    elif name == "ce_time":
        try:
            datetime.fromisoformat(text)
        except ValueError as exc:
            raise DecodeError(f"header 'ce_time' {text[:60]!r} is not an RFC 3339 time") from exc
    elif not text.strip():
        raise DecodeError(f"header {name!r} is blank")


def check_headers(headers: Sequence[tuple[str, bytes | None]] | None) -> None:
    """Every header recaudo reads is readable (:func:`check_header`)."""
    for name, value in headers or ():
        check_header(name, value)


def read_record(message: RawRecord) -> str:
    """What every consumer reads before a record's value: its headers checked
    and its key as text. A record that fails raises a DecodeError saying why,
    and belongs in the dead-letter topic."""
    try:
        headers = message.headers()
    except Exception as exc:  # the client could not represent them (e.g. a non-UTF-8 name)
        raise DecodeError(f"headers cannot be read: {type(exc).__name__}: {exc}") from exc
    check_headers(headers)
    return read_key(message.key())


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
        record's schema (:mod:`recaudo.kafka.avro_writer`), reading the model's
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
        writer schemas fetched from the registry client once per id, because
        decoding is every consumer's hot path (docs/performance.md, "Speed
        layers"). The records are identical to confluent-kafka's
        AvroDeserializer's.
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
