"""The agent-tasks topic, mirrored into Postgres (``agent_task``) for CRMs
and agent desktops: ``recaudo streams run --name agent-tasks``.

The same pattern as the view publisher's Postgres half: records read since
the last commit are kept (latest per task), and every ``interval_s`` they are
upserted in one batched transaction (:func:`recaudo.db.agent_task_store.write_tasks`,
through :class:`SinkConnection`, which outlasts a Postgres restart) and only
then the offsets committed: a crash re-delivers and re-writes, idempotently,
and loses nothing. A record it cannot read (key, headers or value) goes to
the dead-letter topic with the reason, and it goes on.

It holds no state of its own, so it is a plain confluent-kafka consumer:
replicas share the group and split the partitions.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka import Consumer, Message, TopicPartition

from recaudo.close_deadline import DEADLINE_S, close_or_exit
from recaudo.db.agent_task_store import write_tasks
from recaudo.db.sink_connection import SinkConnection
from recaudo.dlq import DeadLetterWriter
from recaudo.events import AgentTask
from recaudo.group_commit import commit_offsets
from recaudo.instruments import ConsumerLag, EventCounts
from recaudo.librdkafka_codes import PARTITION_EOF
from recaudo.serde import DeadLetterError, DecodeError, Serde, read_record
from recaudo.settings import Settings

log = logging.getLogger(__name__)

NAME = "agent-task-sink"


class AgentTaskSink:
    """One replica: :meth:`run` blocks until :meth:`stop`."""

    def __init__(
        self,
        settings: Settings,
        *,
        interval_s: float = 1.0,
        batch_size: int = 1000,
        group: str | None = None,
        consumer_overrides: Mapping[str, Any] | None = None,
    ) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be positive, got {interval_s}")
        if settings.database_url is None:
            raise ValueError(
                "the agent-task sink writes to Postgres: set DATABASE_URL (recaudo up "
                "sets it for its workers)"
            )
        self.interval_s = interval_s
        self.batch_size = batch_size
        self.serde = Serde(settings)
        self.topic = self.serde.topics.agent_tasks
        self.group = group or f"{settings.topic_prefix}.{NAME}"
        self.events = EventCounts(self.group)
        self.lag = ConsumerLag(self.group)
        self._consumer = Consumer(
            settings.consumer_config(
                self.group, **self.lag.config(), **dict(consumer_overrides or {})
            )
        )
        self._close_consumer: Callable[[], None] = self._consumer.close
        self._db = SinkConnection(settings.database_dsn())
        self._dead_letters = DeadLetterWriter(settings, self.serde, f"recaudo.{NAME}", self.group)
        #: the records read since the last commit, and the partition each came from
        self._pending: list[tuple[AgentTask, tuple[str, int]]] = []
        self._uncommitted = False
        self.written = 0
        self._stop = threading.Event()
        self._ready = threading.Event()
        self.running = False

    @property
    def ready(self) -> bool:
        """True once partitions are assigned (the consumer joined its group)."""
        return self._ready.is_set()

    def run(self) -> None:
        self._db.open()  # the migrations, before the first write
        self._consumer.subscribe(
            [self.topic],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        log.info("agent-task sink consuming %s (group %s)", self.topic, self.group)
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
            self._dead_letters.close()
            self._db.close()

    def stop(self) -> None:
        self._stop.set()

    def exit_if_close_hangs(self, deadline_s: float = DEADLINE_S) -> None:
        """For a process that is this sink alone: should its consumer's close
        not return within ``deadline_s``, the process exits to be restarted."""
        self._close_consumer = close_or_exit(
            self._close_consumer, deadline_s, f"{NAME} {self.group}"
        )

    def metrics(self) -> dict[str, float]:
        return {
            "recaudo_agent_tasks_written_total": float(self.written),
            "recaudo_agent_task_sink_dead_letters_total": float(self._dead_letters.written),
        }

    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info("%s: assigned partitions %s", self.topic, sorted(p.partition for p in partitions))
        self._ready.set()

    def _on_revoke(self, _consumer: Consumer, _partitions: list[TopicPartition]) -> None:
        self._commit()

    def _on_lost(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Whoever owns them now writes them again from the last committed
        offsets; what was read from them here is dropped unwritten."""
        lost = {(p.topic, p.partition) for p in partitions}
        self._pending = [(t, where) for t, where in self._pending if where not in lost]

    def _read(self, message: Message) -> None:
        err = message.error()
        if err is not None:
            if err.code() != PARTITION_EOF:
                log.warning("consumer error: %s", err)
            return
        self._uncommitted = True
        self.events.add(self.topic)
        try:
            read_record(message)
            task = self.serde.deserialize(self.topic, message.value())
            if not isinstance(task, AgentTask):
                raise DecodeError(f"not an AgentTask: {type(task).__name__}")
        except DeadLetterError as exc:
            self._dead_letters.send(message, exc)
            return
        self._pending.append((task, (message.topic() or "", message.partition() or 0)))

    def _commit(self) -> None:
        """What was read, upserted; then the offsets."""
        if self._pending:
            self._db.write(write_tasks, [task for task, _ in self._pending])
            self.written += len(self._pending)
            self._pending.clear()
        if self._uncommitted:
            if commit_offsets(self._consumer) == "not in the group":
                log.warning(
                    "%s: offsets not committed: this member's assignment is gone", self.topic
                )
                return
            self._uncommitted = False
