"""The connector on the real broker, its provider a local fake server (real
HTTP) that takes some requests and never answers them: each dispatch is
posted at most once to a provider that does not de-duplicate, and reported
``OUTCOME_UNKNOWN``, or, where the provider can be asked, as it answers; a
request the provider refused as "not processed" is retried and sent once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from connectors.providers.base import ProviderAdapter
from connectors.providers.meta_whatsapp import MetaWhatsAppProvider
from connectors.providers.webhook import WebhookProvider
from connectors.retry import RetryPolicy
from connectors.service import Connector, ConnectorConfig
from recaudo.contracts.records import Channel, ChannelResponse, DispatchCommand
from recaudo.kafka.producer import RecaudoProducer
from recaudo.kafka.serde import Serde
from recaudo.settings import Settings
from tests.fakes import providers as fake
from tests.fakes.providers import Answer, FakeProviders, Fault, meta_error
from tests.integration.kafka_io import consume_all

pytestmark = pytest.mark.integration

RETRY = RetryPolicy(max_attempts=4, base_s=0.01, cap_s=0.05)


@pytest.fixture
def server() -> Iterator[FakeProviders]:
    with FakeProviders() as running:
        yield running


@pytest.fixture
def settings(topics_ready: Settings, server: FakeProviders) -> Settings:
    return topics_ready.model_copy(
        update={
            # Short: a hung request times out quickly.
            "provider_timeout_s": 0.5,
            "meta_phone_number_id": fake.META_PHONE_ID,
            "meta_access_token": SecretStr(fake.META_TOKEN),
            "meta_base_url": server.url,
            "webhook_url": f"{server.url}/hooks/recaudo",
            "webhook_secret": SecretStr(fake.WEBHOOK_SECRET),
        }
    )


def command(i: int, channel: Channel) -> DispatchCommand:
    now = datetime.now(UTC)
    return DispatchCommand(
        occurred_at=now,
        source="test",
        debtor_id=f"D-{i}",
        dispatch_id=f"{channel}-{i}",
        channel=channel,
        address=f"+5730011{i:05d}",
        template="reminder",
        locale="es",
        body="Hola, su cuota vence pronto",
        not_before=now - timedelta(seconds=1),
        expires_at=now + timedelta(hours=1),
        trigger="payment_missed",
        step=0,
    )


def run(
    settings: Settings, channel: Channel, adapter: ProviderAdapter, ledger: Path, n: int
) -> Connector:
    """Runs a connector until it has an outcome for ``n`` dispatches (it
    stops after the batch in hand, its responses acknowledged)."""
    connector = Connector(
        settings, ConnectorConfig(channel=channel, retry=RETRY), adapter, ledger_path=ledger, seed=1
    )
    stats = connector.stats
    thread = threading.Thread(target=connector.run)
    thread.start()
    try:
        finished = threading.Event()
        while not finished.wait(0.05):
            if stats.sent + stats.failed + stats.unknown_outcomes >= n or not thread.is_alive():
                finished.set()
    finally:
        connector.stop()
        thread.join(30)
    return connector


def outcomes(settings: Settings, expected: int) -> dict[str, list[str]]:
    serde = Serde(settings)
    topic = serde.topics.channel_responses
    seen: dict[str, list[str]] = {}
    for msg in consume_all(settings, topic, expected=expected):
        response = serde.deserialize(topic, msg.value())
        assert isinstance(response, ChannelResponse) and response.dispatch_id
        seen.setdefault(response.dispatch_id, []).append(response.status)
    return seen


def test_meta_requests_taken_and_never_answered_are_posted_once_and_reported_unknown(
    settings: Settings, server: FakeProviders, tmp_path: Path
) -> None:
    hung, reset, throttled, plain = (command(i, "whatsapp") for i in range(4))
    server.state.script(hung.address, Fault("hang"), Answer(200, {}))
    server.state.script(reset.address, Fault("reset"), Answer(200, {}))
    server.state.script(
        throttled.address, meta_error(400, 130429, "Rate limit hit"), Answer(200, {})
    )
    with RecaudoProducer(settings, Serde(settings)) as producer:
        for cmd in (hung, reset, throttled, plain):
            producer.publish(cmd)

    adapter = MetaWhatsAppProvider(settings)
    connector = run(settings, "whatsapp", adapter, tmp_path / "ledger.sqlite", 4)
    seen = outcomes(settings, expected=4)
    assert seen == {
        hung.dispatch_id: ["OUTCOME_UNKNOWN"],
        reset.dispatch_id: ["OUTCOME_UNKNOWN"],
        throttled.dispatch_id: ["ACCEPTED"],
        plain.dispatch_id: ["ACCEPTED"],
    }
    # One POST per dispatch the provider may have taken; the throttled one
    # was refused unprocessed, then sent: two requests, one message.
    assert server.state.requests == {
        hung.dispatch_id: 1,
        reset.dispatch_id: 1,
        throttled.dispatch_id: 2,
        plain.dispatch_id: 1,
    }
    assert server.state.created == dict.fromkeys(server.state.requests, 1)
    assert connector.stats.unknown_outcomes == 2


def test_a_webhook_that_can_be_asked_is_asked_instead_of_posted_again(
    settings: Settings, server: FakeProviders, tmp_path: Path
) -> None:
    hung = command(0, "sms")
    server.state.script(hung.address, Fault("hang"), Answer(500, {}))
    with RecaudoProducer(settings, Serde(settings)) as producer:
        producer.publish(hung)
    on = settings.model_copy(update={"webhook_lookup": True})
    adapter = WebhookProvider(on, "sms")
    connector = run(on, "sms", adapter, tmp_path / "ledger.sqlite", 1)
    seen = outcomes(settings, expected=1)
    assert seen == {hung.dispatch_id: ["ACCEPTED"]}
    assert server.state.requests == {hung.dispatch_id: 1}
    assert server.state.lookups == {hung.dispatch_id: 1}
    assert server.state.created == {hung.dispatch_id: 1}
    assert connector.stats.unknown_outcomes == 0
