"""The 360-degree debtor view, kept by a quixstreams processor.

Inputs, all keyed by ``debtor_id`` and co-partitioned: debt events, profiles,
contact decisions and channel responses. Per debtor, the compact state of
:mod:`recaudo.view` lives in RocksDB (with its changelog topic, so a restarted
or moved worker recovers it). Each event is folded in by the pure reducer;
derived events (bucket changes, broken promises, cures) go back to the
debt-events topic; and at every checkpoint the debtors that changed are
snapshotted once each (a burst of events makes one snapshot) to the compacted
debtor-view topic and to Postgres.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import psycopg
from confluent_kafka import Producer
from opentelemetry.trace import SpanKind
from quixstreams import message_context
from quixstreams.sinks.base import BaseSink
from quixstreams.state import State

from recaudo import telemetry
from recaudo.cloudevents import ce_headers
from recaudo.db.migrate import migrate
from recaudo.db.view_store import write_views
from recaudo.events import DebtEvent, Event
from recaudo.serde import Serde
from recaudo.settings import Settings
from recaudo.view import ApplyResult, DebtorState, apply, snapshot
from streams.runtime import StreamProcessor

log = logging.getLogger(__name__)

NAME = "view"
INPUTS = ("debt-events", "debtor-profiles", "contact-decisions", "channel-responses")
STATE_KEY = "view"


class DebtorViewSink(BaseSink):
    """Everything the view publishes, written at each checkpoint.

    Between checkpoints it keeps the latest state of each changed debtor and
    the derived events; on flush it produces the derived events, then one
    snapshot per changed debtor (a burst of events makes one snapshot) to the
    debtor-view topic, and upserts the snapshots into Postgres. The checkpoint
    commits the input offsets only after this returns, so a crash re-delivers
    and re-writes (idempotently: deterministic ids, version-guarded upserts)
    rather than losing anything.
    """

    def __init__(
        self,
        settings: Settings,
        serde: Serde,
        *,
        publish_views: bool,
        publish_derived: bool,
        dsn: str | None,
    ) -> None:
        super().__init__()
        self._serde = serde
        self._view_topic = serde.topics.debtor_view
        self._events_topic = serde.topics.debt_events
        self._publish_views = publish_views
        self._publish_derived = publish_derived
        self._dsn = dsn
        self._conn: psycopg.Connection[Any] | None = None
        self._producer = (
            Producer(settings.producer_config()) if publish_views or publish_derived else None
        )
        self._pending: dict[str, DebtorState] = {}
        self._derived: list[tuple[DebtEvent, list[tuple[str, bytes]]]] = []
        self._failures: list[str] = []
        self.snapshots_written = 0
        self.derived_written = 0

    def setup(self) -> None:
        if self._dsn is not None:
            migrate(self._dsn)
            self._conn = psycopg.connect(self._dsn, autocommit=True)

    def add(
        self,
        value: Any,
        key: Any,
        timestamp: int,
        headers: Any,
        topic: str,
        partition: int,
        offset: int,
    ) -> None:
        result: ApplyResult = value
        self._pending[key] = result.state
        if result.derived and self._publish_derived:
            # The trace of the input carries over; the CloudEvents identity is
            # each derived event's own.
            trace = [(k, v) for k, v in (headers or ()) if k in ("traceparent", "tracestate")]
            self._derived.extend((event, trace) for event in result.derived)

    def _produce(
        self, topic: str, key: str, value: bytes, headers: list[tuple[str, bytes]]
    ) -> None:
        assert self._producer is not None
        while True:
            try:
                self._producer.produce(
                    topic,
                    key=key.encode(),
                    value=value,
                    headers=headers,
                    on_delivery=lambda err, _m: self._failures.append(err.str()) if err else None,
                )
                break
            except BufferError:
                self._producer.poll(0.1)
        self._producer.poll(0)

    def flush(self) -> None:
        for event, trace in self._derived:
            self._produce(
                self._events_topic,
                event.debtor_id,
                self._serde.serialize(self._events_topic, event),
                [*ce_headers(event), *trace],
            )
        self.derived_written += len(self._derived)
        self._derived.clear()
        views = [snapshot(state, debtor_id) for debtor_id, state in self._pending.items()]
        if self._publish_views:
            for view in views:
                self._produce(
                    self._view_topic,
                    view.debtor_id,
                    self._serde.serialize(self._view_topic, view),
                    ce_headers(view),
                )
        if self._producer is not None and (self._producer.flush(30) or self._failures):
            failures, self._failures = self._failures, []
            raise RuntimeError(f"debtor-view output not acknowledged: {failures[:3]}")
        if self._dsn is not None and views:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(self._dsn, autocommit=True)
            write_views(self._conn, views)
        self.snapshots_written += len(views)
        self._pending.clear()

    def close(self) -> None:
        if self._producer is not None:
            self._producer.flush(10)
        if self._conn is not None:
            self._conn.close()


def fold_traced(
    event: Event, key: Any, timestamp: int, headers: Any, state: State[Any, Any]
) -> ApplyResult:
    """:func:`fold` inside a span that continues the producer's trace."""
    ctx = message_context()
    with telemetry.tracer().start_as_current_span(
        f"process {ctx.topic}",
        context=telemetry.extract(headers),
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": ctx.topic,
            "messaging.destination.partition.id": str(ctx.partition),
            "messaging.kafka.offset": ctx.offset,
            "messaging.message.id": str(event.event_id),
        },
    ):
        return fold(event, state)


