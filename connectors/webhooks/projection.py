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

from confluent_kafka import Message

from connectors.webhooks.store import Contact, CorrelationStore, SentMessage
from recaudo.contracts.records import Channel, ChannelResponse, DispatchCommand
from recaudo.kafka.batch_consumer import BatchConsumer
from recaudo.kafka.serde import Serde
from recaudo.settings import Settings

log = logging.getLogger(__name__)

#: Channels whose inbound messages arrive through this service.
INBOUND_CHANNELS: tuple[Channel, ...] = ("sms", "whatsapp", "voice")


class CorrelationProjection(BatchConsumer[ChannelResponse | DispatchCommand]):
    """Upserts each batch's rows into the correlation store, then commits."""

    def __init__(self, settings: Settings, serde: Serde, store: CorrelationStore) -> None:
        super().__init__(
            settings,
            topics=[
                serde.topics.channel_responses,
                *(serde.topics.dispatch(c) for c in INBOUND_CHANNELS),
            ],
            group=f"{settings.topic_prefix}.webhooks.correlation",
            source="recaudo.webhooks.correlation",
            serde=serde,
            batch_size=500,
            poll_s=0.2,
        )
        self._store = store
        self.projected = 0

    def handle(self, batch: list[tuple[ChannelResponse | DispatchCommand, Message]]) -> None:
        sent: list[SentMessage] = []
        contacts: list[Contact] = []
        for event, _ in batch:
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
            else:
                contacts.append(
                    Contact(
                        event.channel,
                        event.address,
                        event.debtor_id,
                        event.dispatch_id,
                        event.occurred_at,
                    )
                )
        # Written before the offsets are stored: read again, they upsert the same.
        self._store.record_messages(sent)
        self._store.record_contacts(contacts)
        self.projected += len(sent) + len(contacts)
