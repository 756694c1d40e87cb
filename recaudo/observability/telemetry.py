"""OpenTelemetry set up in one place.

Traces and metrics export over OTLP/HTTP when ``OTEL_EXPORTER_OTLP_ENDPOINT``
is set; otherwise providers still exist (so spans link and tests can attach an
in-memory exporter) but nothing leaves the process, and the metrics are
still read in-process for each service's Prometheus ``/metrics``. The W3C
``traceparent`` travels in Kafka headers so one trace runs from a debt event to
the reply it caused.

Spans follow the OpenTelemetry messaging conventions: ``send <topic>``
(PRODUCER) for every message recaudo writes, ``process <topic>`` (CONSUMER) for
every message it handles, the second a child of the first through the headers.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, MutableSequence, Sequence
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.propagate import get_global_textmap
from opentelemetry.propagators.textmap import Getter, Setter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from recaudo.observability import prometheus
from recaudo.settings import Settings

INSTRUMENTATION = "recaudo"
#: Headers that carry the trace context (W3C Trace Context).
TRACE_HEADERS = ("traceparent", "tracestate")

_lock = threading.Lock()
_configured = False
#: Read by ``/metrics``; set by :func:`setup`.
_scrape_reader: InMemoryMetricReader | None = None

KafkaHeaders = Sequence[tuple[str, bytes | None]]


def setup(settings: Settings, service_name: str | None = None) -> None:
    """Install tracer and meter providers once per process (idempotent)."""
    global _configured, _scrape_reader
    with _lock:
        if _configured:
            return
        resource = Resource.create({"service.name": service_name or settings.otel_service_name})
        tracer_provider = TracerProvider(resource=resource)
        _scrape_reader = InMemoryMetricReader()
        readers: list[MetricReader] = [_scrape_reader]
        if settings.otel_exporter_otlp_endpoint:
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

            base = settings.otel_exporter_otlp_endpoint.rstrip("/")
            tracer_provider.add_span_processor(
                BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{base}/v1/traces"))
            )
            if settings.otel_metrics_exporter == "otlp":
                readers.append(
                    PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=f"{base}/v1/metrics"))
                )
        trace.set_tracer_provider(tracer_provider)
        metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=readers))
        _configured = True


def tracing(settings: Settings) -> bool:
    """Whether spans leave the process (an OTLP endpoint is configured). Code
    that handles many messages a second records spans only then, unless told
    to (a span costs microseconds); the headers carry the incoming trace on
    either way."""
    return settings.otel_exporter_otlp_endpoint is not None


def tracer() -> trace.Tracer:
    return trace.get_tracer(INSTRUMENTATION)


def meter() -> metrics.Meter:
    return metrics.get_meter(INSTRUMENTATION)


def exposition() -> str:
    """The process's OpenTelemetry metrics as Prometheus text ("" before :func:`setup`)."""
    reader = _scrape_reader
    return prometheus.render(reader.get_metrics_data()) if reader is not None else ""


# --- spans: the messaging semantic conventions -------------------------------------


def send_attributes(topic: str, key: str | None, message_id: str) -> dict[str, AttributeValue]:
    attributes: dict[str, AttributeValue] = {
        "messaging.system": "kafka",
        "messaging.operation.type": "send",
        "messaging.operation.name": "send",
        "messaging.destination.name": topic,
        "messaging.message.id": message_id,
    }
    if key is not None:
        attributes["messaging.kafka.message.key"] = key
    return attributes


def process_attributes(
    topic: str,
    partition: int,
    offset: int,
    key: str | None,
    message_id: str | None,
    group: str | None,
) -> dict[str, AttributeValue]:
    attributes: dict[str, AttributeValue] = {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": topic,
        "messaging.destination.partition.id": str(partition),
        "messaging.kafka.offset": offset,
    }
    if key is not None:
        attributes["messaging.kafka.message.key"] = key
    if message_id is not None:
        attributes["messaging.message.id"] = message_id
    if group is not None:
        attributes["messaging.consumer.group.name"] = group
    return attributes


def start_send(
    tracer_: trace.Tracer,
    topic: str,
    key: str | None,
    message_id: str,
    parent: Context | None = None,
) -> Span:
    """A PRODUCER span for one message; :func:`sent` ends it when the broker
    answers, with the partition and offset the message got."""
    return tracer_.start_span(
        f"send {topic}",
        context=parent,
        kind=SpanKind.PRODUCER,
        attributes=send_attributes(topic, key, message_id),
    )


def sent(span: Span, err: Any, msg: Any) -> None:
    """End a :func:`start_send` span from a delivery report (``err``: a
    ``KafkaError`` or None; ``msg``: the delivered ``Message``)."""
    if err is not None:
        span.set_status(Status(StatusCode.ERROR, err.str()))
        span.set_attribute("error.type", err.name())
    elif msg is not None:
        span.set_attribute("messaging.destination.partition.id", str(msg.partition()))
        span.set_attribute("messaging.kafka.offset", msg.offset())
    span.end()


def context_of(span: Span) -> Context:
    """A context whose current span is ``span`` (to parent spans and headers on it)."""
    return trace.set_span_in_context(span)


def trace_headers(headers: KafkaHeaders | None) -> list[tuple[str, bytes]]:
    """The incoming trace context, copied as it is: how a service that records
    no spans still passes the trace on."""
    return [(k, v) for k, v in (headers or ()) if k in TRACE_HEADERS and v is not None]


class _HeaderSetter(Setter[MutableSequence[tuple[str, bytes]]]):
    def set(self, carrier: MutableSequence[tuple[str, bytes]], key: str, value: str) -> None:
        carrier.append((key, value.encode()))


class _HeaderGetter(Getter[KafkaHeaders]):
    def get(self, carrier: KafkaHeaders, key: str) -> list[str] | None:
        values = [v.decode("utf-8", "replace") for k, v in carrier if k == key and v is not None]
        return values or None

    def keys(self, carrier: KafkaHeaders) -> list[str]:
        return [k for k, _ in carrier]


_setter = _HeaderSetter()
_getter = _HeaderGetter()


def inject(headers: MutableSequence[tuple[str, bytes]], context: Context | None = None) -> None:
    """Append ``traceparent`` (and ``tracestate``) for the current or given context."""
    get_global_textmap().inject(headers, context=context, setter=_setter)


def extract(headers: Iterable[tuple[str, bytes | None]] | None) -> Context:
    """The remote context carried in Kafka headers (empty context if none)."""
    return get_global_textmap().extract(list(headers or ()), getter=_getter)
