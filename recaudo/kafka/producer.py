"""The producer banks (and recaudo itself) publish events with."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final

from confluent_kafka import KafkaError, Message, Producer
from opentelemetry.context import Context
from opentelemetry.trace import Span

from recaudo.contracts.records import (
    AgentTask,
    ChannelResponse,
    ContactDecision,
    DebtEvent,
    DebtorProfile,
    DebtorView,
    DispatchCommand,
    Envelope,
    Event,
)
from recaudo.kafka.cloudevents import ce_headers
from recaudo.kafka.serde import Serde
from recaudo.kafka.topics import Topics
from recaudo.observability import telemetry
from recaudo.settings import Settings


class DeliveryError(RuntimeError):
    """Some events were not acknowledged by the brokers."""

    def __init__(self, failures: list[tuple[str, str]]) -> None:
        self.failures = failures
        shown = "; ".join(f"{eid}: {err}" for eid, err in failures[:5])
        more = f" (+{len(failures) - 5} more)" if len(failures) > 5 else ""
        super().__init__(f"{len(failures)} event(s) not delivered: {shown}{more}")


def topic_for(topics: Topics, event: Envelope) -> str:
    """Where an event belongs: one topic per record, dispatches by channel."""
    if isinstance(event, DispatchCommand):
        return topics.dispatch(event.channel)
    by_type: dict[type[Envelope], str] = {
        DebtEvent: topics.debt_events,
        DebtorProfile: topics.debtor_profiles,
        ContactDecision: topics.contact_decisions,
        ChannelResponse: topics.channel_responses,
        DebtorView: topics.debtor_view,
        AgentTask: topics.agent_tasks,
    }
    try:
        return by_type[type(event)]
    except KeyError:
        raise TypeError(f"no topic carries {type(event).__name__}") from None


@dataclass
class DeliveryReport:
    delivered: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)


#: A Kafka header any producer can set on a debt event, profile or response:
#: ``true`` (or ``1``) marks it as history, folded into the view without
#: starting any contact.
BACKFILL_HEADER: Final = "recaudo-backfill"


def is_backfill(headers: Iterable[tuple[str, bytes | str | None]] | None) -> bool:
    """Whether a message's headers mark it as history (:data:`BACKFILL_HEADER`)."""
    for name, value in headers or ():
        if name == BACKFILL_HEADER and value is not None:
            text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
            return text.strip().lower() in ("true", "1")
    return False


class RecaudoProducer:
    """Idempotent, ``acks=all`` producer of recaudo events.

    Events are keyed by ``debtor_id`` (one debtor, one partition), carry
    CloudEvents headers and the W3C trace context, and are serialized as
    Confluent-framed Avro. :meth:`flush` confirms delivery: it raises
    :class:`DeliveryError` naming every event the brokers did not acknowledge.

    ``traced`` (default: when spans go anywhere, see
    :func:`recaudo.observability.telemetry.tracing`) records a ``send <topic>`` span per
    event, under the caller's current span; untraced, the caller's current
    trace context still travels in the headers.

    >>> with RecaudoProducer(settings) as producer:
    ...     producer.publish(event)
    """

    def __init__(
        self,
        settings: Settings,
        serde: Serde | None = None,
        *,
        traced: bool | None = None,
        **config_overrides: Any,
    ) -> None:
        self.settings = settings
        self.traced = telemetry.tracing(settings) if traced is None else traced
        self.serde = serde or Serde(settings)
        self.topics = self.serde.topics
        self._producer = Producer(settings.producer_config(**config_overrides))
        self._report = DeliveryReport()
        self._tracer = telemetry.tracer()

    def _on_delivery(
        self, event_id: str, span: Span | None, err: KafkaError | None, msg: Message
    ) -> None:
        if err is None:
            self._report.delivered += 1
        else:
            self._report.failures.append((event_id, err.str()))
        if span is not None:
            telemetry.sent(span, err, msg)

    def encode(
        self, event: Envelope, topic: str | None = None, key: str | None = None
    ) -> tuple[str, str, bytes, list[tuple[str, bytes]]]:
        """(topic, key, value, CloudEvents headers) of ``event`` as
        :meth:`publish` sends it; the topic by record, the key its debtor."""
        topic = topic or topic_for(self.topics, event)
        if key is None:
            if not isinstance(event, Event):
                raise TypeError(f"{type(event).__name__} has no debtor_id: pass key=")
            key = event.debtor_id
        return (
            topic,
            key,
            self.serde.serialize(topic, event),
            ce_headers(event, self.settings.source),
        )

    def publish(
        self,
        event: Envelope,
        topic: str | None = None,
        key: str | None = None,
        *,
        backfill: bool = False,
    ) -> None:
        """Queue one event; delivery is confirmed by :meth:`flush`.

        ``backfill``: the event is history; it carries the
        :data:`BACKFILL_HEADER` header, so the view folds it in and the
        orchestrator contacts nobody because of it."""
        topic, key, value, headers = self.encode(event, topic, key)
        if backfill:
            headers.append((BACKFILL_HEADER, b"true"))
        event_id = str(event.event_id)
        if not self.traced:
            telemetry.inject(headers)
            self._produce(topic, key.encode(), value, headers, event_id)
            return
        # A child of the caller's current span, if any; it ends when the
        # broker acknowledges (or refuses) the event.
        span = telemetry.start_send(self._tracer, topic, key, event_id)
        telemetry.inject(headers, telemetry.context_of(span))
        self._produce(topic, key.encode(), value, headers, event_id, span)

    def produce_traced(
        self,
        topic: str,
        key: str,
        value: bytes,
        headers: list[tuple[str, bytes]],
        message_id: str,
        parent: Context,
    ) -> None:
        """Send bytes as one traced message: a ``send`` span, child of
        ``parent``, whose context the headers carry on."""
        span = telemetry.start_send(self._tracer, topic, key, message_id, parent)
        telemetry.inject(headers, telemetry.context_of(span))
        self._produce(topic, key.encode(), value, headers, message_id, span)

    def produce_raw(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        """Send bytes as they are (dead letters, replays)."""
        self._produce(topic, key, value, headers or [], "raw")

    def _produce(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]],
        event_id: str,
        span: Span | None = None,
    ) -> None:
        while True:
            try:
                self._producer.produce(
                    topic,
                    key=key,
                    value=value,
                    headers=headers,
                    on_delivery=lambda err, msg: self._on_delivery(event_id, span, err, msg),
                )
                break
            except BufferError:
                # Local queue full: let librdkafka drain before queueing more.
                self._producer.poll(0.1)
            except Exception as exc:
                if span is not None:  # refused outright: no delivery report will end it
                    span.record_exception(exc)
                    span.end()
                raise
        self._producer.poll(0)

    def publish_many(self, events: Iterable[Envelope]) -> int:
        count = 0
        for event in events:
            self.publish(event)
            count += 1
        return count

    def flush(self, timeout_s: float = 30.0) -> DeliveryReport:
        """Wait for every queued event's acknowledgement.

        Returns the report since the last flush; raises DeliveryError if any
        event failed or is still unacknowledged after ``timeout_s``.
        """
        remaining = self._producer.flush(timeout_s)
        report, self._report = self._report, DeliveryReport()
        if remaining:
            report.failures.append(
                ("*", f"{remaining} message(s) unacknowledged after {timeout_s}s")
            )
        if report.failures:
            raise DeliveryError(report.failures)
        return report

    def close(self) -> None:
        self._producer.flush(10)

    def __enter__(self) -> RecaudoProducer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.flush()
        else:
            self.close()
