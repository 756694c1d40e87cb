"""Confluent wire format with the in-process registry (no broker needed)."""

from __future__ import annotations

import json
import subprocess
import sys

import fastavro
import pytest

from recaudo.kafka.cloudevents import ce_headers, header_value
from recaudo.kafka.serde import DecodeError, InvalidEventError, Serde, UnknownSchemaError
from recaudo.settings import Settings
from tests.fixtures import debt_event, debtor_profile


@pytest.fixture(scope="module")
def serde() -> Serde:
    return Serde(Settings())


def test_confluent_framing(serde: Serde) -> None:
    event = debt_event()
    data = serde.serialize(serde.topics.debt_events, event)
    assert data[0] == 0  # magic byte
    assert int.from_bytes(data[1:5], "big") == serde.schema_ids["recaudo.debt-events-value"]
    assert serde.deserialize(serde.topics.debt_events, data) == event


def test_schema_ids_agree_across_processes(serde: Serde) -> None:
    code = (
        "import json; from recaudo.kafka.serde import Serde; "
        "from recaudo.settings import Settings; "
        "print(json.dumps(Serde(Settings()).schema_ids))"
    )
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code], check=True, capture_output=True, text=True
    ).stdout
    assert json.loads(out) == serde.schema_ids


def test_wrong_record_for_topic_is_refused(serde: Serde) -> None:
    with pytest.raises(TypeError, match="carries DebtEvent records, not DebtorProfile"):
        serde.serialize(serde.topics.debt_events, debtor_profile())


def test_garbage_is_a_decode_error(serde: Serde) -> None:
    with pytest.raises(DecodeError, match="not Confluent-framed Avro"):
        serde.deserialize(serde.topics.debt_events, b'{"debtor_id": "x"}')


def test_truncated_body_is_a_decode_error(serde: Serde) -> None:
    data = serde.serialize(serde.topics.debt_events, debt_event())
    with pytest.raises(DecodeError, match="does not decode"):
        serde.deserialize(serde.topics.debt_events, data[:12])


def test_unknown_schema_id(serde: Serde) -> None:
    data = serde.serialize(serde.topics.debt_events, debt_event())
    forged = data[:1] + (4242).to_bytes(4, "big") + data[5:]
    with pytest.raises(UnknownSchemaError, match="schema id 4242"):
        serde.deserialize(serde.topics.debt_events, forged)


def test_valid_avro_breaking_a_business_rule(serde: Serde) -> None:
    record = debt_event().to_avro()
    record["payload"][1]["amount_minor"] = -100
    record["payload"][1]["currency"] = "ZZZ"
    parsed = fastavro.parse_schema(
        json.loads(
            (serde.registry.get_schema(serde.schema_ids["recaudo.debt-events-value"])).schema_str
        )
    )
    import io

    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, parsed, record)
    data = (
        b"\x00" + serde.schema_ids["recaudo.debt-events-value"].to_bytes(4, "big") + buf.getvalue()
    )
    with pytest.raises(InvalidEventError) as err:
        serde.deserialize(serde.topics.debt_events, data)
    assert "payload.amount_minor" in str(err.value) and "negative" in str(err.value)
    assert "unknown currency 'ZZZ'" in str(err.value)


def test_cloudevents_headers() -> None:
    event = debt_event()
    headers = ce_headers(event, "core-banking")
    assert header_value(headers, "ce_id") == str(event.event_id)
    assert header_value(headers, "ce_type") == "recaudo.v1.DebtEvent"
    assert header_value(headers, "ce_source") == "core-banking"
    assert header_value(headers, "ce_specversion") == "1.0"
    assert header_value(headers, "ce_time") == "2026-11-02T15:00:00Z"


def test_fast_decode_agrees_with_confluent_deserializer(serde: Serde) -> None:
    from tests.integration.test_broker_roundtrip import one_of_each

    for event in one_of_each():
        from recaudo.kafka.producer import topic_for

        topic = topic_for(serde.topics, event)
        data = serde.serialize(topic, event)
        assert serde.decode(topic, data) == serde.decode_with_confluent(topic, data)


def test_fast_encode_writes_the_confluent_serializers_bytes(serde: Serde) -> None:
    from recaudo.kafka.producer import topic_for
    from tests.integration.test_broker_roundtrip import one_of_each

    for event in one_of_each():
        topic = topic_for(serde.topics, event)
        assert serde.serialize(topic, event) == serde.serialize_with_confluent(topic, event)


def test_encode_refuses_a_record_of_another_topic(serde: Serde) -> None:
    from tests.fixtures import debt_event

    with pytest.raises(TypeError, match="carries DebtorView records"):
        serde.serialize(serde.topics.debtor_view, debt_event())


def test_older_writer_schema_is_resolved_to_the_current_one(serde: Serde) -> None:
    """A producer on a previous schema version (here: without `method`) still decodes."""
    import copy
    import io

    from confluent_kafka.schema_registry import Schema

    from recaudo.contracts.schemas import schema_json

    old = copy.deepcopy(schema_json("DebtEvent"))
    for branch in old["fields"][6]["type"]:
        if branch["name"] == "PaymentReceived":
            branch["fields"] = [f for f in branch["fields"] if f["name"] != "method"]
    topic = serde.topics.debt_events
    old_id = serde.registry.register_schema(f"{topic}-value", Schema(json.dumps(old), "AVRO"))
    event = debt_event(
        type="PAYMENT_RECEIVED", payload={"payment_id": "p", "amount_minor": 5, "currency": "USD"}
    )
    record = event.to_avro()
    record["payload"][1].pop("method")
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(old), record)
    data = b"\x00" + old_id.to_bytes(4, "big") + buf.getvalue()
    # Resolution fills the field the old writer lacked with its schema default.
    assert "method" in serde.decode(topic, data)["payload"]
    assert serde.deserialize(topic, data) == event
