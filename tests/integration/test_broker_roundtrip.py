"""Every contract through the real embedded broker, with headers and trace context."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from confluent_kafka.admin import AdminClient

from recaudo.contracts.records import (
    ChannelResponse,
    ContactDecision,
    DeadLetter,
    DebtorView,
    DispatchCommand,
    Envelope,
    RuleHit,
)
from recaudo.kafka.cloudevents import header_value
from recaudo.kafka.producer import RecaudoProducer, topic_for
from recaudo.kafka.serde import Serde
from recaudo.kafka.topics import Topics
from recaudo.kafka.topics_admin import ensure_topics
from recaudo.observability import telemetry
from recaudo.settings import Settings
from tests.fixtures import T0, debt_event, debtor_profile
from tests.integration.kafka_io import consume_all

pytestmark = pytest.mark.integration


def one_of_each() -> list[Envelope]:
    return [
        debt_event(),
        debtor_profile(),
        ContactDecision(
            occurred_at=T0,
            source="recaudo.orchestrator",
            debtor_id="D-1",
            trigger="payment_missed",
            step=0,
            channel="sms",
            outcome="DEFERRED",
            not_before=T0 + timedelta(hours=10),
            rules_fired=[
                RuleHit(rule_id="quiet_hours.local_window", reason_code="OUTSIDE_ALLOWED_HOURS")
            ],
        ),
        DispatchCommand(
            occurred_at=T0,
            source="recaudo.orchestrator",
            debtor_id="D-1",
            dispatch_id="d-abc",
            channel="email",
            address="d1@example.co",
            template="reminder_1",
            locale="es",
            variables={"amount": "COP 250.000"},
            not_before=T0,
            expires_at=T0 + timedelta(days=1),
            trigger="payment_missed",
            step=0,
            strategy="early",
            arm="champion",
        ),
        ChannelResponse(
            occurred_at=T0,
            source="connector.sms",
            debtor_id="D-1",
            dispatch_id="d-abc",
            channel="sms",
            status="REPLIED",
            provider="simulator",
            provider_message_id="SM1",
            text="quiero un plan",
        ),
        DebtorView(
            occurred_at=T0,
            source="recaudo.view",
            debtor_id="D-1",
            version=3,
            bucket="DPD_1_30",
            max_days_past_due=12,
        ),
    ]


def test_topics_create_is_idempotent_with_explicit_configs(kafka_settings: Settings) -> None:
    first = ensure_topics(kafka_settings)
    assert sorted(first) == sorted(t.name for t in Topics.from_settings(kafka_settings))
    assert ensure_topics(kafka_settings) == []
    listed = AdminClient(kafka_settings.kafka_config()).list_topics(timeout=10).topics
    view = listed[f"{kafka_settings.topic_prefix}.debtor-view"]
    assert len(view.partitions) == kafka_settings.topic_partitions


def test_every_contract_roundtrips_through_the_broker(topics_ready: Settings) -> None:
    serde = Serde(topics_ready)
    events = one_of_each()
    with RecaudoProducer(topics_ready, serde) as producer:
        for event in events:
            producer.publish(event)
        report = producer.flush()
    assert report.delivered == len(events)
    for event in events:
        topic = topic_for(serde.topics, event)
        (msg,) = consume_all(topics_ready, topic, expected=1)
        assert msg.key() == b"D-1"
        assert serde.deserialize(topic, msg.value()) == event
        assert header_value(msg.headers(), "ce_id") == str(event.event_id)
        assert header_value(msg.headers(), "ce_type") == f"recaudo.v1.{event.avro_name}"


def test_dead_letter_record_roundtrips(topics_ready: Settings) -> None:
    serde = Serde(topics_ready)
    letter = DeadLetter(
        occurred_at=datetime.now(UTC),
        source="test",
        source_topic="x",
        source_partition=1,
        source_offset=7,
        key=b"D-1",
        value=b"\xff\x00garbage",
        error_type="DECODE_ERROR",
        error_message="not framed",
    )
    topic = serde.topics.dlq
    assert serde.deserialize(topic, serde.serialize(topic, letter)) == letter


def test_trace_context_travels_in_headers(topics_ready: Settings) -> None:
    telemetry.setup(topics_ready)
    with RecaudoProducer(topics_ready) as producer:
        with telemetry.tracer().start_as_current_span("bank batch") as parent:
            producer.publish(debt_event())
        producer.flush()
    (msg,) = consume_all(topics_ready, f"{topics_ready.topic_prefix}.debt-events", expected=1)
    traceparent = header_value(msg.headers(), "traceparent")
    assert traceparent is not None
    assert traceparent.split("-")[1] == format(parent.get_span_context().trace_id, "032x")
    ctx = telemetry.extract(msg.headers())
    from opentelemetry import trace

    assert trace.get_current_span(ctx).get_span_context().trace_id == (
        parent.get_span_context().trace_id
    )
