"""The stream processors' value deserializer: what it decodes and what it
reads past."""

from __future__ import annotations

import pytest
from quixstreams.models import SerializationContext

from recaudo.kafka.cloudevents import ce_headers
from recaudo.kafka.serde import DecodeError, Serde
from recaudo.settings import Settings
from streams.processor import SKIPPED, AvroEventDeserializer
from tests.fixtures import debt_event


@pytest.fixture
def serde() -> Serde:
    return Serde(Settings())


def ctx(serde: Serde, headers: list[tuple[str, bytes]] | None) -> SerializationContext:
    return SerializationContext(serde.topics.debt_events, "value", headers)


def test_a_message_from_the_skipped_source_is_not_decoded(serde: Serde) -> None:
    own = debt_event().model_copy(update={"source": "recaudo.view"})
    deserialize = AvroEventDeserializer(serde, skip_source="recaudo.view")
    # Not even looked at: bytes that would not decode come through as SKIPPED.
    assert deserialize(b"not avro", ctx(serde, ce_headers(own))) is SKIPPED


def test_other_sources_are_decoded_and_checked(serde: Serde) -> None:
    event = debt_event()
    deserialize = AvroEventDeserializer(serde, skip_source="recaudo.view")
    data = serde.serialize(serde.topics.debt_events, event)
    assert deserialize(data, ctx(serde, ce_headers(event))) == event
    assert deserialize(data, ctx(serde, None)) == event
    with pytest.raises(DecodeError):
        deserialize(b"not avro", ctx(serde, ce_headers(event)))


def test_without_a_skipped_source_everything_is_decoded(serde: Serde) -> None:
    own = debt_event().model_copy(update={"source": "recaudo.view"})
    with pytest.raises(DecodeError):
        AvroEventDeserializer(serde)(b"not avro", ctx(serde, ce_headers(own)))
