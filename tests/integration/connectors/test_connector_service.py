"""The connector against the real broker: outcomes reported, offsets committed
after them, expired commands never sent, redeliveries answered from the ledger."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from connectors.service import Connector, ConnectorConfig
from connectors.simulator import SimulatedProvider
from recaudo.contracts.records import ChannelResponse, DispatchCommand
from recaudo.kafka.producer import RecaudoProducer
from recaudo.kafka.serde import Serde
from recaudo.settings import Settings
from tests.integration.kafka_io import consume_all

pytestmark = pytest.mark.integration


def command(i: int, *, expires_in: timedelta = timedelta(hours=1)) -> DispatchCommand:
    now = datetime.now(UTC)
    return DispatchCommand(
        occurred_at=now,
        source="test",
        debtor_id=f"D-{i % 7}",
        dispatch_id=f"disp-{i}",
        channel="sms",
        address="+573001112233",
        template="reminder",
        locale="es",
        body="Hola, su cuota vence pronto",
        not_before=now - timedelta(seconds=1),
        expires_at=now + expires_in,
        trigger="payment_missed",
        step=0,
    )


def run_until(
    connector: Connector,
    done: threading.Event | None = None,
    timeout_s: float = 60,
    condition: object = None,
) -> None:
    thread = threading.Thread(target=connector.run)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not (callable(condition) and condition()):
        time.sleep(0.1)
    connector.stop()
    thread.join(30)


def test_every_command_gets_one_outcome_and_expired_ones_are_not_sent(
    topics_ready: Settings,
) -> None:
    serde = Serde(topics_ready)
    commands = [command(i) for i in range(40)]
    expired = [
        command(100 + i, expires_in=timedelta(seconds=-1) + timedelta(milliseconds=1))
        for i in range(5)
    ]
    with RecaudoProducer(topics_ready, serde) as producer:
        for cmd in [*commands, *expired]:
            producer.publish(cmd)
    provider = SimulatedProvider("sms", latency_scale=0, seed=1)
    # No failures in this run: the test is about delivery, not provider errors.
    provider_rates = {"sms": (0.0, 0.0)}
    import connectors.simulator as sim

    old = dict(sim.FAILURE_RATES)
    sim.FAILURE_RATES.update(provider_rates)
    try:
        connector = Connector(topics_ready, ConnectorConfig(channel="sms"), provider, seed=1)
        run_until(connector, condition=lambda: connector.stats.consumed >= 45)
    finally:
        sim.FAILURE_RATES.update(old)
    assert provider.sent == 40
    responses = [
        serde.deserialize(serde.topics.channel_responses, m.value())
        for m in consume_all(topics_ready, serde.topics.channel_responses, expected=45)
    ]
    outcome = {
        r.dispatch_id: r.status
        for r in responses
        if isinstance(r, ChannelResponse) and r.status in ("ACCEPTED", "EXPIRED")
    }
    assert {d for d, s in outcome.items() if s == "ACCEPTED"} == {c.dispatch_id for c in commands}
    assert {d for d, s in outcome.items() if s == "EXPIRED"} == {c.dispatch_id for c in expired}


def test_redelivered_command_is_answered_from_the_ledger(topics_ready: Settings) -> None:
    serde = Serde(topics_ready)
    cmd = command(1)
    with RecaudoProducer(topics_ready, serde) as producer:
        producer.publish(cmd)
        producer.publish(cmd)  # the same dispatch twice, as a replay would
    provider = SimulatedProvider("sms", latency_scale=0, seed=3)
    import connectors.simulator as sim

    old = dict(sim.FAILURE_RATES)
    sim.FAILURE_RATES["sms"] = (0.0, 0.0)
    try:
        connector = Connector(topics_ready, ConnectorConfig(channel="sms"), provider)
        run_until(connector, condition=lambda: connector.stats.consumed >= 2)
    finally:
        sim.FAILURE_RATES.update(old)
    assert provider.sent == 1, vars(connector.stats)
    assert connector.stats.from_ledger == 1
