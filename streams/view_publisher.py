"""Debtor snapshots, built out of the contact path: the view publisher.

The view + orchestrator worker decides on each debtor's state as it stands;
nobody waits for the debtor's snapshot (the ``DebtorView`` record of the
debtor-view topic and the ``debtor_view`` table). Building and encoding
snapshots was about a quarter of that worker's time, and building the ones
still settling at a checkpoint paused every decision behind them. So the worker
produces each debtor's compact state (the bytes it keeps in its store) to the
internal debtor-states topic once the debtor's burst is over, and this
publisher, a consumer group of its own, builds the snapshots from them:

- latest state per debtor between commits (a debtor changed twice is
  snapshotted once);
- every ``interval_s``: the snapshots produced to the debtor-view topic and
  acknowledged, then upserted into Postgres (batched ``COPY``, version-guarded),
  and only then the offsets committed: a crash re-delivers and re-writes,
  idempotently, and loses nothing;
- a record it cannot read (key, headers or value) goes to the dead-letter
  topic with the reason, and it goes on.

It holds no state of its own (the view worker's store and its changelog do), so
it is a plain confluent-kafka consumer: replicas share the group and split the
partitions, and one can be killed at any time.

:class:`SnapshotWriter` is the part both share: the view worker uses it
directly when ``Settings.view_snapshots`` is ``inline`` (one process fewer, its
decisions slower under load) and for ``recaudo rebuild``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from confluent_kafka import Message

from recaudo.contracts.records import DebtorView
from recaudo.db.sink_connection import SinkConnection
from recaudo.db.view_store import write_views
from recaudo.kafka.batch_consumer import BatchConsumer
from recaudo.kafka.cloudevents import ce_headers
from recaudo.kafka.producer import RecaudoProducer
from recaudo.kafka.serde import DecodeError, Serde, read_record
from recaudo.settings import Settings
from recaudo.view import DebtorState, snapshot

log = logging.getLogger(__name__)

NAME = "view-publisher"


class SnapshotWriter:
    """Snapshots built, then published together: to the debtor-view topic
    (when given a producer) and to Postgres (when given a connection).

    :meth:`build` now, one per debtor until :meth:`publish` (a later state
    replaces an earlier one); :meth:`publish` produces them, waits for the
    broker's acknowledgements (``DeliveryError`` if refused: the caller must not
    commit its input) and upserts them.
    """

    def __init__(
        self, serde: Serde, producer: RecaudoProducer | None, db: SinkConnection | None
    ) -> None:
        self._serde = serde
        self._topic = serde.topics.debtor_view
        self._producer = producer
        self._db = db
        self._built: dict[str, tuple[DebtorView, bytes]] = {}
        self.written = 0

    def __len__(self) -> int:
        return len(self._built)

    def build(self, debtor_id: str, state: DebtorState) -> None:
        view = snapshot(state, debtor_id)
        encoded = self._serde.serialize(self._topic, view) if self._producer is not None else b""
        self._built[debtor_id] = (view, encoded)

    def publish(self) -> int:
        """Publish what was built; returns how many snapshots."""
        if self._producer is not None:
            # Produced together, not as built: a request per snapshot costs the
            # broker more than the batch.
            for debtor_id, (view, encoded) in self._built.items():
                self._producer.produce_raw(
                    self._topic, debtor_id.encode(), encoded, ce_headers(view)
                )
            self._producer.flush(30)
        views = [view for view, _ in self._built.values()]
        if self._db is not None and views:
            self._db.write(write_views, views)
        self._built.clear()
        self.written += len(views)
        return len(views)


def decode_state(value: bytes | None) -> DebtorState:
    """A debtor-states value; a ``DecodeError`` (dead-lettered) if it is not one."""
    if not value:
        raise DecodeError("empty debtor state")
    try:
        return DebtorState.decode(value)
    except Exception as exc:  # struct, index, value, unicode...: all say "not ours"
        raise DecodeError(f"not a debtor state: {type(exc).__name__}: {exc}") from exc


class ViewPublisher(BatchConsumer[tuple[str, DebtorState]]):
    """One replica of the view publisher: :meth:`run` blocks until :meth:`stop`."""

    def __init__(
        self,
        settings: Settings,
        *,
        interval_s: float = 1.0,
        batch_size: int = 2000,
        group: str | None = None,
        consumer_overrides: Mapping[str, Any] | None = None,
    ) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be positive, got {interval_s}")
        serde = Serde(settings)
        group = group or f"{settings.topic_prefix}.{NAME}"
        super().__init__(
            settings,
            topics=[serde.topics.debtor_states],
            group=group,
            source=f"recaudo.{NAME}",
            serde=serde,
            batch_size=batch_size,
            commit_every_s=interval_s,
            consumer_overrides=consumer_overrides,
        )
        self.interval_s = interval_s
        self.topic = serde.topics.debtor_states
        self._producer = RecaudoProducer(settings, serde, traced=False)
        dsn = settings.database_dsn() if settings.database_url is not None else None
        self._db = SinkConnection(dsn) if dsn is not None else None
        self._writer = SnapshotWriter(serde, self._producer, self._db)
        #: the latest state of each debtor read since the last commit, and
        #: its message (dead-lettered if no snapshot can be built from it)
        self._pending: dict[str, tuple[DebtorState, Message]] = {}

    @property
    def snapshots_written(self) -> int:
        return self._writer.written

    def metrics(self) -> dict[str, float]:
        return {
            "recaudo_view_snapshots_written_total": float(self._writer.written),
            "recaudo_view_publisher_dead_letters_total": float(self.dead_letters_written),
            "recaudo_view_publisher_assignments_lost_total": float(self.assignments_lost),
        }

    def open(self) -> None:
        if self._db is not None:
            self._db.open()  # the migrations, before the first write

    def close(self) -> None:
        self._producer.close()
        if self._db is not None:
            self._db.close()

    def decode(self, message: Message) -> tuple[str, DebtorState]:
        return read_record(message), decode_state(message.value())

    def handle(self, batch: list[tuple[tuple[str, DebtorState], Message]]) -> None:
        for (debtor_id, state), message in batch:
            self._pending[debtor_id] = (state, message)

    def drop(self, lost: set[tuple[str, int]]) -> None:
        """Another replica may hold these already and publish newer states of
        the same debtors: what was read from them is dropped unpublished (an
        older snapshot after a newer one would be the debtor-view topic's
        latest)."""
        dropped = [
            debtor_id
            for debtor_id, (_, message) in self._pending.items()
            if (message.topic(), message.partition()) in lost
        ]
        for debtor_id in dropped:
            del self._pending[debtor_id]

    def flush(self) -> None:
        """Snapshots of what was read, published and upserted."""
        for debtor_id, (state, message) in self._pending.items():
            try:
                self._writer.build(debtor_id, state)
            except Exception as exc:  # bytes that decoded into nonsense
                self._dead_letters.send(message, exc)
        self._pending.clear()
        self._writer.publish()  # raises on a refused delivery: nothing is committed
