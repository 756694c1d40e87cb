"""Produces the portal's events (a choice, a click) and waits for the brokers
to acknowledge them, so a debtor is told "done" only for what is on the topic."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from confluent_kafka import KafkaError, Message, Producer

from recaudo.cloudevents import ce_headers
from recaudo.events import ChannelResponse, DebtEvent
from recaudo.producer import topic_for
from recaudo.serde import Serde
from recaudo.settings import Settings


class EventSink:
    def __init__(self, settings: Settings, serde: Serde) -> None:
        self._serde = serde
        self._producer = Producer(settings.producer_config())
        self._stop = threading.Event()
        # Delivery callbacks run in whichever thread polls: one thread polls
        # for every request thread, each waiting on its own events.
        self._poller = threading.Thread(target=self._poll, name="portal-sink", daemon=True)
        self._poller.start()
        self.produced = 0

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.1)

    def publish(
        self, events: Sequence[DebtEvent | ChannelResponse], timeout_s: float = 15.0
    ) -> bool:
        """True once every event is acknowledged; False on an error or timeout."""
        pending: list[threading.Event] = []
        errors: list[str] = []

        def delivered(done: threading.Event) -> object:
            def callback(err: KafkaError | None, _msg: Message) -> None:
                if err is not None:
                    errors.append(err.str())
                done.set()

            return callback

        for event in events:
            done = threading.Event()
            pending.append(done)
            topic = topic_for(self._serde.topics, event)
            self._producer.produce(
                topic,
                key=event.debtor_id.encode(),
                value=self._serde.serialize(topic, event),
                headers=ce_headers(event),
                on_delivery=delivered(done),
            )
        deadline = time.monotonic() + timeout_s
        for done in pending:
            if not done.wait(max(0.0, deadline - time.monotonic())):
                return False
        if errors:
            return False
        self.produced += len(events)
        return True

    def close(self) -> None:
        self._stop.set()
        self._poller.join(5)
        self._producer.flush(10)
        # librdkafka lets go of its connections only when the producer is destroyed.
        del self._producer
