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
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka import Consumer, Message, TopicPartition

from recaudo.close_deadline import DEADLINE_S, close_or_exit
from recaudo.cloudevents import ce_headers
from recaudo.db.sink_connection import SinkConnection
from recaudo.db.view_store import write_views
from recaudo.dlq import DeadLetterWriter
from recaudo.events import DebtorView
from recaudo.group_commit import commit_offsets
from recaudo.instruments import ConsumerLag, EventCounts
from recaudo.librdkafka_codes import PARTITION_EOF
from recaudo.producer import RecaudoProducer
from recaudo.serde import DecodeError, Serde, read_record
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


class ViewPublisher:
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
        self.settings = settings
        self.interval_s = interval_s
        self.batch_size = batch_size
        self.serde = Serde(settings)
        self.topic = self.serde.topics.debtor_states
        self.group = group or f"{settings.topic_prefix}.{NAME}"
        self.events = EventCounts(self.group)
        self.lag = ConsumerLag(self.group)
        self._consumer = Consumer(
            settings.consumer_config(
                self.group, **self.lag.config(), **dict(consumer_overrides or {})
            )
        )
        self._close_consumer: Callable[[], None] = self._consumer.close
        self._producer = RecaudoProducer(settings, self.serde, traced=False)
        dsn = settings.database_dsn() if settings.database_url is not None else None
        self._db = SinkConnection(dsn) if dsn is not None else None
        self._writer = SnapshotWriter(self.serde, self._producer, self._db)
        self._dead_letters = DeadLetterWriter(settings, self.serde, f"recaudo.{NAME}", self.group)
        #: the latest state of each debtor read since the last commit, and
        #: its message (dead-lettered if no snapshot can be built from it)
        self._pending: dict[str, tuple[DebtorState, Message]] = {}
        self._uncommitted = False
        #: assignments lost (the group went on without this member) so far
        self.assignments_lost = 0
        self._stop = threading.Event()
        self._ready = threading.Event()
        self.running = False

    @property
    def ready(self) -> bool:
        """True once partitions are assigned (the consumer joined its group)."""
        return self._ready.is_set()

    @property
    def snapshots_written(self) -> int:
        return self._writer.written

    def run(self) -> None:
        if self._db is not None:
            self._db.open()  # the migrations, before the first write
        self._consumer.subscribe(
            [self.topic],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        log.info("view publisher consuming %s (group %s)", self.topic, self.group)
        self.running = True
        next_commit = time.monotonic() + self.interval_s
        try:
            while not self._stop.is_set():
                for message in self._consumer.consume(self.batch_size, timeout=0.1):
                    self._read(message)
                if time.monotonic() >= next_commit:
                    self._commit()
                    next_commit = time.monotonic() + self.interval_s
            self._commit()
        finally:
            self.running = False
            self._close_consumer()
            self._producer.close()
            self._dead_letters.close()
            if self._db is not None:
                self._db.close()

    def stop(self) -> None:
        self._stop.set()

    def exit_if_close_hangs(self, deadline_s: float = DEADLINE_S) -> None:
        """For a process that is this publisher alone (``recaudo streams run
        --name publisher``): should its consumer's close not return within
        ``deadline_s``, the process exits to be restarted."""
        self._close_consumer = close_or_exit(
            self._close_consumer, deadline_s, f"{NAME} {self.group}"
        )

    def metrics(self) -> dict[str, float]:
        return {
            "recaudo_view_snapshots_written_total": float(self._writer.written),
            "recaudo_view_publisher_dead_letters_total": float(self._dead_letters.written),
            "recaudo_view_publisher_assignments_lost_total": float(self.assignments_lost),
        }

    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info("%s: assigned partitions %s", self.topic, sorted(p.partition for p in partitions))
        self._ready.set()

    def _on_revoke(self, _consumer: Consumer, _partitions: list[TopicPartition]) -> None:
        # What was read from them is published and committed before another
        # replica takes them over.
        self._commit()

    def _on_lost(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Another replica may hold these already and publish newer states of
        the same debtors: what was read from them is dropped unpublished (an
        older snapshot after a newer one would be the debtor-view topic's
        latest), and nothing is committed. Whoever owns them reads them
        again from the last committed offsets."""
        self.assignments_lost += 1
        lost = {(p.topic, p.partition) for p in partitions}
        dropped = [
            debtor_id
            for debtor_id, (_, message) in self._pending.items()
            if (message.topic(), message.partition()) in lost
        ]
        for debtor_id in dropped:
            del self._pending[debtor_id]
        log.warning(
            "%s: assignment of partitions %s lost; %d states read from them dropped unpublished",
            self.topic,
            sorted(p.partition for p in partitions),
            len(dropped),
        )

    def _read(self, message: Message) -> None:
        err = message.error()
        if err is not None:
            if err.code() != PARTITION_EOF:
                log.warning("consumer error: %s", err)
            return
        self._uncommitted = True
        self.events.add(self.topic)
        try:
            debtor_id = read_record(message)
            state = decode_state(message.value())
        except DecodeError as exc:
            self._dead_letters.send(message, exc)
            return
        self._pending[debtor_id] = (state, message)

    def _commit(self) -> None:
        """Snapshots of what was read, published and upserted; then the offsets."""
        for debtor_id, (state, message) in self._pending.items():
            try:
                self._writer.build(debtor_id, state)
            except Exception as exc:  # bytes that decoded into nonsense
                self._dead_letters.send(message, exc)
        self._pending.clear()
        self._writer.publish()  # raises on a refused delivery: nothing is committed
        if self._uncommitted:
            outcome = commit_offsets(self._consumer)
            if outcome == "not in the group":
                # Published and upserted already, idempotently: the
                # partitions' owner after the rebalance publishes them again.
                log.warning(
                    "%s: offsets not committed: this member's assignment is gone", self.topic
                )
                return
            # "nothing to commit": what was read came from an assignment since
            # lost and given back, and none of it is this member's to commit.
            self._uncommitted = False
