"""Produces records to their topics and waits for the brokers' acknowledgement,
so an HTTP service answers "done" only for what is on a topic."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from confluent_kafka import KafkaError, Message, Producer

from recaudo.contracts.records import Event
from recaudo.kafka.cloudevents import ce_headers
from recaudo.kafka.producer import topic_for
from recaudo.kafka.serde import Serde
from recaudo.settings import Settings


class AcknowledgedProducer:
    """:meth:`publish` returns once every record is acknowledged (True) or one
    failed or the time ran out (False); safe from many request threads."""

    def __init__(self, settings: Settings, serde: Serde, name: str) -> None:
        self._serde = serde
        self._producer = Producer(settings.producer_config())
        self._stop = threading.Event()
        # Delivery callbacks run in whichever thread polls: one thread polls
        # for every request thread, each waiting on its own records.
        self._poller = threading.Thread(target=self._poll, name=name, daemon=True)
        self._poller.start()
        self.produced = 0

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.1)

    def publish(self, records: Sequence[Event], timeout_s: float = 15.0) -> bool:
        """True once every record is acknowledged; False on an error or timeout."""
        pending: list[threading.Event] = []
        errors: list[str] = []

        def delivered(done: threading.Event) -> Callable[[KafkaError | None, Message], None]:
            def callback(err: KafkaError | None, _msg: Message) -> None:
                if err is not None:
                    errors.append(err.str())
                done.set()

            return callback

        for record in records:
            done = threading.Event()
            pending.append(done)
            topic = topic_for(self._serde.topics, record)
            self._producer.produce(
                topic,
                key=record.debtor_id.encode(),
                value=self._serde.serialize(topic, record),
                headers=ce_headers(record),
                on_delivery=delivered(done),
            )
        deadline = time.monotonic() + timeout_s
        for done in pending:
            if not done.wait(max(0.0, deadline - time.monotonic())):
                return False
        if errors:
            return False
        self.produced += len(records)
        return True

    def close(self) -> None:
        self._stop.set()
        self._poller.join(5)
        self._producer.flush(10)
        # librdkafka lets go of its broker connections only when the producer
        # is destroyed: drop it, so a closed one still referenced holds none.
        del self._producer
