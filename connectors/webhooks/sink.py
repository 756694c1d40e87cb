"""Produces channel responses and waits for the brokers to acknowledge them,
so the webhook service answers a provider 200 only for what is on the topic
(otherwise the provider's retry is what keeps the event)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from confluent_kafka import KafkaError, Message, Producer

from recaudo.cloudevents import ce_headers
from recaudo.events import ChannelResponse
from recaudo.serde import Serde
from recaudo.settings import Settings


class ResponseSink:
    def __init__(self, settings: Settings, serde: Serde) -> None:
        self._serde = serde
        self._topic = serde.topics.channel_responses
        self._producer = Producer(settings.producer_config())
        self._stop = threading.Event()
        # Delivery callbacks run in whichever thread polls: one thread polls
        # for all request threads, each of which waits on its own events.
        self._poller = threading.Thread(target=self._poll, name="webhook-sink", daemon=True)
        self._poller.start()
        self.produced = 0

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.1)

    def publish(self, responses: Sequence[ChannelResponse], timeout_s: float = 15.0) -> bool:
        """True once every response is acknowledged; False on an error or timeout."""
        pending: list[threading.Event] = []
        errors: list[str] = []

        def delivered(done: threading.Event) -> object:
            def callback(err: KafkaError | None, _msg: Message) -> None:
                if err is not None:
                    errors.append(err.str())
                done.set()

            return callback

        for response in responses:
            done = threading.Event()
            pending.append(done)
            self._producer.produce(
                self._topic,
                key=response.debtor_id.encode(),
                value=self._serde.serialize(self._topic, response),
                headers=ce_headers(response),
                on_delivery=delivered(done),
            )
        deadline = time.monotonic() + timeout_s
        for done in pending:
            if not done.wait(max(0.0, deadline - time.monotonic())):
                return False
        if errors:
            return False
        self.produced += len(responses)
        return True

    def close(self) -> None:
        self._stop.set()
        self._poller.join(5)
        self._producer.flush(10)
        # librdkafka lets go of its broker connections only when the producer
        # is destroyed: drop it, so a closed sink still referenced somewhere
        # holds no connection.
        del self._producer
