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
from quixstreams.sinks.base import BaseSink
from quixstreams.state import State

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
    """Coalesces changed debtors between checkpoints and, on flush, publishes
    one snapshot per debtor to the debtor-view topic and upserts them into
    Postgres. The checkpoint commits input offsets only after this returns, so
    a crash re-delivers and re-writes (idempotently) rather than losing."""

    def __init__(self, settings: Settings, serde: Serde, *, publish: bool, dsn: str | None) -> None:
        super().__init__()
        self._serde = serde
        self._topic = serde.topics.debtor_view
        self._dsn = dsn
        self._conn: psycopg.Connection[Any] | None = None
        self._producer = Producer(settings.producer_config()) if publish else None
        self._pending: dict[str, DebtorState] = {}
        self.snapshots_written = 0

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
        self._pending[key] = value

    def flush(self) -> None:
        if not self._pending:
            return
        views = [snapshot(state, debtor_id) for debtor_id, state in self._pending.items()]
        if self._producer is not None:
            failures: list[str] = []
            for view in views:
                self._producer.produce(
                    self._topic,
                    key=view.debtor_id.encode(),
                    value=self._serde.serialize(self._topic, view),
                    headers=ce_headers(view),
                    on_delivery=lambda err, _m: failures.append(err.str()) if err else None,
                )
                self._producer.poll(0)
            if self._producer.flush(30) or failures:
                raise RuntimeError(f"debtor-view snapshots not acknowledged: {failures[:3]}")
        if self._dsn is not None:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(self._dsn, autocommit=True)
            write_views(self._conn, views)
        self.snapshots_written += len(views)
        self._pending.clear()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


def fold(event: Event, state: State[Any, Any]) -> ApplyResult:
    raw = state.get(STATE_KEY)
    current = DebtorState.decode(raw) if raw is not None else None
    result = apply(current, event)
    if result.changed:
        state.set(STATE_KEY, result.state.encode())
    return result


def _derived_headers(value: DebtEvent, _key: Any, _ts: int, headers: Any) -> list[tuple[str, Any]]:
    # The trace context of the input carries over; the CloudEvents identity is
    # the derived event's own.
    kept = [(k, v) for k, v in (headers or ()) if k in ("traceparent", "tracestate")]
    return [*ce_headers(value), *kept]


class DebtorViewProcessor:
    """The view processor: build once, then :meth:`run` (blocking) or :meth:`stop`."""

    def __init__(
        self,
        settings: Settings,
        *,
        publish_derived: bool = True,
        publish_views: bool = True,
        group: str | None = None,
        commit_interval: float = 1.0,
        on_processed: Callable[[str, int, int], None] | None = None,
    ) -> None:
        self.processor = StreamProcessor(
            settings, NAME, group=group, commit_interval=commit_interval, on_processed=on_processed
        )
        dsn = settings.database_dsn() if settings.database_url is not None else None
        self.sink = DebtorViewSink(settings, self.processor.serde, publish=publish_views, dsn=dsn)
        app = self.processor.app
        frames = [app.dataframe(self.processor.topic(key)) for key in INPUTS]
        sdf = frames[0]
        for other in frames[1:]:
            sdf = sdf.concat(other)
        results = sdf.apply(fold, stateful=True)
        if publish_derived:
            derived = results.apply(lambda r: r.derived, expand=True)
            derived = derived.set_headers(_derived_headers)
            derived.to_topic(self.processor.topic("debt-events"))
        changed = results.filter(lambda r: r.changed).apply(lambda r: r.state)
        changed.sink(self.sink)

    def run(self) -> None:
        try:
            self.processor.run()
        finally:
            self.sink.close()

    def stop(self) -> None:
        self.processor.stop()


def run(settings: Settings) -> None:
    DebtorViewProcessor(settings).run()
