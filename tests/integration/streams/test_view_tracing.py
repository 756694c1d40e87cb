"""One trace runs from the producer of a debt event into the view processor."""

from __future__ import annotations

import threading
import time

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from recaudo.kafka.producer import RecaudoProducer
from recaudo.observability import telemetry
from recaudo.settings import Settings
from streams.debtor_view import DebtorViewProcessor
from tests.fixtures import debt_event

pytestmark = pytest.mark.integration


def test_processing_span_continues_the_producers_trace(topics_ready: Settings) -> None:
    telemetry.setup(topics_ready)
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))

    event = debt_event(debtor_id="D-trace")
    with (
        RecaudoProducer(topics_ready, traced=True) as producer,
        telemetry.tracer().start_as_current_span("core banking batch") as root,
    ):
        producer.publish(event)
    trace_id = root.get_span_context().trace_id

    processor = DebtorViewProcessor(
        topics_ready, traced=True, commit_interval=1.0, orchestrate=False, timers=False
    )

    def stop_when_traced() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if any(s.name.startswith("process ") for s in exporter.get_finished_spans()):
                break
            time.sleep(0.2)
        processor.stop()

    threading.Thread(target=stop_when_traced).start()
    processor.run()
    topic = f"{topics_ready.topic_prefix}.debt-events"
    finished = exporter.get_finished_spans()
    # Derived events the view writes back are processed too: pick this event's.
    (process,) = [
        s
        for s in finished
        if s.name == f"process {topic}"
        and (s.attributes or {}).get("messaging.message.id") == str(event.event_id)
    ]
    (send,) = [
        s
        for s in finished
        if s.name == f"send {topic}"
        and (s.attributes or {}).get("messaging.message.id") == str(event.event_id)
    ]
    assert process.context.trace_id == send.context.trace_id == trace_id
    assert process.parent is not None and process.parent.span_id == send.context.span_id
