"""Produces the portal's events (a choice, a click) and waits for the brokers
to acknowledge them, so a debtor is told "done" only for what is on the topic."""

from __future__ import annotations

from recaudo.kafka.acknowledged_producer import AcknowledgedProducer
from recaudo.kafka.serde import Serde
from recaudo.settings import Settings


class EventSink(AcknowledgedProducer):
    def __init__(self, settings: Settings, serde: Serde) -> None:
        super().__init__(settings, serde, "portal-sink")
