"""Produces channel responses and waits for the brokers to acknowledge them,
so the webhook service answers a provider 200 only for what is on the topic
(otherwise the provider's retry is what keeps the event)."""

from __future__ import annotations

from recaudo.kafka.acknowledged_producer import AcknowledgedProducer
from recaudo.kafka.serde import Serde
from recaudo.settings import Settings


class ResponseSink(AcknowledgedProducer):
    def __init__(self, settings: Settings, serde: Serde) -> None:
        super().__init__(settings, serde, "webhook-sink")
