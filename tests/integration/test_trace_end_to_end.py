"""One trace runs from a debt event's send to the channel response it caused,
across the real broker: the producer, the view and orchestrator, the dispatch,
the connector and its provider, the response, and the view reading it back.
The same run's metrics reach ``/metrics``."""

from __future__ import annotations

import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

import connectors.simulator as simulator
from connectors.service import Connector, ConnectorConfig, response_id
from connectors.simulator import SimulatedProvider
from recaudo.contracts.records import DebtEvent, DebtorProfile
from recaudo.kafka.producer import RecaudoProducer
from recaudo.observability import telemetry
from recaudo.observability.health import HealthServer
from recaudo.orchestration import FixedClock
from recaudo.settings import Settings
from streams.debtor_view import DebtorViewProcessor

pytestmark = pytest.mark.integration

# A Wednesday, 11:00 in New York: inside Regulation F's 08:00-21:00.
NOON = datetime(2026, 11, 18, 16, tzinfo=UTC)
DEBTOR = "D-TRACE"


@pytest.fixture
def spans(topics_ready: Settings) -> Iterator[InMemorySpanExporter]:
    telemetry.setup(topics_ready)
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()  # later tests' spans are not kept


def history() -> tuple[list[DebtorProfile | DebtEvent], DebtEvent]:
    """A debtor reachable by SMS only, an open debt, and (apart) the missed
    payment that makes the orchestrator contact them."""
    profile = DebtorProfile(
        occurred_at=NOON - timedelta(days=50),
        source="crm",
        debtor_id=DEBTOR,
        preferred_language="en",
        time_zone="America/New_York",
        country="US",
        jurisdiction="us_reg_f",
        contact_points=[{"channel": "sms", "address": "+12125550100", "consent": True}],
    )
    opened = DebtEvent(
        occurred_at=NOON - timedelta(days=40),
        source="core-banking",
        debtor_id=DEBTOR,
        account_id="ACC-1",
        type="DEBT_OPENED",
        payload={
            "principal_minor": 500_000,
            "currency": "USD",
            "balance_minor": 400_000,
            "product": "card",
            "instalment_minor": 20_000,
            "next_due_date": (NOON - timedelta(days=1)).date(),
        },
    )
    missed = DebtEvent(
        event_id=uuid.uuid4(),
        occurred_at=NOON - timedelta(minutes=5),
        source="core-banking",
        debtor_id=DEBTOR,
        account_id="ACC-1",
        type="PAYMENT_MISSED",
        payload={
            "instalment_number": 3,
            "amount_minor": 20_000,
            "currency": "USD",
            "due_date": (NOON - timedelta(days=1)).date(),
        },
    )
    return [profile, opened], missed


def attr(span: ReadableSpan, name: str) -> object:
    return (span.attributes or {}).get(name)


class Trace:
    """The finished spans of one trace, walked by parent links."""

    def __init__(self, finished: Sequence[ReadableSpan], trace_id: int) -> None:
        self.spans = [s for s in finished if s.context.trace_id == trace_id]

    def children(
        self, parent: ReadableSpan, name: str, where: Callable[[ReadableSpan], bool] = bool
    ) -> list[ReadableSpan]:
        return [
            s
            for s in self.spans
            if s.parent is not None
            and s.parent.span_id == parent.context.span_id
            and s.name == name
            and where(s)
        ]

    def child(
        self, parent: ReadableSpan, name: str, where: Callable[[ReadableSpan], bool] = bool
    ) -> ReadableSpan:
        found = self.children(parent, name, where)
        assert len(found) == 1, (
            f"{len(found)} '{name}' span(s) under '{parent.name}'; trace: "
            f"{sorted((s.name, s.kind.name) for s in self.spans)}"
        )
        return found[0]


