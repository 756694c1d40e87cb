"""OpenTelemetry set up in one place.

Traces and metrics export over OTLP/HTTP when ``OTEL_EXPORTER_OTLP_ENDPOINT``
is set; otherwise providers still exist (so spans link and tests can attach an
in-memory exporter) but nothing leaves the process. The W3C ``traceparent``
travels in Kafka headers so one trace runs from a debt event to the reply it
caused.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, MutableSequence, Sequence

from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.propagate import get_global_textmap
from opentelemetry.propagators.textmap import Getter, Setter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from recaudo.settings import Settings

INSTRUMENTATION = "recaudo"

_lock = threading.Lock()
_configured = False

KafkaHeaders = Sequence[tuple[str, bytes | None]]


def setup(settings: Settings, service_name: str | None = None) -> None:
    """Install tracer and meter providers once per process (idempotent)."""
    global _configured
    with _lock:
        if _configured:
            return
        resource = Resource.create({"service.name": service_name or settings.otel_service_name})
        tracer_provider = TracerProvider(resource=resource)
        readers = []
        if settings.otel_exporter_otlp_endpoint:
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

            base = settings.otel_exporter_otlp_endpoint.rstrip("/")
            tracer_provider.add_span_processor(
                BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{base}/v1/traces"))
            )
            readers.append(
                PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=f"{base}/v1/metrics"))
            )
        trace.set_tracer_provider(tracer_provider)
        metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=readers))
        _configured = True


def tracer() -> trace.Tracer:
    return trace.get_tracer(INSTRUMENTATION)


def meter() -> metrics.Meter:
    return metrics.get_meter(INSTRUMENTATION)


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
