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

from recaudo.cloudevents import ce_headers
from recaudo.dlq import DeadLetterWriter
from recaudo.events import Timer
from recaudo.orchestration.clock import Clock
from recaudo.serde import DeadLetterError, Serde, read_record
from recaudo.settings import Settings
from recaudo.view.timebase import from_ms, to_ms

log = logging.getLogger(__name__)

SOURCE = "recaudo.timers"


class TimerService:
    """Start with :meth:`start` (a daemon thread) or use as a context manager."""

    def __init__(self, settings: Settings, serde: Serde, clock: Clock) -> None:
        self._serde = serde
        self._clock = clock
        self._interval = settings.timer_interval_s
        self._timers = serde.topics.timers
        self._wakeups = serde.topics.wakeups
        group = f"{settings.topic_prefix}.timers"
        self._consumer = Consumer(settings.consumer_config(group))
        self._producer = Producer(settings.producer_config())
        self._dead_letters = DeadLetterWriter(settings, serde, SOURCE, group)
        #: partition -> debtor -> due (ms): the latest timer of each debtor
        self._due: dict[int, dict[str, int]] = {}
        self._heap: list[tuple[int, str, int]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.wakeups_sent = 0
        #: partition -> the offset after the last timer read there
        self._read: dict[int, int] = {}

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            tp.offset = OFFSET_BEGINNING
            self._due[tp.partition] = {}
        consumer.assign(partitions)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self._due.pop(tp.partition, None)
            self._read.pop(tp.partition, None)

    def _take(self, message: Message) -> None:
        partition = message.partition() or 0
        self._read[partition] = (message.offset() or 0) + 1
        try:
            read_record(message)
            timer = self._serde.deserialize(self._timers, message.value())
        except DeadLetterError as exc:
            self._dead_letters.send(message, exc)
            return
        assert isinstance(timer, Timer)
        debtors = self._due.setdefault(partition, {})
        if timer.due_at is None:
            debtors.pop(timer.debtor_id, None)
            return
        due = to_ms(timer.due_at)
        debtors[timer.debtor_id] = due
        heapq.heappush(self._heap, (due, timer.debtor_id, partition))

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

    def run(self) -> None:
        self._consumer.subscribe(
            [self._timers], on_assign=self._on_assign, on_revoke=self._on_revoke
        )
        try:
            while not self._stop.is_set():
                for msg in self._consumer.consume(500, timeout=self._interval):
                    if msg.error() is None:
                        self._take(msg)
                self._fire()
        finally:
            self._producer.flush(10)
            self._dead_letters.close()
            self._consumer.close()

    def start(self) -> TimerService:
        self._thread = threading.Thread(target=self.run, name="recaudo-timers", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
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