def wait_for(check: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def metrics_page(port: int) -> list[str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return str(response.read().decode()).splitlines()


def sample(lines: list[str], prefix: str) -> float | None:
    for line in lines:
        if line.startswith(prefix):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_one_trace_from_the_debt_event_to_the_response_it_caused(
    topics_ready: Settings, spans: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = topics_ready
    prefix = settings.topic_prefix
    debt_topic = f"{prefix}.debt-events"
    dispatch_topic = f"{prefix}.dispatch.sms"
    decisions_topic = f"{prefix}.contact-decisions"
    responses_topic = f"{prefix}.channel-responses"
    # Every send accepted: the trace must reach the response and its follow-ups.
    monkeypatch.setitem(simulator.FAILURE_RATES, "sms", (0.0, 0.0))

    clock = FixedClock(NOON)
    processor = DebtorViewProcessor(settings, clock=clock, commit_interval=1.0, traced=True)
    connector = Connector(
        settings,
        ConnectorConfig(channel="sms"),
        SimulatedProvider("sms", clock=clock.now, latency_scale=0, seed=5),
        ledger_path=settings.state_dir / "ledger.sqlite",
        clock=clock.now,
        traced=True,
    )
    setup, missed = history()

    def sent_event() -> ReadableSpan | None:
        for s in spans.get_finished_spans():
            if s.name == f"send {debt_topic}" and attr(s, "messaging.message.id") == str(
                missed.event_id
            ):
                return s
        return None

    def in_trace(name: str) -> list[ReadableSpan]:
        root = sent_event()
        if root is None:
            return []
        tid = root.context.trace_id
        return [
            s for s in spans.get_finished_spans() if s.name == name and s.context.trace_id == tid
        ]

    failure: list[BaseException] = []
    metrics: list[str] = []

    def scenario() -> None:
        try:
            with RecaudoProducer(settings, traced=False) as producer:
                producer.publish_many(setup)
            # The bank's send is the trace's root: nothing around it.
            with RecaudoProducer(settings, traced=True) as producer:
                producer.publish(missed)
            # The view reads back the response the connector emitted.
            assert wait_for(lambda: bool(in_trace(f"process {responses_topic}")), 90), sorted(
                {s.name for s in spans.get_finished_spans()}
            )
            # Later follow-ups (delivered, read, ...) come when their time does.
            clock.at = NOON + timedelta(hours=3)
            assert wait_for(lambda: len(in_trace(f"send {responses_topic}")) >= 2, 30)
            with HealthServer(0, lambda: connector.ready, connector.metrics, "127.0.0.1") as health:
                # librdkafka reports lag every few seconds.
                groups = (connector.group, processor.processor.group)

                def lag_reported() -> bool:
                    page = metrics_page(health.port)
                    return all(
                        sample(page, f'recaudo_consumer_lag{{group="{g}"') is not None
                        for g in groups
                    )

                wait_for(lag_reported, 20)
                metrics.extend(metrics_page(health.port))
        except BaseException as exc:  # surfaced in the main thread below
            failure.append(exc)
        finally:
            connector.stop()
            processor.stop()

    connector_thread = threading.Thread(target=connector.run)
    connector_thread.start()
    driver = threading.Thread(target=scenario)
    driver.start()
    processor.run()  # in the main thread: its signal handlers need it
    driver.join()
    connector_thread.join(30)
    if failure:
        raise failure[0]

    root = sent_event()
    assert root is not None
    assert root.parent is None and root.kind is SpanKind.PRODUCER
    assert attr(root, "messaging.system") == "kafka"
    assert attr(root, "messaging.kafka.message.key") == DEBTOR
    assert attr(root, "messaging.destination.partition.id") is not None
    assert isinstance(attr(root, "messaging.kafka.offset"), int)
    t = Trace(spans.get_finished_spans(), root.context.trace_id)

    view = t.child(root, f"process {debt_topic}")
    assert view.kind is SpanKind.CONSUMER
    assert attr(view, "messaging.consumer.group.name") == processor.processor.group
    assert attr(view, "messaging.message.id") == str(missed.event_id)
    assert attr(view, "messaging.kafka.offset") == attr(root, "messaging.kafka.offset")

    decision = t.child(
        view, "contact decision", lambda s: attr(s, "recaudo.decision.outcome") == "DISPATCHED"
    )
    assert attr(decision, "recaudo.channel") == "sms"
    dispatch_id = attr(decision, "recaudo.dispatch_id")
    assert isinstance(dispatch_id, str)
    t.child(decision, f"send {decisions_topic}")  # the audit record
    dispatch = t.child(decision, f"send {dispatch_topic}")
    assert dispatch.kind is SpanKind.PRODUCER

    handled = t.child(dispatch, f"process {dispatch_topic}")
    assert handled.kind is SpanKind.CONSUMER
    assert attr(handled, "messaging.consumer.group.name") == connector.group
    assert attr(handled, "recaudo.dispatch_id") == dispatch_id
    provider_call = t.child(handled, "simulator send")
    assert provider_call.kind is SpanKind.CLIENT
    assert attr(provider_call, "recaudo.outcome") == "ACCEPTED"

    accepted_id = str(response_id(dispatch_id, "ACCEPTED"))
    response = t.child(
        handled,
        f"send {responses_topic}",
        lambda s: attr(s, "messaging.message.id") == accepted_id,
    )
    assert response.kind is SpanKind.PRODUCER
    back_in_view = t.child(response, f"process {responses_topic}")
    assert attr(back_in_view, "messaging.message.id") == accepted_id
    # The follow-ups (DELIVERED first) continue the same trace.
    assert t.children(
        handled,
        f"send {responses_topic}",
        lambda s: attr(s, "messaging.message.id") != accepted_id,
    )

    view_group = processor.processor.group
    for group in (connector.group, view_group):
        assert sample(metrics, f'recaudo_consumer_lag{{group="{group}"') is not None, group
    assert (
        sample(
            metrics, f'recaudo_events_processed_total{{group="{view_group}",topic="{debt_topic}"}}'
        )
        or 0
    ) >= 2
    assert (
        sample(
            metrics,
            f'recaudo_events_processed_total{{group="{connector.group}",topic="{dispatch_topic}"}}',
        )
        or 0
    ) >= 1
    assert (sample(metrics, 'recaudo_decisions_total{outcome="DISPATCHED"') or 0) >= 1
    assert (
        sample(
            metrics,
            'recaudo_provider_send_duration_seconds_count{channel="sms",outcome="ACCEPTED",'
            'provider="simulator"}',
        )
        or 0
    ) >= 1
