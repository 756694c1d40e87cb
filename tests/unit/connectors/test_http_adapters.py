"""The Twilio, Meta WhatsApp and webhook adapters against a local server that
answers in each provider's formats: success, transient errors retried as the
connector does, permanent failures and bounces (network faults:
test_unknown_outcomes.py)."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from pydantic import SecretStr

from connectors.providers.base import (
    OutboundMessage,
    PermanentProviderError,
    ProviderAdapter,
    SendResult,
    TransientProviderError,
    deduplicates,
    lookup_of,
)
from connectors.providers.meta_whatsapp import MetaWhatsAppProvider
from connectors.providers.twilio import TwilioProvider
from connectors.providers.webhook import WebhookProvider
from connectors.retry import RetryPolicy, Unknown
from connectors.retry import send_with_retries as retrying
from recaudo.contracts.records import Channel
from recaudo.settings import Settings
from tests.fakes import providers as fake
from tests.fakes.providers import Answer, FakeProviders, meta_error, twilio_error


@pytest.fixture
def server() -> Iterator[FakeProviders]:
    with FakeProviders() as running:
        yield running


@pytest.fixture
def settings(server: FakeProviders, tmp_path: Any) -> Settings:
    return Settings(
        state_dir=tmp_path,
        provider_timeout_s=2.0,
        twilio_account_sid=fake.ACCOUNT_SID,
        twilio_auth_token=SecretStr(fake.AUTH_TOKEN),
        twilio_from_number="+15005550006",
        twilio_base_url=server.url,
        meta_phone_number_id=fake.META_PHONE_ID,
        meta_access_token=SecretStr(fake.META_TOKEN),
        meta_base_url=server.url,
        webhook_url=f"{server.url}/hooks/recaudo",
        webhook_secret=SecretStr(fake.WEBHOOK_SECRET),
        webhooks_public_url="https://hooks.example.com",
    )


def message(
    address: str = "+573001112233", channel: Channel = "sms", dispatch_id: str = "disp-1"
) -> OutboundMessage:
    return OutboundMessage(
        dispatch_id=dispatch_id,
        channel=channel,
        address=address,
        subject=None,
        body="Hola, su cuota vence pronto",
        locale="es",
        template="reminder",
        variables={"amount": "$100"},
        debtor_id="D-1",
    )


def send(adapter: ProviderAdapter, msg: OutboundMessage) -> SendResult:
    async def go() -> SendResult:
        async with adapter:
            return await adapter.send(msg)

    return asyncio.run(go())


def send_with_retries(
    adapter: ProviderAdapter, msg: OutboundMessage
) -> tuple[SendResult | Unknown, int]:
    """Retries transient errors as the connector does; (result, attempts)."""
    policy = RetryPolicy(max_attempts=4, base_s=0.01, cap_s=0.05)
    attempts = 0

    async def send(_: int) -> SendResult:
        nonlocal attempts
        attempts += 1
        return await adapter.send(msg)

    async def wait(seconds: float) -> None:
        await asyncio.sleep(min(seconds, 0.05))

    async def go() -> SendResult | Unknown:
        async with adapter:
            return await retrying(
                send,
                policy,
                random.Random(1),
                deduplicates=deduplicates(adapter),
                ask=None,
                sleep=wait,
            )

    return asyncio.run(go()), attempts


# --- Twilio ------------------------------------------------------------------------------


def test_twilio_sms_is_accepted_with_its_sid(server: FakeProviders, settings: Settings) -> None:
    result = send(TwilioProvider(settings, "sms"), message())
    assert result.status == "ACCEPTED"
    assert result.provider_message_id and result.provider_message_id.startswith("SM")
    [sent] = server.state.received
    assert sent["To"] == "+573001112233" and sent["From"] == "+15005550006"
    assert sent["Body"] == "Hola, su cuota vence pronto"
    assert sent["StatusCallback"] == (
        "https://hooks.example.com/twilio/status?dispatch_id=disp-1&debtor_id=D-1"
    )
    assert server.state.created == {"disp-1": 1}


def test_twilio_voice_places_a_call_that_speaks_the_body(
    server: FakeProviders, settings: Settings
) -> None:
    result = send(TwilioProvider(settings, "voice"), message(channel="voice"))
    assert result.provider_message_id and result.provider_message_id.startswith("CA")
    [call] = server.state.received
    assert call["resource"] == "Calls.json"
    assert call["Twiml"].startswith('<Response><Say language="es-MX">Hola')
    assert call["MachineDetection"] == "Enable"


def test_twilio_rate_limit_is_retried_with_the_same_idempotency_token(
    server: FakeProviders, settings: Settings
) -> None:
    server.state.script(
        "+573001112233",
        twilio_error(429, 20429, "Too Many Requests", retry_after=0),
        twilio_error(400, 14107, "SMS rate limit exceeded"),
        Answer(201, {}),
    )
    result, attempts = send_with_retries(TwilioProvider(settings, "sms"), message())
    assert isinstance(result, SendResult)
    assert result.status == "ACCEPTED" and attempts == 3
    assert server.state.requests == {"disp-1": 3}
    assert server.state.created == {"disp-1": 1}


def test_twilio_repeat_of_a_sent_dispatch_is_a_second_message(
    server: FakeProviders, settings: Settings
) -> None:
    # Twilio's REST API takes no idempotency key: only the connector's ledger
    # and retry rule keep a dispatch from a second send.
    adapter = TwilioProvider(settings, "sms")
    assert not deduplicates(adapter)
    first = send(adapter, message())
    again = send(TwilioProvider(settings, "sms"), message())
    assert again.provider_message_id != first.provider_message_id
    assert server.state.created == {"disp-1": 2}


def test_twilio_invalid_number_is_a_bounce_without_the_number_in_the_error(
    settings: Settings,
) -> None:
    with pytest.raises(PermanentProviderError) as caught:
        send(TwilioProvider(settings, "sms"), message(fake.TWILIO_INVALID))
    assert caught.value.bounced and caught.value.code == "21211"
    assert fake.TWILIO_INVALID not in str(caught.value)


def test_twilio_unsubscribed_recipient_is_permanent_not_a_bounce(settings: Settings) -> None:
    with pytest.raises(PermanentProviderError) as caught:
        send(TwilioProvider(settings, "sms"), message(fake.TWILIO_UNSUBSCRIBED))
    assert not caught.value.bounced and caught.value.code == "21610"


def test_twilio_bad_credentials_are_permanent(settings: Settings) -> None:
    wrong = settings.model_copy(update={"twilio_auth_token": SecretStr("nope")})
    with pytest.raises(PermanentProviderError) as caught:
        send(TwilioProvider(wrong, "sms"), message())
    assert caught.value.code == "20003"


def test_twilio_unreachable_server_is_transient(settings: Settings) -> None:
    gone = settings.model_copy(update={"twilio_base_url": "http://127.0.0.1:9"})
    with pytest.raises(TransientProviderError):
        send(TwilioProvider(gone, "sms"), message())


# --- Meta ----------------------------------------------------------------------------------


def test_meta_text_message_is_accepted_with_its_wamid(
    server: FakeProviders, settings: Settings
) -> None:
    result = send(MetaWhatsAppProvider(settings), message(channel="whatsapp"))
    assert result.status == "ACCEPTED"
    assert result.provider_message_id and result.provider_message_id.startswith("wamid.")
    [sent] = server.state.received
    assert sent["to"] == "573001112233" and sent["type"] == "text"
    assert sent["text"]["body"] == "Hola, su cuota vence pronto"
    assert json.loads(sent["biz_opaque_callback_data"]) == {
        "dispatch_id": "disp-1",
        "debtor_id": "D-1",
    }


def test_meta_without_a_body_sends_the_template(server: FakeProviders, settings: Settings) -> None:
    send(MetaWhatsAppProvider(settings), replace(message(channel="whatsapp"), body=""))
    [sent] = server.state.received
    assert sent["type"] == "template"
    assert sent["template"]["name"] == "reminder"
    assert sent["template"]["components"][0]["parameters"] == [{"type": "text", "text": "$100"}]


def test_meta_throttling_is_retried(server: FakeProviders, settings: Settings) -> None:
    server.state.script(
        "+573001112233",
        meta_error(400, 130429, "Rate limit hit"),
        meta_error(400, 131048, "Spam rate limit hit"),
        Answer(200, {}),
    )
    result, attempts = send_with_retries(
        MetaWhatsAppProvider(settings), message(channel="whatsapp")
    )
    assert isinstance(result, SendResult)
    assert result.status == "ACCEPTED" and attempts == 3
    assert server.state.created == {"disp-1": 1}


@pytest.mark.parametrize(("code", "bounced"), [(131026, True), (131047, False), (100, False)])
def test_meta_permanent_errors(
    server: FakeProviders, settings: Settings, code: int, bounced: bool
) -> None:
    server.state.script("+573001112233", meta_error(400, code, "no"))
    with pytest.raises(PermanentProviderError) as caught:
        send(MetaWhatsAppProvider(settings), message(channel="whatsapp"))
    assert caught.value.code == str(code) and caught.value.bounced is bounced


def test_meta_bad_token_is_permanent(settings: Settings) -> None:
    wrong = settings.model_copy(update={"meta_access_token": SecretStr("nope")})
    with pytest.raises(PermanentProviderError) as caught:
        send(MetaWhatsAppProvider(wrong), message(channel="whatsapp"))
    assert caught.value.code == "190"


# --- generic webhook -------------------------------------------------------------------------


def test_webhook_posts_signed_json_and_dedupes_by_key(
    server: FakeProviders, settings: Settings
) -> None:
    first = send(WebhookProvider(settings, "email"), message("ana@example.com", "email"))
    again = send(WebhookProvider(settings, "email"), message("ana@example.com", "email"))
    assert first.status == "ACCEPTED" and first.provider_message_id == again.provider_message_id
    assert server.state.created == {"disp-1": 1}
    assert server.state.received[0]["address"] == "ana@example.com"


def test_webhook_wrong_secret_is_rejected_permanently(settings: Settings) -> None:
    wrong = settings.model_copy(update={"webhook_secret": SecretStr("nope")})
    with pytest.raises(PermanentProviderError) as caught:
        send(WebhookProvider(wrong, "sms"), message())
    assert caught.value.code == "BAD_SIGNATURE"


def test_webhook_transient_then_bounce(server: FakeProviders, settings: Settings) -> None:
    server.state.script(
        "+573001112233",
        Answer(503, {"code": "DOWN", "message": "maintenance"}, {"Retry-After": "0"}),
        Answer(422, {"code": "INVALID_ADDRESS", "message": "no such number", "bounced": True}),
    )
    with pytest.raises(TransientProviderError):
        send(WebhookProvider(settings, "sms"), message())
    with pytest.raises(PermanentProviderError) as caught:
        send(WebhookProvider(settings, "sms"), message())
    assert caught.value.bounced and caught.value.code == "INVALID_ADDRESS"


def lookup(adapter: WebhookProvider, msg: OutboundMessage) -> SendResult | None:
    async def go() -> SendResult | None:
        async with adapter:
            return await adapter.lookup(msg)

    return asyncio.run(go())


def test_webhook_lookup_is_off_unless_configured(settings: Settings) -> None:
    assert lookup_of(WebhookProvider(settings, "sms")) is None
    on = settings.model_copy(update={"webhook_lookup": True})
    assert lookup_of(WebhookProvider(on, "sms")) is not None


def test_webhook_lookup_finds_what_the_receiver_created_and_nothing_else(
    server: FakeProviders, settings: Settings
) -> None:
    on = settings.model_copy(update={"webhook_lookup": True})
    sent = send(WebhookProvider(on, "sms"), message())
    found = lookup(WebhookProvider(on, "sms"), message())
    assert found == SendResult(status="ACCEPTED", provider_message_id=sent.provider_message_id)
    assert lookup(WebhookProvider(on, "sms"), message(dispatch_id="never-sent")) is None
    # Asking is not sending.
    assert server.state.requests == {"disp-1": 1}
    assert server.state.created == {"disp-1": 1}
    assert server.state.lookups == {"disp-1": 1, "never-sent": 1}


def test_webhook_lookup_is_signed_over_the_key(settings: Settings) -> None:
    wrong = settings.model_copy(update={"webhook_lookup": True, "webhook_secret": SecretStr("x")})
    with pytest.raises(PermanentProviderError):
        lookup(WebhookProvider(wrong, "sms"), message())
