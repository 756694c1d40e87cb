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
from collections.abc import Mapping
from typing import Any

from confluent_kafka import Message

from recaudo.contracts.records import AgentTask
from recaudo.db.agent_task_store import write_tasks
from recaudo.db.sink_connection import SinkConnection
from recaudo.kafka.batch_consumer import BatchConsumer
from recaudo.kafka.serde import Serde
from recaudo.settings import Settings

log = logging.getLogger(__name__)

NAME = "agent-task-sink"


class AgentTaskSink(BatchConsumer[AgentTask]):
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
        serde = Serde(settings)
        super().__init__(
            settings,
            topics=[serde.topics.agent_tasks],
            group=group or f"{settings.topic_prefix}.{NAME}",
            source=f"recaudo.{NAME}",
            serde=serde,
            batch_size=batch_size,
            commit_every_s=interval_s,
            consumer_overrides=consumer_overrides,
        )
        self.interval_s = interval_s
        self.topic = serde.topics.agent_tasks
        self._db = SinkConnection(settings.database_dsn())
        #: the records read since the last commit, and the partition each came from
        self._pending: list[tuple[AgentTask, tuple[str, int]]] = []
        self.written = 0

    def metrics(self) -> dict[str, float]:
        return {
            "recaudo_agent_tasks_written_total": float(self.written),
            "recaudo_agent_task_sink_dead_letters_total": float(self.dead_letters_written),
        }

    def record_type(self) -> type[AgentTask]:
        return AgentTask

    def open(self) -> None:
        self._db.open()  # the migrations, before the first write

    def close(self) -> None:
        self._db.close()

    def handle(self, batch: list[tuple[AgentTask, Message]]) -> None:
        for task, message in batch:
            self._pending.append((task, (message.topic() or "", message.partition() or 0)))

    def drop(self, lost: set[tuple[str, int]]) -> None:
        """Whoever owns them now writes them again from the last committed
        offsets; what was read from them here is dropped unwritten."""
        self._pending = [(t, where) for t, where in self._pending if where not in lost]

    def flush(self) -> None:
        """What was read, upserted."""
        if self._pending:
            self._db.write(write_tasks, [task for task, _ in self._pending])
            self.written += len(self._pending)
            self._pending.clear()
