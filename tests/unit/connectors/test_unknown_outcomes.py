"""The HTTP adapters under network faults, against the local fake providers
(real HTTP over a socket), through the connector's retry rule: a request the
provider may have taken is never made twice to a provider that does not
de-duplicate; one that never left is retried and sent once.

Calls are counted per dispatch id on both sides: ``calls`` by the adapter
(every attempt, including refused connections), ``requests`` and
``created`` by the fake provider."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import pytest
from pydantic import SecretStr

from connectors.providers.base import (
    OutboundMessage,
    ProviderAdapter,
    SendResult,
    deduplicates,
    lookup_of,
)
from connectors.providers.meta_whatsapp import MetaWhatsAppProvider
from connectors.providers.twilio import TwilioProvider
from connectors.providers.webhook import WebhookProvider
from connectors.retry import RetryPolicy, Unknown, send_with_retries
from recaudo.embedded.ports import free_port
from recaudo.settings import Settings
from tests.fakes import providers as fake
from tests.fakes.providers import Answer, FakeProviders, Fault, meta_error, twilio_error

ADDRESS = "+573001112233"
POLICY = RetryPolicy(max_attempts=4, base_s=0.01, cap_s=0.05)


@pytest.fixture
def server() -> Iterator[FakeProviders]:
    # A port outside the ephemeral range: it stays ours while not listening.
    with FakeProviders(port=free_port()) as running:
        yield running


@pytest.fixture
def settings(server: FakeProviders, tmp_path: Any) -> Settings:
    return Settings(
        state_dir=tmp_path,
        # Short: a hung request times out quickly.
        provider_timeout_s=0.5,
        twilio_account_sid=fake.ACCOUNT_SID,
        twilio_auth_token=SecretStr(fake.AUTH_TOKEN),
        twilio_from_number="+15005550006",
        twilio_base_url=server.url,
        meta_phone_number_id=fake.META_PHONE_ID,
        meta_access_token=SecretStr(fake.META_TOKEN),
        meta_base_url=server.url,
        webhook_url=f"{server.url}/hooks/recaudo",
        webhook_secret=SecretStr(fake.WEBHOOK_SECRET),
    )


def twilio(settings: Settings) -> ProviderAdapter:
    return TwilioProvider(settings, "sms")


def meta(settings: Settings) -> ProviderAdapter:
    return MetaWhatsAppProvider(settings)


def webhook(settings: Settings) -> ProviderAdapter:
    return WebhookProvider(settings, "sms")


def webhook_lookup(settings: Settings) -> ProviderAdapter:
    return WebhookProvider(settings.model_copy(update={"webhook_lookup": True}), "sms")


Build = Callable[[Settings], ProviderAdapter]
#: Providers that neither de-duplicate nor can be asked.
CANNOT_ASK: dict[str, Build] = {"twilio": twilio, "meta": meta, "webhook": webhook}


def message() -> OutboundMessage:
    return OutboundMessage(
        dispatch_id="disp-1",
        channel="sms",
        address=ADDRESS,
        subject=None,
        body="Hola, su cuota vence pronto",
        locale="es",
        template="reminder",
        debtor_id="D-1",
    )


def deliver(
    adapter: ProviderAdapter, between: Callable[[], None] = lambda: None
) -> tuple[SendResult | Unknown, int]:
    """The connector's retry rule around ``adapter``: (outcome, calls made).
    ``between`` runs before each retry."""
    msg = message()
    calls = 0

    async def send(_attempt: int) -> SendResult:
        nonlocal calls
        calls += 1
        return await adapter.send(msg)

    async def wait(seconds: float) -> None:
        between()
        await asyncio.sleep(seconds)

    async def go() -> SendResult | Unknown:
        lookup = lookup_of(adapter)
        async with adapter:
            return await send_with_retries(
                send,
                POLICY,
                random.Random(1),
                deduplicates=deduplicates(adapter),
                ask=None if lookup is None else partial(lookup, msg),
                sleep=wait,
            )

    return asyncio.run(go()), calls


@pytest.mark.parametrize("build", CANNOT_ASK.values(), ids=CANNOT_ASK.keys())
@pytest.mark.parametrize("fault", [Fault("hang"), Fault("reset")], ids=["hang", "reset"])
def test_a_request_taken_and_never_answered_is_made_once_and_reported_unknown(
    server: FakeProviders, settings: Settings, build: Build, fault: Fault
) -> None:
    adapter = build(settings)
    assert not deduplicates(adapter) and lookup_of(adapter) is None
    server.state.script(ADDRESS, fault, Answer(500, {}))
    outcome, calls = deliver(adapter)
    assert isinstance(outcome, Unknown), outcome
    assert calls == 1
    assert server.state.requests == {"disp-1": 1}
    assert server.state.created == {"disp-1": 1}


@pytest.mark.parametrize("fault", [Fault("hang"), Fault("reset")], ids=["hang", "reset"])
def test_a_webhook_that_can_be_asked_reports_what_it_received_instead_of_a_resend(
    server: FakeProviders, settings: Settings, fault: Fault
) -> None:
    server.state.script(ADDRESS, fault, Answer(500, {}))
    outcome, calls = deliver(webhook_lookup(settings))
    assert isinstance(outcome, SendResult) and outcome.status == "ACCEPTED"
    assert outcome.provider_message_id and outcome.provider_message_id.startswith("wh-")
    assert calls == 1
    assert server.state.requests == {"disp-1": 1}
    assert server.state.lookups == {"disp-1": 1}
    assert server.state.created == {"disp-1": 1}


def test_a_webhook_that_never_received_it_is_sent_again_once(
    server: FakeProviders, settings: Settings
) -> None:
    # The connection is reset with the request unprocessed: asked, the
    # receiver says it never got it, so the second POST is its first message.
    server.state.script(ADDRESS, Fault("reset", processed=False), Answer(202, {"id": "wh-2"}))
    outcome, calls = deliver(webhook_lookup(settings))
    assert outcome == SendResult(status="ACCEPTED", provider_message_id="wh-2")
    assert calls == 2
    assert server.state.lookups == {"disp-1": 1}
    assert server.state.created == {"disp-1": 1}


@pytest.mark.parametrize("build", [*CANNOT_ASK.values(), webhook_lookup])
def test_a_refused_connection_is_retried_and_sent_once(
    server: FakeProviders, settings: Settings, build: Build
) -> None:
    server.stop_listening()
    outcome, calls = deliver(build(settings), between=server.listen)
    assert isinstance(outcome, SendResult) and outcome.status == "ACCEPTED", outcome
    assert calls == 2
    assert server.state.requests == {"disp-1": 1}
    assert server.state.created == {"disp-1": 1}


@pytest.mark.parametrize(
    ("build", "not_processed", "unknown"),
    [
        (twilio, twilio_error(429, 20429, "Too Many Requests", retry_after=0), Answer(503, {})),
        (meta, meta_error(400, 130429, "Rate limit hit"), meta_error(500, 2, "Service")),
        (webhook, Answer(503, {}, {"Retry-After": "0"}), Answer(502, {})),
    ],
    ids=["twilio", "meta", "webhook"],
)
def test_answers_that_say_not_processed_are_retried_and_others_are_not(
    server: FakeProviders, settings: Settings, build: Build, not_processed: Answer, unknown: Answer
) -> None:
    server.state.script(ADDRESS, not_processed, unknown, Answer(500, {}))
    outcome, calls = deliver(build(settings))
    assert isinstance(outcome, Unknown), outcome
    assert calls == 2
    assert server.state.requests == {"disp-1": 2}


def test_a_provider_that_deduplicates_is_called_again_after_a_timeout(
    server: FakeProviders, settings: Settings
) -> None:
    # A receiver that drops a repeated Idempotency-Key (the fake does): an
    # adapter declaring so retries a request whose outcome is unknown.
    adapter = WebhookProvider(settings, "sms")
    adapter.deduplicates = True
    server.state.script(ADDRESS, Fault("hang"))
    outcome, calls = deliver(adapter)
    assert isinstance(outcome, SendResult) and outcome.status == "ACCEPTED"
    assert calls == 2
    assert server.state.requests == {"disp-1": 2}
    assert server.state.created == {"disp-1": 1}
