"""The timer service: wakes a debtor when its timer comes due.

The view processor writes each debtor's next due time to the compacted
``timers`` topic (latest per debtor). This service reads it, holds the due
times of its partitions in a heap, and when one comes due (by the shared
:class:`~recaudo.orchestration.Clock`) writes a wake-up to ``wakeups``, which
the processor consumes like any other input: deferred steps, fallbacks,
promise dates and bucket boundaries happen without an event.

It keeps no state of its own: on every assignment it re-reads its partitions
of the compacted topic from the start and never commits, so a restart or a
rebalance loses nothing. A wake-up sent twice is harmless (the processor acts
only on what is due, and dispatch ids are deterministic). A timer it cannot read
(key, headers or value) is dead-lettered, again at each re-read, under the same
dead-letter id.
"""

from __future__ import annotations

import heapq
import logging
import threading
import uuid
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, Producer, TopicPartition

from recaudo.contracts.records import Timer
from recaudo.kafka.batch_consumer import BatchConsumer
from recaudo.kafka.cloudevents import ce_headers
from recaudo.kafka.serde import Serde
from recaudo.orchestration.clock import Clock
from recaudo.settings import Settings
from recaudo.view.timebase import from_ms, to_ms

log = logging.getLogger(__name__)

SOURCE = "recaudo.timers"


class TimerService(BatchConsumer[Timer]):
    """Start with :meth:`start` (a daemon thread) or use as a context manager."""

    def __init__(self, settings: Settings, serde: Serde, clock: Clock) -> None:
        super().__init__(
            settings,
            topics=[serde.topics.timers],
            group=f"{settings.topic_prefix}.timers",
            source=SOURCE,
            serde=serde,
            poll_s=settings.timer_interval_s,
            commits=False,
        )
        self._serde = serde
        self._clock = clock
        self._timers = serde.topics.timers
        self._wakeups = serde.topics.wakeups
        self._producer = Producer(settings.producer_config())
        #: partition -> debtor -> due (ms): the latest timer of each debtor
        self._due: dict[int, dict[str, int]] = {}
        self._heap: list[tuple[int, str, int]] = []
        self._thread: threading.Thread | None = None
        self.wakeups_sent = 0
        #: partition -> the offset after the last timer read there
        self._read: dict[int, int] = {}

    def record_type(self) -> type[Timer]:
        return Timer

    def partitions_assigned(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            tp.offset = OFFSET_BEGINNING
            self._due[tp.partition] = {}
        consumer.assign(partitions)

    def partitions_revoked(self, partitions: list[TopicPartition]) -> None:
        self._forget({tp.partition for tp in partitions})

    def drop(self, lost: set[tuple[str, int]]) -> None:
        self._forget({partition for _, partition in lost})

    def _forget(self, partitions: set[int]) -> None:
        for partition in partitions:
            self._due.pop(partition, None)
            self._read.pop(partition, None)

    def decode(self, message: Message) -> Timer:
        # Read past, whether it decodes or goes to the dead-letter topic.
        self._read[message.partition() or 0] = (message.offset() or 0) + 1
        return super().decode(message)

    def handle(self, batch: list[tuple[Timer, Message]]) -> None:
        for timer, message in batch:
            partition = message.partition() or 0
            debtors = self._due.setdefault(partition, {})
            if timer.due_at is None:
                debtors.pop(timer.debtor_id, None)
                continue
            due = to_ms(timer.due_at)
            debtors[timer.debtor_id] = due
            heapq.heappush(self._heap, (due, timer.debtor_id, partition))

    def idle(self) -> None:
        self._fire()

    def close(self) -> None:
        self._producer.flush(10)

    def _fire(self) -> None:
        now = to_ms(self._clock.now())
        while self._heap and self._heap[0][0] <= now:
            due, debtor_id, partition = heapq.heappop(self._heap)
            debtors = self._due.get(partition)
            if debtors is None or debtors.get(debtor_id) != due:
                continue  # superseded, or the partition moved elsewhere
            del debtors[debtor_id]
            wake = Timer(
                event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"wake/{debtor_id}/{due}"),
                occurred_at=from_ms(now),
                source=SOURCE,
                debtor_id=debtor_id,
                due_at=from_ms(due),
            )
            self._producer.produce(
                self._wakeups,
                key=debtor_id.encode(),
                value=self._serde.serialize(self._wakeups, wake),
                headers=ce_headers(wake),
            )
            self.wakeups_sent += 1
        self._producer.poll(0)

    def start(self) -> TimerService:
        self._thread = threading.Thread(target=self.run, name="recaudo-timers", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 15.0) -> None:
        super().stop()
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> TimerService:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def pending(self) -> int:
        return sum(len(d) for d in self._due.values())

    def read_to(self) -> dict[int, int]:
        """Per assigned partition, the offset after the last timer read."""
        return dict(self._read)

    def due(self) -> int:
        """Timers due by the clock and not yet sent as wake-ups."""
        now = to_ms(self._clock.now())
        return sum(due <= now for debtors in list(self._due.values()) for due in debtors.values())