def fold(event: Event, state: State[Any, Any]) -> ApplyResult:
    raw = state.get(STATE_KEY)
    current = DebtorState.decode(raw) if raw is not None else None
    result = apply(current, event)
    if result.changed:
        state.set(STATE_KEY, result.state.encode())
    return result


class DebtorViewProcessor:
    """The view processor: build once, then :meth:`run` (blocking) or :meth:`stop`."""

    def __init__(
        self,
        settings: Settings,
        *,
        publish_derived: bool = True,
        publish_views: bool = True,
        group: str | None = None,
        commit_interval: float = 5.0,
        traced: bool | None = None,
        on_processed: Callable[[str, int, int], None] | None = None,
    ) -> None:
        self.running = False
        self.processor = StreamProcessor(
            settings, NAME, group=group, commit_interval=commit_interval, on_processed=on_processed
        )
        dsn = settings.database_dsn() if settings.database_url is not None else None
        self.sink = DebtorViewSink(
            settings,
            self.processor.serde,
            publish_views=publish_views,
            publish_derived=publish_derived,
            dsn=dsn,
        )
        app = self.processor.app
        frames = [app.dataframe(self.processor.topic(key)) for key in INPUTS]
        sdf = frames[0]
        for other in frames[1:]:
            sdf = sdf.concat(other)
        # One chain, no branches: quixstreams deep-copies a value for each
        # branch, which would copy every debtor state. The sink publishes.
        # A span per event costs a few µs: only when traces go somewhere.
        traced = settings.otel_exporter_otlp_endpoint is not None if traced is None else traced
        results = (
            sdf.apply(fold_traced, stateful=True, metadata=True)
            if traced
            else sdf.apply(fold, stateful=True)
        )
        results.filter(lambda r: r.changed).sink(self.sink)

    def run(self) -> None:
        self.running = True
        try:
            self.processor.run()
        finally:
            self.running = False
            self.sink.close()

    def stop(self) -> None:
        self.processor.stop()

    def metrics(self) -> dict[str, float]:
        return {
            "recaudo_view_snapshots_written_total": float(self.sink.snapshots_written),
            "recaudo_view_derived_events_total": float(self.sink.derived_written),
            "recaudo_view_dead_letters_total": float(self.processor.dead_letters.written),
        }
