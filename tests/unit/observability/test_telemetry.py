"""W3C trace context in Kafka headers, and the messaging span helpers."""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from recaudo.kafka.cloudevents import ce_headers
from recaudo.observability import telemetry
from tests.fixtures import debt_event


def local_tracer() -> tuple[trace.Tracer, InMemorySpanExporter]:
    # A provider of the test's own: nothing global is touched.
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("test"), exporter


def test_inject_then_extract_gives_back_the_span_context() -> None:
    tracer, _ = local_tracer()
    headers = ce_headers(debt_event())
    with tracer.start_as_current_span("bank batch") as span:
        telemetry.inject(headers)
    names = [k for k, _ in headers]
    assert names.count("traceparent") == 1
    assert names[: len(names) - 1] == [k for k, _ in ce_headers(debt_event())]
    remote = trace.get_current_span(telemetry.extract(headers)).get_span_context()
    local = span.get_span_context()
    assert remote.is_remote
    assert (remote.trace_id, remote.span_id, remote.trace_flags) == (
        local.trace_id,
        local.span_id,
        local.trace_flags,
    )


def test_tracestate_travels_too() -> None:
    headers = [
        ("traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        ("tracestate", b"bank=core-7"),
    ]
    ctx = telemetry.extract(headers)
    out: list[tuple[str, bytes]] = []
    telemetry.inject(out, ctx)
    assert dict(out) == dict(headers)


def test_no_or_broken_headers_give_no_parent() -> None:
    for headers in (None, [], [("traceparent", None)], [("traceparent", b"garbage")]):
        span = trace.get_current_span(telemetry.extract(headers))
        assert not span.get_span_context().is_valid, headers


def test_without_a_current_span_nothing_is_injected() -> None:
    headers: list[tuple[str, bytes]] = []
    telemetry.inject(headers)
    assert headers == []


def test_trace_headers_copies_only_the_trace_context() -> None:
    headers: list[tuple[str, bytes | None]] = [
        ("ce_id", b"1"),
        ("traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        ("tracestate", None),
        ("tracestate", b"a=b"),
    ]
    assert telemetry.trace_headers(headers) == [
        ("traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        ("tracestate", b"a=b"),
    ]
    assert telemetry.trace_headers(None) == []


class FakeMessage:
    def partition(self) -> int:
        return 4

    def offset(self) -> int:
        return 1234


class FakeError:
    def str(self) -> str:
        return "Broker: Message size too large"

    def name(self) -> str:
        return "MSG_SIZE_TOO_LARGE"


def finished(exporter: InMemorySpanExporter) -> ReadableSpan:
    (span,) = exporter.get_finished_spans()
    exporter.clear()
    return span


def test_a_send_span_ends_with_where_the_broker_put_the_message() -> None:
    tracer, exporter = local_tracer()
    with tracer.start_as_current_span("caller") as caller:
        span = telemetry.start_send(tracer, "recaudo.debt-events", "D-1", "ev-1")
    assert exporter.get_finished_spans()[0].name == "caller"
    exporter.clear()
    headers: list[tuple[str, bytes]] = []
    telemetry.inject(headers, telemetry.context_of(span))
    telemetry.sent(span, None, FakeMessage())
    send = finished(exporter)
    assert send.name == "send recaudo.debt-events"
    assert send.kind is SpanKind.PRODUCER
    assert send.parent is not None and send.parent.span_id == caller.get_span_context().span_id
    attributes: dict[str, Any] = dict(send.attributes or {})
    assert attributes == {
        "messaging.system": "kafka",
        "messaging.operation.type": "send",
        "messaging.operation.name": "send",
        "messaging.destination.name": "recaudo.debt-events",
        "messaging.message.id": "ev-1",
        "messaging.kafka.message.key": "D-1",
        "messaging.destination.partition.id": "4",
        "messaging.kafka.offset": 1234,
    }
    # The headers name the send span itself: the consumer's span becomes its child.
    remote = trace.get_current_span(telemetry.extract(headers)).get_span_context()
    assert remote.span_id == send.context.span_id


def test_a_refused_send_is_an_error() -> None:
    tracer, exporter = local_tracer()
    telemetry.sent(telemetry.start_send(tracer, "t", None, "ev-2"), FakeError(), None)
    send = finished(exporter)
    assert send.status.status_code is StatusCode.ERROR
    assert (send.attributes or {})["error.type"] == "MSG_SIZE_TOO_LARGE"
    assert "messaging.kafka.message.key" not in (send.attributes or {})


def test_process_attributes_follow_the_conventions() -> None:
    assert telemetry.process_attributes("t", 2, 10, "D-1", "ev", "g") == {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": "t",
        "messaging.destination.partition.id": "2",
        "messaging.kafka.offset": 10,
        "messaging.kafka.message.key": "D-1",
        "messaging.message.id": "ev",
        "messaging.consumer.group.name": "g",
    }
    assert "messaging.consumer.group.name" not in telemetry.process_attributes(
        "t", 0, 0, None, None, None
    )
