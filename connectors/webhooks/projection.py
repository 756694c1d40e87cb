"""Feeds the correlation store from the topics.

* ``channel-responses``: an ACCEPTED or SENT outcome names the provider's
  message id of a dispatch (the connector reports it right after sending);
* ``dispatch.sms``, ``dispatch.whatsapp``, ``dispatch.voice``: who was last
  contacted at which address, so an inbound message from that address (a
  reply, a STOP) finds its debtor.

One consumer group across the webhook replicas: each partition is projected
once, into the table they share. Offsets are committed after the rows are
written; a replay rewrites the same rows. A record it cannot read (key, headers
or value) is dead-lettered, and it goes on.
"""

from __future__ import annotations

import logging
import threading

from confluent_kafka import Consumer, Message

from connectors.webhooks.store import Contact, CorrelationStore, SentMessage
from recaudo.dlq import DeadLetterWriter
from recaudo.events import Channel, ChannelResponse, DispatchCommand
from recaudo.group_commit import commit_offsets
from recaudo.instruments import ConsumerLag, EventCounts
from recaudo.librdkafka_codes import PARTITION_EOF
from recaudo.serde import DeadLetterError, Serde, read_record
from recaudo.settings import Settings

log = logging.getLogger(__name__)

#: Channels whose inbound messages arrive through this service.
INBOUND_CHANNELS: tuple[Channel, ...] = ("sms", "whatsapp", "voice")


class CorrelationProjection:
    def __init__(self, settings: Settings, serde: Serde, store: CorrelationStore) -> None:
        self._serde = serde
        self._store = store
        self._topics = [
            serde.topics.channel_responses,
            *(serde.topics.dispatch(c) for c in INBOUND_CHANNELS),
        ]
        group = f"{settings.topic_prefix}.webhooks.correlation"
        self.events = EventCounts(group)
        self.lag = ConsumerLag(group)
        self._consumer = Consumer(settings.consumer_config(group, **self.lag.config()))
        self._dead_letters = DeadLetterWriter(
            settings, serde, "recaudo.webhooks.correlation", group
        )
        self._stop = threading.Event()
        self._assigned = threading.Event()
        self.projected = 0

    @property
    def assigned(self) -> bool:
        return self._assigned.is_set()

    def run(self) -> None:
        self._consumer.subscribe(self._topics, on_assign=lambda _c, _p: self._assigned.set())
        try:
            while not self._stop.is_set():
                messages = self._consumer.consume(500, timeout=0.2)
                if messages:
                    self._project(messages)
        finally:
            self._consumer.close()
            self._dead_letters.close()

    def stop(self) -> None:
        self._stop.set()

    def _project(self, messages: list[Message]) -> None:
        sent: list[SentMessage] = []
        contacts: list[Contact] = []
        for msg in messages:
            err = msg.error()
            if err is not None:
                if err.code() != PARTITION_EOF:
                    log.warning("consumer error: %s", err)
                continue
            self.events.add(msg.topic() or "")
            try:
                read_record(msg)
                event = self._serde.deserialize(msg.topic(), msg.value())
            except DeadLetterError as exc:
                self._dead_letters.send(msg, exc)
                continue
            if isinstance(event, ChannelResponse):
                if (
                    event.status in ("ACCEPTED", "SENT")
                    and event.provider_message_id
                    and event.dispatch_id
                ):
                    sent.append(
                        SentMessage(
                            event.provider_message_id,
                            event.dispatch_id,
                            event.debtor_id,
                            event.channel,
                            event.provider,
                        )
                    )
            elif isinstance(event, DispatchCommand):
                contacts.append(
                    Contact(
                        event.channel,
                        event.address,
                        event.debtor_id,
                        event.dispatch_id,
                        event.occurred_at,
                    )
                )
        self._store.record_messages(sent)
        self._store.record_contacts(contacts)
        self.projected += len(sent) + len(contacts)
        # "nothing to commit": a batch of partition-end notices only; "not in
        # the group": the rows are upserted, and read again they upsert the same.
        commit_offsets(self._consumer)
