"""One consume loop for every recaudo consumer that is not a stream processor.

A :class:`BatchConsumer` is one member of a consumer group. Its loop polls a
batch, decodes each record (a record it cannot read goes to the dead-letter
topic with its original bytes and the reason, and the loop goes on), hands the
decoded batch to :meth:`~BatchConsumer.handle`, and commits the offsets only
after :meth:`~BatchConsumer.flush` has made what was handled durable: a crash
re-delivers, nothing is lost. It also answers what every member must: its
readiness (partitions assigned), a commit before a revocation, dropping what
it read from partitions whose assignment was lost, a deadline on the Kafka
consumer's close, lag and per-topic counts for the metrics.

Subclasses say what a record is (:meth:`~BatchConsumer.decode`), what to do
with a batch (:meth:`~BatchConsumer.handle`), how to make it durable
(:meth:`~BatchConsumer.flush`) and what to forget on a lost assignment
(:meth:`~BatchConsumer.drop`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from confluent_kafka import Consumer, Message, TopicPartition

from recaudo.contracts.records import Envelope
from recaudo.kafka.close_deadline import DEADLINE_S, close_or_exit
from recaudo.kafka.dead_letters import DeadLetterWriter
from recaudo.kafka.group_commit import CommitOutcome, commit_offsets
from recaudo.kafka.librdkafka_codes import PARTITION_EOF
from recaudo.kafka.serde import DeadLetterError, DecodeError, Serde, read_record
from recaudo.observability.instruments import ConsumerLag, EventCounts
from recaudo.settings import Settings

R = TypeVar("R")
#: where a record was read: (topic, partition)
Where = tuple[str, int]


class BatchConsumer(Generic[R]):
    """One member of ``group`` reading ``topics``: :meth:`run` blocks until
    :meth:`stop`.

    ``commit_every_s``: offsets are committed (after :meth:`flush`) at most
    this often; ``None`` commits after every batch that read something.
    ``commits=False``: a member that re-reads its partitions at every
    assignment (from :meth:`partitions_assigned`) and never commits.
    ``low_latency`` marks a consumer on the contact path (see
    :meth:`Settings.consumer_config`).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        topics: Sequence[str],
        group: str,
        source: str,
        serde: Serde | None = None,
        batch_size: int = 500,
        poll_s: float = 0.1,
        commit_every_s: float | None = None,
        low_latency: bool = False,
        commits: bool = True,
        consumer_overrides: Mapping[str, Any] | None = None,
    ) -> None:
        if commit_every_s is not None and commit_every_s <= 0:
            raise ValueError(f"commit_every_s must be positive, got {commit_every_s}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.settings = settings
        self.serde = serde or Serde(settings)
        self.topics = list(topics)
        self.group = group
        self.batch_size = batch_size
        self.poll_s = poll_s
        self.commit_every_s = commit_every_s
        self.commits = commits
        self.events = EventCounts(group)
        self.lag = ConsumerLag(group)
        self._consumer = Consumer(
            settings.consumer_config(
                group,
                low_latency=low_latency,
                **{
                    # Offsets are stored once a batch is handled, not as it is read.
                    "enable.auto.offset.store": False,
                    **self.lag.config(),
                    **dict(consumer_overrides or {}),
                },
            )
        )
        self._close_consumer: Callable[[], None] = self._consumer.close
        self._dead_letters = DeadLetterWriter(settings, self.serde, source, group)
        #: stored offsets not yet committed
        self._uncommitted = False
        #: assignments lost (the group went on without this member) so far
        self.assignments_lost = 0
        self._stop = threading.Event()
        self._ready = threading.Event()
        self.running = False
        #: the subclass's module logger: operators filter each service's lines by it
        self.log = logging.getLogger(type(self).__module__)

    # --- what a subclass says ----------------------------------------------------

    def decode(self, message: Message) -> R:
        """The record in ``message``; a :class:`DeadLetterError` if it is not
        one (by default: a recaudo record of the topic's schema)."""
        read_record(message)
        record: Any = self.serde.deserialize(message.topic() or "", message.value())
        expected = self.record_type()
        if expected is not None and not isinstance(record, expected):
            raise DecodeError(f"not a {expected.__name__}: {type(record).__name__}")
        return record  # type: ignore[no-any-return]

    def record_type(self) -> type[Envelope] | None:
        """The record type :meth:`decode` expects (None: any of the topics')."""
        return None

    def handle(self, batch: list[tuple[R, Message]]) -> None:
        """Handle the decoded records of one poll, in the order read. Raising
        stops the member with nothing of the batch committed."""
        raise NotImplementedError

    def flush(self) -> None:
        """Make what was handled durable; offsets are committed after it."""

    def drop(self, lost: set[Where]) -> None:
        """Forget what was handled from partitions whose assignment was lost
        (another member reads them again from the last committed offsets)."""

    def idle(self) -> None:
        """Called once per loop round, after the batch (timers that fire)."""

    def partitions_assigned(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Partitions assigned to this member (before it counts as ready)."""

    def partitions_revoked(self, partitions: list[TopicPartition]) -> None:
        """Partitions revoked, after what was read from them is committed."""

    def open(self) -> None:
        """Resources needed before the first record (connections, migrations)."""

    def close(self) -> None:
        """Resources released after the consumer is closed."""

    # --- lifecycle ---------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """True once partitions are assigned (the consumer joined its group)."""
        return self._ready.is_set()

    @property
    def dead_letters_written(self) -> int:
        return self._dead_letters.written

    def run(self) -> None:
        self.open()
        self._consumer.subscribe(
            self.topics,
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        self.log.info("%s consuming %s (group %s)", type(self).__name__, self.topics, self.group)
        self.running = True
        next_commit = time.monotonic() + (self.commit_every_s or 0.0)
        try:
            while not self._stop.is_set():
                messages = self._consumer.consume(self.batch_size, timeout=self.poll_s)
                if messages:
                    self._take(messages)
                self.idle()
                if self.commit_every_s is None:
                    if self._uncommitted:
                        self.commit()
                elif time.monotonic() >= next_commit:
                    self.commit()
                    next_commit = time.monotonic() + self.commit_every_s
            self.commit(force=True)
        finally:
            self.running = False
            self._close_consumer()
            self._dead_letters.close()
            self.close()

    def stop(self) -> None:
        self._stop.set()

    def exit_if_close_hangs(self, deadline_s: float = DEADLINE_S) -> None:
        """For a process that is this member alone: should its Kafka
        consumer's close not return within ``deadline_s``, the process exits
        to be restarted (:mod:`recaudo.kafka.close_deadline`)."""
        self._close_consumer = close_or_exit(
            self._close_consumer, deadline_s, f"{type(self).__name__} {self.group}"
        )

    def commit(self, *, force: bool = False) -> CommitOutcome | None:
        """What was handled, made durable; then its offsets committed.
        ``force``: the last commit before stopping or giving partitions up
        (a subclass that makes its work durable only now and then must now)."""
        self.flush()
        if not self._uncommitted or not self.commits:
            return None
        outcome = commit_offsets(self._consumer)
        if outcome == "not in the group":
            # Durable already, idempotently: the partitions' owner after the
            # rebalance reads and writes them again.
            self.log.warning(
                "%s: offsets not committed: this member's assignment is gone", self.group
            )
            return outcome
        # "nothing to commit": what was read came from an assignment since
        # lost and given back, and none of it is this member's to commit.
        self._uncommitted = False
        return outcome

    # --- the loop's parts --------------------------------------------------------

    def _take(self, messages: list[Message]) -> None:
        batch: list[tuple[R, Message]] = []
        ends: dict[Where, int] = {}
        for message in messages:
            error = message.error()
            if error is not None:
                if error.code() != PARTITION_EOF:
                    self.log.warning("%s: consumer error: %s", self.group, error)
                continue
            topic, partition = message.topic() or "", message.partition() or 0
            ends[(topic, partition)] = (message.offset() or 0) + 1
            self.events.add(topic)
            try:
                batch.append((self.decode(message), message))
            except DeadLetterError as exc:
                self._dead_letters.send(message, exc)
        if batch:
            self.handle(batch)
        if ends and self.commits:
            self._consumer.store_offsets(
                offsets=[TopicPartition(t, p, offset) for (t, p), offset in ends.items()]
            )
            self._uncommitted = True

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.log.info(
            "%s: assigned partitions %s",
            self.group,
            sorted((p.topic, p.partition) for p in partitions),
        )
        self.partitions_assigned(consumer, partitions)
        self._ready.set()

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # What was read from them is durable and committed before another
        # member takes them over.
        self.commit(force=True)
        self.partitions_revoked(partitions)

    def _on_lost(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.assignments_lost += 1
        lost = {(p.topic, p.partition) for p in partitions}
        self.log.warning(
            "%s: assignment of %s lost; what was read from them is dropped",
            self.group,
            sorted(lost),
        )
        self.drop(lost)
