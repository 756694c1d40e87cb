"""Puts what an agent did on its topics and waits for the brokers'
acknowledgement, so the desk says "done" only for what is on a topic."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from recaudo.contracts.records import AgentTask, Envelope
from recaudo.kafka.producer import RecaudoProducer
from recaudo.settings import Settings


class DeskPublisher:
    def __init__(self, settings: Settings) -> None:
        self._producer = RecaudoProducer(settings)
        self._tasks_topic = self._producer.topics.agent_tasks
        # One flush waits for every queued record: requests take turns.
        self._lock = threading.Lock()
        self.published = 0

    def publish(self, records: Sequence[Envelope], timeout_s: float = 15.0) -> None:
        """Every record on its topic (agent tasks on agent-tasks), acknowledged;
        raises DeliveryError otherwise."""
        with self._lock:
            for record in records:
                topic = self._tasks_topic if isinstance(record, AgentTask) else None
                self._producer.publish(record, topic)
            self._producer.flush(timeout_s)
            self.published += len(records)

    def close(self) -> None:
        self._producer.close()
        # librdkafka lets go of its broker connections only when the producer
        # is destroyed.
        del self._producer
