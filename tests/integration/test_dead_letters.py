"""Bad input goes to the DLQ with its original bytes and reason; valid events keep flowing."""

from __future__ import annotations

import io
import threading
import time
from typing import Any

import fastavro
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from recaudo.contracts.records import DeadLetter, DebtEvent
from recaudo.contracts.schemas import schema_json
from recaudo.kafka.producer import RecaudoProducer
from recaudo.kafka.serde import Serde
from recaudo.settings import Settings
from streams.processor import StreamProcessor
from tests.fixtures import debt_event
from tests.integration.kafka_io import consume_all

pytestmark = pytest.mark.integration


def _framed(schema_id: int, record: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(schema_json("DebtEvent")), record)
    return b"\x00" + schema_id.to_bytes(4, "big") + buf.getvalue()


def test_bad_messages_are_dead_lettered_and_valid_ones_flow(topics_ready: Settings) -> None:
    serde = Serde(topics_ready)
    topic = serde.topics.debt_events
    schema_id = serde.schema_ids[f"{topic}-value"]
    good = [debt_event(debtor_id=f"D-{i}") for i in range(3)]

    negative = debt_event(debtor_id="D-neg").to_avro()
    negative["payload"][1]["amount_minor"] = -500
    unknown_currency = debt_event(debtor_id="D-cur").to_avro()
    unknown_currency["payload"][1]["currency"] = "XXQ"
    bad: list[tuple[bytes, bytes, str, str]] = [
        (b"D-garbage", b"\x13\x37 not avro at all", "DECODE_ERROR", "not Confluent-framed"),
        (b"D-schema", _framed(9999, good[0].to_avro()), "UNKNOWN_SCHEMA", "schema id 9999"),
        (b"D-neg", _framed(schema_id, negative), "VALIDATION_ERROR", "negative"),
        (b"D-cur", _framed(schema_id, unknown_currency), "VALIDATION_ERROR", "unknown currency"),
    ]
    with RecaudoProducer(topics_ready, serde) as producer:
        producer.publish(good[0])
        for key, value, _, _ in bad[:2]:
            producer.produce_raw(topic, key, value, [("origin", b"test")])
        producer.publish(good[1])
        for key, value, _, _ in bad[2:]:
            producer.produce_raw(topic, key, value, [("origin", b"test")])
        producer.publish(good[2])
        producer.flush()

    processor = StreamProcessor(topics_ready, "dlq-test")
    seen: list[DebtEvent] = []

    def collect(event: DebtEvent) -> None:
        seen.append(event)
        if len(seen) == len(good):
            threading.Timer(0.5, processor.stop).start()

    processor.app.dataframe(processor.topic("debt-events")).update(collect)
    guard = threading.Timer(90, processor.stop)
    guard.start()
    try:
        processor.run()
    finally:
        guard.cancel()

    assert sorted(e.event_id for e in seen) == sorted(e.event_id for e in good)
    letters = [
        serde.deserialize(serde.topics.dlq, m.value())
        for m in consume_all(topics_ready, serde.topics.dlq, expected=len(bad))
    ]
    assert len(letters) == len(bad)
    by_key = {letter.key: letter for letter in letters if isinstance(letter, DeadLetter)}
    for key, value, error_type, reason in bad:
        letter = by_key[key]
        assert letter.value == value  # original bytes, untouched
        assert letter.error_type == error_type
        assert reason in letter.error_message
        assert letter.source_topic == topic
        assert letter.source_offset >= 0
        assert ("origin", b"test") in [(h.key, h.value) for h in letter.headers]
        assert letter.consumer_group == f"{topics_ready.topic_prefix}.dlq-test"


def test_an_event_the_processor_fails_on_is_dead_lettered(topics_ready: Settings) -> None:
    serde = Serde(topics_ready)
    poison = debt_event(debtor_id="D-poison")
    good = [debt_event(debtor_id=f"D-{i}") for i in range(2)]
    with RecaudoProducer(topics_ready, serde) as producer:
        for event in (good[0], poison, good[1]):
            producer.publish(event)

    processor = StreamProcessor(topics_ready, "poison-test")
    seen: list[DebtEvent] = []

    def handle(event: DebtEvent) -> None:
        if event.debtor_id == "D-poison":
            raise ValueError("cannot fold this event")
        seen.append(event)
        if len(seen) == len(good):
            threading.Timer(0.5, processor.stop).start()

    processor.app.dataframe(processor.topic("debt-events")).update(handle)
    guard = threading.Timer(90, processor.stop)
    guard.start()
    try:
        processor.run()
    finally:
        guard.cancel()

    assert {e.event_id for e in seen} == {e.event_id for e in good}
    (message,) = consume_all(topics_ready, serde.topics.dlq, expected=1)
    letter = serde.deserialize(serde.topics.dlq, message.value())
    assert isinstance(letter, DeadLetter)
    assert letter.error_type == "PROCESSING_ERROR"
    assert letter.error_message == "cannot fold this event"
    assert letter.key == b"D-poison"
    assert letter.value is not None
    assert serde.deserialize(serde.topics.debt_events, letter.value) == poison


def test_a_dead_letter_last_on_its_partition_is_committed_past(topics_ready: Settings) -> None:
    serde = Serde(topics_ready)
    topic = serde.topics.debt_events
    good = debt_event(debtor_id="D-good")
    producer = Producer(topics_ready.producer_config())
    offsets: list[int] = []
    for key, value in ((b"D-good", serde.serialize(topic, good)), (b"\xff\x82", b"not ours")):
        producer.produce(
            topic,
            key=key,
            value=value,
            partition=0,
            on_delivery=lambda err, msg: offsets.append(-1 if err else msg.offset()),
        )
        producer.flush(30)
    good_offset, poison_offset = offsets

    processor = StreamProcessor(topics_ready, "tail-test")
    seen: list[DebtEvent] = []
    processor.app.dataframe(processor.topic("debt-events")).update(seen.append)

    def stop_when_both_are_handled() -> None:
        deadline = time.monotonic() + 90
        while not (seen and processor.dead_letters.written) and time.monotonic() < deadline:
            time.sleep(0.05)
        processor.stop()

    watcher = threading.Thread(target=stop_when_both_are_handled)
    watcher.start()
    try:
        processor.run()
    finally:
        watcher.join(120)

    assert [e.event_id for e in seen] == [good.event_id]
    assert processor.dead_letters.written == 1
    group = Consumer({**topics_ready.kafka_config(), "group.id": processor.group})
    try:
        (committed,) = group.committed([TopicPartition(topic, 0)], timeout=10)
    finally:
        group.close()
    # Past the dead letter: a restart does not read it again, and the lag is 0.
    assert committed.offset == poison_offset + 1 == good_offset + 2
